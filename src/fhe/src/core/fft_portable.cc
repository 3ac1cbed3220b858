// The portable build of the FFT kernels (baseline x86-64 / any target).
#include "core/fft.h"

#include <cstdint>
#include <cstring>

namespace veil::fhe::core {
namespace portable {
#include "core/fft_kernels.inc"
}  // namespace portable

const FftKernels& portable_fft_kernels() {
  static const FftKernels kernels{"portable", portable::forward_i32, portable::forward_u64, portable::forward_decomposed,
                                  portable::backward, portable::mul_acc, portable::backward_sum2};
  return kernels;
}

}  // namespace veil::fhe::core
