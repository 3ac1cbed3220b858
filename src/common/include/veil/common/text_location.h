// Error messages that point into a text the user wrote (a config file, a job spec).
#pragma once

#include <string>
#include <string_view>

namespace veil {

// "name:LINE:COL: message", then the offending line and a caret under the column, as
// compilers print them. `line` and `column` are 0-based; a negative line means "unknown"
// and gives just "name: message".
std::string describe_text_location(std::string_view source_name, std::string_view text, int line, int column,
                                   std::string_view message);

}  // namespace veil
