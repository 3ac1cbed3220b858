// How `veil` verbs end and the file plumbing they share: one way to report an error and pick
// the exit code (docs/operations.md, "Exit codes"), one way to write a file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include "veil/common/bytes.h"
#include "veil/common/read_file.h"
#include "veil/common/status.h"

namespace veil::cli {

// The command ran and failed: prints "veil: error: MESSAGE" to stderr and returns kExitFailure
// (1). The message goes through printable_lines(), so bytes from a file, a flag or a peer
// reach the terminal escaped. An ok status prints nothing and returns kExitOk.
int fail(const Status& status);
int fail(std::string_view message);

// The command line is wrong (a flag's value, a missing argument): prints "veil: error:
// MESSAGE" the same way and returns kExitUsage (2).
int usage(const Status& status);
int usage(std::string_view message);

// Writes through a temporary file and a rename, so a failed run never leaves half a file.
// `secret` files are created with mode 0600.
Status write_file(const std::filesystem::path& path, ByteView bytes, bool secret = false);

// `-o,--output table|wide|json|yaml` on a command that prints data (docs/operations.md, "Output
// formats"): table is the default, wide a table with more columns where the command has more to
// show (else the same table), json and yaml the same structure for scripts.
CLI::Option* add_output_option(CLI::App* cmd, std::string& output);

// `--json` on a command that had it before `-o`: the same as `-o json`.
void add_json_alias(CLI::App* cmd, std::string& output);

// True for -o json and -o yaml: the command builds one JSON value and prints it with print_data.
bool structured_output(const std::string& output);

// Prints `data` and a newline: as JSON with `json_indent` (nlohmann's dump: -1 is one line), or
// with -o yaml as YAML of the same structure (block style; strings quoted where YAML would read
// them as another type).
void print_data(const nlohmann::json& data, const std::string& output, int json_indent = 2);

// `data` as a YAML document: objects are maps in their key order, arrays sequences, null `~`.
std::string to_yaml(const nlohmann::json& data);

}  // namespace veil::cli
