#include "veil/common/text_location.h"

#include <algorithm>

#include "veil/common/printable.h"

namespace veil {
namespace {

// Terminal columns taken by UTF-8 text: one per code point (wide characters aside).
std::size_t display_width(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(
      utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

}  // namespace

std::string describe_text_location(std::string_view source_name, std::string_view text, int line, int column,
                                   std::string_view message) {
  std::string out = printable(source_name);
  if (line < 0) return out + ": " + printable_lines(message);
  out += ":" + std::to_string(line + 1) + ":" + std::to_string(std::max(column, 0) + 1) + ": ";
  out += printable_lines(message);

  std::string_view rest = text;
  for (int i = 0; i < line && !rest.empty(); ++i) {
    auto newline = rest.find('\n');
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
  const std::string_view source_line = rest.substr(0, rest.find('\n'));
  const std::size_t caret_bytes = std::min(static_cast<std::size_t>(std::max(column, 0)), source_line.size());
  const std::size_t caret = display_width(printable(source_line.substr(0, caret_bytes))) +
                            static_cast<std::size_t>(std::max(column, 0)) - caret_bytes;
  const std::string number = std::to_string(line + 1);
  out += "\n  " + number + " | " + printable(source_line);
  out += "\n" + std::string(number.size() + 5 + caret, ' ') + "^";
  return out;
}

Status require_utf8(std::string_view source_name, std::string_view text, std::string_view what) {
  const auto bad = first_invalid_utf8(text);
  if (!bad) return {};
  const std::string_view before = text.substr(0, *bad);
  const std::size_t line = static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
  const std::size_t column = *bad - line_start;
  return invalid_argument(printable(source_name) + ":" + std::to_string(line + 1) + ":" +
                          std::to_string(column + 1) + ": " + std::string(what) +
                          " must be UTF-8 text; byte " + printable(text.substr(*bad, 1)) +
                          " is not (save the file as UTF-8)");
}

}  // namespace veil
