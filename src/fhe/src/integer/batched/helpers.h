// Helpers shared by the scheduler's batched kernels (batched/*.cc).
#pragma once

#include <vector>

#include "integer/radix_internal.h"

namespace veil::fhe::integer::detail {


// x * m + y (a bivariate packing); the caller guarantees the noise budget.
inline Ciphertext pack(const shortint::ServerKey& key, const Ciphertext& hi, const Ciphertext& lo, std::uint64_t weight) {
  Ciphertext x = hi;
  key.scalar_mul_assign(x, weight);
  key.add_assign(x, lo);
  return x;
}

inline Ciphertext sum_of(const shortint::ServerKey& key, const std::vector<Ciphertext>& terms) {
  Ciphertext s = terms[0];
  for (std::size_t k = 1; k < terms.size(); ++k) key.add_assign(s, terms[k]);
  return s;
}

}  // namespace veil::fhe::integer::detail
