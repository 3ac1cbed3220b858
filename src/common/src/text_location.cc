#include "veil/common/text_location.h"

#include <algorithm>

namespace veil {

std::string describe_text_location(std::string_view source_name, std::string_view text, int line, int column,
                                   std::string_view message) {
  std::string out(source_name);
  if (line < 0) return out + ": " + std::string(message);
  out += ":" + std::to_string(line + 1) + ":" + std::to_string(std::max(column, 0) + 1) + ": ";
  out += message;

  std::string_view rest = text;
  for (int i = 0; i < line && !rest.empty(); ++i) {
    auto newline = rest.find('\n');
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
  std::string_view source_line = rest.substr(0, rest.find('\n'));
  const std::string number = std::to_string(line + 1);
  out += "\n  " + number + " | " + std::string(source_line);
  out += "\n" + std::string(number.size() + 5 + static_cast<std::size_t>(std::max(column, 0)), ' ') + "^";
  return out;
}

}  // namespace veil
