// The AVX-512 build of the FFT kernels: the same source as fft_portable.cc, compiled with
// -O3 -mavx512f -mavx512dq -mavx512vl -mfma and 512-bit vectors preferred (set for this file
// only in CMakeLists.txt). Only called after __builtin_cpu_supports confirms the CPU has them.
#include "core/fft.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_pd() inside its own shuffle and broadcast intrinsics as
// "(may be) used uninitialized" once they are inlined here (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace veil::fhe::core {
namespace avx512 {
#include "core/fft_kernels.inc"
}  // namespace avx512

const FftKernels* avx512_fft_kernels() {
  static const FftKernels kernels = avx512::kernels_named("avx512");
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma")) {
    return &kernels;
  }
  return nullptr;
}

}  // namespace veil::fhe::core
