// Error messages that point into a text the user wrote (a config file, a job spec).
#pragma once

#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil {

// "name:LINE:COL: message", then the offending line and a caret under the column, as
// compilers print them. `line` and `column` are 0-based; a negative line means "unknown"
// and gives just "name: message". The name, the message and the echoed line go through
// printable() (lines of the message kept), so control bytes and invalid UTF-8 in any of them
// reach the terminal escaped; the caret still points at the escaped column.
std::string describe_text_location(std::string_view source_name, std::string_view text, int line, int column,
                                   std::string_view message);

// Ok when all of `text` is UTF-8; otherwise invalid_argument with one line naming where it
// stops being UTF-8: "job.yaml:3:14: a job spec must be UTF-8 text; byte \xe9 is not ...".
// `what` names the text ("a job spec", "a config file").
Status require_utf8(std::string_view source_name, std::string_view text, std::string_view what);

}  // namespace veil
