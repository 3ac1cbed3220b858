#include "veil/common/printable.h"

#include <cstdint>

namespace veil {
namespace {

struct Decoded {
  std::size_t length = 0;  // 0: the byte at the position starts no well-formed sequence
  char32_t code_point = 0;
};

bool in(std::uint8_t byte, std::uint8_t low, std::uint8_t high) { return byte >= low && byte <= high; }

// One well-formed UTF-8 sequence at the start of `text` (Unicode Table 3-7).
Decoded decode(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80) return {1, lead};
  std::size_t length = 0;
  std::uint8_t second_low = 0x80, second_high = 0xbf;
  if (in(lead, 0xc2, 0xdf)) {
    length = 2;
  } else if (in(lead, 0xe0, 0xef)) {
    length = 3;
    if (lead == 0xe0) second_low = 0xa0;   // no overlong forms
    if (lead == 0xed) second_high = 0x9f;  // no surrogates
  } else if (in(lead, 0xf0, 0xf4)) {
    length = 4;
    if (lead == 0xf0) second_low = 0x90;   // no overlong forms
    if (lead == 0xf4) second_high = 0x8f;  // nothing above U+10FFFF
  } else {
    return {};
  }
  if (text.size() < length || !in(byte(1), second_low, second_high)) return {};
  char32_t code_point = lead & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) {
    if (!in(byte(i), 0x80, 0xbf)) return {};
    code_point = (code_point << 6) | (byte(i) & 0x3f);
  }
  return {length, code_point};
}

// Valid code points that still change how a terminal shows what follows them.
bool is_invisible_control(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

constexpr char kHex[] = "0123456789abcdef";

void append_byte_escape(std::string& out, std::uint8_t byte) {
  switch (byte) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  out += "\\x";
  out.push_back(kHex[byte >> 4]);
  out.push_back(kHex[byte & 0xf]);
}

void append_code_point_escape(std::string& out, char32_t c) {
  out += "\\u{";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(c >> shift) & 0xf]);
  out += "}";
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Decoded d = decode(text);
    if (d.length == 0) {
      append_byte_escape(out, static_cast<std::uint8_t>(text.front()));
      text.remove_prefix(1);
      continue;
    }
    if (d.code_point < 0x20 || d.code_point == 0x7f) {
      append_byte_escape(out, static_cast<std::uint8_t>(d.code_point));
    } else if (is_invisible_control(d.code_point)) {
      append_code_point_escape(out, d.code_point);
    } else {
      out.append(text.substr(0, d.length));
    }
    text.remove_prefix(d.length);
  }
  return out;
}

std::string printable_lines(std::string_view text) {
  std::string out;
  for (;;) {
    const auto newline = text.find('\n');
    out += printable(text.substr(0, newline));
    if (newline == std::string_view::npos) return out;
    out += '\n';
    text.remove_prefix(newline + 1);
  }
}

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    const Decoded d = decode(text.substr(offset));
    if (d.length == 0) return offset;
    offset += d.length;
  }
  return std::nullopt;
}

}  // namespace veil
