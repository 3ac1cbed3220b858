// Splitting and decoding of HTTP request targets ("/v1/jobs/a%20b?tail=10"), shared by the
// API server's router and its tests. Private to veil_node.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil::node {

struct HttpTarget {
  std::string path;                           // as sent, without the query: "/v1/jobs/a%20b"
  std::vector<std::string> segments;          // decoded: {"v1", "jobs", "a b"}
  std::map<std::string, std::string> query;   // decoded; '+' is a space; last value of a key wins
};

// "/a/b" -> {"a","b"}; "/" -> {""}; "/a/" -> {"a",""}. The leading '/' is dropped; the
// segments are not decoded.
std::vector<std::string> split_path(std::string_view path);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Fails with
// invalid_argument on a truncated or non-hex escape.
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Parses an origin-form target. Fails with invalid_argument when it does not start with '/'
// or holds a bad escape.
Result<HttpTarget> parse_target(std::string_view target);

}  // namespace veil::node
