// The portable build of the FFT kernels (baseline x86-64 / any target).
#include "core/fft.h"

#include <cstdint>
#include <cstring>

namespace veil::fhe::core {
namespace portable {
#include "core/fft_kernels.inc"
}  // namespace portable

const FftKernels& portable_fft_kernels() {
  static const FftKernels kernels = portable::kernels_named("portable");
  return kernels;
}

}  // namespace veil::fhe::core
