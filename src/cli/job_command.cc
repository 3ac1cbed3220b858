// `veil job ...`: job specs. `validate` checks a spec locally, before it is submitted.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::cli {
namespace {

struct JobOptions {
  std::string spec_file;
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

}  // namespace

void register_job_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto options = std::make_shared<JobOptions>();
  auto* noun = app.add_subcommand("job", "Submit and inspect jobs");
  noun->require_subcommand(1);
  auto* check = noun->add_subcommand("validate", "Check a job spec (docs/jobspec.md) and print its canonical form");
  check->add_option("spec", options->spec_file, "Job spec YAML file")->required()->check(CLI::ExistingFile);
  check->add_option("-o,--output", global.output, "Output format: table or json")->check(CLI::IsMember({"table", "json"}));
  check->callback([options, &global, &action] { action = [options, &global] { return validate(*options, global); }; });
}

}  // namespace veil::cli
