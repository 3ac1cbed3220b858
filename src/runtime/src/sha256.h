// Private: the SHA-256 of an executable the process driver runs (veil/common/sha256.h hashes).
#pragma once

#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil::runtime {

// Lower-case hex SHA-256 of a file's contents; not_found / permission_denied on open errors.
Result<std::string> sha256_file_hex(const std::string& path);

}  // namespace veil::runtime
