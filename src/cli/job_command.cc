// `veil job ...`: job specs. `validate` checks a spec locally, before it is submitted.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/node/protocol.h"
#include "veil/sched/placement.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::cli {
namespace {

struct JobOptions {
  std::string spec_file;
  std::string nodes_file;
};

int validate(const JobOptions& options, const GlobalOptions& global) {
  auto spec = sched::load_job_spec(options.spec_file);
  if (!spec.ok()) {
    std::cerr << "veil: error: " << spec.status().message() << "\n";
    return kExitFailure;
  }
  auto request = sched::quantize_request(spec->resources);
  if (!request.ok()) {
    std::cerr << "veil: error: " << options.spec_file << ": " << request.status().message() << "\n";
    return kExitFailure;
  }
  if (global.output == "json") {
    nlohmann::json j = {{"valid", true},
                        {"name", spec->name},
                        {"image", spec->image.to_string()},
                        {"replicas", spec->replicas},
                        {"policy", sched::policy_name(spec->policy.kind)},
                        {"quantised_request",
                         {{"cpu", request->amount[sched::kCpu]},
                          {"memory", request->amount[sched::kMemory]},
                          {"disk", request->amount[sched::kDisk]},
                          {"gpu", request->amount[sched::kGpu]}}}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "# " << options.spec_file << " is valid; canonical form:\n" << sched::to_canonical_yaml(*spec);
  }
  return kExitOk;
}

// The plaintext reference placement of a spec over given (quantised) free capacities: what the
// encrypted evaluation must decide on the same inputs. Nodes are given in PeerId order.
int plan(const JobOptions& options, const GlobalOptions& global) {
  auto spec = sched::load_job_spec(options.spec_file);
  if (!spec.ok()) return fail(spec.status().message());
  auto request = sched::quantize_request(spec->resources);
  if (!request.ok()) return fail(options.spec_file + ": " + request.status().message());
  auto bytes = read_file(options.nodes_file, 1 << 20);
  if (!bytes.ok()) return fail(bytes.status().message());
  auto nodes = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (nodes.is_discarded() || !nodes.is_array() || nodes.empty()) {
    return fail(options.nodes_file + ": expected a JSON list of {cpu, memory, disk, gpu, latency} in quantised units");
  }
  sched::PlacementInput input;
  for (const auto& n : nodes) {
    sched::QuantizedTelemetry t;
    t.free[sched::kCpu] = n.value("cpu", 0);
    t.free[sched::kMemory] = n.value("memory", 0);
    t.free[sched::kDisk] = n.value("disk", 0);
    t.free[sched::kGpu] = n.value("gpu", 0);
    t.latency = n.value("latency", 0);
    input.nodes.push_back(t);
  }
  input.request = *request;
  input.policy = spec->policy;
  input.replicas = spec->replicas;
  input.round_robin_offset = node::round_robin_offset(sched::job_id(*spec), input.nodes.size());
  const auto placement = sched::place_plaintext(input);
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& r : placement.replicas) replicas.push_back(r ? nlohmann::json(*r) : nlohmann::json(nullptr));
  if (global.output == "json") {
    std::cout << nlohmann::json{{"replicas", replicas}}.dump() << "\n";
  } else {
    for (std::size_t i = 0; i < placement.replicas.size(); ++i) {
      std::cout << "replica " << i << ": "
                << (placement.replicas[i] ? "node " + std::to_string(*placement.replicas[i]) : std::string("no fit")) << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void register_job_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto options = std::make_shared<JobOptions>();
  auto* noun = app.add_subcommand("job", "Submit and inspect jobs");
  noun->require_subcommand(1);
  auto* check = noun->add_subcommand("validate", "Check a job spec (docs/jobspec.md) and print its canonical form");
  check->add_option("spec", options->spec_file, "Job spec YAML file")->required()->check(CLI::ExistingFile);
  check->add_option("-o,--output", global.output, "Output format: table or json")->check(CLI::IsMember({"table", "json"}));
  check->callback([options, &global, &action] { action = [options, &global] { return validate(*options, global); }; });
  auto* plan_cmd = noun->add_subcommand("plan", "The plaintext reference placement of a spec over given free capacities");
  plan_cmd->add_option("spec", options->spec_file, "Job spec YAML file")->required()->check(CLI::ExistingFile);
  plan_cmd->add_option("--nodes", options->nodes_file, "JSON list of nodes' quantised {cpu, memory, disk, gpu, latency}, in PeerId order")
      ->required()
      ->check(CLI::ExistingFile);
  plan_cmd->add_option("-o,--output", global.output, "Output format: table or json")->check(CLI::IsMember({"table", "json"}));
  plan_cmd->callback([options, &global, &action] { action = [options, &global] { return plan(*options, global); }; });
}

}  // namespace veil::cli
