// How `veil` verbs end and the file plumbing they share: one way to report an error and pick
// the exit code (docs/operations.md, "Exit codes"), one way to write a file.
#pragma once

#include <filesystem>
#include <string_view>

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

}  // namespace veil::cli
