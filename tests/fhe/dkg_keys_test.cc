// The DKG's key material (threshold/dkg_keys.h, docs/dkg.md sections 4 and 5), on its own: the
// test plays a dealer that draws binary s, z, w and exact noises, Shamir-shares them (degree
// t - 1) to m members, sums the members' contributions (no masks: they cancel by design) and
// checks the public files against the secrets it knows. Test parameters (INSECURE) in the unit
// build; the integration build (FHE_DEFAULT_PARAMS_SUITE, fhe_dkg_keys_default_test) runs the
// 2-of-3 committee on the default parameters, whose squashing key has k = 2 polynomials (the
// test set's has one): the only place the sum over mask polynomials of the 128-bit products runs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>

#include "api/impl.h"
#include "core/bootstrap.h"
#include "core/ntt128.h"
#include "core/squash.h"
#include "threshold/dkg_keys.h"
#include "threshold/galois_ring.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold::dkg_keys {
namespace {

using core::Torus;
using gr::Elem;
using gr::u128;
using i128 = core::i128;

#ifdef FHE_DEFAULT_PARAMS_SUITE
const Parameters& kParams = kParamMessage2Carry2KsPbsTUniform2M128;
#else
const Parameters& kParams = kParamInsecureTestOnly;
#endif

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

#ifndef FHE_DEFAULT_PARAMS_SUITE
// ----- the ring helpers -----

TEST(DkgRing, ConstantOfProductIsTheProductsConstantCoefficient) {
  for (int trial = 0; trial < 100; ++trial) {
    const Elem x = random_elem(), y = random_elem();
    EXPECT_TRUE(gr::constant_of_product(x)(y) == (x * y).c[0]);
  }
}

// f(0) from every member's point of a degree-d sharing (linear terms) and of the product of two
// such sharings (degree 2d <= m - 1), through l_i and the bilinear form.
TEST(DkgRing, AdditiveFormsReconstructLinearTermsAndProducts) {
  for (unsigned m : {3u, 5u, 7u}) {
    const unsigned d = (m - 1) / 2;
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<Elem> fx(d + 1), fy(d + 1);
      for (auto& c : fx) c = random_elem();
      for (auto& c : fy) c = random_elem();
      fx[0] = Elem::constant(random128());
      fy[0] = Elem::constant(random128());
      auto eval = [](const std::vector<Elem>& f, unsigned i) {
        Elem y = f.back();
        for (std::size_t k = f.size() - 1; k-- > 0;) y = y * Elem::point(i) + f[k];
        return y;
      };
      u128 sum_x = 0, sum_xy = 0;
      for (unsigned i = 1; i <= m; ++i) {
        const Elem xi = eval(fx, i), yi = eval(fy, i);
        sum_x += gr::additive_form(i, m)(xi);
        sum_xy += gr::product_form(gr::lagrange_all(i, m), xi)(yi);
      }
      EXPECT_TRUE(sum_x == fx[0].c[0]) << "m = " << m;
      EXPECT_TRUE(sum_xy == fx[0].c[0] * fy[0].c[0]) << "m = " << m;
      EXPECT_EQ(gr::low64(sum_xy), static_cast<std::uint64_t>(fx[0].c[0]) * static_cast<std::uint64_t>(fy[0].c[0]));
    }
  }
}

// The signed 64-bit forward transform the split products use equals the 128-bit one of the
// sign extensions (extremes included), for both sizes the parameter sets use.
TEST(DkgRing, ForwardI64MatchesForwardU128OfTheSignExtension) {
  for (std::size_t n : {512u, 2048u}) {
    const auto& ntt = core::ntt128_plan(n);
    std::vector<std::int64_t> in(n);
    for (auto& v : in) v = static_cast<std::int64_t>(rng()());
    in[0] = INT64_MIN;
    in[1] = INT64_MAX;
    in[2] = -1;
    in[3] = 0;
    in[4] = -static_cast<std::int64_t>(ntt.prime(0));  // a multiple of a prime: residue 0
    std::vector<u128> wide(n);
    for (std::size_t j = 0; j < n; ++j) wide[j] = static_cast<u128>(static_cast<i128>(in[j]));
    std::vector<std::uint64_t> a(ntt.words()), b(ntt.words());
    ntt.forward_i64(in.data(), a.data());
    ntt.forward_u128(wide.data(), b.data());
    EXPECT_EQ(a, b) << "n = " << n;
  }
}

#endif  // FHE_DEFAULT_PARAMS_SUITE

// ----- the test's dealer -----

struct Secrets {
  std::vector<Torus> s, z, w;  // key bits
  std::vector<std::int64_t> public_key_noise, server_ksk_noise, squash_ksk_noise;
};

std::vector<std::int64_t> exact_noise(const NoiseSpec& spec, core::Csprng& g) {
  std::vector<std::int64_t> out(spec.count);
  for (auto& e : out) e = static_cast<std::int64_t>(g.tuniform(spec.bound_log2));
  return out;
}

Secrets draw_secrets(const Parameters& p) {
  core::Csprng g(core::Csprng::os_seed());
  Secrets s;
  auto bits = [&](std::size_t n) {
    std::vector<Torus> b(n);
    for (auto& v : b) v = g.next_bit();
    return b;
  };
  s.s = bits(p.lwe_dimension);
  s.z = bits(p.big_lwe_dimension());
  s.w = bits(noise_squashing_for(p).output_dimension());
  s.public_key_noise = exact_noise(public_key_noise_spec(p), g);
  s.server_ksk_noise = exact_noise(server_ksk_noise_spec(p), g);
  s.squash_ksk_noise = exact_noise(squash_ksk_noise_spec(p), g);
  return s;
}

// Degree t - 1 Shamir sharing of the constant v to members 1..m (as threshold::deal shares).
std::vector<Elem> shamir(u128 v, unsigned t, unsigned m) {
  std::vector<Elem> coeffs(t);
  coeffs[0] = Elem::constant(v);
  for (unsigned k = 1; k < t; ++k) coeffs[k] = random_elem();
  std::vector<Elem> out(m);
  for (unsigned i = 1; i <= m; ++i) {
    Elem y = coeffs[t - 1];
    for (unsigned k = t - 1; k-- > 0;) y = y * Elem::point(i) + coeffs[k];
    out[i - 1] = y;
  }
  return out;
}

std::vector<MemberShares> deal_shares(const Secrets& s, unsigned t, unsigned m) {
  std::vector<MemberShares> out(m);
  auto share_all = [&](const auto& values, std::vector<Elem> MemberShares::*field) {
    for (auto& member : out) (member.*field).resize(values.size());
    for (std::size_t j = 0; j < values.size(); ++j) {
      // Noise values are two's-complement ring constants: -e is 2^128 - e.
      const u128 v = static_cast<u128>(static_cast<i128>(values[j]));
      const auto shares = shamir(v, t, m);
      for (unsigned i = 0; i < m; ++i) (out[i].*field)[j] = shares[i];
    }
  };
  share_all(s.s, &MemberShares::lwe);
  share_all(s.z, &MemberShares::glwe);
  share_all(s.w, &MemberShares::squash);
  share_all(s.public_key_noise, &MemberShares::public_key_noise);
  share_all(s.server_ksk_noise, &MemberShares::server_ksk_noise);
  share_all(s.squash_ksk_noise, &MemberShares::squash_ksk_noise);
  return out;
}

Seeds random_seeds() {
  return Seeds{core::Csprng::os_seed(), core::Csprng::os_seed(), core::Csprng::os_seed()};
}

struct DkgRun {
  unsigned t = 0, m = 0;
  Secrets secrets;
  std::vector<MemberShares> shares;
  Seeds seeds;
  Bodies opened;
  PublicFiles files;
};

// Every member contributes (`tamper` may change a member's shares first); the test sums them.
DkgRun run_dkg(unsigned t, unsigned m, const std::function<void(unsigned, MemberShares&)>& tamper = {}) {
  DkgRun r;
  r.t = t;
  r.m = m;
  r.secrets = draw_secrets(kParams);
  r.shares = deal_shares(r.secrets, t, m);
  r.seeds = random_seeds();
  r.opened = zero_bodies(kParams);
  for (unsigned id = 1; id <= m; ++id) {
    MemberShares mine = r.shares[id - 1];
    if (tamper) tamper(id, mine);
    auto c = contribute(kParams, r.seeds, id, m, mine, core::Csprng::os_seed());
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_TRUE(r.opened.add(*c).ok());
  }
  auto files = assemble(kParams, r.seeds, r.opened);
  EXPECT_TRUE(files.ok()) << files.status().to_string();
  r.files = std::move(files).value();
  return r;
}

// ----- checks against the secrets -----

struct NoiseStats {
  std::size_t wrong = 0;  // bodies whose noise exceeds the bound (or differs, for exact noise)
  std::size_t samples = 0;
  double sum = 0, sum_sq = 0;
  void add(double e) {
    ++samples;
    sum += e;
    sum_sq += e * e;
  }
  double variance() const { return sum_sq / static_cast<double>(samples) - (sum / samples) * (sum / samples); }
};

double tuniform_variance(unsigned b) { return (std::ldexp(1.0, 2 * static_cast<int>(b) + 1) + 1) / 6; }

// Public key: b - a z is exactly the dealt noise.
std::size_t public_key_wrong(const DkgRun& r) {
  const std::size_t n = kParams.big_lwe_dimension();
  core::Csprng mask(r.seeds.public_key, 3);
  std::vector<Torus> ct(2 * n);
  mask.fill_u64(ct.data(), n);
  std::copy(r.opened.public_key.begin(), r.opened.public_key.end(), ct.begin() + static_cast<std::ptrdiff_t>(n));
  const auto key = core::GlweSecretKey::from_bits(1, n, r.secrets.z);
  const auto phase = core::glwe_phase(ct.data(), key, core::fft_plan(n));
  std::size_t wrong = 0;
  for (std::size_t j = 0; j < n; ++j) wrong += phase[j] != static_cast<Torus>(r.secrets.public_key_noise[j]);
  return wrong;
}

// A key-switching key: every entry's phase is exactly z_i 2^(64 - (j+1) base_log) + e.
std::size_t ksk_wrong(const DkgRun& r, const core::Seed& seed, std::uint32_t stream, const std::vector<Torus>& bodies,
                      const std::vector<std::int64_t>& noise) {
  const std::size_t n = kParams.lwe_dimension, level = kParams.ks_level;
  core::Csprng mask(seed, stream);
  core::LweCiphertext ct(n);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kParams.big_lwe_dimension(); ++i) {
    for (std::size_t j = 0; j < level; ++j) {
      mask.fill_u64(ct.data.data(), n);
      ct.body() = bodies[i * level + j];
      const Torus pt = r.secrets.z[i] << (64 - (j + 1) * kParams.ks_base_log);
      wrong += core::lwe_phase(ct, r.secrets.s.data()) != pt + static_cast<Torus>(noise[i * level + j]);
    }
  }
  return wrong;
}

// Server bootstrapping key: GGSW(s_i) under z; noise of every row within m 2^17.
NoiseStats server_bsk_noise(const DkgRun& r) {
  const core::GgswShape shape{kParams.glwe_dimension, kParams.polynomial_size, kParams.pbs_base_log, kParams.pbs_level};
  const std::size_t k = shape.k, n = shape.n;
  const auto key = core::GlweSecretKey::from_bits(k, n, r.secrets.z);
  const auto bound = static_cast<std::int64_t>(r.m) << static_cast<int>(kParams.glwe_noise.value);
  core::Csprng mask(r.seeds.server_key, 1);
  std::vector<Torus> ct((k + 1) * n);
  NoiseStats st;
  for (std::size_t i = 0; i < kParams.lwe_dimension; ++i) {
    for (std::size_t c = 0; c <= k; ++c) {
      for (std::size_t j = 1; j <= shape.level; ++j) {
        const std::size_t row = i * shape.rows() + c * shape.level + (j - 1);
        mask.fill_u64(ct.data(), k * n);
        std::copy_n(r.opened.server_bsk.begin() + static_cast<std::ptrdiff_t>(row * n), n, ct.begin() + static_cast<std::ptrdiff_t>(k * n));
        const auto phase = core::glwe_phase(ct.data(), key, core::fft_plan(n));
        const Torus g = Torus{1} << (64 - j * shape.base_log);
        bool bad = false;
        for (std::size_t t = 0; t < n; ++t) {
          const Torus pt = c < k ? 0 - g * r.secrets.s[i] * r.secrets.z[c * n + t] : (t == 0 ? g * r.secrets.s[i] : 0);
          const auto e = static_cast<std::int64_t>(phase[t] - pt);
          bad |= e > bound || e < -bound;
          st.add(static_cast<double>(e));
        }
        st.wrong += bad;
      }
    }
  }
  return st;
}

// Squashing bootstrapping key: GGSW(s_i) under w modulo 2^128; noise within m 2^30.
NoiseStats squash_bsk_noise(const DkgRun& r) {
  const auto& q = noise_squashing_for(kParams);
  const core::GgswShape shape{q.glwe_dimension, q.polynomial_size, q.base_log, q.level};
  const std::size_t k = shape.k, n = shape.n;
  const auto key = core::GlweSecretKey128::from_bits(k, n, r.secrets.w);
  const i128 bound = static_cast<i128>(r.m) << q.glwe_noise_log2;
  NoiseStats st;
  std::vector<u128> ct((k + 1) * n);
  for (std::size_t i = 0; i < kParams.lwe_dimension; ++i) {
    core::Csprng mask(r.seeds.squash_key, 0x10000 + static_cast<std::uint32_t>(i));
    for (std::size_t c = 0; c <= k; ++c) {
      for (std::size_t j = 1; j <= shape.level; ++j) {
        const std::size_t row = i * shape.rows() + c * shape.level + (j - 1);
        for (std::size_t x = 0; x < k * n; ++x) {
          const std::uint64_t lo = mask.next_u64(), hi = mask.next_u64();
          ct[x] = (static_cast<u128>(hi) << 64) | lo;
        }
        std::copy_n(r.opened.squash_bsk.begin() + static_cast<std::ptrdiff_t>(row * n), n, ct.begin() + static_cast<std::ptrdiff_t>(k * n));
        const auto phase = core::glwe128_phase(ct.data(), key);
        const u128 g = static_cast<u128>(1) << (128 - j * shape.base_log);
        bool bad = false;
        for (std::size_t t = 0; t < n; ++t) {
          const u128 pt = c < k ? 0 - g * r.secrets.s[i] * r.secrets.w[c * n + t] : (t == 0 ? g * r.secrets.s[i] : 0);
          const auto e = static_cast<i128>(phase[t] - pt);
          bad |= e > bound || e < -bound;
          st.add(static_cast<double>(e));
        }
        st.wrong += bad;
      }
    }
  }
  return st;
}

// ----- the files through the engine's own loaders -----

struct Loaded {
  CompactPublicKey public_key;
  ServerKey server_key;
  SquashingKey squash_key;
  ClientKey client;  // from the test's s and z: validation only
};

Loaded load(const DkgRun& r) {
  auto pk = CompactPublicKey::deserialize(r.files.public_key);
  auto csk = CompressedServerKey::deserialize(r.files.server_key);
  auto sq = SquashingKey::deserialize(r.files.squash_key);
  EXPECT_TRUE(pk.ok()) << pk.status().to_string();
  EXPECT_TRUE(csk.ok()) << csk.status().to_string();
  EXPECT_TRUE(sq.ok()) << sq.status().to_string();
  // The files are in the serializers' exact format: loading and writing again gives the same bytes.
  EXPECT_EQ(pk->serialize(), r.files.public_key);
  EXPECT_EQ(csk->serialize(), r.files.server_key);
  EXPECT_EQ(sq->serialize(), r.files.squash_key);
  auto ck = shortint::ClientKey::from_parts(kParams, core::LweSecretKey{r.secrets.s},
                                            core::GlweSecretKey::from_bits(kParams.glwe_dimension, kParams.polynomial_size, r.secrets.z));
  return Loaded{*pk, csk->decompress(), *sq,
                detail::ClientKeyImpl::wrap(std::make_shared<detail::ClientKeyImpl>(detail::ClientKeyImpl{std::move(ck)}))};
}

struct ThresholdSetup {
  std::vector<MemberSecretKey> members;
  std::vector<KeyShare> shares;
  Committee committee;
};

// A committee whose key shares are the members' shares of w, with the assembled squash key.
ThresholdSetup committee_of(const DkgRun& r, const SquashingKey& squash_key) {
  ThresholdSetup c;
  c.committee.params = &kParams;
  c.committee.threshold = static_cast<std::uint8_t>(r.t);
  for (unsigned i = 0; i < r.m; ++i) {
    c.members.push_back(MemberSecretKey::generate());
    c.committee.members.push_back(c.members.back().public_key());
  }
  c.committee.squashing_key_hash = squash_key.hash();
  c.committee.share_hashes.resize(r.m);
  for (unsigned i = 0; i < r.m; ++i) {
    KeyShare s;
    s.committee = c.committee;
    s.member = static_cast<std::uint8_t>(i + 1);
    s.values = key_share_values(r.shares[i].squash);
    s.squashing_key = squash_key;
    c.shares.push_back(std::move(s));
  }
  return c;
}

// Threshold decryption by members 1..t (partial_decrypt squashes with the assembled key).
Result<CombineResult> threshold_decrypt(const ThresholdSetup& c, const EncryptedValue& value) {
  const auto request = DecryptionRequest::for_value(value, "dkg test", "dkg_keys_test");
  std::vector<DecryptionShare> partials;
  for (unsigned i = 0; i < c.committee.threshold; ++i) {
    VEIL_ASSIGN_OR_RETURN(auto s, partial_decrypt(c.shares[i], c.members[i], request, value));
    partials.push_back(std::move(s));
  }
  return combine(c.committee, request, partials);
}

class DkgKeys : public ::testing::TestWithParam<std::pair<unsigned, unsigned>> {};

TEST_P(DkgKeys, EveryBodyDecryptsToItsPlaintextWithTheDesignedNoise) {
  const auto [t, m] = GetParam();
  const DkgRun r = run_dkg(t, m);
  EXPECT_EQ(public_key_wrong(r), 0u) << "public key noise is not exactly the dealt noise";
  EXPECT_EQ(ksk_wrong(r, r.seeds.server_key, 2, r.opened.server_ksk, r.secrets.server_ksk_noise), 0u);
  EXPECT_EQ(ksk_wrong(r, r.seeds.squash_key, 0x5100, r.opened.squash_ksk, r.secrets.squash_ksk_noise), 0u);
  // Bootstrapping keys: m local TUniform samples per coefficient, so the variance is m times
  // one sample's (131,072 and 589,824 samples: the 5 % band is > 10 standard errors wide).
  const NoiseStats server = server_bsk_noise(r);
  EXPECT_EQ(server.wrong, 0u);
  const double want_server = m * tuniform_variance(static_cast<unsigned>(kParams.glwe_noise.value));
  EXPECT_NEAR(server.variance() / want_server, 1.0, 0.05) << "server BSK noise variance";
  const NoiseStats squash = squash_bsk_noise(r);
  EXPECT_EQ(squash.wrong, 0u);
  const double want_squash = m * tuniform_variance(noise_squashing_for(kParams).glwe_noise_log2);
  EXPECT_NEAR(squash.variance() / want_squash, 1.0, 0.05) << "squash BSK noise variance";
}

TEST_P(DkgKeys, PublicKeyServerKeyAndThresholdDecryptionWork) {
  const auto [t, m] = GetParam();
  const DkgRun r = run_dkg(t, m);
  const Loaded keys = load(r);
  const auto committee = committee_of(r, keys.squash_key);
  const std::uint64_t x = rng()() & 0xffff, y = rng()() & 0xffff;
  const auto a = FheUint16::encrypt(x, keys.public_key);
  const auto b = FheUint16::encrypt(y, keys.public_key);
  const auto sum = a.add(b, keys.server_key);
  const auto ge = a.ge(b, keys.server_key);
  EXPECT_EQ(sum.decrypt(keys.client), (x + y) & 0xffff);
  EXPECT_EQ(ge.decrypt(keys.client), x >= y);
  auto got = threshold_decrypt(committee, EncryptedValue::of(sum));
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->value, (x + y) & 0xffff);
  EXPECT_TRUE(got->wrong.empty());
  auto got_ge = threshold_decrypt(committee, EncryptedValue::of(ge));
  ASSERT_TRUE(got_ge.ok()) << got_ge.status().to_string();
  EXPECT_EQ(got_ge->value, x >= y ? 1u : 0u);
}

#ifdef FHE_DEFAULT_PARAMS_SUITE
const auto kCommittees = ::testing::Values(std::pair{2u, 3u});
#else
const auto kCommittees = ::testing::Values(std::pair{2u, 3u}, std::pair{3u, 5u});
#endif
INSTANTIATE_TEST_SUITE_P(Committees, DkgKeys, kCommittees, [](const auto& info) {
  return std::to_string(info.param.first) + "of" + std::to_string(info.param.second);
});

#ifndef FHE_DEFAULT_PARAMS_SUITE
// A member whose share of one bit of s is off makes that bit's GGSWs fail to decrypt, and one
// whose share of a bit of w is off makes threshold decryption fail: the checks above can fail.
TEST(DkgKeysWrongShare, AWrongShareOfSBreaksThatBitsGgsws) {
  const DkgRun r = run_dkg(2, 3, [](unsigned id, MemberShares& s) {
    if (id == 2) s.lwe[5] = s.lwe[5] + random_elem();
  });
  EXPECT_EQ(public_key_wrong(r), 0u);
  EXPECT_GT(ksk_wrong(r, r.seeds.server_key, 2, r.opened.server_ksk, r.secrets.server_ksk_noise), 0u);
  EXPECT_GT(server_bsk_noise(r).wrong, 0u);
  EXPECT_GT(squash_bsk_noise(r).wrong, 0u);
}

TEST(DkgKeysWrongShare, AWrongShareOfWMakesThresholdDecryptionFail) {
  const DkgRun r = run_dkg(2, 3, [](unsigned id, MemberShares& s) {
    if (id == 3) s.squash[0] = s.squash[0] + random_elem();
  });
  EXPECT_EQ(server_bsk_noise(r).wrong, 0u);  // only the squashing key is affected
  EXPECT_GT(squash_bsk_noise(r).wrong, 0u);
  const Loaded keys = load(r);
  const auto committee = committee_of(r, keys.squash_key);
  const std::uint64_t x = 1234;
  const auto v = FheUint16::encrypt(x, keys.public_key).add(FheUint16::encrypt(1, keys.public_key), keys.server_key);
  EXPECT_EQ(v.decrypt(keys.client), x + 1);  // the 64-bit keys are right
  auto got = threshold_decrypt(committee, EncryptedValue::of(v));
  EXPECT_TRUE(!got.ok() || got->value != x + 1) << "decrypted correctly through a squashing key made with a wrong share";
}

// ----- argument checks -----

TEST(DkgKeysArguments, WrongIdsMembersAndShapesAreRefused) {
  const Secrets s = draw_secrets(kParams);
  const auto shares = deal_shares(s, 2, 3);
  const Seeds seeds = random_seeds();
  const auto noise_seed = core::Csprng::os_seed();
  EXPECT_EQ(contribute(kParams, seeds, 0, 3, shares[0], noise_seed).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(contribute(kParams, seeds, 4, 3, shares[0], noise_seed).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(contribute(kParams, seeds, 1, 1, shares[0], noise_seed).status().code(), StatusCode::kInvalidArgument);
  MemberShares short_glwe = shares[0];
  short_glwe.glwe.pop_back();
  auto bad = contribute(kParams, seeds, 1, 3, short_glwe, noise_seed);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("GLWE key z"), std::string::npos) << bad.status().message();
  Bodies wrong = zero_bodies(kParams);
  wrong.squash_bsk.pop_back();
  EXPECT_EQ(assemble(kParams, seeds, wrong).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(wrong.add(zero_bodies(kParams)).ok());
}

TEST(DkgKeysArguments, NoiseSpecsMatchTheDealersDistributions) {
  const auto& p = kParamMessage2Carry2KsPbsTUniform2M128;
  EXPECT_EQ(public_key_noise_spec(p).count, 2048u);
  EXPECT_EQ(public_key_noise_spec(p).bound_log2, 17u);
  EXPECT_EQ(server_ksk_noise_spec(p).count, 8192u);
  EXPECT_EQ(server_ksk_noise_spec(p).bound_log2, 45u);
  EXPECT_EQ(squash_ksk_noise_spec(p).count, 8192u);
  const Bodies b = zero_bodies(p);
  EXPECT_EQ(b.server_bsk.size(), 3'760'128u);  // docs/dkg.md section 1
  EXPECT_EQ(b.squash_bsk.size(), 16'920'576u);
}

#endif  // FHE_DEFAULT_PARAMS_SUITE

}  // namespace
}  // namespace veil::fhe::threshold::dkg_keys
