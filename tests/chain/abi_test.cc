// ABI encoding/decoding against the Solidity specification's worked examples, round trips of
// random values, and rejection of malformed data.
#include "veil/chain/abi.h"

#include <gtest/gtest.h>

#include <random>

#include "veil/chain/contract.h"
#include "veil/chain/veil_registry.h"

namespace veil::chain {
namespace {

std::vector<AbiType> types(std::string_view list) { return parse_abi_types(list).value(); }
std::string word(std::uint64_t v) { return to_hex(U256(v).to_be32()); }

TEST(AbiType, ParsesCanonicalForms) {
  for (const char* t : {"uint256", "int8", "address", "bool", "bytes32", "bytes", "string", "uint64[]",
                        "bytes32[3]", "(address,uint8[2])[]", "((uint256,string),bool)"}) {
    auto parsed = AbiType::parse(t);
    ASSERT_TRUE(parsed.ok()) << t;
    EXPECT_EQ(parsed->canonical(), t);
  }
  EXPECT_EQ(AbiType::parse("uint")->canonical(), "uint256");
  for (const char* bad :
       {"uint7", "uint264", "bytes33", "bytes0", "foo", "(uint256", "uint256[0]", "uint256]"}) {
    EXPECT_FALSE(AbiType::parse(bad).ok()) << bad;
  }
  EXPECT_TRUE(AbiType::parse("uint256[]")->is_dynamic());
  EXPECT_FALSE(AbiType::parse("(uint256,bytes32)[2]")->is_dynamic());
  EXPECT_EQ(AbiType::parse("(uint256,bytes32)[2]")->head_size(), 128u);
}

TEST(Abi, SpecExampleBaz) {
  // baz(uint32,bool) with (69, true) from the Solidity ABI specification.
  auto f = function_selector("baz(uint32,bool)");
  EXPECT_EQ(to_hex(f), "cdcd77c0");
  auto enc = abi_encode(types("uint32,bool"), {U256(69), true});
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(to_hex(*enc), word(69) + word(1));
}

TEST(Abi, SpecExampleSam) {
  // sam(bytes,bool,uint256[]) with ("dave", true, [1,2,3]).
  EXPECT_EQ(to_hex(function_selector("sam(bytes,bool,uint256[])")), "a5643bf2");
  auto enc = abi_encode(types("bytes,bool,uint256[]"),
                        {Bytes{'d', 'a', 'v', 'e'}, true, std::vector<AbiValue>{U256(1), U256(2), U256(3)}});
  ASSERT_TRUE(enc.ok());
  std::string dave = "6461766500000000000000000000000000000000000000000000000000000000";
  EXPECT_EQ(to_hex(*enc),
            word(0x60) + word(1) + word(0xa0) + word(4) + dave + word(3) + word(1) + word(2) + word(3));
  auto dec = abi_decode(types("bytes,bool,uint256[]"), *enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ((*dec)[0].as_bytes(), (Bytes{'d', 'a', 'v', 'e'}));
  EXPECT_EQ((*dec)[2].as_list().size(), 3u);
}

TEST(Abi, SpecExampleDynamicMix) {
  // f(uint256,uint32[],bytes10,bytes) with (0x123, [0x456, 0x789], "1234567890", "Hello, world!").
  EXPECT_EQ(to_hex(function_selector("f(uint256,uint32[],bytes10,bytes)")), "8be65246");
  Bytes b10(std::begin("1234567890"), std::end("1234567890") - 1);
  std::string hello = "Hello, world!";
  auto enc = abi_encode(
      types("uint256,uint32[],bytes10,bytes"),
      {U256(0x123), std::vector<AbiValue>{U256(0x456), U256(0x789)}, b10, Bytes(hello.begin(), hello.end())});
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(to_hex(*enc), word(0x123) + word(0x80) +
                              "3132333435363738393000000000000000000000000000000000000000000000" +
                              word(0xe0) + word(2) + word(0x456) + word(0x789) + word(13) +
                              "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
}

TEST(Abi, SignedIntegers) {
  U256 minus_one = U256(0) - U256(1);
  auto enc = abi_encode(types("int8"), {minus_one});
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(to_hex(*enc), std::string(64, 'f'));
  EXPECT_EQ(abi_value_to_string(*AbiType::parse("int8"), minus_one), "-1");
  EXPECT_FALSE(abi_encode(types("int8"), {U256(128)}).ok());
  EXPECT_TRUE(abi_encode(types("int8"), {U256(0) - U256(128)}).ok());
  EXPECT_FALSE(abi_encode(types("int8"), {U256(0) - U256(129)}).ok());
  EXPECT_FALSE(abi_encode(types("uint8"), {U256(256)}).ok());
}

// Random values of random types survive encode -> decode.
AbiType random_type(std::mt19937_64& rng, int depth) {
  static const char* leaves[] = {"uint256", "uint8",   "uint64", "int16", "int256", "address",
                                 "bool",    "bytes32", "bytes4", "bytes", "string"};
  int pick = static_cast<int>(rng() % (depth < 2 ? 14 : 11));
  if (pick < 11) return *AbiType::parse(leaves[pick]);
  AbiType inner = random_type(rng, depth + 1);
  if (pick == 11) return *AbiType::parse(inner.canonical() + "[]");
  if (pick == 12) return *AbiType::parse(inner.canonical() + "[2]");
  AbiType other = random_type(rng, depth + 1);
  return *AbiType::parse("(" + inner.canonical() + "," + other.canonical() + ")");
}

AbiValue random_value(const AbiType& t, std::mt19937_64& rng) {
  using K = AbiType::Kind;
  auto random_bytes = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  };
  switch (t.kind) {
    case K::kUint: {
      U256 v = *U256::from_be_bytes(random_bytes(t.size / 8));
      return v;
    }
    case K::kInt: {
      Bytes b = random_bytes(32);
      bool negative = b[32 - t.size / 8] & 0x80;
      for (int i = 0; i < 32 - t.size / 8; ++i) b[i] = negative ? 0xff : 0x00;
      return *U256::from_be_bytes(b);
    }
    case K::kAddress: {
      Address a;
      auto b = random_bytes(20);
      std::copy(b.begin(), b.end(), a.bytes.begin());
      return a;
    }
    case K::kBool:
      return static_cast<bool>(rng() & 1);
    case K::kFixedBytes:
      return random_bytes(t.size);
    case K::kBytes:
      return random_bytes(rng() % 70);
    case K::kString: {
      std::string s;
      for (std::size_t i = rng() % 40; i > 0; --i) s.push_back(static_cast<char>('a' + rng() % 26));
      return s;
    }
    case K::kArray:
    case K::kFixedArray: {
      std::size_t n = t.kind == K::kFixedArray ? t.length : rng() % 4;
      std::vector<AbiValue> items;
      for (std::size_t i = 0; i < n; ++i) items.push_back(random_value(t.children[0], rng));
      return items;
    }
    case K::kTuple: {
      std::vector<AbiValue> items;
      for (const auto& c : t.children) items.push_back(random_value(c, rng));
      return items;
    }
  }
  return false;
}

TEST(Abi, RandomRoundTrips) {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 500; ++i) {
    std::vector<AbiType> ts;
    std::vector<AbiValue> vs;
    for (std::size_t n = 1 + rng() % 4; n > 0; --n) {
      ts.push_back(random_type(rng, 0));
      vs.push_back(random_value(ts.back(), rng));
    }
    auto enc = abi_encode(ts, vs);
    ASSERT_TRUE(enc.ok()) << enc.status().message();
    auto dec = abi_decode(ts, *enc);
    ASSERT_TRUE(dec.ok()) << dec.status().message();
    EXPECT_EQ(*dec, vs);
  }
}

TEST(Abi, RejectsMalformedData) {
  auto ts = types("bytes,uint256[]");
  auto good = *abi_encode(ts, {Bytes{1, 2, 3}, std::vector<AbiValue>{U256(1)}});
  // Truncated.
  EXPECT_FALSE(abi_decode(ts, ByteView(good).subspan(0, good.size() - 1)).ok());
  // Offset past the end.
  Bytes bad = good;
  bad[31] = 0xff;
  auto r = abi_decode(ts, bad);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("past the end"), std::string::npos) << r.status().message();
  // Huge array length.
  Bytes huge = *abi_encode(types("uint256[]"), {AbiValue(std::vector<AbiValue>{})});
  huge[32] = 0x7f;
  EXPECT_FALSE(abi_decode(types("uint256[]"), huge).ok());
  // Dirty address and bool.
  Bytes dirty(32, 0);
  dirty[0] = 1;
  EXPECT_FALSE(abi_decode(types("address"), dirty).ok());
  EXPECT_FALSE(abi_decode(types("bool"), dirty).ok());
  EXPECT_FALSE(abi_decode(types("uint8"), dirty).ok());
  Bytes padded(32, 0);
  padded[31] = 1;
  EXPECT_FALSE(abi_decode(types("bytes4"), padded).ok());
}

TEST(Abi, IndexedTopics) {
  Address a = *Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  auto t = indexed_topic(*AbiType::parse("address"), a);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(to_hex(*t), std::string(24, '0') + "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  auto s = indexed_topic(*AbiType::parse("string"), std::string("abc"));
  EXPECT_EQ(to_hex(*s), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

// The embedded VeilRegistry ABI comes from forge's output: check the parts we rely on.
TEST(VeilRegistryAbi, EmbeddedArtifactHasSeedInterface) {
  const ContractAbi& abi = VeilRegistry::abi();
  EXPECT_EQ((*abi.function("registerNode"))->signature, "registerNode(bytes32,address)");
  EXPECT_EQ((*abi.function("anchorDeployment"))->signature, "anchorDeployment(bytes32)");
  EXPECT_EQ((*abi.function("anchorDeployment"))->outputs[0].type.canonical(), "bool");
  EXPECT_EQ((*abi.function("getClusterPolicy"))->outputs[0].type.canonical(), "bytes");
  EXPECT_EQ((*abi.function("getClusterPolicy"))->state_mutability, "view");
  EXPECT_EQ((*abi.event("DeploymentAnchored"))->signature,
            "DeploymentAnchored(bytes32,bytes32,address,uint32,bytes32,bytes32,bytes32[])");
  EXPECT_EQ((*abi.function("submitContradiction"))->signature,
            "submitContradiction((bytes32,uint32,bytes32,bytes32,bytes32[]),bytes32,bytes32[],bytes32,(bytes32,bytes32,bytes))");
  EXPECT_GT(VeilRegistry::creation_bytecode_hex().size(), 1000u);
  // Custom errors decode by name with their arguments.
  Bytes data(4);
  auto sel = function_selector("NotOperator(address)");
  std::copy(sel.begin(), sel.end(), data.begin());
  Bytes arg = *abi_encode(types("address"), {*Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")});
  data.insert(data.end(), arg.begin(), arg.end());
  EXPECT_EQ(VeilRegistry::decode_revert(data),
            "NotOperator(caller=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed)");
  EXPECT_EQ(VeilRegistry::decode_revert(Bytes{1, 2}), "");
}

TEST(VeilRegistryAbi, CommitmentMatchesAbiEncodeFormula) {
  VeilRegistry::Commitment c;
  c.job_id[0] = 1;
  c.decision_hash[1] = 2;
  c.schedulers = {Hash32{}, Hash32{}};
  Hash32 h = VeilRegistry::commitment_hash(c);
  c.decision_hash[1] = 3;
  EXPECT_NE(h, VeilRegistry::commitment_hash(c));
  c.decision_hash[1] = 2;
  c.round = 2;
  EXPECT_NE(h, VeilRegistry::commitment_hash(c)) << "the round is part of the commitment";
}

TEST(VeilRegistryAbi, ImageDigests) {
  std::string d = "sha256:" + std::string(64, 'a');
  auto h = parse_image_digest(d);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(format_image_digest(*h), d);
  EXPECT_FALSE(parse_image_digest("sha256:abc").ok());
  EXPECT_FALSE(parse_image_digest(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace veil::chain
