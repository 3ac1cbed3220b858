// Each noun of the `veil` command line registers its verbs here; main() wires them up.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include "veil/common/status.h"

namespace veil::fhe {
struct Parameters;
}

namespace veil::cli {

// Process exit codes that scripts can rely on.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and failed (bad file, unreachable peer, ...)
  kExitUsage = 2,    // the command line itself is wrong
};

// Options every command sees.
struct GlobalOptions {
  std::string config_file;  // --config or VEIL_CONFIG
  std::string output = "table";  // --output table|json|yaml on read commands
};

// The subcommand `name` of `app`, created if no other registrar made it yet (several parts add
// verbs to one noun: `node register` from the chain verbs, `node run` from the node's).
inline CLI::App* get_or_add_subcommand(CLI::App& app, const std::string& name, const std::string& description) {
  try {
    return app.get_subcommand(name);
  } catch (const CLI::OptionNotFound&) {
    return app.add_subcommand(name, description);
  }
}

// A verb's body runs after parsing and returns an exit code. Registrars store it here.
using CommandAction = std::function<int()>;

// Median milliseconds of threshold decryption for a 3-of-5 committee (the noise squash of one
// FheUint16, one partial decryption, combining 3 shares, a decision end to end) and the sizes of
// a share file and a decryption share: `veil keys bench` and the threshold part of `veil fhe bench`.
Result<nlohmann::json> threshold_bench(const fhe::Parameters& params, int samples);

void register_version_command(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_config_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_p2p_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_fhe_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_keys_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_keys_dkg_command(CLI::App& app, GlobalOptions& global, CommandAction& action);  // keys dkg (node's transport)
void register_job_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_bench_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_sim_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_swim_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_runtime_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_node_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);     // node run|ls, job run|ls|status|logs|stop
void register_cluster_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);  // cluster init
void register_chain_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);  // chain, gov, image, audit, node register
// `veil man --out DIR`: a man page per command, from the command tree (the Debian package's pages).
void register_man_command(CLI::App& app, GlobalOptions& global, CommandAction& action);
// `veil completion bash|zsh`; walks `app` when it runs, so register it after every other command.
void register_completion_command(CLI::App& app, GlobalOptions& global, CommandAction& action);

}  // namespace veil::cli
