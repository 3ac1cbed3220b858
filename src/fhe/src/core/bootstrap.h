// GGSW ciphertexts, the external product, CMUX, blind rotation and programmable bootstrapping
// (TFHE-rs `core_crypto::algorithms::{ggsw_encryption, external_product, blind_rotation,
// lwe_programmable_bootstrapping}`).
//
// A GGSW ciphertext of mu has (k+1)*level rows; row (c, j) is a GLWE encryption whose phase is
// -mu * s_c * g_j for c < k and mu * g_j for c = k, with g_j = 2^(64 - j*base_log). The message
// sits in the body (not added to a mask), which keeps every mask uniform and lets a seeded
// generator regenerate them for compressed keys.
//
// Bootstrapping keys are kept in the Fourier domain: per row and output component, N doubles
// (m real parts then m imaginary parts).
//
// Thread safety: keys are immutable after construction; all routines may run concurrently
// (scratch space is per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned.h"
#include "core/lwe.h"

namespace veil::fhe::core {

struct GgswShape {
  std::size_t k = 0, n = 0, base_log = 0, level = 0;
  std::size_t rows() const { return (k + 1) * level; }
  std::size_t standard_words() const { return rows() * (k + 1) * n; }
  std::size_t fourier_doubles() const { return rows() * (k + 1) * n; }
};

// Standard-domain GGSW encryption of the integer mu (0 or 1 for bootstrapping keys) into
// out[standard_words]. Masks are drawn from `mask` in row order.
void ggsw_encrypt(Torus* out, const GgswShape& shape, const GlweSecretKey& key, Torus mu,
                  const NoiseDistribution& dist, Csprng& mask, Csprng& noise, const Fft& fft);
// Converts a standard GGSW to the Fourier domain: out[fourier_doubles].
void ggsw_to_fourier(double* out, const Torus* standard, const GgswShape& shape, const Fft& fft);

// acc <- acc + ggsw [x] (X^t acc - acc): selects X^t acc when the GGSW encrypts 1, acc when 0.
void cmux_rotate(Torus* acc, const double* ggsw, const GgswShape& shape, std::size_t t, const Fft& fft);

struct FourierBootstrapKey {
  std::size_t input_lwe_dimension = 0;
  GgswShape shape;
  AlignedVector<double> data;  // input_lwe_dimension GGSWs, cache-line aligned
  const double* ggsw(std::size_t i) const { return data.data() + i * shape.fourier_doubles(); }
};

// Standard-domain bootstrapping key (GGSW of each small-key bit under the GLWE key).
std::vector<Torus> generate_bsk(const LweSecretKey& small, const GlweSecretKey& glwe, std::size_t base_log,
                                std::size_t level, const NoiseDistribution& dist, Csprng& mask, Csprng& noise);
FourierBootstrapKey bsk_to_fourier(const std::vector<Torus>& standard, std::size_t lwe_dimension,
                                   const GgswShape& shape);

// Blind rotation: acc = X^(-phase~) * lut, where phase~ is the input's phase switched to Z/2N
// by the centred switch (modswitch_centred, core/lwe.h).
// lut: N words (the body of a trivial GLWE). acc: (k+1)*N words.
void blind_rotate(Torus* acc, const FourierBootstrapKey& bsk, const LweCiphertext& input, const Torus* lut,
                  const Fft& fft);

// Blind rotation of several inputs at once: the loop over the key is outermost, so each GGSW
// is read from memory once for the whole batch (the bootstrapping key is 60 MB with the
// default parameters; streaming it per ciphertext dominates when bootstraps run in parallel).
void blind_rotate_batch(Torus* const* accs, const FourierBootstrapKey& bsk, const LweCiphertext* const* inputs,
                        const Torus* const* luts, std::size_t count, const Fft& fft);

// Full PBS: out = sample_extract(blind_rotate(input, lut), 0), under the flat GLWE key.
void programmable_bootstrap(LweCiphertext& out, const FourierBootstrapKey& bsk, const LweCiphertext& input,
                            const Torus* lut, const Fft& fft);
// Many-LUT PBS: one blind rotation, then `count` extractions at coefficients i * N / count.
// The lut must be built for it (see shortint's many-LUT builder).
void programmable_bootstrap_many(std::vector<LweCiphertext>& out, const FourierBootstrapKey& bsk,
                                 const LweCiphertext& input, const Torus* lut, std::size_t count,
                                 const Fft& fft);

}  // namespace veil::fhe::core
