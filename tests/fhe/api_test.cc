// High-level API, compact public-key encryption, compressed keys and serialization.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>

#include "deserialize_fuzz.h"
#include "veil/fhe/fhe.h"

namespace veil::fhe {
namespace {

struct ApiKeys {
  ClientKey client;
  ServerKey server;
  CompactPublicKey public_key;
};

const ApiKeys& keys() {
  static ApiKeys* k = [] {
    auto ck = ClientKey::generate(kParamInsecureTestOnly);
    auto sk = ServerKey::generate(ck);
    auto pk = CompactPublicKey::generate(ck);
    return new ApiKeys{ck, sk, pk};
  }();
  return *k;
}

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

TEST(FheApi, IssueExampleWithThreadKey) {
  const auto& k = keys();
  set_server_key(k.server);
  auto a = FheUint16::encrypt(42, k.public_key);
  auto b = FheUint16::encrypt(7, k.client);
  FheBool c = a.ge(b);
  FheUint16 m = c.select(a, b);
  EXPECT_TRUE(c.decrypt(k.client));
  EXPECT_EQ(m.decrypt(k.client), 42u);
  EXPECT_EQ((a + b).decrypt(k.client), 49u);
  EXPECT_EQ((b - a).decrypt(k.client), (7u - 42u) & 0xffff);
  EXPECT_EQ((a * 3).decrypt(k.client), 126u);
  EXPECT_EQ((a ^ b).decrypt(k.client), 42u ^ 7u);
  EXPECT_EQ((~a).decrypt(k.client), 0xffffu ^ 42u);
  EXPECT_FALSE(a.lt(7).decrypt(k.client));
  EXPECT_TRUE((c & !a.eq(b)).decrypt(k.client));
  unset_server_key();
  EXPECT_EQ(current_server_key(), nullptr);
}

TEST(FheApi, NoThreadKeyAborts) {
  const auto& k = keys();
  auto a = FheUint8::encrypt(1, k.client);
  EXPECT_DEATH((void)(a + a), "no server key set");
}

TEST(FheApi, PublicKeyEncryptionDecrypts) {
  const auto& k = keys();
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t v = i == 0 ? 0 : i == 1 ? 0xffffffff : rng()() & 0xffffffff;
    EXPECT_EQ(FheUint32::encrypt(v, k.public_key).decrypt(k.client), v);
    EXPECT_EQ(FheUint8::encrypt(v, k.public_key).decrypt(k.client), v & 0xff);
  }
  EXPECT_TRUE(FheBool::encrypt(true, k.public_key).decrypt(k.client));
  EXPECT_FALSE(FheBool::encrypt(false, k.public_key).decrypt(k.client));
  // Public-key ciphertexts go through bootstraps like any other.
  auto x = FheUint16::encrypt(1000, k.public_key), y = FheUint16::encrypt(999, k.public_key);
  EXPECT_EQ(x.max(y, k.server).decrypt(k.client), 1000u);
  EXPECT_EQ(x.sub(y, k.server).decrypt(k.client), 1u);
}

TEST(FheApi, ArgmaxThroughApi) {
  const auto& k = keys();
  std::vector<std::uint64_t> xs{5, 9, 1, 9, 0};
  std::vector<FheUint8> cts;
  for (auto x : xs) cts.push_back(FheUint8::encrypt(x, k.client));
  auto [imax, vmax] = argmax<8>(cts, k.server);
  auto [imin, vmin] = argmin<8>(cts, k.server);
  EXPECT_EQ(imax.decrypt(k.client), 1u);
  EXPECT_EQ(vmax.decrypt(k.client), 9u);
  EXPECT_EQ(imin.decrypt(k.client), 4u);
  EXPECT_EQ(vmin.decrypt(k.client), 0u);
}

TEST(FheSerialization, RoundTripsEveryKind) {
  const auto& k = keys();
  auto ck = ClientKey::deserialize(k.client.serialize());
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  auto pk = CompactPublicKey::deserialize(k.public_key.serialize());
  ASSERT_TRUE(pk.ok()) << pk.status().to_string();
  auto sk = ServerKey::deserialize(k.server.serialize());
  ASSERT_TRUE(sk.ok()) << sk.status().to_string();
  auto a = FheUint16::deserialize(FheUint16::encrypt(1234, *pk).serialize());
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  auto b = FheUint16::deserialize(FheUint16::encrypt(4321, k.client).serialize());
  ASSERT_TRUE(b.ok());
  auto c = FheBool::deserialize(a->lt(*b, *sk).serialize());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->decrypt(*ck));
  EXPECT_EQ(c->select(*a, *b, *sk).decrypt(*ck), 1234u);
  for (auto v : {0ull, 255ull}) {
    auto x = FheUint8::deserialize(FheUint8::encrypt(v, *pk).serialize());
    ASSERT_TRUE(x.ok());
    EXPECT_EQ(x->decrypt(k.client), v);
  }
  auto w = FheUint32::deserialize(FheUint32::encrypt(0xdeadbeef, k.client).serialize());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->decrypt(k.client), 0xdeadbeefu);
}

TEST(FheSerialization, CompressedServerKeyDecompressesToAWorkingKey) {
  const auto& k = keys();
  auto compressed = CompressedServerKey::generate(k.client);
  const Bytes bytes = compressed.serialize();
  EXPECT_LT(bytes.size(), k.server.serialize().size() / 2);
  auto loaded = CompressedServerKey::deserialize(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ServerKey sk = loaded->decompress();
  auto a = FheUint8::encrypt(200, k.client), b = FheUint8::encrypt(100, k.client);
  EXPECT_EQ(a.add(b, sk).decrypt(k.client), 44u);
  EXPECT_TRUE(a.gt(b, sk).decrypt(k.client));
}

TEST(FheSerialization, RejectsBadInputWithClearErrors) {
  const auto& k = keys();
  const Bytes good = FheUint16::encrypt(7, k.client).serialize();
  ASSERT_TRUE(FheUint16::deserialize(good).ok());

  Bytes truncated(good.begin(), good.end() - 100);
  auto r1 = FheUint16::deserialize(truncated);
  EXPECT_EQ(r1.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r1.status().message().find("truncated"), std::string::npos) << r1.status().message();

  Bytes corrupted = good;
  corrupted[good.size() / 2] ^= 0x10;
  auto r2 = FheUint16::deserialize(corrupted);
  EXPECT_EQ(r2.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r2.status().message().find("checksum"), std::string::npos);

  auto r3 = FheUint8::deserialize(good);  // wrong width
  EXPECT_EQ(r3.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r3.status().message().find("expected a FheUint8"), std::string::npos) << r3.status().message();

  DeserializeOptions other;
  other.expected_params = &kParamMessage2Carry2KsPbsTUniform2M128;
  auto r4 = FheUint16::deserialize(good, other);
  EXPECT_EQ(r4.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r4.status().message().find("parameter set"), std::string::npos);

  DeserializeOptions small;
  small.size_limit = 1000;
  EXPECT_EQ(FheUint16::deserialize(good, small).status().code(), StatusCode::kOutOfRange);

  Bytes bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_NE(FheUint16::deserialize(bad_magic).status().message().find("magic"), std::string::npos);

  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(FheUint16::deserialize(longer).status().code(), StatusCode::kDataLoss);

  // A well-framed payload that lies about its contents (block count) is refused too.
  Bytes payload(good.begin() + detail::kHeaderSize, good.end() - detail::kChecksumSize);
  payload[0] = 9;
  auto r5 = FheUint16::deserialize(detail::frame(detail::Kind::kUint16, kParamInsecureTestOnly, payload));
  EXPECT_EQ(r5.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ClientKey::deserialize(good).status().code(), StatusCode::kInvalidArgument);
}

// The fuzz entry point over random bytes and mutations of valid objects (framed and raw).
TEST(FheSerialization, FuzzEntryPointSurvivesRandomAndMutatedInput) {
  const auto& k = keys();
  std::vector<Bytes> seeds{FheUint8::encrypt(3, k.client).serialize(), FheBool::encrypt(true, k.client).serialize(),
                           k.public_key.serialize()};
  std::mt19937_64 r(12345);
  for (int i = 0; i < 3000; ++i) {
    Bytes input;
    if (i % 3 == 0) {
      input.resize(r() % 300);
      for (auto& b : input) b = static_cast<std::uint8_t>(r());
    } else {
      const Bytes& seed = seeds[r() % seeds.size()];
      if (i % 3 == 1) {  // payload mode: mutate the payload, let the entry point re-frame it
        input.push_back(static_cast<std::uint8_t>(0x80 | (r() % 8)));
        input.insert(input.end(), seed.begin() + detail::kHeaderSize, seed.end() - detail::kChecksumSize);
      } else {
        input = seed;
        input[0] &= 0x7f;
      }
      for (int m = 0, n = 1 + static_cast<int>(r() % 4); m < n && !input.empty(); ++m) {
        const std::size_t pos = r() % input.size();
        switch (r() % 3) {
          case 0: input[pos] ^= static_cast<std::uint8_t>(1u << (r() % 8)); break;
          case 1: input.resize(pos); break;
          default: input[pos] = static_cast<std::uint8_t>(std::array<int, 4>{0, 0xff, 0x7f, 0x80}[r() % 4]); break;
        }
      }
    }
    fuzz::fuzz_one(input.data(), input.size());
  }
}

// ---- batched kernels (all_at_least, dot_products, pick_extremes, sub_where) ----

// A 16-bit value near `anchor` at a random scale, so comparisons and carries cross blocks.
std::uint64_t near(std::uint64_t anchor, std::mt19937_64& r) {
  const std::int64_t delta = static_cast<std::int64_t>(r() % (std::uint64_t{1} << (r() % 17)));
  const std::int64_t v = static_cast<std::int64_t>(anchor) + (r() % 2 ? delta : -delta);
  return static_cast<std::uint64_t>(std::clamp<std::int64_t>(v, 0, 0xffff));
}

// Encrypted, or (one time in five) a public trivial value, which the kernels treat apart.
FheUint16 value16(std::uint64_t v, std::mt19937_64& r) {
  return r() % 5 == 0 ? FheUint16::trivial(v, keys().server) : FheUint16::encrypt(v, keys().client);
}

TEST(FheBatchedKernels, AllAtLeastMatchesPlaintext) {
  const auto& k = keys();
  auto& r = rng();
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::uint64_t> bounds(3);
    for (auto& b : bounds) b = r() % 3 == 0 ? 0 : r() % 0x10000;
    std::vector<std::vector<std::uint64_t>> plain(6, std::vector<std::uint64_t>(3));
    std::vector<std::vector<FheUint16>> rows;
    for (auto& row : plain) {
      rows.emplace_back();
      for (std::size_t j = 0; j < 3; ++j) {
        row[j] = r() % 4 == 0 ? bounds[j] : near(bounds[j], r);
        rows.back().push_back(value16(row[j], r));
      }
    }
    auto out = all_at_least<16>(rows, bounds, k.server);
    for (std::size_t i = 0; i < plain.size(); ++i) {
      bool expected = true;
      for (std::size_t j = 0; j < 3; ++j) expected = expected && plain[i][j] >= bounds[j];
      EXPECT_EQ(out[i].decrypt(k.client), expected) << "trial " << trial << " item " << i;
    }
  }
  // A bound no 16-bit value reaches.
  std::vector<std::vector<FheUint16>> one{{FheUint16::encrypt(0xffff, k.client)}};
  std::vector<std::uint64_t> huge{0x10000};
  EXPECT_FALSE(all_at_least<16>(one, huge, k.server)[0].decrypt(k.client));
}

TEST(FheApi, ShiftRightMatchesPlaintext) {
  const auto& k = keys();
  auto& r = rng();
  for (unsigned bits : {0u, 1u, 2u, 3u, 4u, 7u, 8u, 15u, 16u, 20u}) {
    const std::uint64_t v = r() % 0x10000;
    const FheUint16 x = FheUint16::encrypt(v, k.client);
    EXPECT_EQ(x.shr(bits, k.server).decrypt(k.client), v >> std::min(bits, 63u)) << v << " >> " << bits;
  }
  // Whole-block shifts cost no bootstrap, and the shifted value still feeds the kernels:
  // its public zero blocks are skipped, not misread.
  const std::uint64_t before = bootstrap_count();
  const FheUint16 shifted = FheUint16::encrypt(0xbeef, k.client).shr(4, k.server);
  EXPECT_EQ(bootstrap_count(), before);
  const std::vector<std::uint64_t> coefficients{16, 3};
  auto sums = dot_products<32>(std::vector<std::vector<FheUint16>>{{shifted, shifted}}, coefficients, 0, k.server);
  EXPECT_EQ(sums[0].decrypt(k.client), (0xbeefu >> 4) * 19);
}

// A value widened by cast<> has public zero top blocks; when no borrow can leave the value
// (cond implies value >= amount), sub_where stops its ripple below them.
TEST(FheBatchedKernels, SubWhereWithoutUnderflowSkipsPublicTopBlocks) {
  const auto& k = keys();
  auto& r = rng();
  std::vector<FheUint16> values;
  std::vector<FheBool> flags;
  std::vector<std::uint64_t> plain, amounts;
  std::vector<bool> conds;
  for (int i = 0; i < 6; ++i) {
    plain.push_back(1 + r() % 255);
    amounts.push_back(1 + r() % plain.back());  // 0 < amount <= value: the promise holds
    conds.push_back(i % 2 == 0);
    values.push_back(cast<16>(FheUint8::encrypt(plain.back(), k.client), k.server));
    flags.push_back(FheBool::encrypt(conds.back(), k.client));
  }
  const std::uint64_t before = bootstrap_count();
  auto lean = sub_where<16>(values, flags, amounts, k.server, SubWhere::kNoUnderflow);
  const std::uint64_t lean_bootstraps = bootstrap_count() - before;
  auto exact = sub_where<16>(values, flags, amounts, k.server);
  const std::uint64_t exact_bootstraps = bootstrap_count() - before - lean_bootstraps;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t expected = conds[i] ? plain[i] - amounts[i] : plain[i];
    EXPECT_EQ(lean[i].decrypt(k.client), expected) << i;
    EXPECT_EQ(exact[i].decrypt(k.client), expected) << i;
  }
  EXPECT_LT(lean_bootstraps, exact_bootstraps);
}

TEST(FheBatchedKernels, DotProductsMatchPlaintext) {
  const auto& k = keys();
  auto& r = rng();
  const std::uint64_t pool[] = {0, 1, 2, 3, 10, 16, 150, 1024, 15360, 0xffff, 0x12345};
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::uint64_t> coefficients(1 + r() % 4);
    for (auto& c : coefficients) c = pool[r() % std::size(pool)];
    const std::uint64_t constant = r() % 3 == 0 ? 0 : r() % 0x100000;
    std::vector<std::vector<std::uint64_t>> plain(5, std::vector<std::uint64_t>(coefficients.size()));
    std::vector<std::vector<FheUint16>> rows;
    for (auto& row : plain) {
      rows.emplace_back();
      for (auto& v : row) {
        v = r() % 0x10000;
        rows.back().push_back(value16(v, r));
      }
    }
    auto wide = dot_products<32>(rows, coefficients, constant, k.server);
    auto narrow = dot_products<16>(rows, coefficients, constant, k.server);
    for (std::size_t i = 0; i < plain.size(); ++i) {
      std::uint64_t expected = constant;
      for (std::size_t j = 0; j < coefficients.size(); ++j) expected += coefficients[j] * plain[i][j];
      EXPECT_EQ(wide[i].decrypt(k.client), expected & 0xffffffffu) << "trial " << trial << " item " << i;
      EXPECT_EQ(narrow[i].decrypt(k.client), expected & 0xffffu) << "trial " << trial << " item " << i;
    }
  }
}

TEST(FheBatchedKernels, PickExtremesMatchPlaintext) {
  const auto& k = keys();
  auto& r = rng();
  const std::size_t sizes[] = {1, 2, 3, 5, 8, 17};
  for (std::size_t n : sizes) {
    const bool maximise = r() % 2 == 0;
    const std::size_t rounds = 1 + r() % 3;
    const bool wide = r() % 2 == 0;
    std::vector<std::uint64_t> plain(n);
    std::vector<bool> eligible(n);
    std::vector<FheUint32> values;
    std::vector<FheBool> flags;
    for (std::size_t i = 0; i < n; ++i) {
      plain[i] = wide ? r() % 0x100000000ull : r() % 4;  // narrow: many ties
      if (i > 0 && r() % 4 == 0) plain[i] = plain[r() % i];
      eligible[i] = r() % 4 != 0;
      values.push_back(r() % 6 == 0 ? FheUint32::trivial(plain[i], k.server) : FheUint32::encrypt(plain[i], k.client));
      flags.push_back(FheBool::encrypt(eligible[i], k.client));
    }
    Picks picks = pick_extremes<32>(values, flags, rounds, maximise, k.server);
    ASSERT_EQ(picks.picks.size(), rounds);
    std::vector<bool> taken(n, false);
    for (std::size_t round = 0; round < rounds; ++round) {
      std::optional<std::size_t> best;
      for (std::size_t i = 0; i < n; ++i) {
        if (!eligible[i] || taken[i]) continue;
        if (!best || (maximise ? plain[i] > plain[*best] : plain[i] < plain[*best])) best = i;
      }
      const bool found = picks.picks[round].found.decrypt(k.client);
      ASSERT_EQ(found, best.has_value()) << "n " << n << " round " << round;
      if (best) {
        EXPECT_EQ(picks.picks[round].index.decrypt(k.client), *best) << "n " << n << " round " << round;
        taken[*best] = true;
      }
    }
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(picks.chosen[i].decrypt(k.client), taken[i]) << "n " << n << " node " << i;
  }
}

// Without `chosen` the last round skips its one-hot: the same picks, fewer bootstraps.
TEST(FheBatchedKernels, PickExtremesWithoutChosenGivesTheSamePicks) {
  const auto& k = keys();
  auto& r = rng();
  for (std::size_t rounds : {1, 2}) {
    const std::size_t n = 6;
    std::vector<FheUint32> values;
    std::vector<FheBool> flags;
    for (std::size_t i = 0; i < n; ++i) {
      values.push_back(FheUint32::encrypt(r() % 8, k.client));
      flags.push_back(FheBool::encrypt(r() % 4 != 0, k.client));
    }
    const std::uint64_t before = bootstrap_count();
    const Picks with = pick_extremes<32>(values, flags, rounds, true, k.server);
    const std::uint64_t middle = bootstrap_count();
    const Picks without = pick_extremes<32>(values, flags, rounds, true, k.server, Chosen::kNotNeeded);
    const std::uint64_t after = bootstrap_count();
    EXPECT_EQ(with.chosen.size(), n);
    EXPECT_TRUE(without.chosen.empty());
    EXPECT_LT(after - middle, middle - before) << "rounds " << rounds;
    ASSERT_EQ(without.picks.size(), rounds);
    for (std::size_t round = 0; round < rounds; ++round) {
      EXPECT_EQ(without.picks[round].index.serialize(), with.picks[round].index.serialize()) << "round " << round;
      EXPECT_EQ(without.picks[round].found.serialize(), with.picks[round].found.serialize()) << "round " << round;
    }
  }
}

TEST(FheBatchedKernels, SubWhereMatchesPlaintext) {
  const auto& k = keys();
  auto& r = rng();
  std::vector<std::uint64_t> plain, amounts;
  std::vector<bool> conds;
  std::vector<FheUint16> values;
  std::vector<FheBool> flags;
  for (int i = 0; i < 12; ++i) {
    amounts.push_back(i % 5 == 0 ? 0 : r() % 0x10000);
    plain.push_back(i % 3 == 0 ? amounts.back() : near(amounts.back(), r));  // some below: wraps
    conds.push_back(r() % 2 == 0);
    values.push_back(value16(plain.back(), r));
    flags.push_back(FheBool::encrypt(conds.back(), k.client));
  }
  auto out = sub_where<16>(values, flags, amounts, k.server);
  for (std::size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(out[i].decrypt(k.client), (plain[i] - (conds[i] ? amounts[i] : 0)) & 0xffff) << "item " << i;
  }
}

}  // namespace
}  // namespace veil::fhe
