#include "veil/p2p/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "veil/p2p/encoding.h"

namespace veil::p2p {
namespace {

// Vector from libp2p/specs peer-ids; PeerId, CID and signature computed independently with
// js-libp2p (@libp2p/crypto, @libp2p/peer-id).
constexpr std::string_view kPrivateProto =
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144"
    "b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr std::string_view kPublicProto =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr std::string_view kPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
constexpr std::string_view kPeerCid = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";
constexpr std::string_view kHelloSig =
    "54f7fd037768d6479d14967d3df9500ba0720166b931e5e9912e58a0ac49fbfcef7aa3adc9b89d736d741174"
    "9dee70eb00ff8792ecc5e8c8c39c0b97f710d40c";

TEST(Encoding, VarintRoundTripAndErrors) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16384ull, (1ull << 63) - 1}) {
    Bytes b;
    append_uvarint(b, v);
    auto d = decode_uvarint(b);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->value, v);
    EXPECT_EQ(d->consumed, b.size());
  }
  EXPECT_EQ(decode_uvarint(Bytes{0x80})->consumed, 0u);       // incomplete
  EXPECT_FALSE(decode_uvarint(Bytes{0x80, 0x00}).ok());       // not minimal
  EXPECT_FALSE(decode_uvarint(Bytes(10, 0xff)).ok());         // too long
}

TEST(Encoding, Base58AndBase32) {
  EXPECT_EQ(base58btc_encode(as_bytes("hello world")), "StV1DL6CwTryKyV");
  EXPECT_EQ(base58btc_encode(Bytes{0, 0, 1}), "112");
  EXPECT_EQ(to_string(*base58btc_decode("StV1DL6CwTryKyV")), "hello world");
  EXPECT_FALSE(base58btc_decode("0OIl").ok());
  EXPECT_EQ(base32_encode(as_bytes("foobar")), "mzxw6ytboi");  // RFC 4648 vector, lower case
  EXPECT_EQ(to_string(*base32_decode("MZXW6YTBOI")), "foobar");
  EXPECT_FALSE(base32_decode("mzxw6ytboi=").ok());
}

TEST(Identity, SpecVectorMatchesJsLibp2p) {
  auto key = KeyPair::decode_private(*from_hex(kPrivateProto));
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(to_hex(key->public_key().encode()), kPublicProto);
  EXPECT_EQ(to_hex(key->encode_private()), kPrivateProto);
  PeerId id = PeerId::from_public_key(key->public_key());
  EXPECT_EQ(id.to_base58(), kPeerId);
  EXPECT_EQ(id.to_cid_base32(), kPeerCid);
  EXPECT_EQ(to_hex(key->sign(as_bytes("hello"))), kHelloSig);
  EXPECT_TRUE(key->public_key().verify(as_bytes("hello"), *from_hex(kHelloSig)));
  EXPECT_FALSE(key->public_key().verify(as_bytes("hellO"), *from_hex(kHelloSig)));
}

TEST(Identity, PeerIdParsesBothTextForms) {
  auto a = PeerId::parse(kPeerId);
  auto b = PeerId::parse(kPeerCid);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto pk = a->public_key();
  ASSERT_TRUE(pk.ok());
  EXPECT_TRUE(a->matches(*pk));
  EXPECT_FALSE(PeerId::parse("").ok());
  EXPECT_FALSE(PeerId::parse("12D3KooW0000").ok());
  EXPECT_FALSE(PeerId::parse("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi").ok());  // not libp2p-key
}

TEST(Identity, RejectsOtherKeyTypesAndMismatchedHalves) {
  EXPECT_EQ(PublicKey::decode(*from_hex("0802120101")).status().code(), StatusCode::kUnimplemented);
  Bytes bad = *from_hex(kPrivateProto);
  bad.back() ^= 1;
  EXPECT_FALSE(KeyPair::decode_private(bad).ok());
}

TEST(Identity, KeyFileIs0600AndRoundTrips) {
  auto dir = std::filesystem::temp_directory_path() / ("veil-p2p-key-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "node.key";
  auto created = load_or_create_key_file(path);
  ASSERT_TRUE(created.ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_or_create_key_file(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->public_key(), created->public_key());
  ::chmod(path.c_str(), 0644);
  EXPECT_EQ(load_key_file(path).status().code(), StatusCode::kPermissionDenied);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(load_key_file(path).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace veil::p2p
