#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/version.h"

namespace veil::cli {

void register_version_command(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* cmd = app.add_subcommand("version", "Print the version of this build");
  add_output_option(cmd, global.output);
  cmd->callback([&global, &action] {
    action = [&global] {
      if (structured_output(global.output)) {
        nlohmann::json j = {{"version", veil::version()},
                            {"commit", veil::git_commit()},
                            {"build_type", veil::build_type()}};
        print_data(j, global.output, -1);
      } else {
        std::cout << "veil " << veil::version() << " (commit " << veil::git_commit() << ", "
                  << veil::build_type() << ")\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace veil::cli
