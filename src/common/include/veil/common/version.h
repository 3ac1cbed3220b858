// The version of this build, for `veil version` and the node's API.
#pragma once

#include <string_view>

namespace veil {

std::string_view version();      // "0.1.0"
std::string_view git_commit();   // short hash at configure time, or "unknown"
std::string_view build_type();   // "RelWithDebInfo", "Release", ...

}  // namespace veil
