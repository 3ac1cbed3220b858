// Threshold decryption: Galois-ring Shamir sharing, partial decryption with flooding, robust
// combination, wire types. Most suites use the INSECURE test parameters for speed; the
// ThresholdDefaultParams suite runs the real ones and is built only into
// fhe_threshold_default_test (integration: ~40 s of CPU and ~2 GB for the squashing key).
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "api/impl.h"
#include "threshold/galois_ring.h"
#include "threshold/internal.h"
#include "threshold_fuzz.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold {
namespace {

using gr::Elem;
using gr::u128;

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

struct Keys {
  ClientKey client;
  ServerKey server;
};

const Keys& keys(const Parameters& params) {
  static std::map<std::uint8_t, std::unique_ptr<Keys>> cache;
  auto& slot = cache[params.id];
  if (!slot) {
    auto ck = ClientKey::generate(params);
    slot = std::make_unique<Keys>(Keys{ck, ServerKey::generate(ck)});
  }
  return *slot;
}

struct Committee_ {
  std::vector<MemberSecretKey> members;
  Ceremony ceremony;
  core::GlweSecretKey128 squash_key;  // the dealer's 128-bit key (test-only knowledge)
};

Committee_ make_committee(const Parameters& params, unsigned t, unsigned n) {
  std::vector<MemberSecretKey> members;
  std::vector<MemberPublicKey> pubs;
  for (unsigned i = 0; i < n; ++i) {
    members.push_back(MemberSecretKey::generate());
    pubs.push_back(members.back().public_key());
  }
  const auto& sq = noise_squashing_for(params);
  core::Csprng secret(core::Csprng::os_seed());
  auto key = core::GlweSecretKey128::generate(sq.glwe_dimension, sq.polynomial_size, secret);
  auto c = deal_with_squash_key(keys(params).client, key, t, pubs, as_bytes("pk"), as_bytes("sk"));
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return Committee_{std::move(members), std::move(c).value(), std::move(key)};
}

SquashedValue squashed(const Committee_& c, const EncryptedValue& v) {
  auto s = squash(c.ceremony.squashing_key, v);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return std::move(s).value();
}

// All members' shares for one request, on a value squashed once.
std::vector<DecryptionShare> all_shares(const Committee_& c, const DecryptionRequest& req, const SquashedValue& v) {
  std::vector<DecryptionShare> out;
  for (std::size_t i = 0; i < c.members.size(); ++i) {
    auto s = partial_decrypt(c.ceremony.shares[i], c.members[i], req, v);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    out.push_back(std::move(s).value());
  }
  return out;
}
[[maybe_unused]] std::vector<DecryptionShare> all_shares(const Committee_& c, const DecryptionRequest& req, const EncryptedValue& v) {
  return all_shares(c, req, squashed(c, v));
}

// The 128-bit phase of squashed block `b` under the dealer's squashing key (test-only knowledge).
u128 squashed_phase(const Committee_& c, const SquashedValue& v, std::size_t b) {
  core::Lwe128 ct;
  ct.data.resize(v.blocks[b].size() / 2);
  for (std::size_t j = 0; j < ct.data.size(); ++j) {
    ct.data[j] = static_cast<u128>(v.blocks[b][2 * j]) | (static_cast<u128>(v.blocks[b][2 * j + 1]) << 64);
  }
  return core::lwe128_phase(ct, c.squash_key.bits.data());
}

[[maybe_unused]] std::vector<DecryptionShare> pick(const std::vector<DecryptionShare>& all, std::vector<unsigned> ids) {
  std::vector<DecryptionShare> out;
  for (unsigned id : ids) out.push_back(all[id - 1]);
  return out;
}

[[maybe_unused]] std::vector<unsigned> random_subset(unsigned n, unsigned k) {
  std::vector<unsigned> ids(n);
  for (unsigned i = 0; i < n; ++i) ids[i] = i + 1;
  std::shuffle(ids.begin(), ids.end(), rng());
  ids.resize(k);
  return ids;
}

// The partial values of `subset` for block `block`, summed (what the combiner computes).
[[maybe_unused]] u128 subset_sum(const std::vector<DecryptionShare>& all, unsigned subset, std::size_t block, unsigned skip = 0) {
  u128 v = 0;
  for (const auto& s : all) {
    if (!(subset & (1u << (s.member - 1))) || s.member == skip) continue;
    const auto it = std::find(s.subsets.begin(), s.subsets.end(), subset);
    const std::size_t si = static_cast<std::size_t>(it - s.subsets.begin());
    const std::uint64_t* p = s.partials.data() + (si * s.blocks + block) * 2;
    v += static_cast<u128>(p[0]) | (static_cast<u128>(p[1]) << 64);
  }
  return v;
}

[[maybe_unused]] void resign(DecryptionShare& s, const MemberSecretKey& key) {
  const Bytes msg = s.signed_bytes();
  crypto_sign_detached(s.signature.data(), nullptr, msg.data(), msg.size(), key.sign_secret().data());
}

// Values after a bootstrap, as the scheduler's decisions are.
EncryptedValue bootstrapped(ValueKind kind, std::uint64_t v, const Keys& k) {
  switch (kind) {
    case ValueKind::kBool: {
      auto zero = FheBool::encrypt(false, k.client);
      return EncryptedValue::of(FheBool::encrypt(v != 0, k.client).bit_xor(zero, k.server));
    }
    case ValueKind::kUint8: return EncryptedValue::of(FheUint8::encrypt(v, k.client).bit_xor(FheUint8::encrypt(0, k.client), k.server));
    case ValueKind::kUint16: return EncryptedValue::of(FheUint16::encrypt(v, k.client).bit_xor(FheUint16::encrypt(0, k.client), k.server));
    case ValueKind::kUint32: return EncryptedValue::of(FheUint32::encrypt(v, k.client).bit_xor(FheUint32::encrypt(0, k.client), k.server));
  }
  return {};
}

std::uint64_t max_of(ValueKind kind) {
  switch (kind) {
    case ValueKind::kBool: return 1;
    case ValueKind::kUint8: return 0xff;
    case ValueKind::kUint16: return 0xffff;
    case ValueKind::kUint32: return 0xffffffff;
  }
  return 0;
}

#ifndef FHE_DEFAULT_PARAMS_SUITE  // the unit suites (the default build runs only ThresholdDefaultParams)
// ---------------- the ring ----------------

TEST(ThresholdGaloisRing, PointDifferencesAreUnitsAndInversesAreExact) {
  for (unsigned i = 0; i <= 15; ++i) {
    for (unsigned j = 0; j <= 15; ++j) {
      if (i == j) continue;
      const Elem d = Elem::point(i) - Elem::point(j);
      auto inv = gr::inverse(d);
      ASSERT_TRUE(inv.has_value()) << i << " " << j;
      EXPECT_EQ(d * *inv, Elem::constant(1));
    }
  }
  // Multiples of 2 are not units.
  EXPECT_FALSE(gr::inverse(Elem::constant(2)).has_value());
}

TEST(ThresholdGaloisRing, MultiplicationIsAssociativeAndDistributive) {
  auto rnd = [] {
    Elem e;
    for (auto& c : e.c) c = (static_cast<u128>(rng()()) << 64) | rng()();
    return e;
  };
  for (int i = 0; i < 200; ++i) {
    const Elem a = rnd(), b = rnd(), c = rnd();
    EXPECT_EQ((a * b) * c, a * (b * c));
    EXPECT_EQ(a * (b + c), a * b + a * c);
    EXPECT_EQ(a * b, b * a);
  }
}

// Any t key shares interpolate to the squashing key's bits; the Lagrange weights sum to one.
TEST(ThresholdSharing, AnyTSharesReconstructTheKeyBits) {
  const auto& params = kParamInsecureTestOnly;
  for (auto [t, n] : {std::pair{2u, 3u}, {3u, 5u}, {5u, 9u}}) {
    auto c = make_committee(params, t, n);
    const auto& bits = c.squash_key.bits;
    ASSERT_EQ(bits.size(), noise_squashing_for(params).output_dimension());
    for (int trial = 0; trial < 5; ++trial) {
      const auto ids = random_subset(n, t);
      unsigned mask = 0;
      for (unsigned id : ids) mask |= 1u << (id - 1);
      Elem sum_lambda;
      for (unsigned id : ids) sum_lambda = sum_lambda + gr::lagrange_at_zero(id, mask);
      EXPECT_EQ(sum_lambda, Elem::constant(1));
      for (std::size_t j = 0; j < bits.size(); j += 7) {
        Elem s;
        for (unsigned id : ids) {
          const std::uint64_t* p = c.ceremony.shares[id - 1].values.data() + j * 8;
          Elem y;
          for (int k = 0; k < 4; ++k) y.c[k] = static_cast<u128>(p[2 * k]) | (static_cast<u128>(p[2 * k + 1]) << 64);
          s = s + gr::lagrange_at_zero(id, mask) * y;
        }
        ASSERT_EQ(s, Elem::constant(bits[j])) << "t=" << t << " n=" << n << " coefficient " << j;
      }
    }
  }
}

TEST(ThresholdSharing, DealRejectsBadCommittees) {
  const auto& k = keys(kParamInsecureTestOnly);
  std::vector<MemberPublicKey> pubs;
  for (int i = 0; i < 3; ++i) pubs.push_back(MemberSecretKey::generate().public_key());
  EXPECT_FALSE(deal(k.client, 0, pubs, {}, {}).ok());
  EXPECT_FALSE(deal(k.client, 4, pubs, {}, {}).ok());
  pubs.push_back(pubs[0]);
  EXPECT_FALSE(deal(k.client, 2, pubs, {}, {}).ok());  // duplicate member
  std::vector<MemberPublicKey> many;
  for (int i = 0; i < 16; ++i) many.push_back(MemberSecretKey::generate().public_key());
  EXPECT_FALSE(deal(k.client, 2, many, {}, {}).ok());
}

// ---------------- decryption ----------------

class ThresholdCommittee : public ::testing::TestWithParam<std::pair<unsigned, unsigned>> {};

// Squashing packs two blocks per bootstrap where the tracked degrees and noise levels allow,
// reads a public (trivial) block without a bootstrap, and otherwise bootstraps each block on
// its own, dropping its carry: each way decrypts to the value's messages, with squashed noise
// far below the flood.
TEST(ThresholdSquash, PacksPairsReadsPublicBlocksAndFallsBackPerBlock) {
  const auto& params = kParamInsecureTestOnly;
  const std::uint64_t m = params.message_modulus;
  auto c = make_committee(params, 2, 3);
  const std::uint64_t v = 0xB6E5;
  const auto packed = bootstrapped(ValueKind::kUint16, v, keys(params));
  ASSERT_EQ(packed.bounds.size(), 8u);
  auto unknown = packed;  // no tracking: one bootstrap per block
  unknown.bounds.clear();
  auto carry = packed;  // a carry in block 0: its pair cannot be packed
  carry.blocks[0].back() += m * params.delta();
  carry.bounds[0].degree = m + carry.bounds[0].degree;
  auto noisy = packed;  // 1 + 4 * 2 > max_noise_level: not packed
  noisy.bounds[3].noise_level = 2;
  auto upper_public = packed;  // blocks 4..7 public: squashed blocks 2 and 3 need no bootstrap
  for (std::size_t b = 4; b < 8; ++b) {
    const std::uint64_t msg = (v >> (2 * b)) & (m - 1);
    std::fill(upper_public.blocks[b].begin(), upper_public.blocks[b].end(), 0);
    upper_public.blocks[b].back() = msg * params.delta();
    upper_public.bounds[b] = {msg, 0};
  }
  const std::vector<EncryptedValue> values{packed, unknown, carry, noisy, upper_public};
  const auto sq = squash(c.ceremony.squashing_key, values);
  ASSERT_TRUE(sq.ok()) << sq.status().to_string();
  const u128 delta = (static_cast<u128>(1) << 127) / params.plaintext_modulus();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const SquashedValue& s = (*sq)[i];
    ASSERT_EQ(s.blocks.size(), squashed_block_count(ValueKind::kUint16, params));
    for (std::size_t b = 0; b < s.blocks.size(); ++b) {
      const u128 ph = squashed_phase(c, s, b);
      EXPECT_EQ((ph + delta / 2) / delta, (v >> (4 * b)) & 0xf) << "value " << i << " block " << b;
    }
    const auto req = DecryptionRequest::for_value(values[i], "squash", "threshold_test");
    auto r = combine(c.ceremony.committee, req, all_shares(c, req, s));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value, v) << "value " << i;
    EXPECT_LT(r->max_noise_log2, static_cast<double>(flood_log2(2)) - 64 + 1.01);
  }
  for (std::size_t b = 2; b < 4; ++b) {  // public: a zero mask, the messages on the body
    const auto& words = (*sq)[4].blocks[b];
    EXPECT_TRUE(std::all_of(words.begin(), words.end() - 2, [](std::uint64_t w) { return w == 0; }));
  }
  EXPECT_EQ((*sq)[0].blocks, squashed(c, packed).blocks);  // the batch squashes as one value alone
}

TEST_P(ThresholdCommittee, AnyTSharesDecryptEveryKind) {
  const auto [t, n] = GetParam();
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, t, n);
  for (ValueKind kind : {ValueKind::kBool, ValueKind::kUint8, ValueKind::kUint16, ValueKind::kUint32}) {
    for (int trial = 0; trial < 3; ++trial) {
      const std::uint64_t v = trial == 0 ? max_of(kind) : rng()() & max_of(kind);
      const auto value = bootstrapped(kind, v, k);
      const auto req = DecryptionRequest::for_value(value, "test", "threshold_test");
      const auto shares = all_shares(c, req, value);
      // A random t-subset, and all n.
      auto some = combine(c.ceremony.committee, req, pick(shares, random_subset(n, t)));
      ASSERT_TRUE(some.ok()) << some.status().to_string();
      EXPECT_EQ(some->value, v) << value_kind_name(kind);
      EXPECT_TRUE(some->wrong.empty());
      if (trial == 0) {  // every t-subset, not only a random one
        for (unsigned mask = 0; mask < (1u << n); ++mask) {
          if (std::popcount(mask) != static_cast<int>(t)) continue;
          std::vector<unsigned> ids;
          for (unsigned m = 1; m <= n; ++m) {
            if (mask & (1u << (m - 1))) ids.push_back(m);
          }
          auto r = combine(c.ceremony.committee, req, pick(shares, ids));
          ASSERT_TRUE(r.ok()) << r.status().to_string();
          ASSERT_EQ(r->value, v) << value_kind_name(kind) << " subset " << mask;
        }
      }
      auto all = combine(c.ceremony.committee, req, shares);
      ASSERT_TRUE(all.ok()) << all.status().to_string();
      EXPECT_EQ(all->value, v);
      EXPECT_EQ(all->used.size(), n);
      EXPECT_TRUE(all->wrong.empty());
    }
  }
}

// t-1 shares: combine refuses, and the sum of any t-1 partials of a subset decodes to a value
// whose distribution does not depend on the plaintext (chi-square against uniform, both
// plaintexts).
TEST_P(ThresholdCommittee, FewerThanTSharesRevealNothing) {
  const auto [t, n] = GetParam();
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, t, n);
  const unsigned subset = (1u << t) - 1;  // members 1..t
  for (bool plaintext : {false, true}) {
    const auto value = bootstrapped(ValueKind::kBool, plaintext, k);
    const auto sq = squashed(c, value);
    std::vector<int> histogram(16, 0);
    constexpr int kTrials = 320;
    for (int trial = 0; trial < kTrials; ++trial) {
      const auto req = DecryptionRequest::for_value(value, "test", "t-1");
      std::vector<DecryptionShare> shares;
      if (trial == 0) {
        shares = all_shares(c, req, sq);
        std::vector<DecryptionShare> few(shares.begin(), shares.begin() + (t - 1));
        auto r = combine(c.ceremony.committee, req, few);
        EXPECT_FALSE(r.ok());
        // t shares of the same request do decrypt.
        auto full = combine(c.ceremony.committee, req, pick(shares, random_subset(n, t)));
        ASSERT_TRUE(full.ok());
        EXPECT_EQ(full->value, plaintext ? 1u : 0u);
      } else {
        for (unsigned m = 0; m + 1 < t; ++m) {
          shares.push_back(partial_decrypt(c.ceremony.shares[m], c.members[m], req, sq).value());
        }
      }
      // Members 1..t-1 of the subset {1..t}: member t is missing.
      const u128 partial = subset_sum(shares, subset, 0, /*skip=*/t);
      histogram[static_cast<std::size_t>(partial >> 124)]++;
    }
    double chi2 = 0;
    const double expected = kTrials / 16.0;
    for (int h : histogram) chi2 += (h - expected) * (h - expected) / expected;
    // 15 degrees of freedom: P(chi2 > 44.3) = 1e-4.
    EXPECT_LT(chi2, 44.3) << "plaintext " << plaintext;
  }
}

// Robustness: a wrong share is detected and its member named.
TEST_P(ThresholdCommittee, CorruptedAndForgedSharesAreNamed) {
  const auto [t, n] = GetParam();
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, t, n);
  // FheUint32: 16 blocks, so random corruption stays inside the honest noise bound by chance
  // with probability 0.375^16 only.
  const auto value = bootstrapped(ValueKind::kUint32, 0xDEADBEEF, k);
  const auto req = DecryptionRequest::for_value(value, "test", "robust");
  const auto honest = all_shares(c, req, value);
  const auto& com = c.ceremony.committee;

  {  // A malicious member signs random partials.
    auto shares = honest;
    const unsigned liar = 1 + static_cast<unsigned>(rng()() % n);
    for (auto& w : shares[liar - 1].partials) w = rng()();
    resign(shares[liar - 1], c.members[liar - 1]);
    auto r = combine(com, req, shares);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value, 0xDEADBEEFu);
    ASSERT_EQ(r->wrong.size(), 1u);
    EXPECT_EQ(r->wrong[0].member, liar);
  }
  {  // Bits flipped in transit: the signature fails.
    auto shares = honest;
    shares[0].partials[3] ^= 1;
    auto r = combine(com, req, shares);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->value, 0xDEADBEEFu);
    ASSERT_EQ(r->wrong.size(), 1u);
    EXPECT_EQ(r->wrong[0].member, 1u);
    EXPECT_NE(r->wrong[0].reason.find("signature"), std::string::npos);
  }
  {  // Forged: member 2's share re-signed by someone else's key.
    auto shares = honest;
    const auto outsider = MemberSecretKey::generate();
    for (auto& w : shares[1].partials) w = rng()();
    resign(shares[1], outsider);
    auto r = combine(com, req, shares);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->value, 0xDEADBEEFu);
    ASSERT_EQ(r->wrong.size(), 1u);
    EXPECT_EQ(r->wrong[0].member, 2u);
  }
  {  // A deliberate lie: every partial shifted by Delta (the decoded value would move by one).
    auto shares = honest;
    const u128 delta = static_cast<u128>(kParamInsecureTestOnly.delta()) << 64;
    for (std::size_t w = 0; w < shares[n - 1].partials.size(); w += 2) {
      u128 v = (static_cast<u128>(shares[n - 1].partials[w + 1]) << 64) | shares[n - 1].partials[w];
      v += delta;
      shares[n - 1].partials[w] = static_cast<std::uint64_t>(v);
      shares[n - 1].partials[w + 1] = static_cast<std::uint64_t>(v >> 64);
    }
    resign(shares[n - 1], c.members[n - 1]);
    auto r = combine(com, req, shares);
    if (n >= t + 2) {
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->value, 0xDEADBEEFu);
      ASSERT_EQ(r->wrong.size(), 1u);
      EXPECT_EQ(r->wrong[0].member, n);
    } else {
      // n = t + 1: detected, but the liar cannot be told from an honest member.
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.status().message().find("suspect"), std::string::npos) << r.status().to_string();
    }
  }
  if (n >= t + 4) {  // Two liars among n >= t + 4: both named.
    auto shares = honest;
    for (unsigned liar : {2u, 5u}) {
      for (auto& w : shares[liar - 1].partials) w = rng()();
      resign(shares[liar - 1], c.members[liar - 1]);
    }
    auto r = combine(com, req, shares);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value, 0xDEADBEEFu);
    ASSERT_EQ(r->wrong.size(), 2u);
    EXPECT_EQ(r->wrong[0].member + r->wrong[1].member, 7u);
  }
  {  // A share for another request and an unknown member id.
    auto shares = honest;
    shares[0].request_hash[0] ^= 1;
    resign(shares[0], c.members[0]);
    shares[1].member = 15;
    auto r = combine(com, req, shares);
    if (n - 2 >= t) {
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->wrong.size(), 2u);
    } else {
      EXPECT_FALSE(r.ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Committees, ThresholdCommittee,
                         ::testing::Values(std::pair{2u, 3u}, std::pair{3u, 5u}, std::pair{5u, 9u}),
                         [](const auto& info) {
                           return "t" + std::to_string(info.param.first) + "of" + std::to_string(info.param.second);
                         });

#endif

double signed_double(u128 v) {
  return (v >> 127) ? -static_cast<double>(-v) : static_cast<double>(v);
}

#ifndef FHE_DEFAULT_PARAMS_SUITE
// The flooding noise is fresh per request, distributed as predicted (a sum of t uniforms on
// [-2^b, 2^b)), and a single member's partial decryptions look uniform whichever share it holds.
TEST(ThresholdFlooding, PartialDecryptionsRevealNothingAboutAShare) {
  const auto& params = kParamInsecureTestOnly;
  const auto& k = keys(params);
  constexpr unsigned t = 3, n = 5;
  const unsigned b = flood_log2(t);
  const auto value = bootstrapped(ValueKind::kBool, true, k);
  constexpr int kRequests = 400;
  for (int committee = 0; committee < 2; ++committee) {
    // Two dealings (each with its own squashing key): different shares for member 1.
    auto c = make_committee(params, t, n);
    const auto sq = squashed(c, value);
    const u128 phase = squashed_phase(c, sq, 0);
    std::vector<int> histogram(16, 0);
    std::vector<u128> seen;
    double sum = 0, sum_sq = 0;
    const unsigned subset = 0b00111;
    for (int r = 0; r < kRequests; ++r) {
      const auto req = DecryptionRequest::for_value(value, "test", "flood");
      const auto shares = all_shares(c, req, sq);
      const std::uint64_t* p = shares[0].partials.data();  // member 1, first subset, block 0
      const u128 partial = static_cast<u128>(p[0]) | (static_cast<u128>(p[1]) << 64);
      histogram[static_cast<std::size_t>(partial >> 124)]++;
      seen.push_back(partial);
      const u128 noise = subset_sum(shares, subset, 0) - phase;
      const double e = signed_double(noise);
      ASSERT_LE(std::fabs(e), t * std::ldexp(1.0, static_cast<int>(b)));
      sum += e;
      sum_sq += e * e;
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end()) << "a partial decryption repeated";
    double chi2 = 0;
    for (int h : histogram) chi2 += (h - kRequests / 16.0) * (h - kRequests / 16.0) / (kRequests / 16.0);
    EXPECT_LT(chi2, 44.3) << "member 1's partials are not uniform (committee " << committee << ")";
    // Predicted: t independent uniforms on [-2^b, 2^b): mean 0, variance t * 2^(2b) / 3.
    const double predicted_var = t * std::ldexp(1.0, 2 * static_cast<int>(b)) / 3.0;
    const double mean = sum / kRequests;
    const double var = sum_sq / kRequests - mean * mean;
    EXPECT_NEAR(var / predicted_var, 1.0, 0.25);
    EXPECT_LT(std::fabs(mean), 5 * std::sqrt(predicted_var / kRequests));
  }
}

// Answering the same request twice gives the same share (re-asking cannot average the flood
// away); another request for the same ciphertext gets other noise.
TEST(ThresholdFlooding, SameRequestSameShareNewRequestNewNoise) {
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, 2, 3);
  const auto value = bootstrapped(ValueKind::kUint8, 42, k);
  const auto req = DecryptionRequest::for_value(value, "a", "b");
  const auto first = partial_decrypt(c.ceremony.shares[0], c.members[0], req, value).value();
  const auto again = partial_decrypt(c.ceremony.shares[0], c.members[0], req, value).value();
  EXPECT_EQ(first.serialize(), again.serialize());
  const auto other = partial_decrypt(c.ceremony.shares[0], c.members[0], DecryptionRequest::for_value(value, "a", "b"), value).value();
  EXPECT_NE(first.partials, other.partials);
}

#endif

// The noise budget of docs/fhe-threshold.md: a bootstrapped block, squashed into 2^128, keeps
// noise e ~2^65 there; t floods of 2^b are added; the sum must stay under the decoding radius
// 2^122. Measures e and the combined residual, checks them against the prediction and prints
// the statistical hiding b - log2 |e| the flood gives e.
void check_budget(const Parameters& params, unsigned t, unsigned n, ValueKind kind, int values) {
  const auto& k = keys(params);
  auto c = make_committee(params, t, n);
  const unsigned b = flood_log2(t);
  const u128 delta = (static_cast<u128>(1) << 127) / params.plaintext_modulus();
  double worst_e = 0, worst_residual = -1000;
  for (int i = 0; i < values; ++i) {
    const std::uint64_t v = i == 0 ? max_of(kind) : rng()() & max_of(kind);
    const auto value = bootstrapped(kind, v, k);
    const auto sq = squashed(c, value);
    for (std::size_t blk = 0; blk < sq.blocks.size(); ++blk) {
      const u128 ph = squashed_phase(c, sq, blk);
      const u128 rounded = (ph + delta / 2) / delta * delta;
      worst_e = std::max(worst_e, std::fabs(signed_double(ph - rounded)));
    }
    const auto req = DecryptionRequest::for_value(value, "budget", "test");
    auto r = combine(c.ceremony.committee, req, all_shares(c, req, sq));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->value, v);
    worst_residual = std::max(worst_residual, r->max_noise_log2);
  }
  const double e_log2 = std::log2(std::max(worst_e, 1.0));
  // Prediction (docs/fhe-threshold.md): std of e ~2^62 (test set) to ~2^65 (default): every
  // |e| < 2^70, so |e| + t 2^b < 2^120 + 2^70 < 2^122.
  EXPECT_LT(e_log2, 70.0);
  EXPECT_GT(e_log2, 50.0);  // the squashed noise is really there (a trivial result would be 0)
  const double predicted_residual =
      std::log2(std::ldexp(1.0, static_cast<int>(std::ceil(e_log2)) - 64) + t * std::ldexp(1.0, static_cast<int>(b) - 64));
  EXPECT_LE(worst_residual, predicted_residual + 0.01);
  EXPECT_GE(worst_residual, static_cast<double>(b) - 64 - 3);  // the flood dominates the residual
  const double hiding = static_cast<double>(b) - e_log2;
  std::printf("[budget] %s t=%u: max |e| after squashing = 2^%.1f (128-bit), flood 2^%u, max residual 2^%.1f "
              "(/2^64), statistical hiding of e ~ %.1f bits\n",
              std::string(params.name).c_str(), t, e_log2, b, worst_residual, hiding);
  EXPECT_GE(hiding, 40.0);  // the requirement
  ::testing::Test::RecordProperty("hiding_bits_t" + std::to_string(t), std::to_string(hiding));
}

#ifndef FHE_DEFAULT_PARAMS_SUITE
TEST(ThresholdFlooding, NoiseBudgetHoldsOnTestParameters) {
  check_budget(kParamInsecureTestOnly, 3, 5, ValueKind::kUint16, 8);
  check_budget(kParamInsecureTestOnly, 5, 9, ValueKind::kUint8, 5);
}

// ---------------- default parameters ----------------
#else

// The real parameters (k = 2, N = 2048 squashing; ~1.2 GB squashing key in memory).
TEST(ThresholdDefaultParams, ThreeOfFiveDecryptsAndNoiseBudgetHolds) {
  check_budget(kParamMessage2Carry2KsPbsTUniform2M128, 3, 5, ValueKind::kUint8, 2);
}
#endif

#ifndef FHE_DEFAULT_PARAMS_SUITE
TEST(ThresholdSharing, DealerWipeZeroesTheKey) {
  auto ck = ClientKey::generate(kParamInsecureTestOnly);
  auto copy = ck;
  const auto& bits = copy.impl().key.big_key().bits;
  ASSERT_TRUE(std::any_of(bits.begin(), bits.end(), [](auto b) { return b != 0; }));
  wipe_client_key(ck);
  EXPECT_TRUE(std::all_of(bits.begin(), bits.end(), [](auto b) { return b == 0; }));
  const auto& small = copy.impl().key.small_key().bits;
  EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](auto b) { return b == 0; }));
}

// ---------------- wire types ----------------

TEST(ThresholdWire, RoundTripsAndRefusesTampering) {
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, 2, 3);
  const auto value = bootstrapped(ValueKind::kUint8, 77, k);
  const auto req = DecryptionRequest::for_value(value, "purpose", "me");
  const auto share = all_shares(c, req, value)[1];

  auto com = Committee::deserialize(c.ceremony.committee.serialize());
  ASSERT_TRUE(com.ok()) << com.status().to_string();
  EXPECT_EQ(com->serialize(), c.ceremony.committee.serialize());
  auto ks = KeyShare::deserialize(c.ceremony.shares[2].serialize());
  ASSERT_TRUE(ks.ok()) << ks.status().to_string();
  EXPECT_EQ(ks->values, c.ceremony.shares[2].values);
  EXPECT_TRUE(ks->squashing_key.empty());  // public material travels separately
  EXPECT_FALSE(partial_decrypt(*ks, c.members[2], req, value).ok());  // ... and is needed
  ks->squashing_key = c.ceremony.squashing_key;
  EXPECT_TRUE(partial_decrypt(*ks, c.members[2], req, value).ok());
  // The squashing key round-trips (expanded again from seed and bodies) and squashes alike.
  const Bytes skb = c.ceremony.squashing_key.serialize();
  auto sk = SquashingKey::deserialize(skb);
  ASSERT_TRUE(sk.ok()) << sk.status().to_string();
  EXPECT_EQ(sk->hash(), c.ceremony.committee.squashing_key_hash);
  EXPECT_EQ(squash(*sk, value)->blocks, squashed(c, value).blocks);
  Bytes skcut = skb;
  skcut.resize(skcut.size() - 100);
  EXPECT_FALSE(SquashingKey::deserialize(skcut).ok());
  // Format 1 objects (kinds 0x30, 0x31, 0x33: before noise squashing) are refused clearly.
  for (std::uint8_t old_kind : {0x30, 0x31, 0x33}) {
    Bytes v1 = c.ceremony.committee.serialize();
    v1[6] = old_kind;
    auto refused1 = old_kind == 0x30 ? Committee::deserialize(v1).status()
                  : old_kind == 0x31 ? KeyShare::deserialize(v1).status()
                                     : DecryptionShare::deserialize(v1).status();
    ASSERT_FALSE(refused1.ok());
    EXPECT_NE(refused1.message().find("format 1"), std::string::npos) << refused1.to_string();
  }
  auto rq = DecryptionRequest::deserialize(req.serialize());
  ASSERT_TRUE(rq.ok());
  EXPECT_EQ(rq->hash(), req.hash());
  auto sh = DecryptionShare::deserialize(share.serialize());
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(sh->serialize(), share.serialize());
  // The signature covers the v3 tag (packed squashed blocks) before the body.
  const std::string tag = "veil-decryption-share-v3";
  const Bytes signed_bytes = share.signed_bytes();
  ASSERT_GE(signed_bytes.size(), tag.size());
  EXPECT_EQ(std::string(signed_bytes.begin(), signed_bytes.begin() + static_cast<std::ptrdiff_t>(tag.size())),
            tag);
  auto pub = MemberPublicKey::from_text(c.members[0].public_key().to_text());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, c.members[0].public_key());
  auto sec = MemberSecretKey::deserialize(c.members[0].serialize());
  ASSERT_TRUE(sec.ok());
  EXPECT_EQ(sec->public_key(), c.members[0].public_key());

  // Wrong kind, truncation, a share whose values do not match the committee's hash.
  EXPECT_FALSE(DecryptionShare::deserialize(req.serialize()).ok());
  Bytes cut = share.serialize();
  cut.resize(cut.size() - 5);
  EXPECT_FALSE(DecryptionShare::deserialize(cut).ok());
  KeyShare bad = c.ceremony.shares[0];
  bad.values[10] ^= 1;
  auto refused = KeyShare::deserialize(bad.serialize());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("hash"), std::string::npos);
  EXPECT_FALSE(MemberPublicKey::from_text("veil-member-v1 00").ok());
  // A secret key whose halves do not belong together.
  Bytes mixed = c.members[0].serialize();
  const Bytes other = c.members[1].serialize();
  std::copy(other.begin() + 64, other.begin() + 96, mixed.begin() + 64);
  EXPECT_FALSE(MemberSecretKey::deserialize(mixed).ok());

  // A member key that is not the share's member; a request for another ciphertext.
  EXPECT_FALSE(partial_decrypt(c.ceremony.shares[0], c.members[1], req, value).ok());
  const auto other_value = bootstrapped(ValueKind::kUint8, 78, k);
  EXPECT_FALSE(partial_decrypt(c.ceremony.shares[0], c.members[0], req, other_value).ok());
}

// The fuzz entry point (tests/fhe/threshold_fuzz.cc) over mutations of valid objects.
TEST(ThresholdWire, FuzzEntryPointSurvivesMutatedInput) {
  const auto& k = keys(kParamInsecureTestOnly);
  auto c = make_committee(kParamInsecureTestOnly, 2, 3);
  const auto value = bootstrapped(ValueKind::kBool, true, k);
  const auto req = DecryptionRequest::for_value(value, "p", "r");
  const std::string pub = c.members[0].public_key().to_text();
  const std::vector<Bytes> seeds = {c.ceremony.committee.serialize(), c.ceremony.shares[0].serialize(), req.serialize(),
                                    all_shares(c, req, value)[0].serialize(), Bytes(pub.begin(), pub.end()),
                                    c.members[0].serialize()};
  for (const auto& seed : seeds) {
    ASSERT_EQ(fuzz::fuzz_one(seed.data(), seed.size()), 0);
    for (int i = 0; i < 300; ++i) {
      Bytes m = seed;
      const int edits = 1 + static_cast<int>(rng()() % 4);
      for (int e = 0; e < edits; ++e) {
        switch (rng()() % 3) {
          case 0: m[rng()() % m.size()] ^= static_cast<std::uint8_t>(1u << (rng()() % 8)); break;
          case 1: m.resize(rng()() % (m.size() + 1)); break;
          default: m.insert(m.begin() + static_cast<std::ptrdiff_t>(rng()() % (m.size() + 1)), static_cast<std::uint8_t>(rng()()));
        }
        if (m.empty()) break;
      }
      ASSERT_EQ(fuzz::fuzz_one(m.data(), m.size()), 0);
    }
  }
}

#endif

}  // namespace
}  // namespace veil::fhe::threshold
