#include "veil/common/bytes.h"

#include <random>

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(Hex, EncodesLowerCase) {
  Bytes b = {0x00, 0xde, 0xad, 0xBE, 0xef, 0xff};
  EXPECT_EQ(to_hex(b), "00deadbeefff");
  EXPECT_EQ(to_hex_prefixed(b), "0x00deadbeefff");
  EXPECT_EQ(to_hex(Bytes{}), "");
}

TEST(Hex, DecodesWithOrWithoutPrefixAndEitherCase) {
  EXPECT_EQ(*from_hex("0xDEadbeef"), (Bytes{0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(*from_hex("0Xff"), (Bytes{0xff}));
  EXPECT_EQ(*from_hex("0102"), (Bytes{1, 2}));
  EXPECT_TRUE(from_hex("")->empty());
  EXPECT_TRUE(from_hex("0x")->empty());
}

TEST(Hex, RejectsOddLengthAndBadCharactersWithPosition) {
  auto odd = from_hex("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("odd"), std::string::npos);
  auto bad = from_hex("0x12g4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'g' at position 4"), std::string::npos);
  EXPECT_FALSE(from_hex("0x1 ").ok());
}

TEST(Hex, RoundTripsRandomBuffers) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    Bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(*from_hex(to_hex(b)), b);
    EXPECT_EQ(*from_hex(to_hex_prefixed(b)), b);
  }
}

TEST(Hex, FixedWidthChecksLength) {
  auto ok = fixed_from_hex<4>("0x01020304");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[3], 4);
  EXPECT_FALSE(fixed_from_hex<4>("010203").ok());
}

TEST(Bytes, BigEndianCodecsRoundTrip) {
  Bytes out;
  append_u16_be(out, 0x1234);
  append_u32_be(out, 0xdeadbeef);
  append_u64_be(out, 0x0102030405060708ULL);
  EXPECT_EQ(to_hex(out), "1234deadbeef0102030405060708");
  EXPECT_EQ(read_u16_be(out.data()), 0x1234);
  EXPECT_EQ(read_u32_be(out.data() + 2), 0xdeadbeefU);
  EXPECT_EQ(read_u64_be(out.data() + 6), 0x0102030405060708ULL);
}

TEST(Bytes, ConstantTimeEqualAndWipe) {
  Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, Bytes{1, 2}));
  secure_wipe(a);
  EXPECT_EQ(a, (Bytes{0, 0, 0}));
}

}  // namespace
}  // namespace veil
