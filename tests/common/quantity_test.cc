#include "veil/common/quantity.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

std::uint64_t parsed(std::string_view text, const QuantitySyntax& syntax) {
  auto r = parse_quantity(text, syntax);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
  return r.value_or(~std::uint64_t{0});
}

StatusCode code(std::string_view text, const QuantitySyntax& syntax) {
  return parse_quantity(text, syntax).status().code();
}

TEST(Quantity, SplitFindsTheThreeParts) {
  const auto parts = split_quantity("12.50eth");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->integer, "12");
  EXPECT_EQ(parts->fraction, "50");
  EXPECT_EQ(parts->suffix, "eth");
  EXPECT_EQ(split_quantity("7")->suffix, "");
  EXPECT_EQ(split_quantity("7 Gi")->suffix, " Gi") << "the suffix is not judged here";
  for (std::string_view bad : {"", ".5", "1.", "1.x", "x1", "-1"}) EXPECT_FALSE(split_quantity(bad)) << bad;
}

TEST(Quantity, CpuInMillicores) {
  EXPECT_EQ(parsed("2", kCpuMillicores), 2000u);
  EXPECT_EQ(parsed("0.5", kCpuMillicores), 500u);
  EXPECT_EQ(parsed("0.25", kCpuMillicores), 250u);
  EXPECT_EQ(parsed("1500m", kCpuMillicores), 1500u);
  EXPECT_EQ(parsed("0.1", kCpuMillicores), 100u);  // exact: no 0.1 * 1000 = 100.00000000000001
  EXPECT_EQ(parsed("1.500000000000000000000", kCpuMillicores), 1500u);  // trailing zeros are free
  EXPECT_EQ(parsed("0", kCpuMillicores), 0u);
  EXPECT_EQ(parsed("1000", kCpuMillicores), 1'000'000u);
  EXPECT_EQ(code("0.0001", kCpuMillicores), StatusCode::kInvalidArgument);  // not whole millicores
  EXPECT_EQ(code("1.5m", kCpuMillicores), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("1001", kCpuMillicores), StatusCode::kOutOfRange);
}

TEST(Quantity, SizesInMibRoundUp) {
  EXPECT_EQ(parsed("128Mi", kSizeMib), 128u);
  EXPECT_EQ(parsed("2Gi", kSizeMib), 2048u);
  EXPECT_EQ(parsed("1Ti", kSizeMib), 1u << 20);
  EXPECT_EQ(parsed("64", kSizeMib), 64u);  // a plain number is MiB
  EXPECT_EQ(parsed("1Ki", kSizeMib), 1u);  // rounded up
  EXPECT_EQ(parsed("1024Ki", kSizeMib), 1u);
  EXPECT_EQ(parsed("1025Ki", kSizeMib), 2u);
  EXPECT_EQ(parsed("0.5Gi", kSizeMib), 512u);
  EXPECT_EQ(parsed("1G", kSizeMib), 954u);  // 10^9 bytes = 953.67 MiB
  EXPECT_EQ(parsed("1M", kSizeMib), 1u);
  EXPECT_EQ(parsed("500k", kSizeMib), 1u);
  EXPECT_EQ(parsed("500K", kSizeMib), 1u);
  EXPECT_EQ(parsed("4095Ti", kSizeMib), 4095ull << 20);
  EXPECT_EQ(parsed("4294967295", kSizeMib), 4294967295u);
  EXPECT_EQ(code("4294967296", kSizeMib), StatusCode::kOutOfRange);
  EXPECT_EQ(code("4Pi", kSizeMib), StatusCode::kOutOfRange);
}

// Every one of these was a way past a parser built on strtod/from_chars(double) or on
// multiplying in a fixed-width integer.
TEST(Quantity, RejectsNonNumbersAndTricks) {
  for (const char* text :
       {"nan", "nanMi", "NaN",  "inf",   "infinity",  "-inf",  "+1",       "-1",   "-0",    " 1",
        "1 ",  "1\t",   "\t1",  "1e3",   "1e400",     "1e3Mi", "1E3",      "0x10", "0x1p3", "0x1p3Mi",
        ".5",  "5.",    "1..2", "1.2.3", "",          "Mi",    "1 Mi",     "1mi",  "1MI",   "1MiB",
        "1GB", "1m",    "0.5m", "１",    "1\xc2\xa0", "1\xe9", "1\x1b[2J", "١"}) {
    auto r = parse_quantity(text, kSizeMib);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << r.value_or(0);
  }
  for (const char* text : {"nan", "inf", "+500m", "500 m", "5e2m", "0x1f4m", "", "m", "500M", "1e-3"}) {
    EXPECT_FALSE(parse_quantity(text, kCpuMillicores).ok()) << text;
  }
}

TEST(Quantity, OverflowIsOutOfRangeNeverAWrap) {
  for (const char* text : {"99999999999999999Gi", "18446744073709551616", "18446744073709551615Pi",
                           "99999999999999999999999999999999999999", "17592186044416Ti", "4194304Ti",
                           "100000000000000000000.5Ki"}) {
    EXPECT_EQ(code(text, kSizeMib), StatusCode::kOutOfRange) << text;
  }
  EXPECT_EQ(code("99999999999999999999", kCpuMillicores), StatusCode::kOutOfRange);
  EXPECT_EQ(code("18446744073709551615m", kCpuMillicores), StatusCode::kOutOfRange);
  EXPECT_EQ(code("9999999999999999T", kMemoryBytes), StatusCode::kOutOfRange);
}

TEST(Quantity, LeadingZerosAndLongFractions) {
  EXPECT_EQ(parsed("000000000000000000000000000001Gi", kSizeMib), 1024u);  // not "too many digits"
  EXPECT_EQ(parsed("0.000000000000000001Gi", kSizeMib), 1u);               // 18 places, rounded up
  EXPECT_EQ(code("0.0000000000000000001Gi", kSizeMib), StatusCode::kInvalidArgument);  // 19 places
}

TEST(Quantity, DockerStyleMemoryAndCpus) {
  EXPECT_EQ(parsed("128M", kMemoryBytes), 128u << 20);
  EXPECT_EQ(parsed("1g", kMemoryBytes), 1u << 30);
  EXPECT_EQ(parsed("512k", kMemoryBytes), 512u << 10);
  EXPECT_EQ(parsed("64MB", kMemoryBytes), 64u << 20);
  EXPECT_EQ(parsed("64mb", kMemoryBytes), 64u << 20);
  EXPECT_EQ(parsed("4096", kMemoryBytes), 4096u);
  EXPECT_EQ(parsed("1.5k", kMemoryBytes), 1536u);
  EXPECT_EQ(code("1.0001k", kMemoryBytes), StatusCode::kInvalidArgument);  // not whole bytes
  EXPECT_EQ(code("12Q", kMemoryBytes), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed("0.5", kNanoCpus), 500'000'000u);
  EXPECT_EQ(parsed("2", kNanoCpus), 2'000'000'000u);
  EXPECT_EQ(code("0.0000000001", kNanoCpus), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("4097", kNanoCpus), StatusCode::kOutOfRange);
  EXPECT_EQ(code("nan", kNanoCpus), StatusCode::kInvalidArgument);
}

TEST(Quantity, GpuCountIsAPlainWholeNumber) {
  EXPECT_EQ(parsed("2", kGpuCount), 2u);
  EXPECT_EQ(parsed("64", kGpuCount), 64u);
  EXPECT_EQ(code("65", kGpuCount), StatusCode::kOutOfRange);
  EXPECT_EQ(code("1.5", kGpuCount), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("-1", kGpuCount), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("1Gi", kGpuCount), StatusCode::kInvalidArgument);
}

TEST(Quantity, MessagesQuoteTheTextEscapedAndSayWhatIsExpected) {
  auto r = parse_quantity("5\x1b[2JQi", kSizeMib);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "'5\\x1b[2JQi' has an unknown unit '\\x1b[2JQi' (a size is written like 256Mi, 2Gi, or MiB as a "
            "plain number)");
  EXPECT_EQ(parse_quantity("nan", kCpuMillicores).status().message(),
            "'nan' is not a CPU quantity (e.g. 500m, 0.5 or 2)");
  EXPECT_EQ(parse_quantity("99999999999999999Gi", kSizeMib).status().message(),
            "'99999999999999999Gi' is out of range: at most 4294967295 MiB");
}

}  // namespace
}  // namespace veil
