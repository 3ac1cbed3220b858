// `veil cluster init`: everything a new cluster needs before its nodes start (docs/operations.md):
//
//   1. deploy VeilRegistry with the operators (quorum: a majority);
//   2. per operator, a node identity (libp2p Ed25519) and a committee member key;
//   3. the cluster keys: with --dkg, the members' distributed key generation (one `veil keys dkg`
//      process per operator, on loopback), so no process ever holds the secret key; otherwise the
//      key ceremony: FHE keys, the secret key dealt t-of-n to the members (sealed to each), then
//      wiped. The public key and the server key are published in <out>/cluster;
//   4. each operator registers its node on chain;
//   5. governance (proposal + a quorum of votes + execution): the committee, the cluster keys'
//      hashes, the allowed scheduling policies and the allowed images;
//   6. a node.yaml per node, ready for `veil --config <out>/node-N/node.yaml node run`.
//
// One person running all of it is a demo and test convenience: in a real cluster each operator
// runs their own steps 2, 3 (`veil keys dkg` on their own machine), 4 and their votes
// (docs/operations.md).
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "step_progress.h"
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
  bool dkg = false;
  int dkg_base_port = 4300;
};

// The cluster's key material as the nodes need it, from either way of making it.
struct ClusterKeys {
  Bytes public_key, server_key;
  // Node indices in committee order: committee member k is node committee_order[k - 1].
  std::vector<std::size_t> committee_order;
};

// Proposal, a yes vote from each operator up to the quorum, execution.
Status govern(std::vector<std::unique_ptr<VeilRegistry>>& as_operator, VeilRegistry::ProposalKind kind, const Bytes& payload,
              std::size_t quorum, StepProgress& steps) {
  steps.begin(std::string("governance: ") + std::string(chain::proposal_kind_name(kind)));
  VEIL_ASSIGN_OR_RETURN(std::uint64_t id, as_operator[0]->propose(kind, payload));
  for (std::size_t i = 0; i < quorum; ++i) VEIL_RETURN_IF_ERROR(as_operator[i]->vote(id, true).status());
  VEIL_RETURN_IF_ERROR(as_operator[0]->execute(id).status());
  steps.note("proposal " + std::to_string(id) + " executed with " + std::to_string(quorum) + " votes");
  return {};
}

// The dealer: one process makes the whole key set, deals the secret t-of-n, and wipes it.
Result<ClusterKeys> run_ceremony(const fhe::Parameters& params, unsigned t,
                                 const std::vector<fhe::threshold::MemberPublicKey>& members, const fs::path& out,
                                 StepProgress& steps) {
  steps.begin("key ceremony: generating the FHE key set (" + std::string(params.name) + ")");
  const auto client_key = fhe::ClientKey::generate(params);
  ClusterKeys keys;
  keys.public_key = fhe::CompactPublicKey::generate(client_key).serialize();
  steps.begin("key ceremony: generating the server (evaluation) key");
  keys.server_key = fhe::CompressedServerKey::generate(client_key).serialize();
  steps.begin("key ceremony: dealing the secret key " + std::to_string(t) + "-of-" + std::to_string(members.size()));
  auto ceremony = fhe::threshold::deal(client_key, t, members, keys.public_key, keys.server_key);
  fhe::threshold::wipe_client_key(client_key);
  if (!ceremony.ok()) return ceremony.status();
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "public.key", keys.public_key));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "server.compressed.key", keys.server_key));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "committee.bin", ceremony->committee.serialize()));
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "squash.key", ceremony->squashing_key.serialize()));
  for (std::size_t i = 0; i < members.size(); ++i) {
    Bytes plain = ceremony->shares[i].serialize();
    ceremony->shares[i].wipe();
    Bytes sealed(plain.size() + crypto_box_SEALBYTES);
    crypto_box_seal(sealed.data(), plain.data(), plain.size(), members[i].box.data());
    secure_wipe(plain);
    VEIL_RETURN_IF_ERROR(write_file(out / ("node-" + std::to_string(i + 1)) / "share.sealed", sealed, true));
    keys.committee_order.push_back(i);  // the dealer's member i + 1 is node i + 1
  }
  steps.note("the dealer's secret key was wiped");
  return keys;
}

std::uint16_t free_loopback_port(int preferred) {
  for (int port = preferred; port < preferred + 200 && port < 65536; ++port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    if (free) return static_cast<std::uint16_t>(port);
  }
  return 0;
}

std::string last_lines(const fs::path& file, std::size_t count) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string tail;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) tail += "\n  " + lines[i];
  return tail;
}

// The members' DKG: each operator's member runs `veil keys dkg` as its own process, on loopback
// here; operators on separate machines run the same command themselves (docs/operations.md).
Result<ClusterKeys> run_member_dkg(const ClusterArgs& a, const fhe::Parameters& params, unsigned t, const fs::path& out,
                                   StepProgress& steps) {
  const std::size_t n = a.operator_keys.size();
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t port = free_loopback_port((ports.empty() ? a.dkg_base_port : ports.back() + 1));
    if (port == 0) return unavailable("no free loopback port for the DKG from " + std::to_string(a.dkg_base_port));
    ports.push_back(port);
  }
  auto node_dir = [&out](std::size_t i) { return out / ("node-" + std::to_string(i + 1)); };
  std::vector<std::string> member_args;
  for (std::size_t i = 0; i < n; ++i) {
    member_args.push_back("--member");
    member_args.push_back((node_dir(i) / "member.pub").string() + "=/ip4/127.0.0.1/tcp/" + std::to_string(ports[i]));
  }
  steps.begin("dkg: " + std::to_string(t) + "-of-" + std::to_string(n) + " distributed key generation (" +
           std::string(params.name) + "), one `veil keys dkg` process per operator; logs in node-N/dkg.log");
  std::vector<pid_t> children;
  for (std::size_t i = 0; i < n; ++i) {
    std::error_code ec;
    fs::remove_all(node_dir(i) / "dkg", ec);
    std::vector<std::string> args = {"veil", "keys", "dkg", "--threshold", std::to_string(t),
                                     "--member-key", node_dir(i).string(), "--listen",
                                     "/ip4/127.0.0.1/tcp/" + std::to_string(ports[i]), "--params", a.params,
                                     "--out", (node_dir(i) / "dkg").string(), "--start-timeout", "60"};
    args.insert(args.end(), member_args.begin(), member_args.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    const std::string log = (node_dir(i) / "dkg.log").string();
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0) {
      for (pid_t child : children) ::kill(child, SIGTERM);
      return unavailable(std::string("cannot start the DKG member process: ") + std::strerror(rc));
    }
    children.push_back(pid);
  }
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < n; ++i) {
    int status = 0;
    while (::waitpid(children[i], &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failures.push_back("node " + std::to_string(i + 1) + "'s member:" + last_lines(node_dir(i) / "dkg.log", 2));
    }
  }
  if (!failures.empty()) {
    std::string message = "the DKG failed; no key set was written";
    for (const auto& f : failures) message += "\n" + f;
    return failed_precondition(message);
  }

  // Every member holds the same public files and its own share, named by its committee id.
  ClusterKeys keys;
  std::map<unsigned, std::size_t> node_of_member;
  const char* public_files[] = {"public.key", "server.compressed.key", "committee.bin", "squash.key", "hashes.json"};
  for (std::size_t i = 0; i < n; ++i) {
    const fs::path dir = node_dir(i) / "dkg";
    for (const char* file : public_files) {
      if (!fs::exists(dir / file)) return data_loss((dir / file).string() + " is missing after the DKG");
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("share-", 0) != 0) continue;
      const unsigned id = static_cast<unsigned>(std::stoul(file.substr(6)));
      if (id == 0 || id > n || node_of_member.count(id) > 0) return data_loss(entry.path().string() + ": unexpected share");
      node_of_member[id] = i;
      std::error_code ec;
      fs::rename(entry.path(), node_dir(i) / "share.sealed", ec);
      if (ec) return data_loss("rename " + entry.path().string() + ": " + ec.message());
    }
  }
  if (node_of_member.size() != n) return data_loss("the DKG left " + std::to_string(node_of_member.size()) + " shares for " + std::to_string(n) + " members");
  for (const auto& [id, node] : node_of_member) keys.committee_order.push_back(node);
  for (const char* file : public_files) {
    VEIL_ASSIGN_OR_RETURN(Bytes first, read_file_bytes(node_dir(0) / "dkg" / file, kFheKeyFile));
    for (std::size_t i = 1; i < n; ++i) {
      VEIL_ASSIGN_OR_RETURN(Bytes other, read_file_bytes(node_dir(i) / "dkg" / file, kFheKeyFile));
      if (other != first) return data_loss(std::string(file) + " differs between node 1 and node " + std::to_string(i + 1));
    }
    VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / file, first));
    if (std::string_view(file) == "public.key") keys.public_key = first;
    if (std::string_view(file) == "server.compressed.key") keys.server_key = first;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::error_code ec;
    fs::remove_all(node_dir(i) / "dkg", ec);
  }
  steps.note("identical public files from all " + std::to_string(n) + " members, each share sealed to its member");
  return keys;
}

Result<nlohmann::json> init(const ClusterArgs& a) {
  const fhe::Parameters* params = fhe::params_by_name(a.params);
  if (params == nullptr) return invalid_argument("--params must be default or test");
  const std::size_t n = a.operator_keys.size();
  if (n == 0 || n > fhe::threshold::kMaxMembers) return invalid_argument("give 1 to 15 --operator-key files");
  const unsigned t = a.threshold == 0 ? static_cast<unsigned>(n / 2 + 1) : a.threshold;
  if (t > n) return invalid_argument("--threshold exceeds the number of operators");
  if (a.dkg && (n < 3 || t < 2 || t > (n + 1) / 2)) {
    return invalid_argument("--dkg needs at least 3 operators and a threshold from 2 to " + std::to_string((n + 1) / 2) +
                            " (an honest majority; docs/dkg.md); this is " + std::to_string(t) + "-of-" +
                            std::to_string(n));
  }
  if (!a.node_addresses.empty() && a.node_addresses.size() != n) {
    return invalid_argument("give one --node-address per --operator-key (" + std::to_string(n) + "), or none");
  }
  const fs::path out = fs::absolute(a.out);
  std::error_code ec;
  fs::create_directories(out / "cluster", ec);
  if (ec) return unavailable(out.string() + ": " + ec.message());
  // Registry, identities, keys (the dealer's three steps or one DKG), registration, one
  // governance step per proposal, configurations.
  StepProgress steps("cluster init", 1 + 1 + (a.dkg ? 1 : 3) + 1 + 3 + a.images.size() + 1);

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
  steps.begin("deploying VeilRegistry '" + a.name + "' with " + std::to_string(n) + " operators (quorum " + std::to_string(quorum) + ")");
  VeilRegistry::DeployParams dp;
  dp.cluster_name = a.name;
  dp.operators = operators;
  dp.quorum = quorum;
  VEIL_ASSIGN_OR_RETURN(auto deployed, VeilRegistry::deploy(*senders[0], dp));
  const chain::Address contract = deployed.address();
  std::vector<std::unique_ptr<VeilRegistry>> as_operator;
  for (auto& s : senders) as_operator.push_back(std::make_unique<VeilRegistry>(client, contract, s.get()));
  steps.note("registry at " + contract.to_checksum());

  steps.begin("node identities and committee member keys");
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
    VEIL_RETURN_IF_ERROR(write_file(dir / "member.pub", as_bytes(member.public_key().to_text())));
    members.push_back(member.public_key());
  }

  // The cluster keys.
  VEIL_ASSIGN_OR_RETURN(const ClusterKeys keys_made,
                        a.dkg ? run_member_dkg(a, *params, t, out, steps) : run_ceremony(*params, t, members, out, steps));
  nlohmann::json committee_json = {{"threshold", t}, {"members", nlohmann::json::array()}};
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = keys_made.committee_order[k];
    committee_json["members"].push_back(
        {{"member", k + 1}, {"peer_id", peers[i]}, {"operator", operators[i].to_checksum()}});
  }
  const std::string cj = committee_json.dump(2) + "\n";
  VEIL_RETURN_IF_ERROR(write_file(out / "cluster" / "committee.json", as_bytes(cj)));
  const Bytes& public_key = keys_made.public_key;
  const Bytes& server_key = keys_made.server_key;

  // Registration and governance.
  steps.begin("registering " + std::to_string(n) + " nodes");
  for (std::size_t i = 0; i < n; ++i) {
    VEIL_RETURN_IF_ERROR(as_operator[i]->register_node(chain::peer_id_hash(peers[i]), operators[i]).status());
    steps.note("node " + peers[i] + " registered by operator " + operators[i].to_checksum());
  }
  VeilRegistry::Committee committee;
  committee.threshold = static_cast<std::uint8_t>(t);
  for (const std::size_t i : keys_made.committee_order) {
    committee.members.push_back(operators[i]);
    chain::Hash32 box;
    std::copy(members[i].box.begin(), members[i].box.end(), box.begin());
    committee.x25519_keys.push_back(box);
  }
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetCommittee, VeilRegistry::committee_payload(committee), quorum, steps));
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetClusterKeys,
                              VeilRegistry::cluster_keys_payload(sha256(public_key), sha256(server_key)), quorum, steps));
  const std::string policies = "spread,binpack,latency,priority-round-robin";
  VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kSetPolicy,
                              VeilRegistry::policy_payload(chain::keccak256(as_bytes(std::string_view("veil-policy-set-v1"))),
                                                           Bytes(policies.begin(), policies.end())),
                              quorum, steps));
  for (const auto& image : a.images) {
    VEIL_ASSIGN_OR_RETURN(auto digest, chain::parse_image_digest(image));
    VEIL_RETURN_IF_ERROR(govern(as_operator, VeilRegistry::ProposalKind::kAllowImage, VeilRegistry::image_payload(digest), quorum, steps));
  }

  steps.begin("writing node configurations");
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
  init_cmd->add_flag("--dkg", a->dkg,
                     "Generate the cluster keys by the members' DKG (no dealer; one `veil keys dkg` process per "
                     "operator on loopback) instead of the key ceremony");
  init_cmd->add_option("--dkg-base-port", a->dkg_base_port, "First loopback port the DKG members try (default 4300)");
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
