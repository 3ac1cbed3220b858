#include "veil/runtime/image_ref.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace veil::runtime {
namespace {

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Path components: lower-case alphanumerics separated by '.', '_', '__' or '-' runs, as the
// distribution spec allows; the registry host (first component with '.' or ':' or
// "localhost") may also carry upper-case letters and a port.
bool valid_path_component(std::string_view c) {
  if (c.empty() || c.size() > 255) return false;
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [&](char ch) { return alnum(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  return std::all_of(h.begin(), h.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == ':' ||
           ch == '[' || ch == ']';
  });
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  if (!(std::isalnum(static_cast<unsigned char>(t.front())) || t.front() == '_')) return false;
  return std::all_of(t.begin(), t.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
  });
}

}  // namespace

bool is_valid_digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) return false;
  return std::all_of(digest.begin() + kPrefix.size(), digest.end(), is_lower_hex);
}

std::string ImageReference::to_string() const {
  std::string out = repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageReference> parse_image_reference(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalid_argument("bad image reference '" + std::string(text) + "': " + std::string(why));
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 1024) return bad("longer than 1024 characters");
  ImageReference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!is_valid_digest(ref.digest)) return bad("digest must be sha256: and 64 lower-case hex digits");
  }
  // A ':' after the last '/' separates the tag; one before it belongs to a host:port.
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_tag(ref.tag)) return bad("tag may hold letters, digits, '_', '.', '-' (max 128)");
  }
  if (rest.empty()) return bad("repository is empty");
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto next = rest.find('/', start);
    parts.push_back(rest.substr(start, next == std::string_view::npos ? next : next - start));
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  std::size_t first_path = 0;
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    if (!valid_host(parts[0])) return bad("registry host '" + std::string(parts[0]) + "' is malformed");
    first_path = 1;
  }
  for (std::size_t i = first_path; i < parts.size(); ++i) {
    if (!valid_path_component(parts[i])) {
      return bad("path component '" + std::string(parts[i]) +
                 "' must be lower-case letters and digits, separated by '.', '_' or '-'");
    }
  }
  ref.repository = std::string(rest);
  return ref;
}

}  // namespace veil::runtime
