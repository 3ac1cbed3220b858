// AVX-512 transforms for the exact 128-bit NTT (core/ntt128.h), 8 butterflies at a time,
// computing bit for bit what the scalar transforms compute. Only call them when available()
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

}  // namespace veil::fhe::core::ntt128_avx512
