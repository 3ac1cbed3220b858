// Small helpers shared by the `veil` verbs that read and write key and ciphertext files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::cli {

// Prints "veil: error: MESSAGE" and returns kExitFailure.
int fail(const std::string& message);
// Prints "veil: MESSAGE" and returns kExitUsage.
int usage(const std::string& message);

// Reads a whole file, refusing one larger than `limit` before reading it.
Result<Bytes> read_file(const std::filesystem::path& path, std::size_t limit);

// Writes through a temporary file and a rename, so a failed run never leaves half a file.
// `secret` files are created with mode 0600.
Status write_file(const std::filesystem::path& path, ByteView bytes, bool secret = false);

}  // namespace veil::cli
