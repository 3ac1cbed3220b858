// The AVX2+FMA build of the FFT kernels: the same source as fft_portable.cc, compiled with
// -O3 -mavx2 -mfma (set for this file only in CMakeLists.txt). Only called after
// __builtin_cpu_supports confirms the CPU has both.
#include "core/fft.h"

#include <cstdint>
#include <cstring>

#include <immintrin.h>

namespace veil::fhe::core {
namespace avx2 {
#include "core/fft_kernels.inc"
}  // namespace avx2

const FftKernels* avx2_fft_kernels() {
  static const FftKernels kernels = avx2::kernels_named("avx2-fma");
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &kernels;
  return nullptr;
}

}  // namespace veil::fhe::core
