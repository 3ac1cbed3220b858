#include "core/fft.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>

namespace veil::fhe::core {

std::vector<const FftKernels*> available_fft_kernels() {
  std::vector<const FftKernels*> out{&portable_fft_kernels()};
  if (const FftKernels* k = avx2_fft_kernels()) out.push_back(k);
  if (const FftKernels* k = avx512_fft_kernels()) out.push_back(k);
  return out;
}

const FftKernels& default_fft_kernels() {
  static const FftKernels* chosen = [] {
    const std::vector<const FftKernels*> available = available_fft_kernels();
    if (const char* env = std::getenv("VEIL_FHE_FFT")) {
      for (const FftKernels* k : available) {
        if (std::string_view(env) == k->name) return k;
      }
    }
    return available.back();
  }();
  return *chosen;
}

Fft::Fft(std::size_t n, const FftKernels& kernels) : n_(n), kernels_(&kernels) {
  if (n < 32 || (n & (n - 1)) != 0) throw std::invalid_argument("FFT size must be a power of two >= 32");
  const std::size_t m = n / 2;
  twist_re_.resize(m);
  twist_im_.resize(m);
  for (std::size_t j = 0; j < m; ++j) {
    // w^j with w = exp(i pi / N); long double keeps the tables correctly rounded.
    const long double angle = static_cast<long double>(M_PI) * j / static_cast<long double>(n);
    twist_re_[j] = static_cast<double>(std::cos(angle));
    twist_im_[j] = static_cast<double>(std::sin(angle));
  }
  for (std::size_t len = m; len >= 8; len >>= 1) {
    for (std::size_t j = 0; j < len / 2; ++j) {
      const long double angle = -2.0L * static_cast<long double>(M_PI) * j / static_cast<long double>(len);
      tw_re_.push_back(static_cast<double>(std::cos(angle)));
      tw_im_.push_back(static_cast<double>(std::sin(angle)));
    }
  }
  tw_re_.push_back(0);  // never empty, so data() is valid for tiny sizes
  tw_im_.push_back(0);
  tables_ = FftTables{m, twist_re_.data(), twist_im_.data(), tw_re_.data(), tw_im_.data()};
}

void Fft::mul_exact(const std::uint64_t* a, const double* s_fft, std::uint64_t* out,
                    bool accumulate) const {
  constexpr unsigned kLimbBits = 22;
  AlignedVector<std::int32_t> limb(n_);
  AlignedVector<double> f(n_), acc(n_);
  AlignedVector<std::uint64_t> part(n_);
  if (!accumulate) std::fill(out, out + n_, 0);
  for (unsigned shift = 0; shift < 64; shift += kLimbBits) {
    for (std::size_t i = 0; i < n_; ++i) {
      limb[i] = static_cast<std::int32_t>((a[i] >> shift) & ((1u << kLimbBits) - 1));
    }
    forward_i32(limb.data(), f.data());
    std::fill(acc.begin(), acc.end(), 0.0);
    mul_acc(acc.data(), f.data(), s_fft);
    backward(acc.data(), part.data(), false);
    for (std::size_t i = 0; i < n_; ++i) out[i] += part[i] << shift;
  }
}

const Fft& fft_plan(std::size_t n) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<Fft>>* plans = new std::map<std::size_t, std::unique_ptr<Fft>>();
  std::lock_guard lock(mutex);
  auto& slot = (*plans)[n];
  if (!slot) slot = std::make_unique<Fft>(n);
  return *slot;
}

}  // namespace veil::fhe::core
