// Keccak-256, U256, addresses and RLP against published Ethereum vectors.
#include <gtest/gtest.h>

#include <random>

#include "veil/chain/keccak.h"
#include "veil/chain/rlp.h"
#include "veil/chain/types.h"

namespace veil::chain {
namespace {

std::string keccak_hex(std::string_view s) { return to_hex(keccak256(as_bytes(s))); }

TEST(Keccak, PublishedVectors) {
  // Ethereum's Keccak-256 (original padding), as in the Yellow Paper's empty-trie constants.
  EXPECT_EQ(keccak_hex(""), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(keccak_hex("abc"), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(keccak_hex("The quick brown fox jumps over the lazy dog"),
            "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
  EXPECT_EQ(keccak_hex("hello world"), "47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad");
  // keccak256(rlp("")) = the empty trie root.
  EXPECT_EQ(to_hex(keccak256(Bytes{0x80})),
            "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");
  // Selectors everyone knows.
  EXPECT_EQ(keccak_hex("transfer(address,uint256)").substr(0, 8), "a9059cbb");
  EXPECT_EQ(keccak_hex("Transfer(address,address,uint256)"),
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

TEST(Keccak, IncrementalMatchesOneShotAcrossBlockBoundaries) {
  std::mt19937 rng(7);
  for (std::size_t len : {0, 1, 135, 136, 137, 271, 272, 273, 1000}) {
    Bytes data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    Keccak256 h;
    std::size_t split = len / 3;
    h.update(ByteView(data).subspan(0, split));
    h.update(ByteView(data).subspan(split));
    EXPECT_EQ(h.finish(), keccak256(data)) << len;
  }
}

TEST(U256, ParseAndPrint) {
  auto max = U256::parse("115792089237316195423570985008687907853269984665640564039457584007913129639935");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->to_hex_quantity(), "0x" + std::string(64, 'f'));
  EXPECT_EQ(max->to_dec(), "115792089237316195423570985008687907853269984665640564039457584007913129639935");
  EXPECT_EQ(U256::parse("115792089237316195423570985008687907853269984665640564039457584007913129639936")
                .status()
                .code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(U256::parse("0x" + std::string(65, '1')).status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(U256::parse("12a").ok());
  EXPECT_EQ(U256::parse("0x0")->to_hex_quantity(), "0x0");
  EXPECT_EQ((U256(7) * U256(6)).to_dec(), "42");
  EXPECT_EQ((U256(0) - U256(1)), *max);
}

TEST(Address, ChecksumEip55) {
  // Examples from EIP-55.
  for (const char* s :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    auto a = Address::parse(s);
    ASSERT_TRUE(a.ok()) << s;
    EXPECT_EQ(a->to_checksum(), s);
  }
  EXPECT_FALSE(Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").ok()) << "bad checksum accepted";
  EXPECT_TRUE(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").ok());
  EXPECT_FALSE(Address::parse("0x1234").ok());
}

// ---------------------------------------------------------------- RLP (ethereum/tests rlptest.json)

RlpItem str(std::string_view s) { return RlpItem::bytes(as_bytes(s)); }
RlpItem list(std::vector<RlpItem> items) { return RlpItem::list(std::move(items)); }
std::string enc(const RlpItem& item) { return to_hex(rlp_encode(item)); }

TEST(Rlp, EthereumTestVectors) {
  EXPECT_EQ(enc(str("")), "80");
  EXPECT_EQ(enc(RlpItem::bytes(Bytes{0x00})), "00");
  EXPECT_EQ(enc(RlpItem::bytes(Bytes{0x01})), "01");
  EXPECT_EQ(enc(RlpItem::bytes(Bytes{0x7f})), "7f");
  EXPECT_EQ(enc(str("dog")), "83646f67");
  std::string s55 = "Lorem ipsum dolor sit amet, consectetur adipisicing eli";
  EXPECT_EQ(enc(str(s55)), "b7" + to_hex(as_bytes(s55)));
  std::string s56 = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
  EXPECT_EQ(enc(str(s56)), "b838" + to_hex(as_bytes(s56)));
  EXPECT_EQ(enc(RlpItem::uint(0)), "80");
  EXPECT_EQ(enc(RlpItem::uint(1)), "01");
  EXPECT_EQ(enc(RlpItem::uint(16)), "10");
  EXPECT_EQ(enc(RlpItem::uint(79)), "4f");
  EXPECT_EQ(enc(RlpItem::uint(127)), "7f");
  EXPECT_EQ(enc(RlpItem::uint(128)), "8180");
  EXPECT_EQ(enc(RlpItem::uint(1000)), "8203e8");
  EXPECT_EQ(enc(RlpItem::uint(100000)), "830186a0");
  EXPECT_EQ(enc(RlpItem::uint(*U256::parse("83729609699884896815286331701780722"))),
            "8f102030405060708090a0b0c0d0e0f2");
  EXPECT_EQ(
      enc(RlpItem::uint(*U256::parse("105315505618206987246253880190783558935785933862974822347068935681"))),
      "9c0100020003000400050006000700080009000a000b000c000d000e01");
  EXPECT_EQ(enc(list({})), "c0");
  EXPECT_EQ(enc(list({str("dog"), str("god"), str("cat")})), "cc83646f6783676f6483636174");
  EXPECT_EQ(enc(list({str("zw"), list({RlpItem::uint(4)}), RlpItem::uint(1)})), "c6827a77c10401");
  std::vector<RlpItem> max1;
  for (int i = 0; i < 11; ++i) max1.push_back(str(std::vector<std::string>{"asdf", "qwer", "zxcv"}[i % 3]));
  EXPECT_EQ(
      enc(list(max1)),
      "f784617364668471776572847a78637684617364668471776572847a78637684617364668471776572847a7863768461736466"
      "8471776572");
  EXPECT_EQ(enc(list({list({list({}), list({})}), list({})})), "c4c2c0c0c0");
  EXPECT_EQ(enc(list({list({}), list({list({})}), list({list({}), list({list({})})})})), "c7c0c1c0c3c0c1c0");
  EXPECT_EQ(enc(list({list({str("key1"), str("val1")}), list({str("key2"), str("val2")}),
                      list({str("key3"), str("val3")}), list({str("key4"), str("val4")})})),
            "ecca846b6579318476616c31ca846b6579328476616c32ca846b6579338476616c33ca846b6579348476616c34");
}

TEST(Rlp, DecodeRoundTripsVectors) {
  for (const char* hex : {"80", "00", "7f", "83646f67", "8203e8", "c0", "cc83646f6783676f6483636174",
                          "c6827a77c10401", "c4c2c0c0c0", "c7c0c1c0c3c0c1c0"}) {
    Bytes in = *from_hex(hex);
    auto item = rlp_decode(in);
    ASSERT_TRUE(item.ok()) << hex << ": " << item.status().message();
    EXPECT_EQ(rlp_encode(*item), in) << hex;
  }
  auto n = rlp_decode(*from_hex("830186a0"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(rlp_to_uint(*n)->to_dec(), "100000");
}

TEST(Rlp, RejectsInvalidRlpTestVectors) {
  // From ethereum/tests invalidRLPTest.json, plus truncations.
  for (const char* hex :
       {"", "bf0f000000000000021111", "f80180", "8100", "8101", "817f", "b800", "c1",
        "b90040"
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000",
        "b81000112233445566778899aabbccddeeff", "81", "ba010000aabbccddeeff", "c5010203", "0000", "c0c0"}) {
    auto in = from_hex(hex);
    ASSERT_TRUE(in.ok());
    auto item = rlp_decode(*in);
    EXPECT_FALSE(item.ok()) << "accepted invalid RLP " << hex;
    if (!item.ok()) {
      EXPECT_EQ(item.status().code(), StatusCode::kInvalidArgument);
    }
  }
  auto leading_zero = rlp_to_uint(RlpItem::bytes(Bytes{0x00, 0x01}));
  EXPECT_FALSE(leading_zero.ok());
}

TEST(Rlp, DepthLimit) {
  RlpItem item = list({});
  for (int i = 0; i < 100; ++i) item = list({item});
  auto decoded = rlp_decode(rlp_encode(item));
  EXPECT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("nested"), std::string::npos);
  EXPECT_TRUE(rlp_decode(rlp_encode(item), RlpLimits{200}).ok());
}

}  // namespace
}  // namespace veil::chain
