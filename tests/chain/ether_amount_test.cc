// Ether amounts as `veil stake` reads them: exact in every unit, strict about everything else,
// and written back as ether without losing a wei.
#include "veil/chain/ether_amount.h"

#include <gtest/gtest.h>

#include <random>

namespace veil::chain {
namespace {

U256 wei(std::string_view decimal) { return U256::parse(decimal).value(); }

TEST(EtherAmount, EveryUnitIsExact) {
  EXPECT_EQ(parse_ether_amount("1eth").value(), wei("1000000000000000000"));
  EXPECT_EQ(parse_ether_amount("1ether").value(), wei("1000000000000000000"));
  EXPECT_EQ(parse_ether_amount("0.5ether").value(), wei("500000000000000000"));
  EXPECT_EQ(parse_ether_amount("0.1eth").value(), wei("100000000000000000"));  // no binary rounding
  EXPECT_EQ(parse_ether_amount("100gwei").value(), wei("100000000000"));
  EXPECT_EQ(parse_ether_amount("1.5gwei").value(), wei("1500000000"));
  EXPECT_EQ(parse_ether_amount("250000wei").value(), wei("250000"));
  EXPECT_EQ(parse_ether_amount("42").value(), wei("42"));
  EXPECT_EQ(parse_ether_amount("0.000000000000000001eth").value(), wei("1"));
  EXPECT_EQ(parse_ether_amount("2.50000000000000000000000eth").value(), wei("2500000000000000000"))
      << "trailing zeros past the last wei are not a fraction of a wei";
  EXPECT_EQ(parse_ether_amount("0").value(), U256(0));
  // 2^64 wei and more: what a 64-bit quantity parser could not hold.
  EXPECT_EQ(parse_ether_amount("32eth").value(), wei("32000000000000000000"));
}

TEST(EtherAmount, AnythingElseIsRefusedWithExamples) {
  for (std::string_view bad :
       {"", "eth", "1 eth", " 1eth", "1eth ", "-1eth", "+1eth", "1e18", "0x10", "1.eth", ".5eth", "1,000wei",
        "1ETH", "1Eth", "1finney", "1.5.0eth", "nan", "1\x01wei"}) {
    const auto r = parse_ether_amount(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("e.g. 1eth"), std::string::npos) << r.status().message();
  }
  EXPECT_NE(parse_ether_amount("1\x01wei").status().message().find("\\x01"), std::string::npos)
      << "control bytes reach the message escaped";
}

TEST(EtherAmount, AFractionOfAWeiIsAnErrorNotRounded) {
  for (std::string_view bad : {"0.5wei", "1.5", "1.0000000001gwei", "0.0000000000000000001eth"}) {
    const auto r = parse_ether_amount(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("not a whole number of wei"), std::string::npos)
        << r.status().message();
  }
}

TEST(EtherAmount, AboveTwoToThe256WeiIsOutOfRange) {
  const std::string max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
  EXPECT_EQ(parse_ether_amount(max).value(), ~U256(0));
  EXPECT_EQ(
      parse_ether_amount("115792089237316195423570985008687907853269984665640564039457584007913129639936")
          .status()
          .code(),
      StatusCode::kOutOfRange);
  EXPECT_EQ(parse_ether_amount("1" + std::string(60, '0') + "eth").status().code(), StatusCode::kOutOfRange);
}

TEST(EtherAmount, FormatWritesExactEther) {
  EXPECT_EQ(format_ether(U256(0)), "0 ETH");
  EXPECT_EQ(format_ether(U256(1)), "0.000000000000000001 ETH");
  EXPECT_EQ(format_ether(wei("1000000000000000000")), "1 ETH");
  EXPECT_EQ(format_ether(wei("1500000000000000000")), "1.5 ETH");
  EXPECT_EQ(format_ether(wei("32000000000000000000")), "32 ETH");
  EXPECT_EQ(format_ether(wei("100000000000")), "0.0000001 ETH");
}

// format_ether then parse_ether_amount (dropping the " ETH" and adding "eth") is the identity on
// random amounts of every magnitude.
TEST(EtherAmount, FormatThenParseRoundTrips) {
  std::mt19937_64 rng(20261205);
  for (int i = 0; i < 2000; ++i) {
    U256 value(rng());
    const int shift = static_cast<int>(rng() % 190);
    value = (value << shift) + U256(rng() % 1000);
    std::string text = format_ether(value);
    ASSERT_TRUE(text.ends_with(" ETH")) << text;
    text.resize(text.size() - 4);
    const auto back = parse_ether_amount(text + "eth");
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    EXPECT_EQ(*back, value) << text;
  }
}

}  // namespace
}  // namespace veil::chain
