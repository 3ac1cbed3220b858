#include "veil/common/printable.h"

#include <gtest/gtest.h>

#include <random>

#include "veil/common/text_location.h"

namespace veil {
namespace {

TEST(Printable, KeepsPrintableTextIncludingNonAscii) {
  EXPECT_EQ(printable("web-1 needs 128Mi"), "web-1 needs 128Mi");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3");
  EXPECT_EQ(printable("C:\\path"), "C:\\path");
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, EscapesControlCharacters) {
  EXPECT_EQ(printable("\x1b[2Jgone"), "\\x1b[2Jgone");
  EXPECT_EQ(printable(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(printable("\x7f"), "\\x7f");
  EXPECT_EQ(printable("\x07"), "\\x07");
}

TEST(Printable, EscapesEachByteOfInvalidUtf8) {
  EXPECT_EQ(printable("caf\xe9"), "caf\\xe9");                       // Latin-1
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");                    // never valid
  EXPECT_EQ(printable("\x80x"), "\\x80x");                           // stray continuation
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, three bytes
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");                    // truncated at the end
  EXPECT_EQ(printable("\xe2\x82x"), "\\xe2\\x82x");                  // truncated in the middle
}

TEST(Printable, EscapesC1AndDirectionControls) {
  EXPECT_EQ(printable("\xc2\x9b"), "\\u{009b}");  // C1 CSI
  EXPECT_EQ(printable("ab\xe2\x80\xae"
                      "cd"),
            "ab\\u{202e}cd");                         // right-to-left override
  EXPECT_EQ(printable("\xe2\x81\xa6"), "\\u{2066}");  // left-to-right isolate
}

TEST(Printable, IsIdempotentAndAlwaysValidUtf8) {
  std::mt19937 rng(21);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    const std::string once = printable(bytes);
    EXPECT_FALSE(first_invalid_utf8(once).has_value());
    EXPECT_EQ(once.find_first_of(std::string_view("\0\x1b\n\r\x7f", 5)), std::string::npos);
    EXPECT_EQ(printable(once), once);
  }
}

TEST(Printable, LinesKeepTheirBreaks) {
  EXPECT_EQ(printable_lines("one \x1b\ntwo \xff\n"), "one \\x1b\ntwo \\xff\n");
  EXPECT_EQ(printable_lines("single"), "single");
}

TEST(FirstInvalidUtf8, PointsAtTheFirstBadByte) {
  EXPECT_FALSE(first_invalid_utf8("plain \xc3\xa9").has_value());
  EXPECT_EQ(first_invalid_utf8("ab\xe9"
                               "cd"),
            2u);
  EXPECT_EQ(first_invalid_utf8("\xc3\xa9\xc3"), 2u);
}

TEST(TextLocation, EscapesTheEchoedLineAndKeepsTheCaretOnTheColumn) {
  const std::string text = "name: a\nimage: \x1b[31mred\nrest\n";
  const std::string out = describe_text_location("job.yaml", text, 1, 7, "bad \x1b value");
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out,
            "job.yaml:2:8: bad \\x1b value\n"
            "  2 | image: \\x1b[31mred\n"
            "      "
            "       "
            "^");
  // The caret moves with the escapes before the column.
  const std::string shifted = describe_text_location("x",
                                                     "\x01\x02"
                                                     "ab",
                                                     0, 3, "here");
  EXPECT_EQ(shifted, "x:1:4: here\n  1 | \\x01\\x02ab\n" + std::string(6 + 8 + 1, ' ') + "^");
}

TEST(TextLocation, RequireUtf8NamesLineColumnAndByteOnOneLine) {
  EXPECT_TRUE(require_utf8("job.yaml", "name: caf\xc3\xa9\n", "a job spec").ok());
  const Status s = require_utf8("job.yaml", "name: web\n# caf\xe9\n", "a job spec");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "job.yaml:2:6: a job spec must be UTF-8 text; byte \\xe9 is not (save the file as UTF-8)");
}

}  // namespace
}  // namespace veil
