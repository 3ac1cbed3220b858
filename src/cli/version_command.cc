#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "veil/common/version.h"

namespace veil::cli {

void register_version_command(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* cmd = app.add_subcommand("version", "Print the version of this build");
  cmd->add_option("-o,--output", global.output, "Output format")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&global, &action] {
    action = [&global] {
      if (global.output == "json") {
        nlohmann::json j = {{"version", veil::version()},
                            {"commit", veil::git_commit()},
                            {"build_type", veil::build_type()}};
        std::cout << j.dump() << "\n";
      } else {
        std::cout << "veil " << veil::version() << " (commit " << veil::git_commit() << ", "
                  << veil::build_type() << ")\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace veil::cli
