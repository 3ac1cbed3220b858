#include "http_target.h"

#include <algorithm>

#include "veil/common/bytes.h"

namespace veil::node {

std::vector<std::string> split_path(std::string_view path) {
  if (path.starts_with('/')) path.remove_prefix(1);
  std::vector<std::string> segments;
  for (;;) {
    std::size_t slash = path.find('/');
    segments.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      // Exactly two hex digits ("0x" alone is not one byte, so it fails too).
      auto byte = fixed_from_hex<1>(text.substr(i + 1, std::min<std::size_t>(2, text.size() - i - 1)));
      if (!byte.ok())
        return invalid_argument("bad percent escape at offset " + std::to_string(i) + " of '" +
                                std::string(text) + "'");
      out.push_back(static_cast<char>((*byte)[0]));
      i += 2;
    }
  }
  return out;
}

Result<HttpTarget> parse_target(std::string_view target) {
  if (!target.starts_with('/'))
    return invalid_argument("request target must be a path starting with '/'");
  HttpTarget parsed;
  std::size_t question = target.find('?');
  parsed.path = std::string(target.substr(0, question));
  for (const std::string& raw : split_path(parsed.path)) {
    VEIL_ASSIGN_OR_RETURN(std::string segment, percent_decode(raw, false));
    parsed.segments.push_back(std::move(segment));
  }
  if (question == std::string_view::npos) return parsed;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    VEIL_ASSIGN_OR_RETURN(std::string key, percent_decode(pair.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      VEIL_ASSIGN_OR_RETURN(value, percent_decode(pair.substr(eq + 1), true));
    }
    parsed.query[std::move(key)] = std::move(value);
  }
  return parsed;
}

}  // namespace veil::node
