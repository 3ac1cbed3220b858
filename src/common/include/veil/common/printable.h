// Showing bytes a user (or a peer) wrote inside our own messages without letting them drive
// the terminal.
//
// A job spec, a config file or a name on the command line can hold any bytes: invalid UTF-8,
// ESC sequences that move the cursor or retitle the window, a NUL. Every message that echoes
// such bytes passes them through printable() first, so what reaches a terminal or a log is
// plain text that still shows exactly which bytes were there.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace veil {

// `text` with every byte that is not printable UTF-8 written as an escape:
//  - C0 controls and DEL as \xHH (\x1b for ESC, \x00 for NUL), except \n, \r and \t which
//    are written \n, \r, \t;
//  - each byte of an invalid UTF-8 sequence (stray continuation bytes, overlong forms,
//    surrogates, code points above U+10FFFF, truncated sequences) as \xHH;
//  - C1 controls (U+0080..U+009F) and the invisible direction controls (U+200E, U+200F,
//    U+202A..U+202E, U+2066..U+2069, U+2028, U+2029) as \u{HHHH}.
// Everything else, including a backslash and any printable non-ASCII character, is kept as
// it is, so printable(printable(x)) == printable(x): escaping twice on the way up is harmless.
std::string printable(std::string_view text);

// printable() applied to each line of `text`, keeping the '\n' between lines: for messages
// that are ours and span lines (a located error with its source line and caret) but may
// carry user bytes in any line.
std::string printable_lines(std::string_view text);

// The offset of the first byte of `text` that does not start (or continue) a well-formed
// UTF-8 sequence, or nullopt when all of `text` is UTF-8. Same rules as printable().
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

}  // namespace veil
