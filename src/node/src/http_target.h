// Splitting and decoding of HTTP request targets ("/v1/jobs/a%20b?tail=10") and of the
// authorities in Host and Origin headers, shared by the API server and its tests. Private to
// veil_node.
//
// The path is decoded once, here, and strictly: the router and the authentication check
// both look at the segments this returns, and a path that a lax decoder could read as some
// other path is refused instead of guessed at (docs/node-api.md, "Security model").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil::node {

struct HttpTarget {
  std::string path;                           // as sent, without the query: "/v1/jobs/a%20b"
  std::vector<std::string> segments;          // decoded: {"v1", "jobs", "a b"}; "/" is {""}
  std::map<std::string, std::string> query;   // decoded; '+' is a space; last value of a key wins
};

// "/a/b" -> {"a","b"}; "/" -> {""}; "/a/" -> {"a",""}. The leading '/' is dropped; the
// segments are not decoded.
std::vector<std::string> split_path(std::string_view path);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Fails with
// invalid_argument on a truncated or non-hex escape.
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Parses an origin-form target. Fails with invalid_argument, naming the reason, when
//  - it does not start with '/' (absolute-form, authority-form and "*" are not served);
//  - the path holds a character outside RFC 3986's `pchar` set and '/' (letters, digits,
//    "-._~!$&'()*+,;=:@" and '%' escapes), the query one outside those and '?';
//  - a path segment is empty (doubled or trailing '/'; the root "/" alone is allowed), or is
//    "." or "..";
//  - a path escape is truncated or not hex, or decodes to a byte that must not be hidden in
//    an escape: an unreserved character (letters, digits, "-._~", which RFC 3986 §6.2.2.2
//    says mean the same escaped or not, so "/%761" would be another spelling of "/v1"),
//    '/', '\', '%' (a double escape, "%2576") or a control byte (NUL to 0x1F, 0x7F).
// Escapes of anything else (space, non-ASCII bytes, reserved characters) are decoded.
Result<HttpTarget> parse_target(std::string_view target);

// The authority named by a Host header or an Origin.
struct HttpAuthority {
  std::string host;         // "127.0.0.1", "::1" (canonical, no brackets) or "localhost"
  std::uint16_t port = 80;  // 80 when the text names none, as for an http:// URL

  bool operator==(const HttpAuthority&) const = default;
};

// Parses "HOST[:PORT]" where HOST is an IPv4 literal (dotted quad), a bracketed IPv6 literal
// or "localhost" (any case). Fails with invalid_argument on anything else, above all on any
// other name: a page that reached us through DNS rebinding can only send its own name.
Result<HttpAuthority> parse_local_authority(std::string_view text);

// Parses a serialised web origin, "http://" followed by an authority as above. Fails with
// invalid_argument on "null" (sandboxed frames, files), other schemes, paths and names.
Result<HttpAuthority> parse_http_origin(std::string_view origin);

}  // namespace veil::node
