// Noise squashing: a programmable bootstrap from a 64-bit block into an LWE ciphertext modulo
// 2^128 with small noise (TFHE-rs `noise_squashing`; the "switch and squash" of Zama's
// threshold design). Threshold decryption floods the squashed ciphertext, whose noise (~2^65
// at the 2^128 scale) a 2^118 flood hides statistically; the 64-bit block's own noise
// switched up (~2^50 * 2^64) could not be hidden (docs/fhe-threshold.md).
//
// The pipeline per block: key-switch the 64-bit block from the big key to the small key
// (a key-switching key of its own, so the squashing key is self-contained), switch the small
// ciphertext to Z/2N, blind-rotate an identity lookup table with a bootstrapping key made of
// GGSW encryptions of the small-key bits modulo 2^128, and extract coefficient 0: an LWE
// ciphertext of dimension k*N under the flat 128-bit GLWE key, encoding v * Delta with
// Delta = 2^127 / p (one padding bit, as the 64-bit encoding).
//
// All 128-bit products are exact (core/ntt128.h). Layouts mirror core/lwe.h and
// core/bootstrap.h with u128 words; a GGSW row (c, j) encrypts -mu s_c g_j (c < k) or
// mu g_j (c = k), g_j = 2^(128 - j base_log).
//
// Thread safety: keys are immutable after construction; squash() may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/bootstrap.h"
#include "core/lwe.h"
#include "core/ntt128.h"

namespace veil::fhe::core {

// Binary GLWE secret key modulo 2^128. Read flat it is the LWE key (dimension k*N) under
// which squashed ciphertexts decrypt: the key a threshold committee shares.
struct GlweSecretKey128 {
  std::size_t k = 0, n = 0;
  std::vector<Torus> bits;            // k * n, each 0 or 1
  std::vector<std::uint64_t> ntt;     // k transforms (Ntt128 words each), Montgomery form
  static GlweSecretKey128 generate(std::size_t k, std::size_t n, Csprng& secret);
  static GlweSecretKey128 from_bits(std::size_t k, std::size_t n, std::vector<Torus> bits);
  void wipe();
};

struct Lwe128 {
  std::vector<u128> data;  // mask then body
  std::size_t dimension() const { return data.size() - 1; }
  u128 body() const { return data.back(); }
};

// out ((k+1) * n words): masks from `mask` (two u64 per word, low half first), body =
// sum a_i s_i + pt + e with e ~ TUniform(noise_log2). pt may be null.
void glwe128_encrypt(u128* out, const GlweSecretKey128& key, const u128* pt, unsigned noise_log2, Csprng& mask,
                     Csprng& noise);
// The phase polynomial body - sum a_i s_i.
std::vector<u128> glwe128_phase(const u128* ct, const GlweSecretKey128& key);
// body - <mask, key> of an LWE ciphertext modulo 2^128 under a binary key.
u128 lwe128_phase(const Lwe128& ct, const Torus* key_bits);

// Balanced digits d_1..d_level in [-B/2, B/2) with sum d_j 2^(128 - j base_log) equal to x
// rounded to its top base_log * level bits (base_log * level < 128).
void decompose128(u128 x, std::size_t base_log, std::size_t level, std::int32_t* digits);
// digits[j n + i] = digit j of decompose128(poly[i]) for the n words of a polynomial (8 at a
// time on AVX-512 where the CPU has it, bit for bit the same; base_log <= 31).
void decompose128_poly(const u128* poly, std::size_t n, std::size_t base_log, std::size_t level,
                       std::int32_t* digits);

// out = X^t in mod X^N + 1, t in [0, 2N).
void poly128_rotate(u128* out, const u128* in, std::size_t n, std::size_t t);
void sample_extract128(Lwe128& out, const u128* glwe, std::size_t k, std::size_t n, std::size_t index);

struct SquashBootstrapKey {
  std::size_t input_lwe_dimension = 0;
  GgswShape shape;  // k, n, base_log, level of the output GLWE
  // Per GGSW: rows() * (k+1) transforms of Ntt128::words() words, Montgomery form.
  AlignedVector<std::uint64_t> data;  // cache-line aligned (core/aligned.h)
  std::size_t ggsw_words() const;
  const std::uint64_t* ggsw(std::size_t i) const { return data.data() + i * ggsw_words(); }
};

// Standard-domain GGSW encryption of mu under `key`: shape.standard_words() u128 words.
void ggsw128_encrypt(u128* out, const GgswShape& shape, const GlweSecretKey128& key, Torus mu, unsigned noise_log2,
                     Csprng& mask, Csprng& noise);
// Transforms one standard GGSW into `out` (ggsw_words()).
void ggsw128_to_ntt(std::uint64_t* out, const u128* standard, const GgswShape& shape);

// acc ((k+1) N words, in place) <- acc + ggsw [x] (X^t acc - acc). With `spread` its k+1
// transform groups and outputs run on the shared thread pool: for a bootstrap that has the
// machine to itself; a batch of bootstraps already keeps the cores busy.
void cmux128_rotate(u128* acc, const std::uint64_t* ggsw, const GgswShape& shape, std::size_t t, bool spread = true);
// acc = X^(-phase~) * lut (lut: N words), phase~ the input's phase switched to Z/2N by the
// centred switch (modswitch_centred, core/lwe.h).
void blind_rotate128(u128* acc, const SquashBootstrapKey& bsk, const LweCiphertext& input, const u128* lut,
                     bool spread = true);
// blind_rotate128 of several inputs on the calling thread in lockstep: each GGSW of the key
// goes to every accumulator before the next GGSW, so the 1.22 GB key streams from memory once
// for all of them instead of once each. accs[i] gets inputs[i] through luts[i].
void blind_rotate128_lockstep(const std::vector<u128*>& accs, const SquashBootstrapKey& bsk,
                              const std::vector<const LweCiphertext*>& inputs,
                              const std::vector<const u128*>& luts);

// The public squashing key: its key-switching key (big -> small, 64-bit) and bootstrapping
// key (small -> 128-bit GLWE), both with masks drawn from `seed` so that the serialized form
// carries only the bodies.
struct NoiseSquashingKey {
  const Parameters* params = nullptr;
  NoiseSquashingParameters squashing{};
  Seed seed{};
  std::vector<Torus> ksk_bodies;  // big_lwe_dimension * ks_level
  std::vector<u128> bsk_bodies;   // lwe_dimension * rows * N
  KeySwitchKey ksk;               // expanded
  SquashBootstrapKey bsk;         // expanded

  // Generates a key that squashes blocks under `big` (64-bit) into ciphertexts under `out`.
  // `small` is the parameter set's small LWE key.
  static NoiseSquashingKey generate(const Parameters& params, const LweSecretKey& small, const LweSecretKey& big,
                                    const GlweSecretKey128& out);
  // Rebuilds the expanded keys from seed and bodies (after deserialization). The sizes must
  // match the parameters (callers check).
  static NoiseSquashingKey expand(const Parameters& params, const Seed& seed, std::vector<Torus> ksk_bodies,
                                  std::vector<u128> bsk_bodies);

  // The blind rotation's table for f: one box of N / p words per block value v in [0, p),
  // centred on v as in shortint's builder, holding f(v); the words that wrap past N hold
  // -f(0), so that a value slightly below 0 still reads f(0).
  std::vector<u128> lut(const std::function<u128(std::uint64_t)>& f) const;
  // The squashed ciphertext of f(v) for a 64-bit block of value v (dimension
  // big_lwe_dimension), `lut` made by lut(f): dimension k*N modulo 2^128. `spread` as for
  // cmux128_rotate.
  Lwe128 squash(const LweCiphertext& block, const std::vector<u128>& lut, bool spread = true) const;
  // squash(blocks[i], *luts[i], false) for every i on the calling thread, the blind
  // rotations in lockstep (blind_rotate128_lockstep): the same outputs, the key read once.
  std::vector<Lwe128> squash_lockstep(const std::vector<const LweCiphertext*>& blocks,
                                      const std::vector<const std::vector<u128>*>& luts) const;
  // The identity table: plaintext v * 2^127 / p for a block of value v.
  Lwe128 squash(const LweCiphertext& block) const;
  // Delta at 2^128.
  u128 delta() const;
};

}  // namespace veil::fhe::core
