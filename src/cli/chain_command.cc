// `veil chain deploy|status`: create a cluster's VeilRegistry and read it back. Registers the
// other chain nouns too (gov, image, node register, audit, stake, dispute).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "chain_cli.h"

namespace veil::cli {
namespace {

using chain::VeilRegistry;

struct DeployArgs {
  ChainOptions chain;
  std::string name = "veil";
  std::vector<std::string> operators;
  std::uint64_t quorum = 1;
  std::uint64_t delay_s = 0;
  std::uint64_t window_s = 86400;
};

int run_deploy(const GlobalOptions& global, const DeployArgs& a) {
  auto session = open_chain_session(global, a.chain, /*need_key=*/true, /*need_contract=*/false);
  if (!session.ok()) return fail(session.status());
  VeilRegistry::DeployParams p;
  p.cluster_name = a.name;
  p.quorum = a.quorum;
  p.execution_delay_s = a.delay_s;
  p.dispute_window_s = a.window_s;
  for (const auto& text : a.operators) {
    auto op = chain::Address::parse(text);
    if (!op.ok()) return fail(op.status());
    p.operators.push_back(*op);
  }
  if (p.operators.empty()) p.operators.push_back((*session)->key->address());
  auto reg = VeilRegistry::deploy(*(*session)->sender, p);
  if (!reg.ok()) return fail(reg.status().with_context("deploying VeilRegistry"));
  std::cerr << "VeilRegistry '" << a.name << "' deployed with " << p.operators.size()
            << " operator(s), quorum " << p.quorum << "\n";
  // The address is the last line on stdout so scripts can take it with `tail -1`.
  std::cout << reg->address().to_checksum() << "\n";
  return kExitOk;
}

nlohmann::json status_json(VeilRegistry& reg) {
  using nlohmann::json;
  json out;
  out["contract"] = reg.address().to_checksum();
  out["name"] = reg.cluster_name().value_or("");
  auto g = reg.governance();
  if (g.ok()) {
    out["governance"] = {{"quorum", g->quorum},
                         {"execution_delay_s", g->execution_delay_s},
                         {"dispute_window_s", g->dispute_window_s},
                         {"operator_epoch", g->operator_epoch},
                         {"proposals", g->proposal_count}};
  }
  auto keys = reg.cluster_keys();
  if (keys.ok())
    out["fhe"] = {{"compact_public_key_hash", chain::hash_hex(keys->first)},
                  {"server_key_hash", chain::hash_hex(keys->second)}};
  auto policy = reg.cluster_policy();
  if (policy.ok()) out["policy"] = to_hex_prefixed(*policy);
  auto committee = reg.committee();
  if (committee.ok()) {
    json members = json::array();
    for (std::size_t i = 0; i < committee->members.size(); ++i) {
      members.push_back({{"address", committee->members[i].to_checksum()},
                         {"x25519", chain::hash_hex(committee->x25519_keys[i])}});
    }
    out["committee"] = {{"threshold", committee->threshold}, {"members", members}};
  }
  json ops = json::array();
  for (const auto& op : reg.operators().value_or({})) ops.push_back(op.to_checksum());
  out["operators"] = ops;
  json nodes = json::array();
  for (const auto& n : reg.nodes().value_or({})) {
    nodes.push_back({{"peer_id_hash", chain::hash_hex(n.peer_id)},
                     {"operator", n.operator_address.to_checksum()},
                     {"active", n.active},
                     {"registered_at", n.registered_at}});
  }
  out["nodes"] = nodes;
  json images = json::array();
  for (const auto& d : reg.allowed_images().value_or({})) images.push_back(chain::format_image_digest(d));
  out["images"] = images;
  return out;
}

int run_status(const GlobalOptions& global, const ChainOptions& o) {
  auto session = open_chain_session(global, o, /*need_key=*/false, /*need_contract=*/true);
  if (!session.ok()) return fail(session.status());
  VeilRegistry& reg = *(*session)->registry;
  // One call first so an unreachable endpoint or a wrong address fails with its own message.
  auto name = reg.cluster_name();
  if (!name.ok()) return fail(name.status());
  nlohmann::json s = status_json(reg);
  if (structured_output(global.output)) {
    print_data(s, global.output);
    return kExitOk;
  }
  std::cout << "Cluster    " << s["name"].get<std::string>() << "\n"
            << "Contract   " << s["contract"].get<std::string>() << "\n";
  if (s.contains("governance")) {
    const auto& g = s["governance"];
    std::cout << "Governance quorum " << g["quorum"] << ", execution delay " << g["execution_delay_s"]
              << " s, dispute window " << g["dispute_window_s"] << " s, " << g["proposals"]
              << " proposal(s)\n";
  }
  if (s.contains("fhe")) {
    std::cout << "FHE keys   public " << s["fhe"]["compact_public_key_hash"].get<std::string>() << "\n"
              << "           server " << s["fhe"]["server_key_hash"].get<std::string>() << "\n";
  }
  std::cout << "\nOPERATORS (" << s["operators"].size() << ")\n";
  for (const auto& op : s["operators"]) std::cout << "  " << op.get<std::string>() << "\n";
  std::cout << "\nNODES (" << s["nodes"].size() << ")\n";
  for (const auto& n : s["nodes"]) {
    std::cout << "  " << n["peer_id_hash"].get<std::string>() << "  " << n["operator"].get<std::string>()
              << "  " << (n["active"].get<bool>() ? "active" : "inactive") << "\n";
  }
  std::cout << "\nIMAGES (" << s["images"].size() << ")\n";
  for (const auto& d : s["images"]) std::cout << "  " << d.get<std::string>() << "\n";
  return kExitOk;
}

}  // namespace

void register_governance_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);

void register_chain_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  register_governance_commands(app, global, action);
  register_stake_commands(app, global, action);
  register_dispute_commands(app, global, action);
  auto* noun = app.add_subcommand("chain", "Deploy and inspect the cluster's VeilRegistry contract");
  noun->require_subcommand(1);

  auto deploy_args = std::make_shared<DeployArgs>();
  auto* deploy =
      noun->add_subcommand("deploy", "Deploy a new VeilRegistry; prints its address as the last line");
  add_chain_options(deploy, deploy_args->chain, true, false);
  deploy->add_option("--name", deploy_args->name, "Cluster name (default veil)");
  deploy->add_option("--operator", deploy_args->operators,
                     "Founding operator address (repeat; default: the key's address)");
  deploy->add_option("--quorum", deploy_args->quorum, "Yes votes a proposal needs (default 1)");
  deploy->add_option("--execution-delay", deploy_args->delay_s,
                     "Seconds between a proposal and its execution (default 0)");
  deploy->add_option("--dispute-window", deploy_args->window_s,
                     "Seconds a deployment commitment stays disputable (default 86400)");
  deploy->callback([&global, &action, deploy_args] {
    action = [&global, deploy_args] { return run_deploy(global, *deploy_args); };
  });

  auto status_args = std::make_shared<ChainOptions>();
  auto* status = noun->add_subcommand("status", "Cluster metadata, operators, nodes and allowed images");
  add_chain_options(status, *status_args, false, true);
  add_output_option(status, global.output);
  status->callback([&global, &action, status_args] {
    action = [&global, status_args] { return run_status(global, *status_args); };
  });
}

}  // namespace veil::cli
