// Batched kernel: conditional subtraction of public amounts.
#include "integer/batched/helpers.h"

namespace veil::fhe::integer {

using namespace detail;

std::vector<RadixCiphertext> ServerKey::sub_where(const std::vector<const RadixCiphertext*>& values,
                                                  const std::vector<const BoolCiphertext*>& conds,
                                                  const std::vector<std::uint64_t>& amounts, bool no_underflow) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t items = values.size();
  std::vector<RadixCiphertext> out(items);
  std::vector<Ciphertext> cond(items);
  std::vector<std::size_t> lowest(items, 0);
  std::vector<std::size_t> end(items, 0);  // one past the last block the ripple reaches
  std::size_t width = 0;
  // Each block's input is v + m - cond * d - borrow: clean what would exceed the budget.
  std::vector<Ciphertext*> dirty;
  for (std::size_t i = 0; i < items; ++i) {
    out[i] = *values[i];
    cond[i] = *conds[i];
    const std::size_t nb = out[i].blocks.size();
    width = std::max(width, nb);
    lowest[i] = nb;
    for (std::size_t k = 0; k < nb; ++k) {
      if (digit(amounts[i], m, k) != 0) {
        lowest[i] = k;
        break;
      }
    }
    end[i] = nb;
    if (no_underflow) {
      // Public zero blocks above both the value's and the amount's last non-zero digit stay zero.
      while (end[i] > lowest[i] + 1 && public_value(out[i].blocks[end[i] - 1]) == 0 &&
             digit(amounts[i], m, end[i] - 1) == 0) {
        --end[i];
      }
    }
    if (lowest[i] == nb) continue;
    if (cond[i].noise_level * (m - 1) + 2 > max_noise) dirty.push_back(&cond[i]);
  }
  clean_many(dirty);
  dirty.clear();
  for (std::size_t i = 0; i < items; ++i) {
    for (std::size_t k = lowest[i]; k < end[i]; ++k) {
      if (out[i].blocks[k].noise_level + cond[i].noise_level * digit(amounts[i], m, k) + 1 > max_noise) {
        dirty.push_back(&out[i].blocks[k]);
      }
    }
  }
  clean_many(std::move(dirty));
  const auto msg = key_->lut([m](std::uint64_t x) { return x % m; });
  const auto msg_borrow = key_->many_lut({[m](std::uint64_t x) { return x % m; },
                                          [m](std::uint64_t x) -> std::uint64_t { return x < m ? 1 : 0; }});
  std::vector<std::optional<Ciphertext>> borrow(items);
  for (std::size_t k = 0; k < width; ++k) {
    std::vector<Ciphertext> inputs;
    std::vector<const shortint::LookupTable*> luts;
    std::vector<std::size_t> item_of;
    for (std::size_t i = 0; i < items; ++i) {
      const std::size_t nb = end[i];
      if (k < lowest[i] || k >= nb) continue;
      const std::uint64_t d = digit(amounts[i], m, k);
      // w = cond * d + borrow <= m; x = v + (m - w) in [0, 2m - 1].
      std::optional<Ciphertext> w;
      if (d != 0) {
        w = cond[i];
        key_->scalar_mul_assign(*w, d);
      }
      if (borrow[i]) {
        if (w) key_->add_assign(*w, *borrow[i]); else w = *borrow[i];
        borrow[i].reset();
      }
      Ciphertext x = out[i].blocks[k];
      if (w) {
        key_->add_assign(x, key_->scalar_sub_from(m, *w));
      } else {
        key_->scalar_add_assign(x, m);
      }
      x.degree = 2 * m - 1;
      inputs.push_back(std::move(x));
      luts.push_back(k + 1 == nb ? &msg : &msg_borrow);
      item_of.push_back(i);
    }
    if (inputs.empty()) continue;
    auto results = run_public_aware(inputs, luts);
    for (std::size_t s = 0; s < item_of.size(); ++s) {
      const std::size_t i = item_of[s];
      out[i].blocks[k] = std::move(results[s][0]);
      if (results[s].size() > 1 && results[s][1].degree > 0) borrow[i] = std::move(results[s][1]);
    }
  }
  return out;
}

}  // namespace veil::fhe::integer
