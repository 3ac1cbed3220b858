#include "core/bootstrap.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace veil::fhe::core {
namespace {

// Per-thread buffers for the hot loop, grown on demand; cache-line aligned (core/aligned.h).
struct Scratch {
  AlignedVector<Torus> diff;
  AlignedVector<std::int32_t> digits;  // level * N
  AlignedVector<double> fourier;       // N
  AlignedVector<double> acc;           // (k+1) * N
  std::vector<std::int32_t> coef_digits;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

void ggsw_encrypt(Torus* out, const GgswShape& shape, const GlweSecretKey& key, Torus mu,
                  const NoiseDistribution& dist, Csprng& mask, Csprng& noise, const Fft& fft) {
  const std::size_t k = shape.k, n = shape.n;
  std::vector<Torus> pt(n);
  for (std::size_t c = 0; c <= k; ++c) {
    for (std::size_t j = 1; j <= shape.level; ++j) {
      const Torus g = Torus{1} << (64 - j * shape.base_log);
      const Torus scaled = mu * g;
      if (c < k) {
        for (std::size_t t = 0; t < n; ++t) pt[t] = 0 - scaled * key.bits[c * n + t];
      } else {
        std::fill(pt.begin(), pt.end(), 0);
        pt[0] = scaled;
      }
      const std::size_t row = c * shape.level + (j - 1);
      glwe_encrypt(out + row * (k + 1) * n, key, pt.data(), dist, mask, noise, fft);
    }
  }
}

void ggsw_to_fourier(double* out, const Torus* standard, const GgswShape& shape, const Fft& fft) {
  const std::size_t polys = shape.rows() * (shape.k + 1);
  for (std::size_t p = 0; p < polys; ++p) fft.forward_u64(standard + p * shape.n, out + p * shape.n);
}

namespace {

// out (k+1 polys) = ggsw [x] in, using the Fourier accumulator.
void external_product_into(Torus* out, bool accumulate, const Torus* in, const double* ggsw,
                           const GgswShape& shape, const Fft& fft) {
  const std::size_t k = shape.k, n = shape.n, level = shape.level;
  Scratch& s = scratch();
  if (k == 1 && level == 1) {
    // The default parameters' case, in fewer passes: both decomposed inputs are transformed,
    // then each output is the inverse transform of a two-term point-wise sum.
    s.fourier.resize(2 * n);
    s.acc.resize(n);
    double* f0 = s.fourier.data();
    double* f1 = f0 + n;
    const auto base_log = static_cast<unsigned>(shape.base_log);
    fft.forward_decomposed(in, base_log, f0);
    fft.forward_decomposed(in + n, base_log, f1);
    for (std::size_t o = 0; o < 2; ++o) {
      fft.backward_sum2(f0, ggsw + o * n, f1, ggsw + 2 * n + o * n, s.acc.data(), out + o * n, accumulate);
    }
    return;
  }
  s.digits.resize(level * n);
  s.fourier.resize(n);
  s.acc.assign((k + 1) * n, 0.0);
  s.coef_digits.resize(level);
  for (std::size_t c = 0; c <= k; ++c) {
    const Torus* poly = in + c * n;
    if (level == 1) {
      fft.forward_decomposed(poly, static_cast<unsigned>(shape.base_log), s.fourier.data());
      const double* row = ggsw + c * (k + 1) * n;
      for (std::size_t o = 0; o <= k; ++o) fft.mul_acc(s.acc.data() + o * n, s.fourier.data(), row + o * n);
      continue;
    }
    for (std::size_t t = 0; t < n; ++t) {
      decompose(poly[t], shape.base_log, level, s.coef_digits.data());
      for (std::size_t j = 0; j < level; ++j) s.digits[j * n + t] = s.coef_digits[j];
    }
    for (std::size_t j = 0; j < level; ++j) {
      fft.forward_i32(s.digits.data() + j * n, s.fourier.data());
      const double* row = ggsw + (c * level + j) * (k + 1) * n;
      for (std::size_t o = 0; o <= k; ++o) fft.mul_acc(s.acc.data() + o * n, s.fourier.data(), row + o * n);
    }
  }
  for (std::size_t o = 0; o <= k; ++o) fft.backward(s.acc.data() + o * n, out + o * n, accumulate);
}

}  // namespace

namespace {

// out = X^t in - in (negacyclic, 0 < t < 2n) in one pass: the CMUX's difference polynomial.
// Four straight loops (t below or above n; before or after the wrap) so each vectorises.
VEIL_FHE_CLONES
void rotate_minus_self(Torus* __restrict out, const Torus* __restrict in, std::size_t n, std::size_t t) {
  if (t < n) {
    for (std::size_t i = 0; i < t; ++i) out[i] = (0 - in[i + n - t]) - in[i];
    for (std::size_t i = t; i < n; ++i) out[i] = in[i - t] - in[i];
  } else {
    t -= n;
    for (std::size_t i = 0; i < t; ++i) out[i] = in[i + n - t] - in[i];
    for (std::size_t i = t; i < n; ++i) out[i] = (0 - in[i - t]) - in[i];
  }
}

}  // namespace

void cmux_rotate(Torus* acc, const double* ggsw, const GgswShape& shape, std::size_t t, const Fft& fft) {
  if (t == 0) return;
  const std::size_t k = shape.k, n = shape.n;
  Scratch& s = scratch();
  s.diff.resize((k + 1) * n);
  for (std::size_t c = 0; c <= k; ++c) rotate_minus_self(s.diff.data() + c * n, acc + c * n, n, t);
  // The diff buffer is read before the scratch accumulators are reused, so passing it is safe.
  external_product_into(acc, true, s.diff.data(), ggsw, shape, fft);
}

std::vector<Torus> generate_bsk(const LweSecretKey& small, const GlweSecretKey& glwe, std::size_t base_log,
                                std::size_t level, const NoiseDistribution& dist, Csprng& mask, Csprng& noise) {
  GgswShape shape{glwe.k, glwe.n, base_log, level};
  const Fft& fft = fft_plan(glwe.n);
  std::vector<Torus> out(small.dimension() * shape.standard_words());
  for (std::size_t i = 0; i < small.dimension(); ++i) {
    ggsw_encrypt(out.data() + i * shape.standard_words(), shape, glwe, small.bits[i], dist, mask, noise, fft);
  }
  return out;
}

FourierBootstrapKey bsk_to_fourier(const std::vector<Torus>& standard, std::size_t lwe_dimension,
                                   const GgswShape& shape) {
  FourierBootstrapKey key;
  key.input_lwe_dimension = lwe_dimension;
  key.shape = shape;
  key.data.resize(lwe_dimension * shape.fourier_doubles());
  const Fft& fft = fft_plan(shape.n);
  for (std::size_t i = 0; i < lwe_dimension; ++i) {
    ggsw_to_fourier(key.data.data() + i * shape.fourier_doubles(), standard.data() + i * shape.standard_words(),
                    shape, fft);
  }
  return key;
}

void blind_rotate(Torus* acc, const FourierBootstrapKey& bsk, const LweCiphertext& input, const Torus* lut,
                  const Fft& fft) {
  const std::size_t k = bsk.shape.k, n = bsk.shape.n;
  const std::size_t log2_2n = static_cast<std::size_t>(std::countr_zero(n)) + 1;
  const SwitchedLwe switched = modswitch_centred(input, log2_2n);
  std::fill(acc, acc + k * n, 0);
  // Start from X^(-b~) * lut.
  poly_rotate(acc + k * n, lut, n, (2 * n - switched.body) % (2 * n));
  for (std::size_t i = 0; i < bsk.input_lwe_dimension; ++i) {
    cmux_rotate(acc, bsk.ggsw(i), bsk.shape, switched.mask[i], fft);
  }
}

void blind_rotate_batch(Torus* const* accs, const FourierBootstrapKey& bsk, const LweCiphertext* const* inputs,
                        const Torus* const* luts, std::size_t count, const Fft& fft) {
  const std::size_t k = bsk.shape.k, n = bsk.shape.n;
  const std::size_t log2_2n = static_cast<std::size_t>(std::countr_zero(n)) + 1;
  std::vector<SwitchedLwe> switched(count);
  for (std::size_t c = 0; c < count; ++c) {
    switched[c] = modswitch_centred(*inputs[c], log2_2n);
    std::fill(accs[c], accs[c] + k * n, 0);
    poly_rotate(accs[c] + k * n, luts[c], n, (2 * n - switched[c].body) % (2 * n));
  }
  for (std::size_t i = 0; i < bsk.input_lwe_dimension; ++i) {
    for (std::size_t c = 0; c < count; ++c) cmux_rotate(accs[c], bsk.ggsw(i), bsk.shape, switched[c].mask[i], fft);
  }
}

void programmable_bootstrap(LweCiphertext& out, const FourierBootstrapKey& bsk, const LweCiphertext& input,
                            const Torus* lut, const Fft& fft) {
  thread_local AlignedVector<Torus> acc;
  acc.resize((bsk.shape.k + 1) * bsk.shape.n);
  blind_rotate(acc.data(), bsk, input, lut, fft);
  sample_extract(out, acc.data(), bsk.shape.k, bsk.shape.n, 0);
}

void programmable_bootstrap_many(std::vector<LweCiphertext>& out, const FourierBootstrapKey& bsk,
                                 const LweCiphertext& input, const Torus* lut, std::size_t count,
                                 const Fft& fft) {
  thread_local AlignedVector<Torus> acc;
  acc.resize((bsk.shape.k + 1) * bsk.shape.n);
  blind_rotate(acc.data(), bsk, input, lut, fft);
  out.resize(count);
  const std::size_t stride = bsk.shape.n / count;
  for (std::size_t i = 0; i < count; ++i) sample_extract(out[i], acc.data(), bsk.shape.k, bsk.shape.n, i * stride);
}

}  // namespace veil::fhe::core
