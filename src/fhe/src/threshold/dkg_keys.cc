// The DKG's key material: a member's additive contribution to every public body, and the
// public files from the opened bodies. See dkg_keys.h and docs/dkg.md section 4 (L3, L4).
#include "threshold/dkg_keys.h"

#include <sodium.h>

#include <memory>
#include <string>

#include "api/impl.h"
#include "core/bootstrap.h"
#include "core/csprng.h"
#include "core/lwe.h"
#include "core/ntt128.h"
#include "core/squash.h"
#include "shortint/public_key.h"
#include "shortint/shortint.h"
#include "threshold/internal.h"
#include "veil/common/thread_pool.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold::dkg_keys {
namespace {

using core::Torus;
using gr::Elem;
using gr::LinearForm;

// Mask streams of the dealer's code, which the decompressors regenerate: they must stay equal
// to shortint/public_key.cc (kPublicMaskStream), shortint/shortint.cc (kBskStream,
// kKskStream) and core/squash.cc (kKskStream, kBskStreamBase). The end-to-end test
// (tests/fhe/dkg_keys_test.cc) decrypts through the real decompressors, so a drift fails it.
constexpr std::uint32_t kPublicKeyStream = 3;
constexpr std::uint32_t kServerBskStream = 1;
constexpr std::uint32_t kServerKskStream = 2;
constexpr std::uint32_t kSquashKskStream = 0x5100;
constexpr std::uint32_t kSquashBskStreamBase = 0x10000;
// Streams of the member's private noise seed: one generator per GGSW so GGSWs run in parallel.
constexpr std::uint32_t kLocalServerBskBase = 1u << 20;
constexpr std::uint32_t kLocalSquashBskBase = 2u << 20;

u128 sign_extend(std::uint64_t x) { return static_cast<u128>(static_cast<core::i128>(static_cast<std::int64_t>(x))); }

template <class T>
void wipe(std::vector<T>& v) {
  if (!v.empty()) sodium_memzero(v.data(), v.size() * sizeof(T));
}

// ----- exact negacyclic products with a fixed secret polynomial -----
//
// The secret side (an additive share of a key polynomial) is transformed once per member; each
// public mask is transformed as it comes. Integers stay far inside the NTT's exact range
// (Ntt128::kExactBoundLog2 = 178): k N 2^63 2^63 <= 2^139 for every product below.

// Transform, in Montgomery form, of n words read as signed 64-bit integers.
std::vector<std::uint64_t> transform64(const core::Ntt128& ntt, const std::uint64_t* poly) {
  std::vector<std::int64_t> in(ntt.n());
  for (std::size_t j = 0; j < in.size(); ++j) in[j] = static_cast<std::int64_t>(poly[j]);
  std::vector<std::uint64_t> out(ntt.words());
  ntt.forward_i64(in.data(), out.data());
  ntt.to_montgomery(out.data());
  wipe(in);
  return out;
}

struct ProductScratch {
  std::vector<std::int64_t> lo, hi;
  std::vector<u128> acc, acc_cross, result;
  std::vector<std::uint64_t> fa, fa_hi;
  void size(const core::Ntt128& ntt) {
    lo.resize(ntt.n());
    hi.resize(ntt.n());
    result.resize(ntt.n());
    acc.resize(ntt.words());
    acc_cross.resize(ntt.words());
    fa.resize(ntt.words());
    fa_hi.resize(ntt.words());
  }
};
ProductScratch& product_scratch() {
  thread_local ProductScratch s;
  return s;
}

// out[n] += sum_{c<k} masks_c * keys_c mod (X^n + 1, 2^64); keys: k transform64() results.
void add_products64(const core::Ntt128& ntt, const std::uint64_t* masks, const std::vector<std::uint64_t>& keys,
                    std::size_t k, std::uint64_t* out) {
  const std::size_t n = ntt.n(), w = ntt.words();
  ProductScratch& s = product_scratch();
  s.size(ntt);
  std::fill(s.acc.begin(), s.acc.end(), 0);
  for (std::size_t c = 0; c < k; ++c) {
    for (std::size_t j = 0; j < n; ++j) s.lo[j] = static_cast<std::int64_t>(masks[c * n + j]);
    ntt.forward_i64(s.lo.data(), s.fa.data());
    ntt.mul_acc(s.acc.data(), s.fa.data(), keys.data() + c * w);
  }
  ntt.backward(s.acc.data(), s.result.data(), false);
  for (std::size_t j = 0; j < n; ++j) out[j] += static_cast<std::uint64_t>(s.result[j]);
}

// A 128-bit secret polynomial split as v = lo + 2^64 hi with lo, hi signed 64-bit, each half
// transformed: a v mod 2^128 = a_lo v_lo + 2^64 (a_lo v_hi + a_hi v_lo), and every one of
// those integer products is exact.
struct Split128 {
  std::vector<std::uint64_t> lo, hi;  // k transforms each
  void wipe() {
    dkg_keys::wipe(lo);
    dkg_keys::wipe(hi);
  }
};

void split(u128 v, std::uint64_t& lo, std::uint64_t& hi) {
  lo = static_cast<std::uint64_t>(v);
  hi = static_cast<std::uint64_t>((v - sign_extend(lo)) >> 64);
}

Split128 transform128(const core::Ntt128& ntt, const u128* poly, std::size_t k) {
  const std::size_t n = ntt.n(), w = ntt.words();
  Split128 out;
  out.lo.resize(k * w);
  out.hi.resize(k * w);
  std::vector<std::uint64_t> lo(n), hi(n);
  for (std::size_t c = 0; c < k; ++c) {
    for (std::size_t j = 0; j < n; ++j) split(poly[c * n + j], lo[j], hi[j]);
    auto tl = transform64(ntt, lo.data());
    auto th = transform64(ntt, hi.data());
    std::copy(tl.begin(), tl.end(), out.lo.begin() + static_cast<std::ptrdiff_t>(c * w));
    std::copy(th.begin(), th.end(), out.hi.begin() + static_cast<std::ptrdiff_t>(c * w));
    wipe(tl);
    wipe(th);
  }
  wipe(lo);
  wipe(hi);
  return out;
}

// out[n] += sum_{c<k} masks_c * keys_c mod (X^n + 1, 2^128).
void add_products128(const core::Ntt128& ntt, const u128* masks, const Split128& keys, std::size_t k, u128* out) {
  const std::size_t n = ntt.n(), w = ntt.words();
  // 2k point-wise products accumulate into the cross sum before one reduction.
  static_assert(core::Ntt128::kMaxAccumulate >= 2 * 7, "k <= 7 squashing polynomials");
  ProductScratch& s = product_scratch();
  s.size(ntt);
  std::fill(s.acc.begin(), s.acc.end(), 0);
  std::fill(s.acc_cross.begin(), s.acc_cross.end(), 0);
  for (std::size_t c = 0; c < k; ++c) {
    std::uint64_t lo = 0, hi = 0;
    for (std::size_t j = 0; j < n; ++j) {
      split(masks[c * n + j], lo, hi);
      s.lo[j] = static_cast<std::int64_t>(lo);
      s.hi[j] = static_cast<std::int64_t>(hi);
    }
    ntt.forward_i64(s.lo.data(), s.fa.data());
    ntt.forward_i64(s.hi.data(), s.fa_hi.data());
    ntt.mul_acc(s.acc.data(), s.fa.data(), keys.lo.data() + c * w);
    ntt.mul_acc(s.acc_cross.data(), s.fa.data(), keys.hi.data() + c * w);
    ntt.mul_acc(s.acc_cross.data(), s.fa_hi.data(), keys.lo.data() + c * w);
  }
  ntt.backward(s.acc.data(), out, true);
  ntt.backward(s.acc_cross.data(), s.result.data(), false);
  for (std::size_t j = 0; j < n; ++j) out[j] += s.result[j] << 64;
}

// ----- the member's additive view of the secrets -----

struct MemberView {
  Elem lambda;       // lagrange_all(id, m)
  LinearForm form;   // l_id
  std::vector<u128> s, z, w;  // additive shares of the key bits: l_id([x]_id)

  MemberView(unsigned id, unsigned m, const MemberShares& shares)
      : lambda(gr::lagrange_all(id, m)), form(gr::additive_form(id, m)) {
    auto apply = [&](const std::vector<Elem>& in) {
      std::vector<u128> out(in.size());
      for (std::size_t i = 0; i < in.size(); ++i) out[i] = form(in[i]);
      return out;
    };
    s = apply(shares.lwe);
    z = apply(shares.glwe);
    w = apply(shares.squash);
  }
  ~MemberView() {
    sodium_memzero(&lambda, sizeof lambda);
    wipe(s);
    wipe(z);
    wipe(w);
  }
  MemberView(const MemberView&) = delete;
  MemberView& operator=(const MemberView&) = delete;

  // l_id([x] * [y]) for every y: the additive shares of the products x y_t.
  template <class W>
  void products(const Elem& x, const std::vector<Elem>& ys, std::vector<W>& out) const {
    const LinearForm f = gr::product_form(lambda, x);
    out.resize(ys.size());
    for (std::size_t t = 0; t < ys.size(); ++t) out[t] = static_cast<W>(f(ys[t]));
  }
  std::uint64_t noise64(const Elem& e) const { return gr::low64(form(e)); }
};

std::vector<std::uint64_t> low_halves(const std::vector<u128>& v) {
  std::vector<std::uint64_t> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = gr::low64(v[i]);
  return out;
}

// b = a z + e (core: CompactPublicKey::generate), negacyclic over the flat big key.
void public_key_bodies(const Parameters& p, const Seeds& seeds, const MemberView& me, const MemberShares& shares,
                       std::vector<std::uint64_t>& out) {
  const std::size_t n = p.big_lwe_dimension();
  const core::Ntt128& ntt = core::ntt128_plan(n);
  std::vector<std::uint64_t> z = low_halves(me.z);
  auto z_ntt = transform64(ntt, z.data());
  core::Csprng mask(seeds.public_key, kPublicKeyStream);
  std::vector<std::uint64_t> a(n);
  mask.fill_u64(a.data(), n);
  for (std::size_t j = 0; j < n; ++j) out[j] = me.noise64(shares.public_key_noise[j]);
  add_products64(ntt, a.data(), z_ntt, 1, out.data());
  wipe(z);
  wipe(z_ntt);
}

// Entry (i, j) = <a, s> + e + z_i 2^(64 - (j+1) base_log) (core::generate_ksk: big key -> small key).
void ksk_bodies(const Parameters& p, const core::Seed& seed, std::uint32_t stream, const MemberView& me,
                const std::vector<Elem>& noise, std::vector<std::uint64_t>& out) {
  const std::size_t n = p.lwe_dimension, big = p.big_lwe_dimension(), level = p.ks_level;
  std::vector<std::uint64_t> s = low_halves(me.s);
  core::Csprng mask(seed, stream);
  std::vector<std::uint64_t> a(n);
  for (std::size_t i = 0; i < big; ++i) {
    const std::uint64_t z = gr::low64(me.z[i]);
    for (std::size_t j = 0; j < level; ++j) {
      const std::size_t e = i * level + j;
      mask.fill_u64(a.data(), n);
      std::uint64_t body = me.noise64(noise[e]) + (z << (64 - (j + 1) * p.ks_base_log));
      for (std::size_t t = 0; t < n; ++t) body += a[t] * s[t];
      out[e] = body;
    }
  }
  wipe(s);
}

// GGSW(s_i) under z (core::ggsw_encrypt): row (c, j) has body
// a . z + e + (c < k ? -g_j s_i z_c : g_j s_i X^0), g_j = 2^(64 - j base_log).
void server_bsk_bodies(const Parameters& p, const Seeds& seeds, const MemberView& me, const MemberShares& shares,
                       const std::array<std::uint8_t, 32>& local_noise_seed, std::vector<std::uint64_t>& out) {
  const core::GgswShape shape{p.glwe_dimension, p.polynomial_size, p.pbs_base_log, p.pbs_level};
  const std::size_t k = shape.k, n = shape.n, rows = shape.rows(), dim = p.lwe_dimension;
  const core::Ntt128& ntt = core::ntt128_plan(n);
  std::vector<std::uint64_t> z_ntt(k * ntt.words());
  {
    std::vector<std::uint64_t> z = low_halves(me.z);
    for (std::size_t c = 0; c < k; ++c) {
      auto t = transform64(ntt, z.data() + c * n);
      std::copy(t.begin(), t.end(), z_ntt.begin() + static_cast<std::ptrdiff_t>(c * ntt.words()));
      wipe(t);
    }
    wipe(z);
  }
  // The dealer draws every GGSW's masks from one stream in order: regenerate them all first
  // (default parameters: 30 MB), then work on the GGSWs in parallel.
  std::vector<std::uint64_t> masks(dim * rows * k * n);
  {
    core::Csprng mask(seeds.server_key, kServerBskStream);
    mask.fill_u64(masks.data(), masks.size());
  }
  ThreadPool::shared().parallel_for(0, dim, [&](std::size_t i) {
    thread_local std::vector<std::uint64_t> sz;  // l([s_i] [z_t]) for every t
    me.products(shares.lwe[i], shares.glwe, sz);
    const std::uint64_t s = gr::low64(me.s[i]);
    core::Csprng noise(local_noise_seed, kLocalServerBskBase + static_cast<std::uint32_t>(i));
    for (std::size_t c = 0; c <= k; ++c) {
      for (std::size_t j = 1; j <= shape.level; ++j) {
        const std::size_t r = c * shape.level + (j - 1);
        std::uint64_t* body = out.data() + (i * rows + r) * n;
        add_products64(ntt, masks.data() + (i * rows + r) * k * n, z_ntt, k, body);
        for (std::size_t t = 0; t < n; ++t) body[t] += noise.noise(p.glwe_noise);
        const std::uint64_t g = std::uint64_t{1} << (64 - j * shape.base_log);
        if (c < k) {
          for (std::size_t t = 0; t < n; ++t) body[t] -= g * sz[c * n + t];
        } else {
          body[0] += g * s;
        }
      }
    }
    wipe(sz);
  });
  wipe(z_ntt);
}

// GGSW(s_i) under w modulo 2^128 (core::ggsw128_encrypt), GGSW i's masks on stream
// 0x10000 + i (two u64 per word, low half first), g_j = 2^(128 - j base_log).
void squash_bsk_bodies(const Parameters& p, const Seeds& seeds, const MemberView& me, const MemberShares& shares,
                       const std::array<std::uint8_t, 32>& local_noise_seed, std::vector<u128>& out) {
  const auto& q = noise_squashing_for(p);
  const core::GgswShape shape{q.glwe_dimension, q.polynomial_size, q.base_log, q.level};
  const std::size_t k = shape.k, n = shape.n, rows = shape.rows(), dim = p.lwe_dimension;
  const core::Ntt128& ntt = core::ntt128_plan(n);
  Split128 w_ntt = transform128(ntt, me.w.data(), k);
  ThreadPool::shared().parallel_for(0, dim, [&](std::size_t i) {
    thread_local std::vector<u128> sw;     // l([s_i] [w_t]) for every t
    thread_local std::vector<u128> masks;  // one row's k mask polynomials
    me.products(shares.lwe[i], shares.squash, sw);
    masks.resize(k * n);
    core::Csprng mask(seeds.squash_key, kSquashBskStreamBase + static_cast<std::uint32_t>(i));
    core::Csprng noise(local_noise_seed, kLocalSquashBskBase + static_cast<std::uint32_t>(i));
    for (std::size_t c = 0; c <= k; ++c) {
      for (std::size_t j = 1; j <= shape.level; ++j) {
        const std::size_t r = c * shape.level + (j - 1);
        for (auto& m : masks) {
          const std::uint64_t lo = mask.next_u64();
          const std::uint64_t hi = mask.next_u64();
          m = (static_cast<u128>(hi) << 64) | lo;
        }
        u128* body = out.data() + (i * rows + r) * n;
        add_products128(ntt, masks.data(), w_ntt, k, body);
        for (std::size_t t = 0; t < n; ++t) body[t] += sign_extend(noise.tuniform(q.glwe_noise_log2));
        const u128 g = static_cast<u128>(1) << (128 - j * shape.base_log);
        if (c < k) {
          for (std::size_t t = 0; t < n; ++t) body[t] -= g * sw[c * n + t];
        } else {
          body[0] += g * me.s[i];
        }
      }
    }
    wipe(sw);
  });
  w_ntt.wipe();
}

Status size_is(const char* what, std::size_t got, std::size_t want, const Parameters& p) {
  if (got == want) return {};
  return invalid_argument(std::string("DKG key material: ") + what + " has " + std::to_string(got) + " values, parameter set " +
                          std::string(p.name) + " needs " + std::to_string(want));
}

}  // namespace

// ---------------- shapes ----------------

NoiseSpec public_key_noise_spec(const Parameters& params) {
  return {params.big_lwe_dimension(), static_cast<unsigned>(params.glwe_noise.value)};
}
NoiseSpec server_ksk_noise_spec(const Parameters& params) {
  return {params.big_lwe_dimension() * params.ks_level, static_cast<unsigned>(params.lwe_noise.value)};
}
NoiseSpec squash_ksk_noise_spec(const Parameters& params) { return server_ksk_noise_spec(params); }

Status check_shapes(const Parameters& p, const MemberShares& s) {
  VEIL_RETURN_IF_ERROR(size_is("the small key s", s.lwe.size(), p.lwe_dimension, p));
  VEIL_RETURN_IF_ERROR(size_is("the GLWE key z", s.glwe.size(), p.big_lwe_dimension(), p));
  VEIL_RETURN_IF_ERROR(size_is("the squashing key w", s.squash.size(), noise_squashing_for(p).output_dimension(), p));
  VEIL_RETURN_IF_ERROR(size_is("the public key noise", s.public_key_noise.size(), public_key_noise_spec(p).count, p));
  VEIL_RETURN_IF_ERROR(size_is("the server KSK noise", s.server_ksk_noise.size(), server_ksk_noise_spec(p).count, p));
  return size_is("the squash KSK noise", s.squash_ksk_noise.size(), squash_ksk_noise_spec(p).count, p);
}

void MemberShares::wipe() {
  for (auto* v : {&lwe, &glwe, &squash, &public_key_noise, &server_ksk_noise, &squash_ksk_noise}) dkg_keys::wipe(*v);
}

namespace {
// Word counts of the five objects, in Bodies' field order.
std::array<std::size_t, 5> body_sizes(const Parameters& p) {
  const auto& q = noise_squashing_for(p);
  const core::GgswShape server{p.glwe_dimension, p.polynomial_size, p.pbs_base_log, p.pbs_level};
  const core::GgswShape squash{q.glwe_dimension, q.polynomial_size, q.base_log, q.level};
  return {p.big_lwe_dimension(), p.lwe_dimension * server.rows() * server.n, p.big_lwe_dimension() * p.ks_level,
          p.big_lwe_dimension() * p.ks_level, p.lwe_dimension * squash.rows() * squash.n};
}
}  // namespace

Bodies zero_bodies(const Parameters& p) {
  const auto sizes = body_sizes(p);
  Bodies b;
  b.public_key.assign(sizes[0], 0);
  b.server_bsk.assign(sizes[1], 0);
  b.server_ksk.assign(sizes[2], 0);
  b.squash_ksk.assign(sizes[3], 0);
  b.squash_bsk.assign(sizes[4], 0);
  return b;
}

bool has_shapes(const Parameters& p, const Bodies& b) {
  const auto sizes = body_sizes(p);
  return b.public_key.size() == sizes[0] && b.server_bsk.size() == sizes[1] && b.server_ksk.size() == sizes[2] &&
         b.squash_ksk.size() == sizes[3] && b.squash_bsk.size() == sizes[4];
}

Status Bodies::add(const Bodies& o) {
  if (public_key.size() != o.public_key.size() || server_bsk.size() != o.server_bsk.size() ||
      server_ksk.size() != o.server_ksk.size() || squash_ksk.size() != o.squash_ksk.size() ||
      squash_bsk.size() != o.squash_bsk.size()) {
    return invalid_argument("DKG bodies of different shapes cannot be added");
  }
  auto sum = [](auto& a, const auto& b) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  };
  sum(public_key, o.public_key);
  sum(server_bsk, o.server_bsk);
  sum(server_ksk, o.server_ksk);
  sum(squash_ksk, o.squash_ksk);
  sum(squash_bsk, o.squash_bsk);
  return {};
}

void Bodies::wipe() {
  dkg_keys::wipe(public_key);
  dkg_keys::wipe(server_bsk);
  dkg_keys::wipe(server_ksk);
  dkg_keys::wipe(squash_ksk);
  dkg_keys::wipe(squash_bsk);
}

// ---------------- contribution ----------------

Result<Bodies> contribute(const Parameters& params, const Seeds& seeds, unsigned id, unsigned member_count,
                          const MemberShares& shares, const std::array<std::uint8_t, 32>& local_noise_seed) {
  if (member_count < 2 || member_count > kMaxMembers) {
    return invalid_argument("DKG key material: " + std::to_string(member_count) + " members (2.." +
                            std::to_string(kMaxMembers) + ")");
  }
  if (id == 0 || id > member_count) {
    return invalid_argument("DKG key material: member id " + std::to_string(id) + " outside 1.." +
                            std::to_string(member_count));
  }
  VEIL_RETURN_IF_ERROR(check_shapes(params, shares));
  const MemberView me(id, member_count, shares);
  Bodies out = zero_bodies(params);
  public_key_bodies(params, seeds, me, shares, out.public_key);
  ksk_bodies(params, seeds.server_key, kServerKskStream, me, shares.server_ksk_noise, out.server_ksk);
  ksk_bodies(params, seeds.squash_key, kSquashKskStream, me, shares.squash_ksk_noise, out.squash_ksk);
  server_bsk_bodies(params, seeds, me, shares, local_noise_seed, out.server_bsk);
  squash_bsk_bodies(params, seeds, me, shares, local_noise_seed, out.squash_bsk);
  return out;
}

// ---------------- the public files ----------------

Result<PublicFiles> assemble(const Parameters& params, const Seeds& seeds, Bodies opened) {
  if (!has_shapes(params, opened)) {
    return invalid_argument("DKG key material: the opened bodies do not have the shapes of parameter set " +
                            std::string(params.name));
  }
  PublicFiles files;
  {
    auto pk = shortint::CompactPublicKey::from_seed_and_body(params, seeds.public_key, std::move(opened.public_key));
    files.public_key =
        detail::PublicKeyImpl::wrap(std::make_shared<detail::PublicKeyImpl>(detail::PublicKeyImpl{std::move(pk)})).serialize();
  }
  {
    shortint::CompressedServerKey sk;
    sk.params = &params;
    sk.seed = seeds.server_key;
    sk.bsk_bodies = std::move(opened.server_bsk);
    sk.ksk_bodies = std::move(opened.server_ksk);
    files.server_key = detail::CompressedServerKeyImpl::wrap(
                           std::make_shared<detail::CompressedServerKeyImpl>(detail::CompressedServerKeyImpl{std::move(sk)}))
                           .serialize();
  }
  {
    // Serialization reads the seed and bodies only: the key is not expanded here (1.2 GB for
    // the default parameters); SquashingKey::deserialize expands it where it is used.
    auto impl = std::make_shared<SquashingKeyImpl>();
    impl->key.params = &params;
    impl->key.squashing = noise_squashing_for(params);
    impl->key.seed = seeds.squash_key;
    impl->key.ksk_bodies = std::move(opened.squash_ksk);
    impl->key.bsk_bodies = std::move(opened.squash_bsk);
    SquashingKey key;
    key.impl_ = std::move(impl);
    files.squash_key = key.serialize();
  }
  return files;
}

std::vector<std::uint64_t> key_share_values(const std::vector<gr::Elem>& squash_shares) {
  std::vector<std::uint64_t> values(squash_shares.size() * 2 * gr::kDegree);
  for (std::size_t j = 0; j < squash_shares.size(); ++j) {
    for (int c = 0; c < gr::kDegree; ++c) {
      values[(j * gr::kDegree + static_cast<std::size_t>(c)) * 2] = static_cast<std::uint64_t>(squash_shares[j].c[c]);
      values[(j * gr::kDegree + static_cast<std::size_t>(c)) * 2 + 1] =
          static_cast<std::uint64_t>(squash_shares[j].c[c] >> 64);
    }
  }
  return values;
}

}  // namespace veil::fhe::threshold::dkg_keys
