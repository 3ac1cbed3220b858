// Core entities and algorithms on the torus Z/2^64 (TFHE-rs `core_crypto`): secret keys, LWE and
// GLWE ciphertexts, gadget decomposition, encryption, key switching, modulus switching and
// sample extraction. Every routine works on native u64 arithmetic (wrapping = mod 2^64).
//
// Layouts: an LWE ciphertext of dimension n is n mask words then the body. A GLWE ciphertext
// of dimension k and size N is k mask polynomials then the body polynomial, N words each.
//
// Thread safety: keys and ciphertexts are values; const use from many threads is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/csprng.h"
#include "core/fft.h"
#include "veil/fhe/params.h"

// Integer hot loops are compiled once per x86-64 level (AVX-512, AVX2, baseline) and the best
// the CPU runs is picked when the program loads (GCC function multi-versioning). Integer
// arithmetic, so every clone gives the same result.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VEIL_FHE_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define VEIL_FHE_CLONES
#endif

namespace veil::fhe::core {

// Binary LWE secret key (each word 0 or 1).
struct LweSecretKey {
  std::vector<Torus> bits;
  std::size_t dimension() const { return bits.size(); }
  static LweSecretKey generate(std::size_t n, Csprng& secret);
};

// Binary GLWE secret key: k polynomials of N coefficients. Read flat, it is the "big" LWE key
// of dimension k*N under which sample extraction leaves its result.
struct GlweSecretKey {
  std::size_t k = 0, n = 0;  // n: polynomial size
  std::vector<Torus> bits;   // k * n
  AlignedVector<double> fft;  // k * n doubles: forward_i32 of each polynomial
  static GlweSecretKey generate(std::size_t k, std::size_t n, Csprng& secret);
  static GlweSecretKey from_bits(std::size_t k, std::size_t n, std::vector<Torus> bits);
  LweSecretKey as_lwe() const { return LweSecretKey{bits}; }
};

struct LweCiphertext {
  std::vector<Torus> data;  // mask (dimension words) then body
  LweCiphertext() = default;
  explicit LweCiphertext(std::size_t dimension) : data(dimension + 1, 0) {}
  std::size_t dimension() const { return data.size() - 1; }
  Torus& body() { return data.back(); }
  Torus body() const { return data.back(); }
};

// ----- Gadget decomposition with rounding -----
// The closest value to x representable with base_log * level top bits.
Torus closest_representable(Torus x, std::size_t base_log, std::size_t level);
// Balanced signed digits d_1..d_level in [-B/2, B/2) with sum d_j * 2^(64 - j*base_log) ==
// closest_representable(x). digits[j-1] holds d_j.
void decompose(Torus x, std::size_t base_log, std::size_t level, std::int32_t* digits);

// ----- LWE -----
// Encrypts the torus plaintext `pt` into out (dimension = key dimension): mask from `mask`,
// noise from `noise`.
void lwe_encrypt(LweCiphertext& out, const Torus* key, std::size_t n, Torus pt,
                 const NoiseDistribution& dist, Csprng& mask, Csprng& noise);
// body - <mask, key>: the plaintext plus noise.
Torus lwe_phase(const LweCiphertext& ct, const Torus* key);
// A noiseless ciphertext of pt with a zero mask (a constant, not secret).
LweCiphertext lwe_trivial(std::size_t n, Torus pt);
void lwe_add_assign(LweCiphertext& a, const LweCiphertext& b);
void lwe_sub_assign(LweCiphertext& a, const LweCiphertext& b);
void lwe_neg_assign(LweCiphertext& a);
void lwe_mul_scalar_assign(LweCiphertext& a, std::uint64_t scalar);

// ----- GLWE -----
// out (k+1 polys): masks from `mask`, body = sum a_i s_i + pt + e (pt: N words, may be null).
void glwe_encrypt(Torus* out, const GlweSecretKey& key, const Torus* pt, const NoiseDistribution& dist,
                  Csprng& mask, Csprng& noise, const Fft& fft);
// Phase polynomial of a GLWE ciphertext.
std::vector<Torus> glwe_phase(const Torus* ct, const GlweSecretKey& key, const Fft& fft);
// out = X^t * in mod X^N + 1, t in [0, 2N).
void poly_rotate(Torus* out, const Torus* in, std::size_t n, std::size_t t);

// Word-generic forms of poly_rotate and sample_extract, shared with the 128-bit squashing
// bootstrap (core/squash.h). W is an unsigned integer type (wrapping arithmetic).
template <class W>
void negacyclic_rotate(W* out, const W* in, std::size_t n, std::size_t t) {
  // X^t with t >= n is -X^(t-n).
  const bool negate = t >= n;
  if (negate) t -= n;
  for (std::size_t i = 0; i < n - t; ++i) out[i + t] = negate ? W{0} - in[i] : in[i];
  for (std::size_t i = n - t; i < n; ++i) out[i + t - n] = negate ? in[i] : W{0} - in[i];
}
// out[k*n + 1]: the LWE ciphertext (flat key) whose phase is coefficient `index` of the GLWE
// phase. Coefficient h of a*s (negacyclic) is sum_{t<=h} a[h-t] s[t] - sum_{t>h} a[N+h-t] s[t].
template <class W>
void extract_coefficient(W* out, const W* glwe, std::size_t k, std::size_t n, std::size_t index) {
  for (std::size_t i = 0; i < k; ++i) {
    const W* a = glwe + i * n;
    W* m = out + i * n;
    for (std::size_t t = 0; t <= index; ++t) m[t] = a[index - t];
    for (std::size_t t = index + 1; t < n; ++t) m[t] = W{0} - a[n + index - t];
  }
  out[k * n] = glwe[k * n + index];
}
// The LWE ciphertext whose phase is coefficient `index` of the GLWE phase (dimension k*N).
void sample_extract(LweCiphertext& out, const Torus* glwe, std::size_t k, std::size_t n, std::size_t index);

// ----- Key switching (big LWE key -> small LWE key) -----
struct KeySwitchKey {
  // Columns per block of the column-blocked copy.
  static constexpr std::size_t kBlockColumns = 64;

  std::size_t input_dimension = 0, output_dimension = 0, base_log = 0, level = 0;
  std::vector<Torus> data;  // [input][level][output_dimension + 1]
  // The copy the bootstraps' key switches read (keyswitch32*): every word rounded to its top 32
  // bits, laid out as [column block][row][kBlockColumns], the last block padded with zeros, so
  // that a pass over one block reads the key sequentially while every input's accumulator for
  // the block stays in the L1 cache. Half the bytes of `data`. Empty until make_blocked()
  // (shortint::ServerKey makes it).
  AlignedVector<std::uint32_t> blocked32;

  const Torus* entry(std::size_t i, std::size_t j) const {
    return data.data() + (i * level + j) * (output_dimension + 1);
  }
  std::size_t rows() const { return input_dimension * level; }
  // output_dimension + 1 rounded up to whole blocks.
  std::size_t padded_columns() const { return (output_dimension + kBlockColumns) / kBlockColumns * kBlockColumns; }
  void make_blocked();
};
// Masks come from `mask` in entry order, so a seeded mask generator reproduces them.
KeySwitchKey generate_ksk(const LweSecretKey& input, const LweSecretKey& output, std::size_t base_log,
                          std::size_t level, const NoiseDistribution& dist, Csprng& mask, Csprng& noise);
// out (dimension output_dimension) encrypts the same phase as in, under the output key, with
// 64-bit arithmetic on `data` (the squashing key's switch; the reference for keyswitch32).
void keyswitch(const KeySwitchKey& ksk, const LweCiphertext& in, LweCiphertext& out);
// digits[(c * input_dimension + i) * level + j]: the decomposition of every input coefficient.
void keyswitch_digits(const KeySwitchKey& ksk, const LweCiphertext& in, std::int8_t* digits);

// ----- The 32-bit key switch of the bootstraps (TFHE-rs's KS32 atomic pattern) -----
// The same switch on Z/2^32: the input body rounded down to 32 bits (which keeps the edges of
// the tables' decision windows, multiples of 2^32, exact), the key's words rounded to nearest
// on 32 bits (blocked32), the sum taken mod 2^32. The result only feeds the switch to Z/2N (2N <=
// 2^32), so the low 32 bits a 64-bit switch would compute carry nothing the bootstrap reads
// but noise; dropping them halves the key bytes streamed per switch. The extra error (each
// key row's rounding through the digits, and the body's) has variance 2^86.7 on the default
// parameters against the 64-bit switch's own 2^106 (core::key_switch32_rounding_variance,
// docs/fhe.md).
//
// out: the switched ciphertext as a 64-bit one (each word the 32-bit result << 32), so the
// modulus switch and the blind rotation are unchanged.
void keyswitch32(const KeySwitchKey& ksk, const LweCiphertext& in, LweCiphertext& out);
// Key-switches count inputs at once, reading blocked32 once, into 32-bit accumulators: accs[c]
// holds the result for ins[c] in its first output_dimension + 1 words (the body last) and must
// have padded_columns() words. digits: keyswitch_digits of every input, one after the other.
// Only columns [col_begin, col_end) are written, so callers may split the columns across
// threads; splits at multiples of KeySwitchKey::kBlockColumns keep the fast path.
void keyswitch32_batch_columns(const KeySwitchKey& ksk, const LweCiphertext* const* ins, std::uint32_t* const* accs,
                               std::size_t count, const std::int8_t* digits, std::size_t col_begin, std::size_t col_end);
// out = the accumulator of keyswitch32_batch_columns as a 64-bit ciphertext of dimension
// output_dimension (each word << 32).
void lift_keyswitched32(const std::uint32_t* acc, std::size_t output_dimension, LweCiphertext& out);

// ----- Modulus switching -----
// round(x * 2N / 2^64) mod 2N: one word on its own.
inline std::size_t modswitch(Torus x, std::size_t log2_2n) {
  const unsigned shift = 64 - static_cast<unsigned>(log2_2n) - 1;
  return static_cast<std::size_t>(((x >> shift) + 1) >> 1) & ((std::size_t{1} << log2_2n) - 1);
}

// An LWE ciphertext switched to Z/2N, the input of a blind rotation.
struct SwitchedLwe {
  std::vector<std::uint32_t> mask;  // in [0, 2N)
  std::uint32_t body = 0;           // in [0, 2N)
};

// The switch the bootstraps use: mean-compensated ("centred") and aligned with the lookup
// tables' boxes. Integer arithmetic only, so every build switches to the same words.
//
// Each mask word is rounded to the nearest multiple of q/2N, with a rounding error eps_i the
// server sees. The switched phase carries -sum eps_i s_i; for a binary key that is
// -sum eps_i / 2 - sum eps_i (s_i - 1/2), and the first term is public: it is added to the body
// before the body is switched. What is left has variance n (q/2N)^2 / 48 for every binary key,
// half the plain switch's n (q/2N)^2 / 24 (core/noise_model.h; de Ruijter, D'Anvers,
// Verbauwhede, ePrint 2025/809; TFHE-rs's centred binary modulus switch).
//
// The body is switched by rounding down rather than to nearest, i.e. half a step of Z/2N lower:
// a table box (shortint's LUT builder, the squash's table) answers the switched phases
// [v B - B/2, v B + B/2 - 1], which is centred on v B - 1/2, not on v B; with the body
// rounded down, the phases that decode to v are exactly those in [v Delta - Delta/2,
// v Delta + Delta/2) before the switch, symmetric about v Delta as the noise model assumes.
// Requires dimension < 2N (so that |sum eps_i| < 2^63).
SwitchedLwe modswitch_centred(const LweCiphertext& in, std::size_t log2_2n);

}  // namespace veil::fhe::core
