#include "cli_io.h"

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "commands.h"
#include "veil/common/printable.h"

namespace veil::cli {

namespace fs = std::filesystem;

namespace {

int report(std::string_view message, int code) {
  std::cerr << "veil: error: " << printable_lines(message) << "\n";
  return code;
}

// A plain YAML scalar that a reader would take for a number, a boolean or null ("12", "-1",
// ".5", "yes", "off", "~", ""): such strings are quoted so the YAML keeps the JSON's types.
// Errs on the side of quoting.
bool reads_as_other_type(std::string_view text) {
  if (text.empty()) return true;
  const char first = text.front();
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') return true;
  std::string lower;
  for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* word : {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == word) return true;
  }
  return false;
}

void emit_yaml(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit_yaml(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit_yaml(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out << YAML::Null;
      break;
    case nlohmann::json::value_t::boolean:
      out << value.get<bool>();
      break;
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (reads_as_other_type(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case nlohmann::json::value_t::number_integer:
      out << value.get<std::int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      out << value.get<std::uint64_t>();
      break;
    default:  // floating point and binary: as JSON writes them, which YAML reads the same
      out << value.dump();
      break;
  }
}

}  // namespace

CLI::Option* add_output_option(CLI::App* cmd, std::string& output) {
  return cmd->add_option("-o,--output", output, "Output format: table (default), wide, json or yaml")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml"}));
}

void add_json_alias(CLI::App* cmd, std::string& output) {
  cmd->add_flag_callback("--json", [&output] { output = "json"; }, "Same as -o json");
}

bool structured_output(const std::string& output) { return output == "json" || output == "yaml"; }

std::string to_yaml(const nlohmann::json& data) {
  YAML::Emitter out;
  emit_yaml(out, data);
  return out.c_str();
}

void print_data(const nlohmann::json& data, const std::string& output, int json_indent) {
  if (output == "yaml") {
    std::cout << to_yaml(data) << "\n";
  } else {
    std::cout << data.dump(json_indent) << "\n";
  }
}

int fail(const Status& status) { return status.ok() ? kExitOk : report(status.message(), kExitFailure); }
int fail(std::string_view message) { return report(message, kExitFailure); }
int usage(const Status& status) { return status.ok() ? kExitOk : report(status.message(), kExitUsage); }
int usage(std::string_view message) { return report(message, kExitUsage); }

Status write_file(const fs::path& path, ByteView bytes, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return permission_denied(path.string() + ": cannot write");
    if (secret) ::chmod(tmp.c_str(), 0600);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return data_loss(path.string() + ": short write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return permission_denied(path.string() + ": " + ec.message());
  return {};
}

}  // namespace veil::cli
