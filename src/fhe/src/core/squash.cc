#include "core/squash.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cassert>

#include "core/ntt128_avx512.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe::core {
namespace {

// Mask streams of the squashing key's seed: the KSK draws from one stream in entry order; GGSW
// i of the bootstrapping key from its own stream, so GGSWs can be generated in parallel.
constexpr std::uint32_t kKskStream = 0x5100;
constexpr std::uint32_t kBskStreamBase = 0x10000;

u128 sign_extend(Torus x) { return static_cast<u128>(static_cast<i128>(static_cast<std::int64_t>(x))); }

void fill_u128(Csprng& g, u128* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t lo = g.next_u64();
    const std::uint64_t hi = g.next_u64();
    out[i] = (static_cast<u128>(hi) << 64) | lo;
  }
}

struct Scratch128 {
  AlignedVector<u128> diff;           // (k+1) * N
  AlignedVector<std::uint64_t> fdig;  // (k+1) * level transforms
};

Scratch128& scratch() {
  thread_local Scratch128 s;
  return s;
}

}  // namespace

GlweSecretKey128 GlweSecretKey128::from_bits(std::size_t k, std::size_t n, std::vector<Torus> bits) {
  GlweSecretKey128 key;
  key.k = k;
  key.n = n;
  key.bits = std::move(bits);
  const Ntt128& ntt = ntt128_plan(n);
  key.ntt.resize(k * ntt.words());
  std::vector<std::int32_t> tmp(n);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < n; ++j) tmp[j] = static_cast<std::int32_t>(key.bits[i * n + j]);
    ntt.forward_i32(tmp.data(), key.ntt.data() + i * ntt.words());
    ntt.to_montgomery(key.ntt.data() + i * ntt.words());
  }
  sodium_memzero(tmp.data(), tmp.size() * sizeof(std::int32_t));
  return key;
}

GlweSecretKey128 GlweSecretKey128::generate(std::size_t k, std::size_t n, Csprng& secret) {
  std::vector<Torus> bits(k * n);
  for (auto& b : bits) b = secret.next_bit();
  return from_bits(k, n, std::move(bits));
}

void GlweSecretKey128::wipe() {
  if (!bits.empty()) sodium_memzero(bits.data(), bits.size() * sizeof(Torus));
  if (!ntt.empty()) sodium_memzero(ntt.data(), ntt.size() * sizeof(std::uint64_t));
}

void glwe128_encrypt(u128* out, const GlweSecretKey128& key, const u128* pt, unsigned noise_log2, Csprng& mask,
                     Csprng& noise) {
  const std::size_t k = key.k, n = key.n;
  const Ntt128& ntt = ntt128_plan(n);
  fill_u128(mask, out, k * n);
  u128* body = out + k * n;
  for (std::size_t j = 0; j < n; ++j) body[j] = sign_extend(noise.tuniform(noise_log2)) + (pt != nullptr ? pt[j] : 0);
  std::vector<std::uint64_t> fa(ntt.words());
  std::vector<u128> acc(ntt.words(), 0);
  for (std::size_t i = 0; i < k; ++i) {
    ntt.forward_u128(out + i * n, fa.data());
    ntt.mul_acc(acc.data(), fa.data(), key.ntt.data() + i * ntt.words());
  }
  ntt.backward(acc.data(), body, true);
}

std::vector<u128> glwe128_phase(const u128* ct, const GlweSecretKey128& key) {
  const std::size_t k = key.k, n = key.n;
  const Ntt128& ntt = ntt128_plan(n);
  std::vector<std::uint64_t> fa(ntt.words());
  std::vector<u128> acc(ntt.words(), 0), dot(n, 0);
  for (std::size_t i = 0; i < k; ++i) {
    ntt.forward_u128(ct + i * n, fa.data());
    ntt.mul_acc(acc.data(), fa.data(), key.ntt.data() + i * ntt.words());
  }
  ntt.backward(acc.data(), dot.data(), false);
  std::vector<u128> phase(n);
  for (std::size_t j = 0; j < n; ++j) phase[j] = ct[k * n + j] - dot[j];
  return phase;
}

u128 lwe128_phase(const Lwe128& ct, const Torus* key_bits) {
  u128 dot = 0;
  for (std::size_t i = 0; i < ct.dimension(); ++i) dot += key_bits[i] ? ct.data[i] : 0;
  return ct.body() - dot;
}

void decompose128(u128 x, std::size_t base_log, std::size_t level, std::int32_t* digits) {
  const unsigned shift = 128 - static_cast<unsigned>(base_log * level);
  const std::uint64_t mask = (std::uint64_t{1} << base_log) - 1;
  u128 state = ((x >> (shift - 1)) + 1) >> 1;  // round to the kept bits
  // Without branches (the top digit bit of random words is a coin flip): a digit >= B/2
  // becomes digit - B and carries one into the next.
  for (std::size_t j = level; j-- > 0;) {
    const std::uint64_t digit = static_cast<std::uint64_t>(state) & mask;
    const std::uint64_t carry = digit >> (base_log - 1);
    digits[j] = static_cast<std::int32_t>(static_cast<std::int64_t>(digit) - static_cast<std::int64_t>(carry << base_log));
    state = (state >> base_log) + carry;
  }
}

void decompose128_poly(const u128* poly, std::size_t n, std::size_t base_log, std::size_t level,
                       std::int32_t* digits) {
  static const bool vector = ntt128_avx512::available();
  if (vector && n % ntt128_avx512::kLanes == 0 && base_log <= 31) {
    ntt128_avx512::decompose(reinterpret_cast<const std::uint64_t*>(poly), n, static_cast<unsigned>(base_log),
                             level, digits);
    return;
  }
  std::int32_t coef[16];
  for (std::size_t i = 0; i < n; ++i) {
    decompose128(poly[i], base_log, level, coef);
    for (std::size_t j = 0; j < level; ++j) digits[j * n + i] = coef[j];
  }
}

void poly128_rotate(u128* out, const u128* in, std::size_t n, std::size_t t) { negacyclic_rotate(out, in, n, t); }

void sample_extract128(Lwe128& out, const u128* glwe, std::size_t k, std::size_t n, std::size_t index) {
  out.data.resize(k * n + 1);
  extract_coefficient(out.data.data(), glwe, k, n, index);
}

std::size_t SquashBootstrapKey::ggsw_words() const {
  return shape.rows() * (shape.k + 1) * ntt128_plan(shape.n).words();
}

void ggsw128_encrypt(u128* out, const GgswShape& shape, const GlweSecretKey128& key, Torus mu, unsigned noise_log2,
                     Csprng& mask, Csprng& noise) {
  const std::size_t k = shape.k, n = shape.n;
  std::vector<u128> pt(n);
  for (std::size_t c = 0; c <= k; ++c) {
    for (std::size_t j = 1; j <= shape.level; ++j) {
      const u128 scaled = static_cast<u128>(mu) << (128 - j * shape.base_log);
      if (c < k) {
        for (std::size_t t = 0; t < n; ++t) pt[t] = key.bits[c * n + t] ? 0 - scaled : 0;
      } else {
        std::fill(pt.begin(), pt.end(), 0);
        pt[0] = scaled;
      }
      const std::size_t row = c * shape.level + (j - 1);
      glwe128_encrypt(out + row * (k + 1) * n, key, pt.data(), noise_log2, mask, noise);
    }
  }
}

void ggsw128_to_ntt(std::uint64_t* out, const u128* standard, const GgswShape& shape) {
  const Ntt128& ntt = ntt128_plan(shape.n);
  const std::size_t polys = shape.rows() * (shape.k + 1);
  for (std::size_t p = 0; p < polys; ++p) {
    ntt.forward_u128(standard + p * shape.n, out + p * ntt.words());
    ntt.to_montgomery(out + p * ntt.words());
  }
}

void cmux128_rotate(u128* acc, const std::uint64_t* ggsw, const GgswShape& shape, std::size_t t, bool spread) {
  if (t == 0) return;
  const std::size_t k = shape.k, n = shape.n, level = shape.level;
  const Ntt128& ntt = ntt128_plan(n);
  const std::size_t w = ntt.words();
  // Rows (k+1) * level <= Ntt128::kMaxAccumulate: one reduction per output at the end.
  assert((k + 1) * level <= Ntt128::kMaxAccumulate);
  Scratch128& s = scratch();
  s.diff.resize((k + 1) * n);
  s.fdig.resize((k + 1) * level * w);
  for (std::size_t c = 0; c <= k; ++c) {
    u128* d = s.diff.data() + c * n;
    poly128_rotate(d, acc + c * n, n, t);
    for (std::size_t i = 0; i < n; ++i) d[i] -= acc[c * n + i];
  }
  // One squash of a single block (a decision) would use one core: when spread, the k+1
  // decompositions and transforms, then the k+1 outputs, run on the shared pool.
  u128* diff = s.diff.data();
  std::uint64_t* fdig = s.fdig.data();
  auto for_each_column = [spread, k](const std::function<void(std::size_t)>& fn) {
    if (spread) return ThreadPool::shared().parallel_for(0, k + 1, fn);
    for (std::size_t c = 0; c <= k; ++c) fn(c);
  };
  for_each_column([&](std::size_t c) {
    thread_local AlignedVector<std::int32_t> digits;
    digits.resize(level * n);
    decompose128_poly(diff + c * n, n, shape.base_log, level, digits.data());
    for (std::size_t j = 0; j < level; ++j) ntt.forward_i32(digits.data() + j * n, fdig + (c * level + j) * w);
  });
  for_each_column([&](std::size_t o) {
    // Row r of the GGSW times digit transform r, summed over the rows, for output column o.
    ntt.product_sum(fdig, w, ggsw + o * w, (k + 1) * w, (k + 1) * level, acc + o * n, true);
  });
}

namespace {
// The accumulator before the first CMUX: the table rotated by the switched body. Returns the
// switched input, whose mask drives the CMUXes.
SwitchedLwe start_blind_rotation(u128* acc, const SquashBootstrapKey& bsk, const LweCiphertext& input,
                                 const u128* lut) {
  const std::size_t k = bsk.shape.k, n = bsk.shape.n;
  const std::size_t log2_2n = static_cast<std::size_t>(std::countr_zero(n)) + 1;
  SwitchedLwe switched = modswitch_centred(input, log2_2n);
  std::fill(acc, acc + k * n, 0);
  poly128_rotate(acc + k * n, lut, n, (2 * n - switched.body) % (2 * n));
  return switched;
}
}  // namespace

void blind_rotate128(u128* acc, const SquashBootstrapKey& bsk, const LweCiphertext& input, const u128* lut,
                     bool spread) {
  const SwitchedLwe switched = start_blind_rotation(acc, bsk, input, lut);
  for (std::size_t i = 0; i < bsk.input_lwe_dimension; ++i) {
    cmux128_rotate(acc, bsk.ggsw(i), bsk.shape, switched.mask[i], spread);
  }
}

void blind_rotate128_lockstep(const std::vector<u128*>& accs, const SquashBootstrapKey& bsk,
                              const std::vector<const LweCiphertext*>& inputs,
                              const std::vector<const u128*>& luts) {
  std::vector<SwitchedLwe> switched;
  for (std::size_t b = 0; b < accs.size(); ++b)
    switched.push_back(start_blind_rotation(accs[b], bsk, *inputs[b], luts[b]));
  for (std::size_t i = 0; i < bsk.input_lwe_dimension; ++i) {
    for (std::size_t b = 0; b < accs.size(); ++b)
      cmux128_rotate(accs[b], bsk.ggsw(i), bsk.shape, switched[b].mask[i], false);
  }
}

u128 NoiseSquashingKey::delta() const { return (static_cast<u128>(1) << 127) / params->plaintext_modulus(); }

NoiseSquashingKey NoiseSquashingKey::generate(const Parameters& params, const LweSecretKey& small,
                                              const LweSecretKey& big, const GlweSecretKey128& out) {
  NoiseSquashingKey key;
  key.params = &params;
  key.squashing = noise_squashing_for(params);
  key.seed = Csprng::os_seed();
  const GgswShape shape{key.squashing.glwe_dimension, key.squashing.polynomial_size, key.squashing.base_log, key.squashing.level};
  {
    Csprng noise(Csprng::os_seed());
    Csprng mask(key.seed, kKskStream);
    key.ksk = generate_ksk(big, small, params.ks_base_log, params.ks_level, params.lwe_noise, mask, noise);
    const std::size_t stride = key.ksk.output_dimension + 1;
    const std::size_t entries = key.ksk.data.size() / stride;
    key.ksk_bodies.resize(entries);
    for (std::size_t e = 0; e < entries; ++e) key.ksk_bodies[e] = key.ksk.data[e * stride + key.ksk.output_dimension];
  }
  const std::size_t dim = small.dimension(), n = shape.n, k = shape.k;
  key.bsk.input_lwe_dimension = dim;
  key.bsk.shape = shape;
  const std::size_t gw = key.bsk.ggsw_words();
  key.bsk.data.resize(dim * gw);
  key.bsk_bodies.resize(dim * shape.rows() * n);
  ThreadPool::shared().parallel_for(0, dim, [&](std::size_t i) {
    std::vector<u128> standard(shape.standard_words());
    Csprng mask(key.seed, kBskStreamBase + static_cast<std::uint32_t>(i));
    Csprng noise(Csprng::os_seed());
    ggsw128_encrypt(standard.data(), shape, out, small.bits[i], key.squashing.glwe_noise_log2, mask, noise);
    for (std::size_t r = 0; r < shape.rows(); ++r) {
      std::copy_n(standard.data() + (r * (k + 1) + k) * n, n, key.bsk_bodies.data() + (i * shape.rows() + r) * n);
    }
    ggsw128_to_ntt(key.bsk.data.data() + i * gw, standard.data(), shape);
  });
  return key;
}

NoiseSquashingKey NoiseSquashingKey::expand(const Parameters& params, const Seed& seed, std::vector<Torus> ksk_bodies,
                                            std::vector<u128> bsk_bodies) {
  NoiseSquashingKey key;
  key.params = &params;
  key.squashing = noise_squashing_for(params);
  key.seed = seed;
  key.ksk_bodies = std::move(ksk_bodies);
  key.bsk_bodies = std::move(bsk_bodies);
  key.ksk.input_dimension = params.big_lwe_dimension();
  key.ksk.output_dimension = params.lwe_dimension;
  key.ksk.base_log = params.ks_base_log;
  key.ksk.level = params.ks_level;
  {
    Csprng mask(seed, kKskStream);
    const std::size_t stride = key.ksk.output_dimension + 1;
    const std::size_t entries = key.ksk.input_dimension * key.ksk.level;
    key.ksk.data.resize(entries * stride);
    for (std::size_t e = 0; e < entries; ++e) {
      mask.fill_u64(key.ksk.data.data() + e * stride, key.ksk.output_dimension);
      key.ksk.data[e * stride + key.ksk.output_dimension] = key.ksk_bodies[e];
    }
  }
  const GgswShape shape{key.squashing.glwe_dimension, key.squashing.polynomial_size, key.squashing.base_log, key.squashing.level};
  const std::size_t dim = params.lwe_dimension, n = shape.n, k = shape.k;
  key.bsk.input_lwe_dimension = dim;
  key.bsk.shape = shape;
  const std::size_t gw = key.bsk.ggsw_words();
  key.bsk.data.resize(dim * gw);
  ThreadPool::shared().parallel_for(0, dim, [&](std::size_t i) {
    std::vector<u128> standard(shape.standard_words());
    Csprng mask(seed, kBskStreamBase + static_cast<std::uint32_t>(i));
    for (std::size_t r = 0; r < shape.rows(); ++r) {
      u128* glwe = standard.data() + r * (k + 1) * n;
      fill_u128(mask, glwe, k * n);
      std::copy_n(key.bsk_bodies.data() + (i * shape.rows() + r) * n, n, glwe + k * n);
    }
    ggsw128_to_ntt(key.bsk.data.data() + i * gw, standard.data(), shape);
  });
  return key;
}

std::vector<u128> NoiseSquashingKey::lut(const std::function<u128(std::uint64_t)>& f) const {
  const std::size_t n = bsk.shape.n;
  const std::size_t box = n / params->plaintext_modulus();
  std::vector<u128> out(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::size_t t = j + box / 2;
    out[j] = t < n ? f(t / box) : 0 - f(0);
  }
  return out;
}

Lwe128 NoiseSquashingKey::squash(const LweCiphertext& block, const std::vector<u128>& lut, bool spread) const {
  const std::size_t n = bsk.shape.n, k = bsk.shape.k;
  LweCiphertext small;
  keyswitch(ksk, block, small);
  AlignedVector<u128> acc((k + 1) * n);
  blind_rotate128(acc.data(), bsk, small, lut.data(), spread);
  Lwe128 out;
  sample_extract128(out, acc.data(), k, n, 0);
  return out;
}

std::vector<Lwe128> NoiseSquashingKey::squash_lockstep(
    const std::vector<const LweCiphertext*>& blocks,
    const std::vector<const std::vector<u128>*>& luts) const {
  const std::size_t n = bsk.shape.n, k = bsk.shape.k;
  std::vector<LweCiphertext> small(blocks.size());
  std::vector<AlignedVector<u128>> accs(blocks.size(), AlignedVector<u128>((k + 1) * n));
  std::vector<u128*> acc_ptrs;
  std::vector<const LweCiphertext*> inputs;
  std::vector<const u128*> tables;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    keyswitch(ksk, *blocks[b], small[b]);
    acc_ptrs.push_back(accs[b].data());
    inputs.push_back(&small[b]);
    tables.push_back(luts[b]->data());
  }
  blind_rotate128_lockstep(acc_ptrs, bsk, inputs, tables);
  std::vector<Lwe128> out(blocks.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) sample_extract128(out[b], accs[b].data(), k, n, 0);
  return out;
}

Lwe128 NoiseSquashingKey::squash(const LweCiphertext& block) const {
  const u128 d = delta();
  return squash(block, lut([d](std::uint64_t v) { return static_cast<u128>(v) * d; }));
}

}  // namespace veil::fhe::core
