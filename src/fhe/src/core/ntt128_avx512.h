// AVX-512 kernels for the exact 128-bit NTT (core/ntt128.h), 8 words at a time, giving after
// the final reductions bit for bit what the scalar code gives. Only call them when available()
// says the CPU has AVX-512 F and DQ, for n >= 2 * kLanes.
//
// Thread safety: pure functions on caller-owned buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace veil::fhe::core::ntt128_avx512 {

inline constexpr std::size_t kLanes = 8;

bool available();

// out[j] = in[j] mod p for n small signed integers (Ntt128::forward_i32's input step).
void reduce_small(const std::int32_t* in, std::uint64_t* out, std::size_t n, std::uint64_t p);

// All stages of a size-n transform with twiddles w and Shoup quotients ws indexed as Ntt128
// stores them: forward Cooley-Tukey (lazy inside, reduced to [0, p) at the end, as
// Ntt128::forward_inplace) and inverse Gentleman-Sande (lazy, values left in [0, 2p), as
// Ntt128::backward_inplace).
void forward(std::uint64_t* a, std::size_t n, const std::uint64_t* w, const std::uint64_t* ws, std::uint64_t p);
void backward(std::uint64_t* a, std::size_t n, const std::uint64_t* w, const std::uint64_t* ws, std::uint64_t p);

// out[j] = n^-1 2^-64 sum_r a_r[j] b_r[j] mod p, in [0, p), for n words: a_r = a + r a_stride
// and b_r = b + r b_stride below 2^60, rows <= 16, fold[e] = 2^(30 e - 64) n^-1 mod p with its
// Shoup quotient fold_shoup[e] (Ntt128::product_sum's reduction).
void product_sum(const std::uint64_t* a, std::size_t a_stride, const std::uint64_t* b, std::size_t b_stride,
                 std::size_t rows, std::uint64_t* out, std::size_t n, std::uint64_t p,
                 const std::uint64_t* fold, const std::uint64_t* fold_shoup);

// digits[j n + i] = digit j of decompose128(words[i]) (core/squash.h) for n 128-bit words (low
// half first), bit for bit: balanced digits of base 2^base_log, base_log in [2, 31], base_log *
// level < 128.
void decompose(const std::uint64_t* words, std::size_t n, unsigned base_log, std::size_t level,
               std::int32_t* digits);

// Garner's constants of Ntt128::crt.
struct CrtConstants {
  std::uint64_t p[3];
  std::uint64_t c12, c12_shoup, c13, c13_shoup, c23, c23_shoup;  // p1^-1 mod p2, p1^-1 and p2^-1 mod p3
  std::uint64_t p1p2_lo, p1p2_hi, all_lo, all_hi;                // p1 p2 and p1 p2 p3 mod 2^128
};
// out[j] (n 128-bit words, low half first; stored or added) = the integer in (-P/2, P/2) mod
// 2^128 whose residues are r0[j], r1[j], r2[j] (each in [0, 2 p_i)), as Ntt128::crt.
void crt(const std::uint64_t* r0, const std::uint64_t* r1, const std::uint64_t* r2, std::uint64_t* out,
         std::size_t n, const CrtConstants& c, bool accumulate);

}  // namespace veil::fhe::core::ntt128_avx512
