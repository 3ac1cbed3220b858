// `veil cluster init`: everything a new cluster needs before its nodes start (docs/operations.md):
//
//   1. deploy VeilRegistry with the operators (quorum: a majority);
//   2. per operator, a node identity (libp2p Ed25519) and a committee member key;
//   3. the key ceremony: FHE keys, the secret key dealt t-of-n to the members (sealed to each),
//      then wiped; the public key and the server key are published in <out>/cluster;
//   4. each operator registers its node on chain;
//   5. governance (proposal + a quorum of votes + execution): the committee, the cluster keys'
//      hashes, the allowed scheduling policies and the allowed images;
//   6. a node.yaml per node, ready for `veil --config <out>/node-N/node.yaml node run`.
//
// One person running all of it is a demo and test convenience: in a real cluster each operator
// runs their own steps 2, 4 and their votes, and the ceremony is run by a dealer they trust
// (docs/threat-model.md).
#include <sodium.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/chain/keccak.h"
#include "veil/chain/veil_registry.h"
#include "veil/common/sha256.h"
#include "veil/fhe/fhe.h"
#include "veil/p2p/identity.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;
using chain::VeilRegistry;

struct ClusterArgs {
  std::string out;
  std::string rpc = "http://127.0.0.1:8545";
  std::vector<std::string> operator_keys;
  unsigned threshold = 0;
  std::string params = "default";
  std::vector<std::string> images;
  std::string name = "veil";
  int p2p_base_port = 4100;
  int api_base_port = 7600;
  // Node N's IPv4 address, one per operator in order; all 127.0.0.1 when empty (one machine).
  std::vector<std::string> node_addresses;
  int telemetry_interval_ms = 2000;
  std::string swim_preset = "local";
};

void progress(const std::string& step) {
  std::cerr << "[" << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() % 100000
            << "] " << step << "\n";
}

// Proposal, a yes vote from each operator up to the quorum, execution.
Status govern(std::vector<std::unique_ptr<VeilRegistry>>& as_operator, VeilRegistry::ProposalKind kind, const Bytes& payload,
              std::size_t quorum) {
  VEIL_ASSIGN_OR_RETURN(std::uint64_t id, as_operator[0]->propose(kind, payload));
  for (std::size_t i = 0; i < quorum; ++i) VEIL_RETURN_IF_ERROR(as_operator[i]->vote(id, true).status());
  VEIL_RETURN_IF_ERROR(as_operator[0]->execute(id).status());
  progress(std::string("governance: ") + std::string(chain::proposal_kind_name(kind)) + " (proposal " + std::to_string(id) +
           ") executed with " + std::to_string(quorum) + " votes");
  return {};
}

Result<nlohmann::json> init(const ClusterArgs& a) {
  const fhe::Parameters* params = fhe::params_by_name(a.params);
  if (params == nullptr) return invalid_argument("--params must be default or test");
  const std::size_t n = a.operator_keys.size();
  if (n == 0 || n > fhe::threshold::kMaxMembers) return invalid_argument("give 1 to 15 --operator-key files");
  const unsigned t = a.threshold == 0 ? static_cast<unsigned>(n / 2 + 1) : a.threshold;
  if (t > n) return invalid_argument("--threshold exceeds the number of operators");
  if (!a.node_addresses.empty() && a.node_addresses.size() != n) {
    return invalid_argument("give one --node-address per --operator-key (" + std::to_string(n) + "), or none");
  }
  const fs::path out = fs::absolute(a.out);
  std::error_code ec;
  fs::create_directories(out / "cluster", ec);
  if (ec) return unavailable(out.string() + ": " + ec.message());

  // Operators and the chain.
  VEIL_ASSIGN_OR_RETURN(auto client, chain::EthClient::connect(a.rpc));
  std::vector<chain::PrivateKey> keys;
  std::vector<std::unique_ptr<chain::Transactor>> senders;
  std::vector<chain::Address> operators;
  for (const auto& path : a.operator_keys) {
    VEIL_ASSIGN_OR_RETURN(auto key, chain::PrivateKey::load_file(path));
    keys.push_back(std::move(key));
  }
  for (const auto& key : keys) {
    VEIL_ASSIGN_OR_RETURN(auto sender, chain::Transactor::create(client, key));
    operators.push_back(key.address());
    senders.push_back(std::move(sender));
  }
  const std::size_t quorum = n / 2 + 1;
  progress("deploying VeilRegistry '" + a.name + "' with " + std::to_string(n) + " operators (quorum " + std::to_string(quorum) + ")");
  VeilRegistry::DeployParams dp;
  dp.cluster_name = a.name;
  dp.operators = operators;
  dp.quorum = quorum;
  VEIL_ASSIGN_OR_RETURN(auto deployed, VeilRegistry::deploy(*senders[0], dp));
  const chain::Address contract = deployed.address();
  std::vector<std::unique_ptr<VeilRegistry>> as_operator;
  for (auto& s : senders) as_operator.push_back(std::make_unique<VeilRegistry>(client, contract, s.get()));
  progress("registry at " + contract.to_checksum());

  // Identities.
  std::vector<std::string> peers;
  std::vector<fhe::threshold::MemberPublicKey> members;
  for (std::size_t i = 0; i < n; ++i) {
    const fs::path dir = out / ("node-" + std::to_string(i + 1));
    fs::create_directories(dir / "data", ec);
    VEIL_ASSIGN_OR_RETURN(auto identity, p2p::load_or_create_key_file(dir / "node.key"));
    peers.push_back(p2p::PeerId::from_public_key(identity.public_key()).to_string());
    const auto member = fhe::threshold::MemberSecretKey::generate();
    Bytes secret = member.serialize();
    VEIL_RETURN_IF_ERROR(write_file(dir / "member.key", secret, true));
    secure_wipe(secret);
    members.push_back(member.public_key());
  }

  // The key ceremony.
  progress("key ceremony: generating the FHE key set (" + std::string(params->name) + ")");
  const auto client_key = fhe::ClientKey::generate(*params);
  const Bytes public_key = fhe::CompactPublicKey::generate(client_key).serialize();
  progress("key ceremony: generating the server (evaluation) key");
  const Bytes server_key = fhe::CompressedServerKey::generate(client_key).serialize();
  progress("key ceremony: dealing the secret key " + std::to_string(t) + "-of-" + std::to_string(n));
  auto ceremony = fhe::threshold::deal(client_key, t, members, public_key, server_key);
  fhe::threshold::wipe_client_key(client_key);
  if (!ceremony.ok()) return ceremony.status();
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "public.key", public_key));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "server.compressed.key", server_key));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "committee.bin", ceremony->committee.serialize()));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "squash.key", ceremony->squashing_key.serialize()));
  nlohmann::json committee_json = {{"threshold", t}, {"members", nlohmann::json::array()}};
  for (std::size_t i = 0; i < n; ++i) {
    committee_json["members"].push_back({{"member", i + 1}, {"peer_id", peers[i]}, {"operator", operators[i].to_checksum()}});
    Bytes plain = ceremony->shares[i].serialize();
    ceremony->shares[i].wipe();
    Bytes sealed(plain.size() + crypto_box_SEALBYTES);
    crypto_box_seal(sealed.data(), plain.data(), plain.size(), members[i].box.data());
    secure_wipe(plain);
    VEIL_RETURN_IF_ERROR(write_file(out / ("node-" + std::to_string(i + 1)) / "share.sealed", sealed, true));
  }
  const std::string cj = committee_json.dump(2) + "\n";
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "committee.json", as_bytes(cj)));
  progress("key ceremony done; the dealer's secret key was wiped");

  // Registration and governance.
  for (std::size_t i = 0; i < n; ++i) {
    VEIL_RETURN_IF_ERROR(as_operator[i]->register_node(chain::peer_id_hash(peers[i]), operators[i]).status());
    progress("node " + peers[i] + " registered by operator " + operators[i].to_checksum());
  }
  VeilRegistry::Committee committee;
  committee.threshold = static_cast<std::uint8_t>(t);
  for (std::size_t i = 0; i < n; ++i) {
    committee.members.push_back(operators[i]);
    chain::Hash32 box;
    std::copy(members[i].box.begin(), members[i].box.end(), box.begin());
    committee.x25519_keys.push_back(box);
  }
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetCommittee, VeilRegistry::committee_payload(committee), quorum));
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetClusterKeys,
                              VeilRegistry::cluster_keys_payload(sha256(public_key), sha256(server_key)), quorum));
  const std::string policies = "spread,binpack,latency,priority-round-robin";
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetPolicy,
                              VeilRegistry::policy_payload(chain::keccak256(as_bytes(std::string_view("veil-policy-set-v1"))),
                                                           Bytes(policies.begin(), policies.end())),
                              quorum));
  for (const auto& image : a.images) {
    VEIL_ASSIGN_OR_RETURN(auto digest, chain::parse_image_digest(image));
    VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kAllowImage, VeilRegistry::image_payload(digest), quorum));
  }

  // Node configurations.
  auto node_address = [&a](std::size_t i) { return a.node_addresses.empty() ? std::string("127.0.0.1") : a.node_addresses[i]; };
  const std::string bootstrap = "/ip4/" + node_address(0) + "/tcp/" + std::to_string(a.p2p_base_port + 1) + "/p2p/" + peers[0];
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const fs::path dir = out / ("node-" + std::to_string(i + 1));
    const int p2p_port = a.p2p_base_port + static_cast<int>(i) + 1;
    const int api_port = a.api_base_port + static_cast<int>(i) + 1;
    std::string yaml = "# node " + std::to_string(i + 1) + " of cluster '" + a.name + "' (veil cluster init)\n";
    yaml += "contract:\n  address: \"" + contract.to_checksum() + "\"\n";
    yaml += "eth:\n  rpc: " + a.rpc + "\n  key_file: " + fs::absolute(a.operator_keys[i]).string() + "\n";
    yaml += "libp2p:\n  listen: [/ip4/" + node_address(i) + "/tcp/" + std::to_string(p2p_port) + "]\n";
    if (i > 0) yaml += "  bootstrap: [" + bootstrap + "]\n";
    yaml += "node:\n  peerid: " + peers[i] + "\n  key_file: " + (dir / "node.key").string() +
            "\n  data_dir: " + (dir / "data").string() + "\n";
    yaml += "cluster:\n  dir: " + (out / "cluster").string() + "\n";
    yaml += "committee:\n  member_key: " + (dir / "member.key").string() + "\n  share_file: " + (dir / "share.sealed").string() + "\n";
    yaml += "api:\n  listen: 127.0.0.1:" + std::to_string(api_port) + "\n";
    yaml += "telemetry:\n  interval_ms: " + std::to_string(a.telemetry_interval_ms) + "\n";
    yaml += "swim:\n  preset: " + a.swim_preset + "\n";
    VEIL_RETURN_IF_ERROR(write_file(dir / "node.yaml", as_bytes(yaml)));
    nodes.push_back({{"node", i + 1},
                     {"peer_id", peers[i]},
                     {"operator", operators[i].to_checksum()},
                     {"config", (dir / "node.yaml").string()},
                     {"p2p", "/ip4/" + node_address(i) + "/tcp/" + std::to_string(p2p_port) + "/p2p/" + peers[i]},
                     {"api", "127.0.0.1:" + std::to_string(api_port)}});
  }
  return nlohmann::json{{"contract", contract.to_checksum()},
                        {"rpc", a.rpc},
                        {"parameters", std::string(params->name)},
                        {"threshold", t},
                        {"quorum", quorum},
                        {"nodes", nodes}};
}

}  // namespace

void register_cluster_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* noun = app.add_subcommand("cluster", "Create a cluster: registry, key ceremony, registration, governance");
  noun->require_subcommand(1);
  auto a = std::make_shared<ClusterArgs>();
  auto* init_cmd = noun->add_subcommand("init", "Deploy the registry, run the key ceremony, register nodes, write node configs");
  init_cmd->add_option("--out", a->out, "Directory for the cluster's files (node-N/, cluster/)")->required();
  init_cmd->add_option("--rpc", a->rpc, "Ethereum JSON-RPC endpoint (default http://127.0.0.1:8545)");
  init_cmd->add_option("--operator-key", a->operator_keys, "An operator's secp256k1 key file (repeat; one node each)")->required();
  init_cmd->add_option("--threshold", a->threshold, "Committee members needed to decrypt (default: a majority)");
  init_cmd->add_option("--params", a->params, "FHE parameters: default (TFHE-rs 2M128) or test (INSECURE, fast)");
  init_cmd->add_option("--allow-image", a->images, "Image digest sha256:<hex> to allow (repeat)");
  init_cmd->add_option("--name", a->name, "Cluster name (default veil)");
  init_cmd->add_option("--p2p-base-port", a->p2p_base_port, "Node N listens on base+N (default 4100)");
  init_cmd->add_option("--api-base-port", a->api_base_port, "Node N's API on base+N (default 7600)");
  init_cmd->add_option("--node-address", a->node_addresses,
                       "Node N's IPv4 address on the machines' network (repeat, one per --operator-key, in order; "
                       "default 127.0.0.1 for every node)")
      ->check(CLI::ValidIPV4);
  init_cmd->add_option("--telemetry-interval-ms", a->telemetry_interval_ms, "Telemetry interval written to the configs");
  init_cmd->add_option("--swim-preset", a->swim_preset, "SWIM preset written to the configs (local, lan, wan)");
  add_output_option(init_cmd, global.output);
  init_cmd->callback([&global, &action, a] {
    action = [&global, a] {
      auto result = init(*a);
      if (!result.ok()) return fail(result.status());
      if (structured_output(global.output)) {
        print_data(*result, global.output);
      } else {
        std::cout << "cluster ready: registry " << (*result)["contract"].get<std::string>() << ", "
                  << (*result)["threshold"] << "-of-" << (*result)["nodes"].size() << " committee\n";
        for (const auto& node : (*result)["nodes"]) {
          std::cout << "  node " << node["node"] << "  " << node["peer_id"].get<std::string>() << "  veil --config "
                    << node["config"].get<std::string>() << " node run\n";
        }
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace veil::cli
