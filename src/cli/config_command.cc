// `veil config show`: the effective configuration and where each value came from.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/config.h"
#include "veil/common/log.h"
#include "veil/common/printable.h"

namespace veil::cli {
namespace {

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + v;
  return out;
}

void print_table(const Config& config) {
  std::size_t key_width = 3, value_width = 5;
  for (const auto& e : config.entries()) {
    key_width = std::max(key_width, e.field->key.size());
    value_width = std::max(value_width, std::max<std::size_t>(join(e.values).size(), 6));
  }
  auto row = [&](std::string_view key, std::string_view value, std::string_view source) {
    std::cout << key << std::string(key_width + 2 - key.size(), ' ') << value
              << std::string(value_width + 2 - value.size(), ' ') << source << "\n";
  };
  row("KEY", "VALUE", "SOURCE");
  for (const auto& e : config.entries()) {
    row(e.field->key, e.values.empty() ? "<unset>" : join(e.values), e.source);
  }
}

nlohmann::json as_json(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& e : config.entries()) {
    nlohmann::json value;
    if (e.values.empty()) {
      value = nullptr;
    } else if (e.field->kind == ConfigKind::kStringList) {
      value = e.values;
    } else {
      value = e.values.front();
    }
    out[std::string(e.field->key)] = {
        {"value", value}, {"source", e.source}, {"env", config_env_name(e.field->key)}};
  }
  return out;
}

}  // namespace

void register_config_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* noun = app.add_subcommand("config", "Inspect the configuration");
  noun->require_subcommand(1);
  auto* show = noun->add_subcommand(
      "show", "Print the effective configuration and the source of each value "
              "(default < --config file < VEIL_* environment)");
  add_output_option(show, global.output);
  show->callback([&global, &action] {
    action = [&global]() -> int {
      Config::LoadOptions options;
      if (!global.config_file.empty()) options.file = global.config_file;
      auto config = Config::load(options);
      if (!config.ok()) return fail(config.status());
      for (const auto& warning : config->warnings()) std::cerr << "veil: warning: " << printable(warning) << "\n";
      if (structured_output(global.output)) {
        print_data(as_json(*config), global.output);
      } else {
        print_table(*config);
      }
      return kExitOk;
    };
  });
}

}  // namespace veil::cli
