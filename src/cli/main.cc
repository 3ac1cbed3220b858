// `veil`: the operator's command line, in kubectl/nomad `noun verb` style.
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/log.h"

namespace {

using namespace veil::cli;

int run(int argc, char** argv) {
  veil::log::init_from_env();

  CLI::App app{"veil — confidential container orchestration across organisations", "veil"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  // kubectl and nomad habits: a flag of the app or of a noun may follow the verb (`veil config
  // show --config FILE`, `veil runtime run --driver docker ...`). An option a verb does not know
  // is handed to its noun, then to the app. Set before any subcommand is added: they inherit it.
  app.fallthrough();
  GlobalOptions global;
  if (const char* file = std::getenv("VEIL_CONFIG")) global.config_file = file;
  app.add_option("--config", global.config_file, "YAML config file (env VEIL_CONFIG)")->check(CLI::ExistingFile);

  CommandAction action;
  register_version_command(app, global, action);
  register_config_commands(app, global, action);
  register_p2p_commands(app, global, action);
  register_fhe_commands(app, global, action);
  register_keys_commands(app, global, action);
  register_keys_dkg_command(app, global, action);
  register_job_commands(app, global, action);
  register_bench_commands(app, global, action);
  register_sim_commands(app, global, action);
  register_swim_commands(app, global, action);
  register_runtime_commands(app, global, action);
  register_node_commands(app, global, action);
  register_cluster_commands(app, global, action);
  register_chain_commands(app, global, action);  // adds `register` to a `node` noun if one exists
  register_man_command(app, global, action);
  register_completion_command(app, global, action);  // walks the tree the others built

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!action) return usage(std::string("that command needs a verb; see 'veil ") + argv[1] + " --help'");
  return action();
}

}  // namespace

// Every way out is an exit code and at most a line on stderr: an exception that escapes a verb
// (a bug, or memory running out) is reported like any error instead of aborting the process.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return veil::cli::fail(std::string("unexpected error: ") + e.what() + " (a bug in veil: please report the command that caused it)");
  } catch (...) {
    return veil::cli::fail("unexpected error of an unknown kind (a bug in veil: please report the command that caused it)");
  }
}
