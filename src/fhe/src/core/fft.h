// Negacyclic FFT over Z[X]/(X^N + 1) in double precision.
//
// A real polynomial of N coefficients is folded into N/2 complex values
// c_j = (a_j + i a_{j+N/2}) * w^j with w = exp(i pi / N) (the "twist"), and a complex FFT of
// size N/2 evaluates it at N/2 of the odd powers of w, i.e. at roots of X^N + 1. Products are
// point-wise in this domain; the other N/2 roots are the conjugates and carry no extra
// information for real polynomials. The forward transform leaves values in bit-reversed
// order and the backward one expects them so: nothing ever needs the natural order.
//
// Precision: docs/fhe.md, "FFT error". Integer inputs are exact in doubles (|x| < 2^53); the
// torus side of a product (u64) is read as a signed integer, rounded to 53 bits.
//
// Kernels: a portable build, an AVX2+FMA build and an AVX-512 build of the same source; the
// widest the CPU supports is selected at run time (`__builtin_cpu_supports`). All are always
// compiled, and they give bit-identical results (fft_kernels.inc says how; tested), so nodes
// on different CPUs compute the same ciphertexts.
//
// Thread safety: an Fft plan is immutable after construction and may be shared by threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned.h"

namespace veil::fhe::core {

struct FftTables {
  std::size_t m;  // N/2 complex points
  const double* twist_re;
  const double* twist_im;
  const double* tw_re;  // per-stage twiddles, stage of span m first, down to span 8
  const double* tw_im;
};

// One build of the kernels. All buffers hold m doubles (re) and m doubles (im).
struct FftKernels {
  const char* name;
  // in: N small signed integers (|x| < 2^31).
  void (*forward_i32)(const FftTables&, const std::int32_t* in, double* re, double* im);
  // in: N torus elements, read as signed 64-bit integers.
  void (*forward_u64)(const FftTables&, const std::uint64_t* in, double* re, double* im);
  // in: N torus elements, each replaced by its single-level balanced gadget digit (rounded
  // top base_log bits, in [-B/2, B/2)) before the transform. Fuses the decomposition of the
  // external product with the twist.
  void (*forward_decomposed)(const FftTables&, const std::uint64_t* in, unsigned base_log, double* re, double* im);
  // Inverse transform; rounds every coefficient to an integer mod 2^64 and stores (or adds)
  // it into out[0..N). Destroys re/im.
  void (*backward)(const FftTables&, double* re, double* im, std::uint64_t* out, bool accumulate);
  // acc += a * b, point-wise complex.
  void (*mul_acc)(std::size_t m, double* acc_re, double* acc_im, const double* a_re,
                  const double* a_im, const double* b_re, const double* b_im);
  // backward(a0 * b0 + a1 * b1) (point-wise complex products, as the external product with
  // k = 1 and one level needs them); work: N doubles of scratch.
  void (*backward_sum2)(const FftTables&, const double* a0, const double* b0, const double* a1, const double* b1,
                        double* work, std::uint64_t* out, bool accumulate);
};

const FftKernels& portable_fft_kernels();
// nullptr when the CPU lacks AVX2 or FMA.
const FftKernels* avx2_fft_kernels();
// nullptr when the CPU lacks AVX-512 F/DQ/VL or FMA.
const FftKernels* avx512_fft_kernels();
// Every build this CPU can run, portable first.
std::vector<const FftKernels*> available_fft_kernels();
// The kernels used by default: the widest available, unless VEIL_FHE_FFT names one
// (`portable`, `avx2-fma`, `avx512`; an unavailable name falls back to the default).
const FftKernels& default_fft_kernels();

class Fft {
 public:
  // n: polynomial size, a power of two >= 32.
  explicit Fft(std::size_t n, const FftKernels& kernels = default_fft_kernels());

  std::size_t n() const { return n_; }
  std::size_t m() const { return n_ / 2; }
  const FftKernels& kernels() const { return *kernels_; }
  const FftTables& tables() const { return tables_; }

  // Buffers are laid out re[0..m) then im[0..m) in one array of size n.
  void forward_i32(const std::int32_t* in, double* out) const {
    kernels_->forward_i32(tables_, in, out, out + m());
  }
  void forward_u64(const std::uint64_t* in, double* out) const {
    kernels_->forward_u64(tables_, in, out, out + m());
  }
  void forward_decomposed(const std::uint64_t* in, unsigned base_log, double* out) const {
    kernels_->forward_decomposed(tables_, in, base_log, out, out + m());
  }
  void backward(double* in, std::uint64_t* out, bool accumulate) const {
    kernels_->backward(tables_, in, in + m(), out, accumulate);
  }
  void mul_acc(double* acc, const double* a, const double* b) const {
    kernels_->mul_acc(m(), acc, acc + m(), a, a + m(), b, b + m());
  }
  // out (+)= backward(a0 * b0 + a1 * b1); work: n() doubles, overwritten.
  void backward_sum2(const double* a0, const double* b0, const double* a1, const double* b1, double* work,
                     std::uint64_t* out, bool accumulate) const {
    kernels_->backward_sum2(tables_, a0, b0, a1, b1, work, out, accumulate);
  }

  // out = a * s mod (X^N + 1, 2^64), exactly, where s_fft is forward_i32 of a polynomial with
  // |s_i| * N < 2^28 (binary keys, small noise). a is split into 22-bit limbs so every
  // limb product stays far below 2^53 and rounds back exactly.
  void mul_exact(const std::uint64_t* a, const double* s_fft, std::uint64_t* out, bool accumulate) const;

 private:
  std::size_t n_;
  const FftKernels* kernels_;
  AlignedVector<double> twist_re_, twist_im_, tw_re_, tw_im_;
  FftTables tables_;
};

// A cached plan for size n with the default kernels (shared, never destroyed).
const Fft& fft_plan(std::size_t n);

}  // namespace veil::fhe::core
