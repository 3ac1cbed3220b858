// Dealer-free key generation (docs/dkg.md): the ring helpers, PRSS, masked openings, random
// bits and exact noise (dkg_primitives.h), the message codec (dkg_wire.h), and the member state
// machine (veil/fhe/dkg.h) driven in memory by this test, which passes the messages between m
// members itself and can drop, truncate, reorder or rewrite any of them.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <random>

#include "threshold/dkg_member_internal.h"
#include "threshold/dkg_primitives.h"
#include "threshold/dkg_wire.h"
#include "dkg_run.h"
#include "dkg_wire_fuzz.h"
#include "veil/fhe/dkg.h"
#include "veil/common/sha256.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

#include <nlohmann/json.hpp>

namespace veil::fhe::dkg {
namespace {

using namespace dkgtest;

using threshold::gr::lagrange_at_zero;
using threshold::gr::scale;
__extension__ typedef __int128 i128;

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}
u128 random128() { return (static_cast<u128>(rng()()) << 64) | rng()(); }
Elem random_elem() {
  Elem e;
  for (auto& c : e.c) c = random128();
  return e;
}
unsigned all_mask(unsigned m) { return (1u << m) - 1; }

// The secret of a sharing, interpolated from the members in `mask` (shares[i - 1] is member i's).
Elem reconstruct(const std::vector<Elem>& shares, unsigned mask) {
  Elem sum;
  for (unsigned i = 1; i <= shares.size(); ++i) {
    if (mask & (1u << (i - 1))) sum = sum + lagrange_at_zero(i, mask) * shares[i - 1];
  }
  return sum;
}

// A fresh Shamir sharing of the constant x with degree `degree` among m members.
std::vector<Elem> share(u128 x, unsigned degree, unsigned m) {
  std::vector<Elem> coeffs(degree + 1);
  coeffs[0] = Elem::constant(x);
  for (unsigned k = 1; k <= degree; ++k) coeffs[k] = random_elem();
  std::vector<Elem> out;
  for (unsigned i = 1; i <= m; ++i) {
    Elem y = coeffs[degree];
    for (unsigned k = degree; k-- > 0;) y = y * Elem::point(i) + coeffs[k];
    out.push_back(y);
  }
  return out;
}

Key32 random_key() {
  Key32 k;
  randombytes_buf(k.data(), k.size());
  return k;
}

// ---------------- ring helpers ----------------

TEST(DkgRing, EvenRootIsTheEvenOneOfAAndMinusOneMinusA) {
  for (int i = 0; i < 10000; ++i) {
    const u128 a = i == 0 ? 0 : i == 1 ? ~static_cast<u128>(0) : random128();
    const auto r = solve_even_root(a * a + a);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r & 1, 0u);
    EXPECT_TRUE(*r == a || *r == ~a) << "a root of x^2 + x = v that is neither a nor -1 - a";
    const auto bit = BitRecipe::of(a * a + a);
    ASSERT_TRUE(bit.has_value());
    EXPECT_EQ(bit->apply(Elem::constant(a)), Elem::constant(a & 1)) << "the recipe gives a mod 2";
  }
}

TEST(DkgRing, OddVHasNoRoot) {
  for (int i = 0; i < 1000; ++i) {
    const u128 v = random128() | 1;
    EXPECT_FALSE(solve_even_root(v).has_value());
    EXPECT_FALSE(BitRecipe::of(v).has_value());
  }
}

TEST(DkgRing, InverseOfOdd) {
  for (int i = 0; i < 1000; ++i) {
    const u128 a = random128() | 1;
    EXPECT_EQ(a * inverse_odd(a), static_cast<u128>(1));
  }
}

TEST(DkgRing, AdditiveFormsReconstructDegreeTwoDProducts) {
  for (unsigned m : {3u, 5u, 7u}) {
    const unsigned d = (m - 1) / 2;
    std::vector<LinearForm> ell;
    for (unsigned i = 1; i <= m; ++i) ell.push_back(additive_form(i, m));
    for (int trial = 0; trial < 50; ++trial) {
      const u128 x = random128(), y = random128(), z = random128();
      const auto sx = share(x, d, m), sy = share(y, d, m), sz = share(z, d, m);
      u128 linear = 0, product = 0;
      for (unsigned i = 0; i < m; ++i) {
        linear += ell[i](sz[i]);
        product += ell[i](sx[i] * sy[i] + sz[i]);
      }
      EXPECT_EQ(linear, z) << "m = " << m;
      EXPECT_EQ(product, x * y + z) << "m = " << m;
    }
  }
}

// ---------------- PRSS ----------------

struct PrssCommittee {
  unsigned m, d;
  std::map<std::uint16_t, Key32> keys;  // every set's key
  Hash32 session{};

  PrssCommittee(unsigned m_, unsigned d_) : m(m_), d(d_) {
    for (auto set : prss_sets(m, d)) keys[set] = random_key();
    randombytes_buf(session.data(), session.size());
  }
  std::vector<PrssKey> keys_of(unsigned id) const {
    std::vector<PrssKey> out;
    for (const auto& [set, key] : keys) {
      if (set & (1u << (id - 1))) out.push_back(PrssKey{set, key});
    }
    return out;
  }
  // Every member's shares of r_first .. r_(first + count - 1): out[c][i - 1].
  std::vector<std::vector<Elem>> shares(std::uint64_t first, std::size_t count) const {
    std::vector<std::vector<Elem>> out(count, std::vector<Elem>(m));
    for (unsigned i = 1; i <= m; ++i) {
      Prss prss(i, m, keys_of(i), session);
      std::vector<Elem> buf(count);
      prss.shares(first, count, buf.data());
      for (std::size_t c = 0; c < count; ++c) out[c][i - 1] = buf[c];
    }
    return out;
  }
  u128 value(std::uint64_t counter) const {
    u128 r = 0;
    for (const auto& [set, key] : keys) r += prss_prf(key, session, counter);
    return r;
  }
};

TEST(DkgPrss, SharesReconstructTheSumOfThePrfsFromAnyTMembers) {
  for (auto [m, d] : {std::pair{3u, 1u}, {5u, 2u}, {5u, 1u}, {7u, 3u}}) {
    const PrssCommittee c(m, d);
    const auto shares = c.shares(1000, 64);
    for (std::size_t k = 0; k < shares.size(); ++k) {
      const Elem expected = Elem::constant(c.value(1000 + k));
      for (unsigned mask = 1; mask <= all_mask(m); ++mask) {
        if (std::popcount(mask) != static_cast<int>(d + 1)) continue;
        ASSERT_EQ(reconstruct(shares[k], mask), expected) << "m " << m << " d " << d << " subset " << mask;
      }
    }
  }
}

TEST(DkgPrss, AnyDMembersSharesAreIndependentOfTheKeyTheyLack) {
  // The members of D hold every key but that of the set of the other m - d members; changing
  // that key changes the secret but not one share of D.
  for (auto [m, d] : {std::pair{3u, 1u}, {5u, 2u}}) {
    for (unsigned dmask = 1; dmask <= all_mask(m); ++dmask) {
      if (std::popcount(dmask) != static_cast<int>(d)) continue;
      PrssCommittee a(m, d);
      PrssCommittee b = a;
      const auto missing = static_cast<std::uint16_t>(all_mask(m) & ~dmask);
      b.keys[missing] = random_key();
      const auto sa = a.shares(0, 16), sb = b.shares(0, 16);
      for (std::size_t k = 0; k < 16; ++k) {
        for (unsigned i = 1; i <= m; ++i) {
          if (dmask & (1u << (i - 1))) {
            ASSERT_EQ(sa[k][i - 1], sb[k][i - 1]) << "member " << i << " of D";
          }
        }
        EXPECT_NE(a.value(k), b.value(k)) << "the secret must depend on the missing key";
      }
    }
  }
}

// ---------------- openings ----------------

// Contributions l_i(share) + masks of every member for `count` words: out[i - 1][k].
std::vector<std::vector<u128>> contributions(unsigned m, const std::vector<std::vector<Elem>>& shares,
                                             const std::vector<std::vector<Key32>>& pair_keys, const Hash32& session,
                                             std::uint32_t stream) {
  std::vector<std::vector<u128>> out(m);
  for (unsigned i = 1; i <= m; ++i) {
    const LinearForm ell = additive_form(i, m);
    for (const auto& s : shares) out[i - 1].push_back(ell(s[i - 1]));
    PairMasks masks(i, pair_keys[i - 1], session);
    masks.apply128(stream, 0, out[i - 1].data(), out[i - 1].size());
  }
  return out;
}

std::vector<std::vector<Key32>> pair_keys(unsigned m) {
  std::vector<std::vector<Key32>> keys(m, std::vector<Key32>(m));
  for (unsigned i = 0; i < m; ++i) {
    for (unsigned j = i + 1; j < m; ++j) keys[i][j] = keys[j][i] = random_key();
  }
  return keys;
}

TEST(DkgOpening, MaskedContributionsOfDegreeTwoDProductsSumToTheValue) {
  for (unsigned m : {3u, 5u, 7u}) {
    const unsigned d = (m - 1) / 2;
    std::vector<std::vector<Elem>> shares;
    std::vector<u128> values;
    for (int k = 0; k < 200; ++k) {
      const u128 x = random128(), y = random128();
      const auto sx = share(x, d, m), sy = share(y, d, m);
      std::vector<Elem> p(m);
      for (unsigned i = 0; i < m; ++i) p[i] = sx[i] * sy[i];
      shares.push_back(p);
      values.push_back(x * y);
    }
    Hash32 session{};
    randombytes_buf(session.data(), 32);
    const auto c = contributions(m, shares, pair_keys(m), session, 7);
    for (std::size_t k = 0; k < values.size(); ++k) {
      u128 sum = 0;
      for (unsigned i = 0; i < m; ++i) sum += c[i][k];
      ASSERT_EQ(sum, values[k]) << "m " << m << " word " << k;
    }
    // The slices of the kings cover every word once.
    std::uint64_t covered = 0;
    for (unsigned king = 1; king <= m; ++king) {
      const Range r = king_range(values.size(), m, king);
      EXPECT_EQ(r.first, covered);
      covered += r.count;
    }
    EXPECT_EQ(covered, values.size());
  }
}

TEST(DkgOpening, OneMembersContributionsLookUniform) {
  // Shares of zero that are all zero: without the masks every contribution would be 0.
  const unsigned m = 3;
  const std::size_t n = 1 << 14;
  std::vector<std::vector<Elem>> zeros(n, std::vector<Elem>(m));
  Hash32 session{};
  const auto c = contributions(m, zeros, pair_keys(m), session, 1);
  for (unsigned i = 0; i < m; ++i) {
    std::array<double, 16> buckets{};
    for (u128 w : c[i]) buckets[static_cast<unsigned>(w >> 124)] += 1;
    double chi2 = 0;
    const double expect = static_cast<double>(n) / 16;
    for (double b : buckets) chi2 += (b - expect) * (b - expect) / expect;
    // 15 degrees of freedom: P(chi2 > 50) < 1e-5.
    EXPECT_LT(chi2, 50) << "member " << i + 1 << "'s contributions are not uniform";
  }
}

// ---------------- bits and exact noise, through the primitives ----------------

// m members draw `count` shared bits: PRSS constants a, opened v = a^2 + a (contributions summed),
// bit shares from the recipe. out[k][i - 1].
std::vector<std::vector<Elem>> shared_bits(const PrssCommittee& c, std::uint64_t first, std::size_t count) {
  auto a = c.shares(first, count);
  std::vector<std::vector<Elem>> sq(count, std::vector<Elem>(c.m));
  for (std::size_t k = 0; k < count; ++k) {
    for (unsigned i = 0; i < c.m; ++i) sq[k][i] = a[k][i] * a[k][i] + a[k][i];
  }
  const auto contrib = contributions(c.m, sq, pair_keys(c.m), c.session, 1);
  for (std::size_t k = 0; k < count; ++k) {
    u128 v = 0;
    for (unsigned i = 0; i < c.m; ++i) v += contrib[i][k];
    const auto recipe = BitRecipe::of(v);
    EXPECT_TRUE(recipe.has_value());
    for (unsigned i = 0; i < c.m; ++i) a[k][i] = recipe->apply(a[k][i]);
  }
  return a;
}

TEST(DkgBits, HundredThousandBitsReconstructToZeroOrOneBalanced) {
  const PrssCommittee c(3, 1);
  const std::size_t n = 100000;
  std::size_t ones = 0;
  for (std::size_t first = 0; first < n; first += 10000) {
    const auto bits = shared_bits(c, first, 10000);
    for (const auto& b : bits) {
      const Elem v12 = reconstruct(b, 0b011), v23 = reconstruct(b, 0b110);
      ASSERT_EQ(v12, v23);
      ASSERT_TRUE(v12 == Elem::constant(0) || v12 == Elem::constant(1));
      ones += v12 == Elem::constant(1);
    }
  }
  // Binomial(1e5, 1/2): sd 158; 5 sd.
  EXPECT_NEAR(static_cast<double>(ones), n / 2.0, 5 * 158.0);
}

// Histogram (8 equal buckets over [-2^b, 2^b]) and variance of TUniform(b) made from shared bits.
void check_tuniform(unsigned b, std::size_t samples) {
  const PrssCommittee c(5, 2);
  const unsigned per = b + 2;
  std::vector<double> values;
  const std::size_t batch = 2000;
  for (std::size_t done = 0; done < samples; done += batch) {
    const auto bits = shared_bits(c, done * per, batch * per);
    for (std::size_t s = 0; s < batch; ++s) {
      std::vector<Elem> e(c.m);
      for (unsigned i = 0; i < c.m; ++i) {
        std::vector<Elem> mine(per);
        for (unsigned j = 0; j < per; ++j) mine[j] = bits[s * per + j][i];
        e[i] = tuniform_share(mine.data(), b);
      }
      const Elem v = reconstruct(e, 0b00111);
      ASSERT_EQ(v, reconstruct(e, 0b11100));
      for (int k = 1; k < 4; ++k) ASSERT_EQ(v.c[k], 0u);
      const auto x = static_cast<std::int64_t>(static_cast<std::uint64_t>(v.c[0]));
      ASSERT_EQ(v.c[0], static_cast<u128>(static_cast<i128>(x))) << "e does not fit 64 bits";
      ASSERT_LE(std::llabs(x), std::int64_t{1} << b);
      values.push_back(static_cast<double>(x));
    }
  }
  const double bound = std::ldexp(1.0, static_cast<int>(b));
  double var = 0;
  std::array<double, 8> buckets{};
  for (double x : values) {
    var += x * x;
    buckets[std::min<std::size_t>(7, static_cast<std::size_t>((x + bound) / (2 * bound) * 8))] += 1;
  }
  var /= static_cast<double>(values.size());
  const double expected = (std::ldexp(1.0, static_cast<int>(2 * b + 1)) + 1) / 6;
  EXPECT_NEAR(var / expected, 1.0, 0.05) << "TUniform(" << b << ") variance";
  for (double k : buckets) EXPECT_NEAR(k / (static_cast<double>(values.size()) / 8), 1.0, 0.05) << "TUniform(" << b << ")";
}

TEST(DkgNoise, ExactTUniform17FromBits) { check_tuniform(17, 50000); }
TEST(DkgNoise, ExactTUniform45FromBits) { check_tuniform(45, 50000); }

TEST(DkgNoise, TUniformFromPublicBitsMatchesTheDealersFormula) {
  // The same b + 2 bits give Csprng::tuniform's value: (r >> 1) + (r & 1) - 2^b.
  for (int trial = 0; trial < 1000; ++trial) {
    const unsigned b = 17;
    const std::uint64_t r = rng()() >> (64 - (b + 2));
    std::vector<Elem> bits(b + 2);
    for (unsigned j = 0; j < b + 2; ++j) bits[j] = Elem::constant((r >> j) & 1);
    const auto expected = static_cast<std::int64_t>((r >> 1) + (r & 1)) - (std::int64_t{1} << b);
    EXPECT_EQ(tuniform_share(bits.data(), b), Elem::constant(static_cast<u128>(static_cast<i128>(expected))));
  }
}

// ---------------- the codec ----------------

wire::Message sample_chunk() {
  static const Bytes words(32, 0xab);
  wire::Message m;
  m.session[0] = 1;
  m.round = wire::Round::kBitContributions;
  m.sender = 2;
  m.body = wire::Chunk{wire::Phase::kBits, wire::Direction::kContribution, 0, 5, 2, ByteView(words)};
  return m;
}

TEST(DkgWire, EveryMessageRoundTrips) {
  std::vector<wire::Message> all;
  wire::Message hello;
  hello.sender = 3;
  wire::Hello h;
  h.params = 0xF0;
  h.threshold = 2;
  h.coin[0] = 9;
  h.mask_key = Hash32{};
  h.prss_keys = {wire::PrssKey{0b011, {}}, wire::PrssKey{0b101, {}}};
  hello.body = h;
  all.push_back(hello);
  all.push_back(sample_chunk());
  for (auto r : {wire::Round::kConfirm, wire::Round::kSealed, wire::Round::kReady}) {
    wire::Message m;
    m.round = r;
    m.sender = 1;
    if (r == wire::Round::kConfirm) m.body = wire::Confirm{};
    if (r == wire::Round::kSealed) m.body = wire::Sealed{};
    if (r == wire::Round::kReady) m.body = wire::Ready{};
    all.push_back(m);
  }
  wire::Message abort;
  abort.sender = 4;
  abort.round = wire::Round::kBodyOpenings;
  abort.body = wire::Abort{2, 4, "member 2 went silent"};
  all.push_back(abort);
  for (const auto& m : all) {
    const Bytes bytes = wire::encode(m);
    auto back = wire::decode(bytes, kMaxMessageBytes);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(wire::encode(*back), bytes);
    EXPECT_EQ(dkg::fuzz::fuzz_one(bytes.data(), bytes.size()), 0);
  }
}

TEST(DkgWire, TruncationsAndLimitsAreRefused) {
  const Bytes bytes = wire::encode(sample_chunk());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(wire::decode(ByteView(bytes.data(), n), kMaxMessageBytes).ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_FALSE(wire::decode(bytes, bytes.size() - 1).ok());
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(wire::decode(longer, kMaxMessageBytes).ok());
}

TEST(DkgWire, BodyMustMatchItsRound) {
  auto m = sample_chunk();
  m.round = wire::Round::kBodyOpenings;
  EXPECT_FALSE(wire::decode(wire::encode(m), kMaxMessageBytes).ok());
  wire::Message c;
  c.round = wire::Round::kReady;
  c.sender = 1;
  c.body = wire::Confirm{};
  EXPECT_FALSE(wire::decode(wire::encode(c), kMaxMessageBytes).ok());
}

// ---------------- the member, in memory (harness: dkg_run.h) ----------------

std::vector<Elem> member_bits(DkgRun& run, std::size_t bit) {
  std::vector<Elem> out;
  for (auto& m : run.members) out.push_back(MemberTestAccess::bit_shares(m)[bit]);
  return out;
}

void check_bits(unsigned t, unsigned m) {
  DkgRun run(kParamInsecureTestOnly, t, m);
  for (auto& mb : run.members) MemberTestAccess::stop_after_bits(mb);
  run.start();
  ASSERT_TRUE(run.pump()) << run.failure->second.to_string();
  for (auto& mb : run.members) ASSERT_TRUE(MemberTestAccess::bits_done(mb)) << "member " << int(mb.id());
  const BitPlan& plan = MemberTestAccess::plan(run.members[0]);
  const unsigned first_t = (1u << t) - 1, last_t = all_mask(m) & ~((1u << (m - t)) - 1);
  std::size_t ones = 0;
  for (std::uint64_t k = 0; k < plan.total(); ++k) {
    const auto shares = member_bits(run, k);
    const Elem b = reconstruct(shares, first_t);
    ASSERT_EQ(b, reconstruct(shares, last_t)) << "bit " << k << ": the shares are not of degree t - 1";
    ASSERT_TRUE(b == Elem::constant(0) || b == Elem::constant(1)) << "bit " << k;
    ones += b == Elem::constant(1);
  }
  const double n = static_cast<double>(plan.total());
  EXPECT_NEAR(static_cast<double>(ones), n / 2, 5 * std::sqrt(n) / 2);
}

TEST(DkgMember, TwoOfThreeDrawsSharedBits) { check_bits(2, 3); }
TEST(DkgMember, ThreeOfFiveDrawsSharedBits) { check_bits(3, 5); }

TEST(DkgMember, RefusesBadConfigurations) {
  auto key = std::make_shared<threshold::MemberSecretKey>(threshold::MemberSecretKey::generate());
  std::vector<threshold::MemberPublicKey> pubs = {key->public_key()};
  for (int i = 0; i < 4; ++i) pubs.push_back(threshold::MemberSecretKey::generate().public_key());
  Config c{&kParamInsecureTestOnly, 4, pubs, key};  // 4 > (5 + 1) / 2
  EXPECT_EQ(Member::create(c).status().code(), StatusCode::kInvalidArgument);
  c.threshold = 3;
  EXPECT_TRUE(Member::create(c).ok());
  c.members.push_back(pubs[1]);
  EXPECT_FALSE(Member::create(c).ok()) << "a duplicate member";
  c.members = {pubs[1], pubs[2], pubs[3]};
  c.threshold = 2;
  EXPECT_FALSE(Member::create(c).ok()) << "self not a member";
}

// Runs a 2-of-3 DKG (R0..R2) with `tamper` applied to one message; expects every failure to
// name `culprit`.
void expect_blamed(std::function<bool(DkgRun&, Delivery&)> tamper, std::uint8_t culprit, const std::string& needle,
                   bool bits_only = true) {
  DkgRun run(kParamInsecureTestOnly, 2, 3);
  if (bits_only) {
    for (auto& mb : run.members) MemberTestAccess::stop_after_bits(mb);
  }
  // `tamper` returns true once it has changed a message; an emptied message is dropped.
  bool done = false;
  run.tamper = [&](Delivery& d) {
    if (done) return true;
    done = tamper(run, d);
    return !d.bytes.empty();
  };
  run.start();
  ASSERT_FALSE(run.pump()) << "the run should have aborted";
  const auto& [who, status] = *run.failure;
  EXPECT_EQ(run.member(who).blamed(), culprit) << status.to_string();
  EXPECT_NE(status.message().find("member " + std::to_string(culprit)), std::string::npos) << status.to_string();
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.to_string();
  // The abort travels: the others learn who is blamed.
  for (auto& o : run.member(who).abort_messages(culprit, status.message())) {
    if (o.to == culprit) continue;
    auto r = run.member(o.to).receive(who, o.bytes);
    if (!r.ok()) {
      EXPECT_EQ(run.member(o.to).blamed(), culprit) << r.status().to_string();
    }
  }
}

// Rewrites a message through decode/encode.
Bytes rewrite(const Bytes& bytes, const std::function<void(wire::Message&, Bytes&)>& f) {
  auto m = wire::decode(bytes, kMaxMessageBytes);
  EXPECT_TRUE(m.ok());
  Bytes words;
  if (auto* c = std::get_if<wire::Chunk>(&m->body)) words.assign(c->words.begin(), c->words.end());
  f(*m, words);
  if (auto* c = std::get_if<wire::Chunk>(&m->body)) c->words = ByteView(words);
  return wire::encode(*m);
}

wire::Round round_of(const Bytes& bytes) { return wire::decode(bytes, kMaxMessageBytes)->round; }

TEST(DkgMember, TruncatedMessageAbortsNamingTheSender) {
  expect_blamed(
      [](DkgRun&, Delivery& d) {
        if (d.from != 2 || round_of(d.bytes) != wire::Round::kBitContributions) return false;
        d.bytes.resize(d.bytes.size() - 7);
        return true;
      },
      2, "malformed");
}

TEST(DkgMember, ReorderedMessageAbortsNamingTheSender) {
  // Member 3's bit opening overtakes its own hello.
  expect_blamed(
      [](DkgRun& run, Delivery& d) {
        if (d.from != 3 || d.to != 1 || round_of(d.bytes) != wire::Round::kHello) return false;
        run.queue.push_back(d);  // the hello now goes last: its later messages arrive first
        d.bytes.clear();
        return true;
      },
      3, "reordered");
}

TEST(DkgMember, ForeignSessionAbortsNamingTheSender) {
  expect_blamed(
      [](DkgRun&, Delivery& d) {
        if (d.from != 1 || d.to != 2 || round_of(d.bytes) != wire::Round::kBitContributions) return false;
        d.bytes = rewrite(d.bytes, [](wire::Message& m, Bytes&) { m.session[5] ^= 1; });
        return true;
      },
      1, "another session");
}

TEST(DkgMember, OddOpeningAbortsNamingTheKing) {
  expect_blamed(
      [](DkgRun&, Delivery& d) {
        if (d.from != 3 || d.to != 1 || round_of(d.bytes) != wire::Round::kBitOpenings) return false;
        d.bytes = rewrite(d.bytes, [](wire::Message&, Bytes& words) { words[16 * 3] ^= 1; });
        return true;
      },
      3, "odd");
}

TEST(DkgMember, ReorderedBodyChunksAbortNamingTheSender) {
  // Member 2's first body contribution to member 1 is overtaken by its second.
  expect_blamed(
      [](DkgRun& run, Delivery& d) {
        if (d.from != 2 || d.to != 1 || round_of(d.bytes) != wire::Round::kBodyContributions) return false;
        run.queue.push_back(d);
        d.bytes.clear();
        return true;
      },
      2, "reordered", false);
}

TEST(DkgMember, ShortBodyOpeningAbortsNamingTheKing) {
  // A well-formed chunk that carries one word less than the slice needs.
  expect_blamed(
      [](DkgRun&, Delivery& d) {
        if (d.from != 3 || d.to != 2 || round_of(d.bytes) != wire::Round::kBodyOpenings) return false;
        d.bytes = rewrite(d.bytes, [](wire::Message& m, Bytes& words) {
          auto& c = std::get<wire::Chunk>(m.body);
          words.resize(words.size() - words.size() / c.count);
          c.count -= 1;
        });
        return true;
      },
      3, "truncated", false);
}

TEST(DkgMember, DifferentPublicFilesAreBlamedOnTheOddOneOut) {
  expect_blamed(
      [](DkgRun&, Delivery& d) {
        if (d.from != 2 || d.to != 1 || round_of(d.bytes) != wire::Round::kConfirm) return false;
        d.bytes = rewrite(d.bytes, [](wire::Message& m, Bytes&) { std::get<wire::Confirm>(m.body).squash_key[0] ^= 1; });
        return true;
      },
      2, "different public files", false);
}

TEST(DkgMember, HellosBeforeStartWait) {
  // Member 3 starts last, after the hellos of the others (which carry PRSS keys of sets whose
  // smallest member is 1 or 2) have reached it; it must send on only the keys it drew.
  DkgRun run(kParamInsecureTestOnly, 3, 5);
  for (std::uint8_t id : {1, 2, 4, 5}) {
    auto out = run.member(id).start();
    ASSERT_TRUE(out.ok());
    run.post(id, std::move(*out));
  }
  std::deque<Delivery> later;
  for (auto& d : run.queue) {
    if (d.to == 3) {
      auto r = run.member(3).receive(d.from, d.bytes);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_TRUE(r->empty());
    } else {
      later.push_back(std::move(d));
    }
  }
  run.queue = std::move(later);
  auto out = run.member(3).start();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  run.post(3, std::move(*out));
  ASSERT_TRUE(run.pump()) << run.failure->second.to_string();
  for (auto& mb : run.members) EXPECT_TRUE(mb.finished()) << "member " << int(mb.id());
}

TEST(DkgMember, WaitingOnNamesTheSilentMember) {
  // Member 3 goes silent after its hello: the others end up waiting on it alone, in the bit
  // contributions, which is whom the transport names when its round timeout fires.
  DkgRun run(kParamInsecureTestOnly, 2, 3);
  run.tamper = [](Delivery& d) { return d.from != 3 || round_of(d.bytes) == wire::Round::kHello; };
  run.start();
  ASSERT_TRUE(run.pump());
  for (std::uint8_t id : {1, 2}) {
    EXPECT_EQ(run.member(id).waiting_on(), std::vector<std::uint8_t>{3}) << "member " << int(id);
    EXPECT_EQ(run.member(id).round(), "bit contributions");
    EXPECT_FALSE(run.member(id).finished());
  }
}

TEST(DkgMember, WrongHelloFieldAbortsNamingTheSender) {
  // Member 1 gets member 2's hello rewritten to threshold 3.
  DkgRun run(kParamInsecureTestOnly, 2, 3);
  run.tamper = [](Delivery& d) {
    if (d.from == 2 && d.to == 1 && round_of(d.bytes) == wire::Round::kHello) {
      d.bytes = rewrite(d.bytes, [](wire::Message& m, Bytes&) { std::get<wire::Hello>(m.body).threshold = 3; });
    }
    return true;
  };
  run.start();
  ASSERT_FALSE(run.pump());
  EXPECT_EQ(run.failure->first, 1);
  EXPECT_EQ(run.member(1).blamed(), 2);
  EXPECT_NE(run.failure->second.message().find("member 2"), std::string::npos);
  EXPECT_NE(run.failure->second.message().find("threshold"), std::string::npos) << run.failure->second.to_string();
}

TEST(DkgMember, AMemberConfiguredDifferentlyIsNamedByTheOthers) {
  // The member with key 0 believes in 3 of 5, the others in 2 of 5: whoever hears its hello
  // first names it.
  DkgRun run(kParamInsecureTestOnly, 2, 5, {3, 2, 2, 2, 2});
  std::uint8_t odd = 0;
  for (auto& m : run.members) {
    if (m.member(m.id()) == run.keys[0]->public_key()) odd = m.id();
  }
  run.start();
  ASSERT_FALSE(run.pump());
  const auto& [who, status] = *run.failure;
  if (who != odd) {
    EXPECT_EQ(run.member(who).blamed(), odd) << status.to_string();
    EXPECT_NE(status.message().find("threshold"), std::string::npos) << status.to_string();
  } else {
    EXPECT_NE(status.message().find("threshold"), std::string::npos) << status.to_string();
  }
}

TEST(DkgMember, AReceivedAbortNamesItsOrigin) {
  {
    DkgRun run(kParamInsecureTestOnly, 2, 3);
    run.start();
    auto aborts = run.member(2).abort_messages(0, "operator cancelled the run");
    ASSERT_EQ(aborts.size(), 2u);
    const auto& to1 = aborts[0].to == 1 ? aborts[0] : aborts[1];
    auto r = run.member(1).receive(2, to1.bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(run.member(1).blamed(), 2);
    EXPECT_NE(r.status().message().find("member 2"), std::string::npos) << r.status().to_string();
    EXPECT_NE(r.status().message().find("operator cancelled the run"), std::string::npos);
    EXPECT_FALSE(run.member(1).receive(3, Bytes{}).ok()) << "a failed member stays failed";
  }
  {
    // Member 3 relays that member 2 went silent: member 1 blames 2 and says who reported it.
    DkgRun run(kParamInsecureTestOnly, 2, 3);
    run.start();
    auto aborts = run.member(3).abort_messages(2, "member 2 went silent in round bit contributions");
    const auto& to1 = aborts[0].to == 1 ? aborts[0] : aborts[1];
    auto r = run.member(1).receive(3, to1.bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(run.member(1).blamed(), 2);
    EXPECT_NE(r.status().message().find("member 3"), std::string::npos) << r.status().to_string();
    EXPECT_NE(r.status().message().find("reports"), std::string::npos) << r.status().to_string();
    EXPECT_NE(r.status().message().find("went silent"), std::string::npos);
  }
}

// ---------------- complete runs ----------------

TEST(DkgRunTest, TwoOfThreeGivesWorkingKeysEverywhere) { complete_run(kParamInsecureTestOnly, 2, 3, 2); }
TEST(DkgRunTest, ThreeOfFiveGivesWorkingKeysEverywhere) { complete_run(kParamInsecureTestOnly, 3, 5, 2); }

}  // namespace
}  // namespace veil::fhe::dkg
