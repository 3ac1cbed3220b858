// Comparisons by tree reduction of block signs.
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

Ciphertext ServerKey::compare_impl(const RadixCiphertext& a, const RadixCiphertext* b, std::uint64_t scalar,
                                   Comparison op, std::uint64_t scale) const {
  return compare_many({&a}, {b}, scalar, op, scale)[0];
}

std::vector<Ciphertext> ServerKey::compare_many(const std::vector<const RadixCiphertext*>& as,
                                                const std::vector<const RadixCiphertext*>& bs, std::uint64_t scalar,
                                                Comparison op, std::uint64_t scale) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t pairs = as.size();
  const std::size_t nb = as[0]->blocks.size();
  // d_i = a_i - b_i + m in [1, 2m - 1]: its sign relative to m orders the blocks.
  std::vector<Ciphertext> diffs(pairs * nb);
  for (std::size_t p = 0; p < pairs; ++p) {
    for (std::size_t i = 0; i < nb; ++i) {
      Ciphertext& d = diffs[p * nb + i];
      if (bs[p] == nullptr) {
        d = key_->with_noise_at_most(as[p]->blocks[i], max_noise);
        key_->scalar_add_assign(d, m);
        d.ct.body() -= digit(scalar, m, i) * params().delta();
      } else {
        Ciphertext x = as[p]->blocks[i];
        Ciphertext y = bs[p]->blocks[i];
        fit_noise(*key_, x, y, max_noise);
        key_->add_assign(x, key_->scalar_sub_from(m, y));
        d = std::move(x);
      }
      d.degree = 2 * m - 1;
    }
  }
  const bool equality = op == Comparison::kEq || op == Comparison::kNe;
  auto final_lut_for = [&](const std::function<bool(std::uint64_t)>& pred) {
    return key_->lut([&](std::uint64_t x) -> std::uint64_t { return pred(x) ? scale : 0; });
  };
  if (nb == 1) {
    auto lut = final_lut_for([&](std::uint64_t d) { return final_map(op, d < m ? kLess : d == m ? kEqual : kGreater); });
    return apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &lut));
  }
  if (equality) {
    // ne_i in {0,1}; sums of up to max_noise of them are reduced until one remains per pair.
    std::vector<Ciphertext> flags = apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &ne_lut_));
    std::size_t per_pair = nb;
    const std::size_t group = std::min<std::uint64_t>(max_noise, params().plaintext_modulus() - 1);
    const auto final_lut = final_lut_for([&](std::uint64_t s) { return op == Comparison::kEq ? s == 0 : s != 0; });
    for (;;) {
      const std::size_t count = (per_pair + group - 1) / group;
      std::vector<Ciphertext> sums(pairs * count);
      for (std::size_t p = 0; p < pairs; ++p) {
        for (std::size_t g = 0; g < count; ++g) {
          Ciphertext& sum = sums[p * count + g];
          sum = flags[p * per_pair + g * group];
          for (std::size_t k = g * group + 1; k < std::min(per_pair, (g + 1) * group); ++k) {
            key_->add_assign(sum, flags[p * per_pair + k]);
          }
        }
      }
      const bool last = count == 1;
      flags = apply_all(sums, std::vector<const shortint::LookupTable*>(sums.size(), last ? &final_lut : &any_lut_));
      per_pair = count;
      if (last) return flags;
    }
  }
  std::vector<Ciphertext> signs = apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &sign_lut_));
  const auto combine = [m](std::uint64_t x) {
    const std::uint64_t hi = x / m, lo = x % m;
    return hi == kEqual ? lo : hi;
  };
  const auto final_lut = final_lut_for([&](std::uint64_t x) { return final_map(op, combine(x)); });
  const auto combine_lut = key_->lut(combine);
  std::size_t per_pair = nb;
  while (per_pair > 1) {
    const std::size_t halves = per_pair / 2, next_count = halves + per_pair % 2;
    const bool last = per_pair == 2;
    std::vector<Ciphertext> packed;
    for (std::size_t p = 0; p < pairs; ++p) {
      for (std::size_t j = 0; j < halves; ++j) {
        Ciphertext hi = signs[p * per_pair + 2 * j + 1];
        key_->scalar_mul_assign(hi, m);
        key_->add_assign(hi, signs[p * per_pair + 2 * j]);
        packed.push_back(std::move(hi));
      }
    }
    auto combined = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), last ? &final_lut : &combine_lut));
    std::vector<Ciphertext> next(pairs * next_count);
    for (std::size_t p = 0; p < pairs; ++p) {
      for (std::size_t j = 0; j < halves; ++j) next[p * next_count + j] = std::move(combined[p * halves + j]);
      if (per_pair % 2 == 1) next[p * next_count + halves] = std::move(signs[p * per_pair + per_pair - 1]);
    }
    signs = std::move(next);
    per_pair = next_count;
  }
  return signs;
}

BoolCiphertext ServerKey::compare(const RadixCiphertext& a, const RadixCiphertext& b, Comparison op) const {
  return compare_impl(a, &b, 0, op, 1);
}

BoolCiphertext ServerKey::scalar_compare(const RadixCiphertext& a, std::uint64_t c, Comparison op) const {
  return compare_impl(a, nullptr, c, op, 1);
}

}  // namespace veil::fhe::integer
