#include "core/lwe.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace veil::fhe::core {

LweSecretKey LweSecretKey::generate(std::size_t n, Csprng& secret) {
  LweSecretKey key;
  key.bits.resize(n);
  for (auto& b : key.bits) b = secret.next_bit();
  return key;
}

GlweSecretKey GlweSecretKey::from_bits(std::size_t k, std::size_t n, std::vector<Torus> bits) {
  GlweSecretKey key;
  key.k = k;
  key.n = n;
  key.bits = std::move(bits);
  key.fft.resize(k * n);
  const Fft& fft = fft_plan(n);
  std::vector<std::int32_t> tmp(n);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < n; ++j) tmp[j] = static_cast<std::int32_t>(key.bits[i * n + j]);
    fft.forward_i32(tmp.data(), key.fft.data() + i * n);
  }
  return key;
}

GlweSecretKey GlweSecretKey::generate(std::size_t k, std::size_t n, Csprng& secret) {
  std::vector<Torus> bits(k * n);
  for (auto& b : bits) b = secret.next_bit();
  return from_bits(k, n, std::move(bits));
}

Torus closest_representable(Torus x, std::size_t base_log, std::size_t level) {
  const unsigned kept = static_cast<unsigned>(base_log * level);
  const unsigned shift = 64 - kept;
  const Torus rounded = ((x >> (shift - 1)) + 1) >> 1;
  return rounded << shift;  // the carry out of the top wraps, as on the torus
}

void decompose(Torus x, std::size_t base_log, std::size_t level, std::int32_t* digits) {
  const unsigned shift = 64 - static_cast<unsigned>(base_log * level);
  const Torus mask = (Torus{1} << base_log) - 1;
  const Torus half = Torus{1} << (base_log - 1);
  Torus state = ((x >> (shift - 1)) + 1) >> 1;
  for (std::size_t j = level; j-- > 0;) {
    Torus digit = state & mask;
    state >>= base_log;
    if (digit >= half) {
      digits[j] = static_cast<std::int32_t>(static_cast<std::int64_t>(digit) - static_cast<std::int64_t>(mask + 1));
      state += 1;
    } else {
      digits[j] = static_cast<std::int32_t>(digit);
    }
  }
}

void lwe_encrypt(LweCiphertext& out, const Torus* key, std::size_t n, Torus pt,
                 const NoiseDistribution& dist, Csprng& mask, Csprng& noise) {
  out.data.resize(n + 1);
  mask.fill_u64(out.data.data(), n);
  Torus body = pt + noise.noise(dist);
  for (std::size_t i = 0; i < n; ++i) body += out.data[i] * key[i];
  out.data[n] = body;
}

Torus lwe_phase(const LweCiphertext& ct, const Torus* key) {
  Torus dot = 0;
  const std::size_t n = ct.dimension();
  for (std::size_t i = 0; i < n; ++i) dot += ct.data[i] * key[i];
  return ct.body() - dot;
}

LweCiphertext lwe_trivial(std::size_t n, Torus pt) {
  LweCiphertext ct(n);
  ct.body() = pt;
  return ct;
}

void lwe_add_assign(LweCiphertext& a, const LweCiphertext& b) {
  assert(a.data.size() == b.data.size());
  for (std::size_t i = 0; i < a.data.size(); ++i) a.data[i] += b.data[i];
}
void lwe_sub_assign(LweCiphertext& a, const LweCiphertext& b) {
  assert(a.data.size() == b.data.size());
  for (std::size_t i = 0; i < a.data.size(); ++i) a.data[i] -= b.data[i];
}
void lwe_neg_assign(LweCiphertext& a) {
  for (auto& v : a.data) v = 0 - v;
}
void lwe_mul_scalar_assign(LweCiphertext& a, std::uint64_t scalar) {
  for (auto& v : a.data) v *= scalar;
}

void glwe_encrypt(Torus* out, const GlweSecretKey& key, const Torus* pt, const NoiseDistribution& dist,
                  Csprng& mask, Csprng& noise, const Fft& fft) {
  const std::size_t k = key.k, n = key.n;
  mask.fill_u64(out, k * n);
  Torus* body = out + k * n;
  for (std::size_t j = 0; j < n; ++j) body[j] = noise.noise(dist) + (pt != nullptr ? pt[j] : 0);
  for (std::size_t i = 0; i < k; ++i) fft.mul_exact(out + i * n, key.fft.data() + i * n, body, true);
}

std::vector<Torus> glwe_phase(const Torus* ct, const GlweSecretKey& key, const Fft& fft) {
  const std::size_t k = key.k, n = key.n;
  std::vector<Torus> dot(n, 0);
  for (std::size_t i = 0; i < k; ++i) fft.mul_exact(ct + i * n, key.fft.data() + i * n, dot.data(), true);
  std::vector<Torus> phase(n);
  for (std::size_t j = 0; j < n; ++j) phase[j] = ct[k * n + j] - dot[j];
  return phase;
}

void poly_rotate(Torus* out, const Torus* in, std::size_t n, std::size_t t) { negacyclic_rotate(out, in, n, t); }

void sample_extract(LweCiphertext& out, const Torus* glwe, std::size_t k, std::size_t n, std::size_t index) {
  out.data.resize(k * n + 1);
  extract_coefficient(out.data.data(), glwe, k, n, index);
}

KeySwitchKey generate_ksk(const LweSecretKey& input, const LweSecretKey& output, std::size_t base_log,
                          std::size_t level, const NoiseDistribution& dist, Csprng& mask, Csprng& noise) {
  KeySwitchKey ksk;
  ksk.input_dimension = input.dimension();
  ksk.output_dimension = output.dimension();
  ksk.base_log = base_log;
  ksk.level = level;
  const std::size_t stride = ksk.output_dimension + 1;
  ksk.data.resize(ksk.input_dimension * level * stride);
  LweCiphertext tmp;
  for (std::size_t i = 0; i < ksk.input_dimension; ++i) {
    for (std::size_t j = 0; j < level; ++j) {
      // Level j+1 encrypts s_i * 2^(64 - (j+1) * base_log).
      const Torus pt = input.bits[i] << (64 - (j + 1) * base_log);
      lwe_encrypt(tmp, output.bits.data(), output.dimension(), pt, dist, mask, noise);
      std::copy(tmp.data.begin(), tmp.data.end(), ksk.data.begin() + static_cast<std::ptrdiff_t>((i * level + j) * stride));
    }
  }
  return ksk;
}

// The key switches are integer multiply-adds of small digits with 64-bit key words (AVX-512
// has the 64-bit vector multiply, vpmullq).
VEIL_FHE_CLONES
void keyswitch(const KeySwitchKey& ksk, const LweCiphertext& in, LweCiphertext& out) {
  const std::size_t stride = ksk.output_dimension + 1;
  out.data.assign(stride, 0);
  out.data[ksk.output_dimension] = in.body();
  Torus* acc = out.data.data();
  std::int32_t digits[64];
  for (std::size_t i = 0; i < ksk.input_dimension; ++i) {
    decompose(in.data[i], ksk.base_log, ksk.level, digits);
    for (std::size_t j = 0; j < ksk.level; ++j) {
      if (digits[j] == 0) continue;
      const Torus d = static_cast<Torus>(static_cast<std::int64_t>(digits[j]));
      const Torus* row = ksk.entry(i, j);
      for (std::size_t t = 0; t < stride; ++t) acc[t] -= d * row[t];
    }
  }
}

SwitchedLwe modswitch_centred(const LweCiphertext& in, std::size_t log2_2n) {
  const std::size_t n = in.dimension();
  assert(n < (std::size_t{1} << log2_2n));
  const unsigned step_log = 64 - static_cast<unsigned>(log2_2n);  // q/2N = 2^step_log
  SwitchedLwe out;
  out.mask.resize(n);
  // |eps_i| <= q/4N, so the sum of n < 2N of them stays below 2^63 in magnitude.
  std::int64_t error_sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = modswitch(in.data[i], log2_2n);
    out.mask[i] = static_cast<std::uint32_t>(a);
    error_sum += static_cast<std::int64_t>((static_cast<Torus>(a) << step_log) - in.data[i]);
  }
  const Torus body = in.body() + static_cast<Torus>(error_sum / 2);
  out.body = static_cast<std::uint32_t>(body >> step_log);
  return out;
}

void keyswitch_digits(const KeySwitchKey& ksk, const LweCiphertext& in, std::int8_t* digits) {
  std::int32_t tmp[64];
  for (std::size_t i = 0; i < ksk.input_dimension; ++i) {
    decompose(in.data[i], ksk.base_log, ksk.level, tmp);
    for (std::size_t j = 0; j < ksk.level; ++j) digits[i * ksk.level + j] = static_cast<std::int8_t>(tmp[j]);
  }
}

void KeySwitchKey::make_blocked() {
  const std::size_t cols = output_dimension + 1, blocks = (cols + kBlockColumns - 1) / kBlockColumns;
  blocked32.assign(blocks * rows() * kBlockColumns, 0);
  for (std::size_t r = 0; r < rows(); ++r) {
    for (std::size_t col = 0; col < cols; ++col) {
      const std::size_t b = col / kBlockColumns;
      // Rounded to nearest; the carry out of the top wraps, as on the torus.
      const auto word = static_cast<std::uint32_t>((data[r * cols + col] + (Torus{1} << 31)) >> 32);
      blocked32[(b * rows() + r) * kBlockColumns + col % kBlockColumns] = word;
    }
  }
}

namespace {

// The key switch over the column-blocked 32-bit key, one block of columns at a time: the key
// is read sequentially, four rows at a time, and each input's accumulator for the block is
// loaded and stored once per four rows. A row's contribution d * row comes from a product, or,
// for batches large enough to pay for it and digits in [-8, 8), from the multiples -8..8 of
// the row built once per block of rows (16 vector adds per row instead of a multiply per
// input and row).
VEIL_FHE_CLONES
void keyswitch32_blocked(const KeySwitchKey& ksk, std::uint32_t* const* accs, std::size_t count,
                         const std::int8_t* digits, std::size_t col_begin, std::size_t col_end) {
  constexpr std::size_t kW = KeySwitchKey::kBlockColumns, kLanes = 16, kV = kW / kLanes;
  constexpr std::size_t kRowsPerGroup = 4;
  // From this many inputs on, building the multiples costs less than the products it saves.
  constexpr std::size_t kMultiplesFrom = 8;
  const std::size_t rows = ksk.rows();
  // 64-byte vectors (GCC vector extension), so the AVX-512 clone uses whole zmm registers
  // (its default tuning would pick 256-bit ones); other clones split them.
  using Vec = std::uint32_t __attribute__((vector_size(64)));
  Vec multiples[kRowsPerGroup][17][kV];  // multiples[g][8 + k]: k times row g of the group
  const bool grouped = rows % kRowsPerGroup == 0;
  const bool use_multiples = grouped && count >= kMultiplesFrom && ksk.base_log <= 4;
  for (std::size_t b = col_begin / kW; b * kW < col_end; ++b) {
    const std::size_t lo = std::max(col_begin, b * kW), hi = std::min(col_end, (b + 1) * kW);
    const std::uint32_t* block = ksk.blocked32.data() + b * rows * kW;
    if (!grouped || lo != b * kW || hi != (b + 1) * kW) {  // a split inside a block: plain products
      for (std::size_t r = 0; r < rows; ++r) {
        const std::uint32_t* row = block + r * kW;
        for (std::size_t c = 0; c < count; ++c) {
          const auto d = static_cast<std::uint32_t>(static_cast<std::int32_t>(digits[c * rows + r]));
          for (std::size_t t = lo - b * kW; t < hi - b * kW; ++t) accs[c][b * kW + t] -= d * row[t];
        }
      }
      continue;
    }
    if (count == 1) {  // one input (a bootstrap on its own): its accumulator stays in registers
      Vec a[kV];
      std::memcpy(a, accs[0] + b * kW, sizeof a);
      for (std::size_t r = 0; r < rows; ++r) {
        const auto d = static_cast<std::uint32_t>(static_cast<std::int32_t>(digits[r]));
        Vec row[kV];
        std::memcpy(row, block + r * kW, sizeof row);
        for (std::size_t v = 0; v < kV; ++v) a[v] -= row[v] * d;
      }
      std::memcpy(accs[0] + b * kW, a, sizeof a);
      continue;
    }
    for (std::size_t r = 0; r < rows; r += kRowsPerGroup) {
      Vec row[kRowsPerGroup][kV];
      std::memcpy(row, block + r * kW, sizeof row);
      if (use_multiples) {
        for (std::size_t g = 0; g < kRowsPerGroup; ++g) {
          Vec(&m)[17][kV] = multiples[g];
          for (std::size_t v = 0; v < kV; ++v) {
            m[8][v] = Vec{};
            m[9][v] = row[g][v];
            m[7][v] = -row[g][v];
          }
          for (std::size_t k = 2; k <= 8; ++k) {
            for (std::size_t v = 0; v < kV; ++v) {
              m[8 + k][v] = m[7 + k][v] + row[g][v];
              m[8 - k][v] = m[9 - k][v] - row[g][v];
            }
          }
        }
      }
      for (std::size_t c = 0; c < count; ++c) {
        const std::int8_t* d = digits + c * rows + r;
        std::uint32_t* acc = accs[c] + b * kW;
        for (std::size_t v = 0; v < kV; ++v) {
          Vec a;
          std::memcpy(&a, acc + kLanes * v, sizeof a);
          if (use_multiples) {
            a -= (multiples[0][8 + d[0]][v] + multiples[1][8 + d[1]][v]) +
                 (multiples[2][8 + d[2]][v] + multiples[3][8 + d[3]][v]);
          } else {
            const auto digit = [&](std::size_t g) { return static_cast<std::uint32_t>(static_cast<std::int32_t>(d[g])); };
            a -= (row[0][v] * digit(0) + row[1][v] * digit(1)) + (row[2][v] * digit(2) + row[3][v] * digit(3));
          }
          std::memcpy(acc + kLanes * v, &a, sizeof a);
        }
      }
    }
  }
}

}  // namespace

void keyswitch32_batch_columns(const KeySwitchKey& ksk, const LweCiphertext* const* ins, std::uint32_t* const* accs,
                               std::size_t count, const std::int8_t* digits, std::size_t col_begin, std::size_t col_end) {
  const std::size_t out_dim = ksk.output_dimension;
  for (std::size_t c = 0; c < count; ++c) {
    for (std::size_t t = col_begin; t < col_end; ++t) {
      // The body rounded down: every edge of a table's decision window is a multiple of 2^32,
      // so rounding down keeps each window exactly where the 64-bit switch has it.
      accs[c][t] = t == out_dim ? static_cast<std::uint32_t>(ins[c]->body() >> 32) : 0;
    }
  }
  assert(!ksk.blocked32.empty() && "keyswitch32 needs KeySwitchKey::make_blocked()");
  keyswitch32_blocked(ksk, accs, count, digits, col_begin, col_end);
}

void lift_keyswitched32(const std::uint32_t* acc, std::size_t output_dimension, LweCiphertext& out) {
  out.data.resize(output_dimension + 1);
  for (std::size_t t = 0; t <= output_dimension; ++t) out.data[t] = static_cast<Torus>(acc[t]) << 32;
}

void keyswitch32(const KeySwitchKey& ksk, const LweCiphertext& in, LweCiphertext& out) {
  thread_local std::vector<std::int8_t> digits;
  thread_local std::vector<std::uint32_t> acc;
  digits.resize(ksk.rows());
  acc.resize(ksk.padded_columns());
  keyswitch_digits(ksk, in, digits.data());
  const LweCiphertext* ins[1] = {&in};
  std::uint32_t* accs[1] = {acc.data()};
  keyswitch32_batch_columns(ksk, ins, accs, 1, digits.data(), 0, ksk.padded_columns());
  lift_keyswitched32(acc.data(), ksk.output_dimension, out);
}

}  // namespace veil::fhe::core
