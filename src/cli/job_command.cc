// `veil job ...`: job specs. `validate` checks a spec locally, before it is submitted (and,
// with --cluster, against the public labels and volumes of the live nodes).
#include <algorithm>
#include <iostream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "node_api.h"
#include "veil/common/read_file.h"
#include "veil/node/protocol.h"
#include "veil/sched/eligibility.h"
#include "veil/sched/placement.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::cli {
namespace {

struct JobOptions {
  std::string spec_file;
  std::string nodes_file;
  bool against_cluster = false;  // validate --cluster
  ApiOptions api;
};

// What --cluster finds wrong with `spec` given the node API's GET /v1/nodes: every volume no
// live node offers and every constraint no live node meets, each located in `text`; then, when
// each holds somewhere but no node meets them all, that. Empty when some live node can run it.
std::vector<std::string> cluster_problems(const sched::JobSpec& spec, const std::string& text, const std::string& source,
                                          const nlohmann::json& nodes, std::size_t& eligible) {
  std::vector<sched::NodeAttributes> live;
  for (const auto& n : nodes) {
    if (n.value("state", "") != "alive" || !n.value("registered", false)) continue;
    sched::NodeAttributes a;
    if (auto labels = n.find("labels"); labels != n.end() && labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (v.is_string()) a.labels[k] = v.get<std::string>();
      }
    }
    if (auto volumes = n.find("volumes"); volumes != n.end() && volumes->is_array()) {
      for (const auto& v : *volumes) {
        if (v.is_string()) a.volumes.insert(v.get<std::string>());
      }
    }
    live.push_back(std::move(a));
  }
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < spec.volumes.size(); ++i) {
    const std::string& name = spec.volumes[i].source;
    if (std::none_of(live.begin(), live.end(), [&](const auto& a) { return a.volumes.count(name) > 0; })) {
      std::set<std::string> offered;
      for (const auto& a : live) offered.insert(a.volumes.begin(), a.volumes.end());
      std::string list;
      for (const auto& o : offered) list += (list.empty() ? "" : ", ") + o;
      problems.push_back(sched::describe_spec_field(text, source, "volumes[" + std::to_string(i) + "].source",
                                                    "no live node offers host volume '" + name + "' (offered: " +
                                                        (list.empty() ? "none" : list) + ")"));
    }
  }
  for (std::size_t i = 0; i < spec.constraints.size(); ++i) {
    sched::JobSpec alone;
    alone.constraints = {spec.constraints[i]};
    if (std::none_of(live.begin(), live.end(), [&](const auto& a) { return sched::check_eligible(alone, a).ok(); })) {
      problems.push_back(sched::describe_spec_field(text, source, "constraints[" + std::to_string(i) + "]",
                                                    "no live node meets this constraint"));
    }
  }
  eligible = static_cast<std::size_t>(
      std::count_if(live.begin(), live.end(), [&](const auto& a) { return sched::check_eligible(spec, a).ok(); }));
  if (problems.empty() && eligible == 0 && !live.empty()) {
    const char* field = spec.constraints.empty() ? "volumes" : "constraints";
    problems.push_back(sched::describe_spec_field(text, source, field,
                                                  "each holds on some live node, but no live node meets them all"));
  }
  return problems;
}

int validate(const JobOptions& options, const GlobalOptions& global) {
  auto spec = sched::load_job_spec(options.spec_file);
  if (!spec.ok()) return fail(spec.status());
  auto request = sched::quantize_request(spec->resources);
  if (!request.ok()) return fail(request.status().with_context(options.spec_file));
  std::optional<std::size_t> eligible;
  if (options.against_cluster) {
    auto text = read_file(options.spec_file, kJobSpecFile);
    if (!text.ok()) return fail(text.status());
    auto api = open_api(global, options.api);
    if (!api.ok()) return fail(api.status());
    auto nodes = api->get("/v1/nodes");
    if (!nodes.ok()) return fail(nodes.status().with_context("reading the cluster's nodes"));
    std::size_t count = 0;
    const auto problems = cluster_problems(*spec, *text, options.spec_file, *nodes, count);
    if (!problems.empty()) {
      std::string message;
      for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p;
      return fail(invalid_argument(message));
    }
    eligible = count;
  }
  if (structured_output(global.output)) {
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
    if (eligible) j["eligible_nodes"] = *eligible;
    print_data(j, global.output, -1);
  } else {
    std::cout << "# " << options.spec_file << " is valid";
    if (eligible) std::cout << "; " << *eligible << " live node(s) meet its constraints and volumes";
    std::cout << "; canonical form:\n" << sched::to_canonical_yaml(*spec);
  }
  return kExitOk;
}

// A JSON value as an error quotes it: numbers as written, anything else by its type (so a
// megabyte of nested lists is not echoed back).
std::string describe(const nlohmann::json& value) {
  return value.is_number() ? value.dump() : std::string("a JSON ") + value.type_name();
}

// One quantised field of a node in a --nodes file: absent is 0, anything but a whole number
// 0..65535 is an error.
Status read_field(const nlohmann::json& node, const char* key, std::uint16_t& out) {
  if (!node.contains(key)) return {};
  const auto& value = node[key];
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0xffff) {
    return invalid_argument(std::string("'") + key + "' is " + describe(value) + "; expected a whole number 0..65535");
  }
  out = static_cast<std::uint16_t>(value.get<std::uint64_t>());
  return {};
}

// A --nodes file: a JSON list of {cpu, memory, disk, gpu, latency} in quantised units. The
// other fields of a record from GET /v1/telemetry (hash, timestamp_ms) are allowed and ignored,
// so that the API's records can be planned on as they are; any other key is a mistake.
Result<std::vector<sched::QuantizedTelemetry>> load_node_list(const std::string& file) {
  VEIL_ASSIGN_OR_RETURN(std::string text, read_file(file, kNodeListFile));
  const auto nodes = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (nodes.is_discarded() || !nodes.is_array() || nodes.empty()) {
    return invalid_argument(file + ": expected a JSON list of {cpu, memory, disk, gpu, latency} in quantised units");
  }
  std::vector<sched::QuantizedTelemetry> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    const std::string where = file + ": node " + std::to_string(i);
    if (!n.is_object()) return invalid_argument(where + " is " + describe(n) + "; expected {cpu, memory, disk, gpu, latency}");
    for (const auto& [key, value] : n.items()) {
      const bool known = key == "cpu" || key == "memory" || key == "disk" || key == "gpu" || key == "latency" ||
                         key == "hash" || key == "timestamp_ms";
      if (!known) {
        return invalid_argument(where + ": unknown key '" + key + "' (expected cpu, memory, disk, gpu, latency)");
      }
    }
    sched::QuantizedTelemetry t;
    VEIL_RETURN_IF_ERROR(read_field(n, "cpu", t.free[sched::kCpu]).with_context(where));
    VEIL_RETURN_IF_ERROR(read_field(n, "memory", t.free[sched::kMemory]).with_context(where));
    VEIL_RETURN_IF_ERROR(read_field(n, "disk", t.free[sched::kDisk]).with_context(where));
    VEIL_RETURN_IF_ERROR(read_field(n, "gpu", t.free[sched::kGpu]).with_context(where));
    VEIL_RETURN_IF_ERROR(read_field(n, "latency", t.latency).with_context(where));
    out.push_back(t);
  }
  return out;
}

// The plaintext reference placement of a spec over given (quantised) free capacities: what the
// encrypted evaluation must decide on the same inputs. Nodes are given in PeerId order.
int plan(const JobOptions& options, const GlobalOptions& global) {
  auto spec = sched::load_job_spec(options.spec_file);
  if (!spec.ok()) return fail(spec.status());
  auto request = sched::quantize_request(spec->resources);
  if (!request.ok()) return fail(request.status().with_context(options.spec_file));
  auto nodes = load_node_list(options.nodes_file);
  if (!nodes.ok()) return fail(nodes.status());
  sched::PlacementInput input;
  input.nodes = std::move(*nodes);
  input.request = *request;
  input.policy = spec->policy;
  input.replicas = spec->replicas;
  input.round_robin_offset = node::round_robin_offset(sched::job_id(*spec), input.nodes.size());
  const auto placement = sched::place_plaintext(input);
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& r : placement.replicas) replicas.push_back(r ? nlohmann::json(*r) : nlohmann::json(nullptr));
  if (structured_output(global.output)) {
    print_data({{"replicas", replicas}}, global.output, -1);
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
  check->add_flag("--cluster", options->against_cluster,
                  "Also check the spec's volumes and constraints against the live nodes the node's API knows");
  add_api_options(check, options->api, global);
  check->callback([options, &global, &action] { action = [options, &global] { return validate(*options, global); }; });
  auto* plan_cmd = noun->add_subcommand("plan", "The plaintext reference placement of a spec over given free capacities");
  plan_cmd->add_option("spec", options->spec_file, "Job spec YAML file")->required()->check(CLI::ExistingFile);
  plan_cmd->add_option("--nodes", options->nodes_file, "JSON list of nodes' quantised {cpu, memory, disk, gpu, latency}, in PeerId order")
      ->required()
      ->check(CLI::ExistingFile);
  add_output_option(plan_cmd, global.output);
  plan_cmd->callback([options, &global, &action] { action = [options, &global] { return plan(*options, global); }; });
}

}  // namespace veil::cli
