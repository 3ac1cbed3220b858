// Exact negacyclic products over Z_{2^128}[X]/(X^N + 1), for the noise-squashing bootstrap
// (docs/fhe-threshold.md, "Noise squashing").
//
// The engine's double-precision FFT keeps 53 bits, far from the 128 the squashing key needs,
// and an approximate product would add error at the 2^128 scale. Instead every product is
// computed exactly as an integer polynomial by a number-theoretic transform modulo three
// primes p_1, p_2, p_3 < 2^60 (each = 1 mod 2^17, so 2N-th roots of unity exist for
// N <= 2^16) and reconstructed by the Chinese remainder theorem (Garner's form), then reduced
// mod 2^128. This is exact as long as every coefficient of the integer result lies in
// (-P/2, P/2), P = p_1 p_2 p_3 > 2^179; `kExactBoundLog2` states the budget callers must keep:
//   - external product: (k+1) * level rows of signed digits |d| <= 2^23 times key coefficients
//     read as signed 128-bit values: 9 * 2048 * 2^23 * 2^127 < 2^165 for the real parameters.
//   - encryption: a uniform 128-bit mask times a binary key: N * 2^127 < 2^139.
//
// Point-wise products accumulate up to `kMaxAccumulate` 120-bit products in a 128-bit integer
// before one Montgomery reduction; keys that are multiplied point-wise are stored in
// Montgomery form (value * 2^64 mod p), as `to_montgomery` produces.
//
// Layout of a transformed polynomial: kPrimes blocks of N words, prime-major, each in
// bit-reversed order (only point-wise operations ever see it).
//
// Thread safety: a plan is immutable after construction and may be shared by threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned.h"

namespace veil::fhe::core {

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

class Ntt128 {
 public:
  static constexpr std::size_t kPrimes = 3;
  // log2 of the largest |integer coefficient| a product may reach and still come back exact.
  static constexpr unsigned kExactBoundLog2 = 178;
  // Point-wise products that may be summed before `reduce_acc` (each < p^2 < 2^120).
  static constexpr std::size_t kMaxAccumulate = 15;

  // n: polynomial size, a power of two in [2, 2^16]. With `vector` (and n >= 16) the
  // butterflies run 8 at a time on AVX-512 (core/ntt128_avx512.h) when the CPU has it; the
  // transforms are the same bit for bit either way.
  explicit Ntt128(std::size_t n, bool vector = true);

  std::size_t n() const { return n_; }
  std::size_t words() const { return kPrimes * n_; }  // of one transformed polynomial
  std::uint64_t prime(std::size_t i) const { return p_[i]; }

  // out[words()] = transform of n small signed integers.
  void forward_i32(const std::int32_t* in, std::uint64_t* out) const;
  // out[words()] = transform of n 128-bit values read as signed (two's complement).
  void forward_u128(const u128* in, std::uint64_t* out) const;
  // out[words()] = transform of n signed 64-bit integers: forward_u128 of their sign extensions,
  // without its 128-bit reductions (the DKG's split products, threshold/dkg_keys.cc).
  void forward_i64(const std::int64_t* in, std::uint64_t* out) const;
  // Replaces every residue x of a transformed polynomial by x * 2^64 mod p (Montgomery form).
  void to_montgomery(std::uint64_t* inout) const;

  // acc[words()] (128-bit lanes) += a * b point-wise, b in Montgomery form. At most
  // kMaxAccumulate calls between reductions.
  void mul_acc(u128* acc, const std::uint64_t* a, const std::uint64_t* b_mont) const;
  // Inverse transform of the accumulated sums: out[n] = the exact product mod 2^128 (stored,
  // or added when `accumulate`). acc is left unchanged.
  void backward(const u128* acc, u128* out, bool accumulate) const;
  // out[n] = (or += with `accumulate`) the exact sum of `rows` products mod 2^128: the
  // transforms a + r a_stride (residues in [0, p)) times b + r b_stride (Montgomery form),
  // r < rows <= kMaxAccumulate. Bit for bit what zeroing an accumulator, `rows` calls of
  // mul_acc and backward give, without the 128-bit accumulator in memory: each word's products
  // are summed and reduced in registers (the external product of the squashing CMUX).
  void product_sum(const std::uint64_t* a, std::size_t a_stride, const std::uint64_t* b, std::size_t b_stride,
                   std::size_t rows, u128* out, bool accumulate) const;

  // out[n] = a * b mod (X^n + 1, 2^128) where b is a polynomial of small signed integers
  // (|b_i| * n * 2^127 < 2^178). Exact. For tests and encryption.
  void mul_small(const u128* a, const std::int32_t* b, u128* out) const;

 private:
  void forward_inplace(std::size_t prime, std::uint64_t* a) const;
  void backward_inplace(std::size_t prime, std::uint64_t* a) const;
  // Garner's reconstruction of the n^-1-scaled residues res[i] (each in [0, 2 p_i)) into
  // out[n], stored or added.
  void crt(std::uint64_t* const* res, u128* out, bool accumulate) const;

  std::size_t n_;
  bool vector_;  // AVX-512 stages available and wanted
  std::uint64_t p_[kPrimes];
  std::uint64_t pinv_neg_[kPrimes];  // -p^-1 mod 2^64 (Montgomery)
  std::uint64_t r2_[kPrimes];        // 2^128 mod p
  // Twiddles psi^bitrev(i) and psi^-bitrev(i) with their Shoup quotients, per prime.
  AlignedVector<std::uint64_t> psi_[kPrimes], psi_shoup_[kPrimes], ipsi_[kPrimes], ipsi_shoup_[kPrimes];
  // Garner constants with n^-1 folded in.
  std::uint64_t ninv_[kPrimes], ninv_shoup_[kPrimes];
  // product_sum's reduction of the 30-bit partial sums: 2^(30 e - 64) n^-1 mod p, e = 0, 1, 2.
  std::uint64_t fold_[kPrimes][3], fold_shoup_[kPrimes][3];
  std::uint64_t p1_inv_mod_p2_, p1_inv_mod_p3_, p2_inv_mod_p3_;
  u128 p1p2_, p_all_mod_2_128_;
};

// A cached plan for size n (shared, never destroyed).
const Ntt128& ntt128_plan(std::size_t n);

}  // namespace veil::fhe::core
