// Independent cross-checks of the C++ chain client: transactions it signs are decoded and
// their senders recovered by ethers.js; ABI encodings of random values equal
// `cast abi-encode`'s; Keccak-256 of random inputs equals `cast keccak`'s.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "anvil.h"
#include "veil/chain/abi.h"
#include "veil/chain/keccak.h"
#include "veil/chain/transaction.h"

namespace veil::chain {
namespace {

using testing::source_dir;
using testing::tool_path;

// Runs a shell command, returns its stdout (and sets `rc`).
std::string run(const std::string& command, int& rc) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    rc = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  rc = pclose(pipe);
  return out;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(Interop, EthersDecodesOurTransactionsAndRecoversTheSender) {
  std::mt19937_64 rng(99);
  std::vector<std::pair<TxRequest, Address>> sent;
  std::string input;
  for (int i = 0; i < 24; ++i) {
    PrivateKey key = PrivateKey::generate();
    TxRequest tx;
    tx.type = i % 2 == 0 ? TxType::kEip1559 : TxType::kLegacy;
    tx.chain_id = i % 3 == 0 ? 31337 : 1 + rng() % 100000;
    tx.nonce = rng() % 1000;
    tx.gas_limit = 21000 + rng() % 1000000;
    if (i % 5 != 4) {
      Address to;
      for (auto& b : to.bytes) b = static_cast<std::uint8_t>(rng());
      tx.to = to;
    }
    tx.value = U256(rng()) * U256(rng());
    tx.data.resize(rng() % 100);
    for (auto& b : tx.data) b = static_cast<std::uint8_t>(rng());
    tx.gas_price = U256(rng() % 100'000'000'000ULL);
    tx.max_priority_fee_per_gas = U256(rng() % 5'000'000'000ULL);
    tx.max_fee_per_gas = tx.max_priority_fee_per_gas + U256(rng() % 100'000'000'000ULL);
    auto signed_tx = sign_transaction(tx, key);
    ASSERT_TRUE(signed_tx.ok());
    input += to_hex_prefixed(signed_tx->raw) + "\n";
    sent.emplace_back(tx, key.address());
  }
  std::string in_path = ::testing::TempDir() + "/veil_chain_txs.txt";
  std::ofstream(in_path) << input;
  int rc = 0;
  std::string out =
      run("node " + quote(source_dir() + "/tests/interop/chain-decode-tx.cjs") + " < " + quote(in_path), rc);
  ASSERT_EQ(rc, 0) << out;
  std::istringstream lines(out);
  std::string line;
  std::size_t i = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, sent.size());
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j["ok"].get<bool>()) << j.dump();
    const auto& [tx, from] = sent[i];
    EXPECT_EQ(j["from"].get<std::string>(), from.to_checksum()) << "tx " << i;
    EXPECT_EQ(j["type"].get<int>(), tx.type == TxType::kEip1559 ? 2 : 0);
    EXPECT_EQ(j["chainId"].get<std::string>(), std::to_string(tx.chain_id));
    EXPECT_EQ(j["nonce"].get<std::uint64_t>(), tx.nonce);
    EXPECT_EQ(j["value"].get<std::string>(), tx.value.to_dec());
    EXPECT_EQ(j["data"].get<std::string>(), to_hex_prefixed(tx.data));
    if (tx.to) {
      EXPECT_EQ(j["to"].get<std::string>(), tx.to->to_checksum());
    } else {
      EXPECT_TRUE(j["to"].is_null());
    }
    if (tx.type == TxType::kEip1559) {
      EXPECT_EQ(j["maxFeePerGas"].get<std::string>(), tx.max_fee_per_gas.to_dec());
    } else {
      EXPECT_EQ(j["gasPrice"].get<std::string>(), tx.gas_price.to_dec());
    }
    ++i;
  }
  EXPECT_EQ(i, sent.size());
}

// Random types without strings inside compound values (cast's array syntax would need quoting).
AbiType random_type(std::mt19937_64& rng, int depth) {
  static const char* leaves[] = {"uint256", "uint8", "uint64",  "int16",  "int256",
                                 "address", "bool",  "bytes32", "bytes4", "bytes"};
  int pick = static_cast<int>(rng() % (depth < 2 ? 13 : 10));
  if (pick < 10) return *AbiType::parse(leaves[pick]);
  AbiType inner = random_type(rng, depth + 1);
  if (pick == 10) return *AbiType::parse(inner.canonical() + "[]");
  if (pick == 11) return *AbiType::parse(inner.canonical() + "[2]");
  return *AbiType::parse("(" + inner.canonical() + "," + random_type(rng, depth + 1).canonical() + ")");
}

AbiValue random_value(const AbiType& t, std::mt19937_64& rng) {
  using K = AbiType::Kind;
  auto bytes = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  };
  switch (t.kind) {
    case K::kUint:
      return *U256::from_be_bytes(bytes(t.size / 8));
    case K::kInt: {
      Bytes b = bytes(32);
      bool negative = b[32 - t.size / 8] & 0x80;
      for (int i = 0; i < 32 - t.size / 8; ++i) b[i] = negative ? 0xff : 0;
      return *U256::from_be_bytes(b);
    }
    case K::kAddress: {
      Address a;
      auto b = bytes(20);
      std::copy(b.begin(), b.end(), a.bytes.begin());
      return a;
    }
    case K::kBool:
      return static_cast<bool>(rng() & 1);
    case K::kFixedBytes:
      return bytes(t.size);
    case K::kBytes:
      return bytes(rng() % 50);
    case K::kString:
      return std::string("veil");
    case K::kArray:
    case K::kFixedArray: {
      std::vector<AbiValue> items;
      std::size_t n = t.kind == K::kFixedArray ? t.length : rng() % 3;
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

// cast's argument syntax: like abi_value_to_string but without spaces and quotes.
std::string cast_arg(const AbiType& t, const AbiValue& v) {
  using K = AbiType::Kind;
  if (t.kind == K::kArray || t.kind == K::kFixedArray || t.kind == K::kTuple) {
    bool tuple = t.kind == K::kTuple;
    std::string out = tuple ? "(" : "[";
    const auto& items = v.as_list();
    for (std::size_t i = 0; i < items.size(); ++i)
      out += (i ? "," : "") + cast_arg(tuple ? t.children[i] : t.children[0], items[i]);
    return out + (tuple ? ")" : "]");
  }
  return abi_value_to_string(t, v);
}

TEST(Interop, AbiEncodingEqualsCastAbiEncode) {
  std::mt19937_64 rng(4242);
  std::string cast = tool_path("cast");
  for (int i = 0; i < 30; ++i) {
    std::vector<AbiType> types;
    std::vector<AbiValue> values;
    std::string signature = "f(", args;
    for (std::size_t n = 1 + rng() % 3; n > 0; --n) {
      types.push_back(random_type(rng, 0));
      values.push_back(random_value(types.back(), rng));
      signature += (signature.size() > 2 ? "," : "") + types.back().canonical();
      args += " " + quote(cast_arg(types.back(), values.back()));
    }
    signature += ")";
    auto ours = abi_encode(types, values);
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    int rc = 0;
    std::string theirs =
        trim(run(quote(cast) + " abi-encode " + quote(signature) + " --" + args + " 2>&1", rc));
    ASSERT_EQ(rc, 0) << signature << args << "\n" << theirs;
    EXPECT_EQ(to_hex_prefixed(*ours), theirs) << signature << args;
  }
}

TEST(Interop, KeccakEqualsCastKeccak) {
  std::mt19937_64 rng(7);
  std::string cast = tool_path("cast");
  for (std::size_t len : {1, 31, 135, 136, 137, 300, 1000}) {
    Bytes data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    int rc = 0;
    std::string theirs = trim(run(quote(cast) + " keccak " + to_hex_prefixed(data), rc));
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(hash_hex(keccak256(data)), theirs) << len;
  }
}

}  // namespace
}  // namespace veil::chain
