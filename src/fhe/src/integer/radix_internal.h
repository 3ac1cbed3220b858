// Helpers shared by the integer operation files (radix.cc, carry.cc, arithmetic.cc,
// comparison.cc, select.cc, bitwise.cc and batched/): not part of the integer API.
#pragma once

#include <algorithm>
#include <cassert>
#include <map>
#include <optional>
#include <thread>

#include "integer/radix.h"

namespace veil::fhe::integer::detail {

// Block comparison signs, and carry-propagation states.
constexpr std::uint64_t kLess = 0, kEqual = 1, kGreater = 2;
constexpr std::uint64_t kNone = 0, kGenerate = 1, kPropagate = 2;

inline std::uint64_t digit(std::uint64_t value, std::uint64_t m, std::size_t i) {
  for (std::size_t k = 0; k < i; ++k) value /= m;
  return value % m;
}

inline bool final_map(Comparison op, std::uint64_t sign) {
  switch (op) {
    case Comparison::kGt: return sign == kGreater;
    case Comparison::kGe: return sign != kLess;
    case Comparison::kLt: return sign == kLess;
    case Comparison::kLe: return sign != kGreater;
    case Comparison::kEq: return sign == kEqual;
    case Comparison::kNe: return sign != kEqual;
  }
  return false;
}

// Cleans x or y (the noisier first) until their noise levels sum to at most budget.
inline void fit_noise(const shortint::ServerKey& key, Ciphertext& x, Ciphertext& y, std::uint64_t budget) {
  while (x.noise_level + y.noise_level > budget) {
    if (x.noise_level >= y.noise_level && x.noise_level > 1) {
      x = key.clean(x);
    } else if (y.noise_level > 1) {
      y = key.clean(y);
    } else {
      x = key.clean(x);
      if (x.noise_level + y.noise_level > budget) y = key.clean(y);
      break;
    }
  }
}

}  // namespace veil::fhe::integer::detail
