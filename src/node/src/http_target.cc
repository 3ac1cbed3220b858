#include "http_target.h"

#include <arpa/inet.h>

#include <optional>

namespace veil::node {
namespace {

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

bool is_sub_delim(unsigned char c) {
  return std::string_view("!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 3986 `pchar` without the escapes: what a path segment may hold as it is.
bool is_plain_pchar(unsigned char c) { return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@'; }

// A byte a client must never send escaped in a path: escaping it either changes nothing
// (unreserved characters) or hides a separator, an escape or a control byte from whoever
// reads the raw path.
bool must_not_be_escaped(unsigned char byte) {
  return is_unreserved(byte) || byte == '/' || byte == '\\' || byte == '%' || byte < 0x20 || byte == 0x7f;
}

Status bad_target(std::string_view target, const std::string& why) {
  return invalid_argument("request target '" + std::string(target) + "' " + why +
                          " (send the path as the dashboard and the CLI do: /v1/...)");
}

// Decodes one raw path segment under the rules of parse_target().
Result<std::string> decode_segment(std::string_view raw, std::string_view target) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    if (c != '%') {
      if (!is_plain_pchar(c))
        return bad_target(target, "holds a character that must be percent-escaped in a path (byte " +
                                      std::to_string(c) + ")");
      out.push_back(static_cast<char>(c));
      continue;
    }
    std::optional<int> high = i + 1 < raw.size() ? hex_value(raw[i + 1]) : std::nullopt;
    std::optional<int> low = i + 2 < raw.size() ? hex_value(raw[i + 2]) : std::nullopt;
    if (!high || !low) return bad_target(target, "holds a truncated or non-hex percent escape");
    auto byte = static_cast<unsigned char>(*high * 16 + *low);
    if (must_not_be_escaped(byte))
      return bad_target(target, "escapes '" + std::string(raw.substr(i, 3)) +
                                    "', which must be sent as it is (or not at all) in a path");
    out.push_back(static_cast<char>(byte));
    i += 2;
  }
  return out;
}

}  // namespace

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
      std::optional<int> high = i + 1 < text.size() ? hex_value(text[i + 1]) : std::nullopt;
      std::optional<int> low = i + 2 < text.size() ? hex_value(text[i + 2]) : std::nullopt;
      if (!high || !low)
        return invalid_argument("bad percent escape at offset " + std::to_string(i) + " of '" +
                                std::string(text) + "'");
      out.push_back(static_cast<char>(*high * 16 + *low));
      i += 2;
    }
  }
  return out;
}

Result<HttpTarget> parse_target(std::string_view target) {
  if (!target.starts_with('/')) return bad_target(target, "is not a path starting with '/'");
  HttpTarget parsed;
  std::size_t question = target.find('?');
  parsed.path = std::string(target.substr(0, question));
  if (parsed.path == "/") {
    parsed.segments = {""};
  } else {
    for (const std::string& raw : split_path(parsed.path)) {
      if (raw.empty()) return bad_target(target, "has an empty segment (a doubled or trailing '/')");
      if (raw == "." || raw == "..") return bad_target(target, "has a '.' or '..' segment");
      VEIL_ASSIGN_OR_RETURN(std::string segment, decode_segment(raw, target));
      parsed.segments.push_back(std::move(segment));
    }
  }
  if (question == std::string_view::npos) return parsed;
  std::string_view query = target.substr(question + 1);
  for (char c : query) {
    auto byte = static_cast<unsigned char>(c);
    if (!is_plain_pchar(byte) && c != '%' && c != '/' && c != '?')
      return bad_target(target, "holds a character that must be percent-escaped in a query (byte " +
                                    std::to_string(byte) + ")");
  }
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

Result<HttpAuthority> parse_local_authority(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalid_argument("'" + std::string(text) + "' " + std::string(why) +
                            " (expected an IP address or localhost, and the API's port)");
  };
  constexpr std::string_view kAllowed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]";
  if (text.find_first_not_of(kAllowed) != std::string_view::npos)
    return bad("holds a character no address has");
  HttpAuthority authority;
  std::string_view host = text;
  std::optional<std::string_view> port;  // the text after the host's ':', when there is one
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated [IPv6] address");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return bad("has text after the ']'");
    if (!rest.empty()) port = rest.substr(1);
    in6_addr v6{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return bad("is not an IPv6 address in [ ]");
    char canonical[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &v6, canonical, sizeof canonical);
    authority.host = canonical;
  } else {
    if (std::size_t colon = text.find(':'); colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
    std::string lower(host);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    in_addr v4{};
    if (lower != "localhost" && ::inet_pton(AF_INET, lower.c_str(), &v4) != 1)
      return bad("names neither an IP address nor localhost");
    authority.host = std::move(lower);
  }
  if (port) {
    // Digits without a leading zero ("07600" is not a second spelling of 7600), 1 to 65535.
    if (port->empty() || port->size() > 5 || port->front() == '0' ||
        port->find_first_not_of("0123456789") != std::string_view::npos)
      return bad("has a bad port");
    unsigned long value = std::stoul(std::string(*port));
    if (value > 65535) return bad("has a bad port");
    authority.port = static_cast<std::uint16_t>(value);
  }
  return authority;
}

Result<HttpAuthority> parse_http_origin(std::string_view origin) {
  constexpr std::string_view kScheme = "http://";
  if (!origin.starts_with(kScheme))
    return invalid_argument("origin '" + std::string(origin) + "' is not an http:// origin");
  return parse_local_authority(origin.substr(kScheme.size()));
}

}  // namespace veil::node
