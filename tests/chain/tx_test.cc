// secp256k1 keys, addresses and transaction signing: the EIP-155 worked example and
// sign -> decode -> recover round trips for both transaction types.
#include <gtest/gtest.h>

#include <fstream>

#include "veil/chain/keccak.h"
#include "veil/chain/transaction.h"

namespace veil::chain {
namespace {

TEST(Keys, KnownAddresses) {
  // Private key 1 and anvil's first default account.
  auto one = PrivateKey::from_hex("0x0000000000000000000000000000000000000000000000000000000000000001");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->address().to_checksum(), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  auto anvil0 = PrivateKey::from_hex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  ASSERT_TRUE(anvil0.ok());
  EXPECT_EQ(anvil0->address().to_checksum(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
}

TEST(Keys, RejectsBadKeys) {
  EXPECT_FALSE(PrivateKey::from_hex("00").ok());
  EXPECT_FALSE(PrivateKey::from_hex(std::string(64, '0')).ok());
  EXPECT_FALSE(PrivateKey::from_hex(std::string(64, 'f')).ok()) << "above the curve order";
  EXPECT_FALSE(PrivateKey::from_hex("zz").ok());
  EXPECT_EQ(PrivateKey::load_file("/nonexistent/key").status().code(), StatusCode::kNotFound);
}

TEST(Keys, SignRecoverRoundTrip) {
  for (int i = 0; i < 20; ++i) {
    PrivateKey key = PrivateKey::generate();
    Hash32 digest = keccak256(as_bytes("message " + std::to_string(i)));
    Signature sig = key.sign(digest);
    auto who = recover_address(digest, sig);
    ASSERT_TRUE(who.ok());
    EXPECT_EQ(*who, key.address());
    digest[0] ^= 1;
    EXPECT_NE(recover_address(digest, sig).value_or(Address{}), key.address());
  }
}

TEST(Keys, LoadFileTrimsWhitespace) {
  std::string path = ::testing::TempDir() + "/veil_chain_key";
  {
    std::ofstream out(path);
    out << "  0x4646464646464646464646464646464646464646464646464646464646464646\n";
  }
  auto key = PrivateKey::load_file(path);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->address().to_checksum(), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
}

TxRequest eip155_example() {
  TxRequest tx;
  tx.type = TxType::kLegacy;
  tx.chain_id = 1;
  tx.nonce = 9;
  tx.gas_price = U256(20'000'000'000ULL);
  tx.gas_limit = 21000;
  tx.to = *Address::parse("0x3535353535353535353535353535353535353535");
  tx.value = U256(1'000'000'000'000'000'000ULL);
  return tx;
}

TEST(Transaction, Eip155WorkedExample) {
  // The example in EIP-155's specification.
  auto key = PrivateKey::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646");
  ASSERT_TRUE(key.ok());
  TxRequest tx = eip155_example();
  EXPECT_EQ(to_hex(signing_hash(tx)), "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  auto signed_tx = sign_transaction(tx, *key);
  ASSERT_TRUE(signed_tx.ok());
  EXPECT_EQ(to_hex(signed_tx->raw),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61"
            "340bd939bc2195"
            "fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b29"
            "7fb1966a3b6d83");
  auto decoded = decode_transaction(signed_tx->raw);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->from, key->address());
  EXPECT_EQ(decoded->request.chain_id, 1u);
  EXPECT_EQ(decoded->request.nonce, 9u);
}

TEST(Transaction, Eip1559SignDecodeRecover) {
  PrivateKey key = PrivateKey::generate();
  TxRequest tx;
  tx.chain_id = 31337;
  tx.nonce = 42;
  tx.max_priority_fee_per_gas = U256(1'000'000'000);
  tx.max_fee_per_gas = U256(3'000'000'000ULL);
  tx.gas_limit = 100000;
  tx.to = *Address::parse("0x3535353535353535353535353535353535353535");
  tx.value = U256(12345);
  tx.data = Bytes{0xde, 0xad, 0xbe, 0xef};
  auto signed_tx = sign_transaction(tx, key);
  ASSERT_TRUE(signed_tx.ok());
  EXPECT_EQ(signed_tx->raw[0], 0x02);
  auto decoded = decode_transaction(signed_tx->raw);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->from, key.address());
  EXPECT_EQ(decoded->hash, signed_tx->hash);
  EXPECT_EQ(decoded->request.data, tx.data);
  EXPECT_EQ(decoded->request.max_fee_per_gas, tx.max_fee_per_gas);
  // Contract creation (no `to`) also round-trips.
  tx.to.reset();
  auto create = decode_transaction(sign_transaction(tx, key)->raw);
  ASSERT_TRUE(create.ok());
  EXPECT_FALSE(create->request.to.has_value());
}

TEST(Transaction, RejectsMalformed) {
  EXPECT_FALSE(decode_transaction(Bytes{}).ok());
  EXPECT_FALSE(decode_transaction(Bytes{0x05, 0xc0}).ok());
  EXPECT_FALSE(decode_transaction(Bytes{0x02, 0xc0}).ok());
  auto key = PrivateKey::generate();
  Bytes raw = sign_transaction(eip155_example(), key)->raw;
  raw.pop_back();
  EXPECT_FALSE(decode_transaction(raw).ok());
}

}  // namespace
}  // namespace veil::chain
