// Selection, min/max and the argmax/argmin tournament.
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

RadixCiphertext ServerKey::select_scaled(const Ciphertext& cond8, const RadixCiphertext& a,
                                         const RadixCiphertext& b) const {
  return std::move(select_scaled_many({&cond8}, {&a}, {&b})[0]);
}

std::vector<RadixCiphertext> ServerKey::select_scaled_many(const std::vector<const Ciphertext*>& conds8,
                                                           const std::vector<const RadixCiphertext*>& as,
                                                           const std::vector<const RadixCiphertext*>& bs) const {
  const std::uint64_t m = params().message_modulus;
  std::vector<RadixCiphertext> out(as.size());
  std::vector<Ciphertext> packed;
  struct Slot {
    std::size_t pair, block;
    Ciphertext base;  // b_i, to which the LUT's signed difference is added
    std::uint64_t degree;
  };
  std::vector<Slot> slots;
  for (std::size_t p = 0; p < as.size(); ++p) {
    const std::uint64_t budget = params().max_noise_level - conds8[p]->noise_level;
    out[p].blocks.resize(as[p]->blocks.size());
    for (std::size_t i = 0; i < as[p]->blocks.size(); ++i) {
      const Ciphertext& ai = as[p]->blocks[i];
      const Ciphertext& bi = bs[p]->blocks[i];
      // Two equal public constants (argmax's unused index blocks) need no bootstrap.
      if (ai.noise_level == 0 && bi.noise_level == 0 && ai.ct.data == bi.ct.data) {
        out[p].blocks[i] = bi;
        continue;
      }
      Ciphertext x = ai;
      Ciphertext y = bi;
      fit_noise(*key_, x, y, budget);
      const std::uint64_t degree = std::max(x.degree, y.degree);
      key_->add_assign(x, key_->scalar_sub_from(m, y));
      key_->add_assign(x, *conds8[p]);
      x.degree = 4 * m - 1;
      packed.push_back(std::move(x));
      slots.push_back({p, i, std::move(y), degree});
    }
  }
  auto deltas = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &select_lut_));
  for (std::size_t k = 0; k < slots.size(); ++k) {
    // b + (cond ? a - b : 0); the LUT output is a signed multiple of Delta.
    Ciphertext result = std::move(slots[k].base);
    core::lwe_add_assign(result.ct, deltas[k].ct);
    result.noise_level += 1;
    result.degree = slots[k].degree;
    out[slots[k].pair].blocks[slots[k].block] = std::move(result);
  }
  return out;
}

RadixCiphertext ServerKey::select(const BoolCiphertext& cond, const RadixCiphertext& a,
                                  const RadixCiphertext& b) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  bool unscaled_fits = cond.noise_level <= 1;
  for (std::size_t i = 0; i < a.blocks.size(); ++i) {
    unscaled_fits = unscaled_fits && 2 * (a.blocks[i].noise_level + b.blocks[i].noise_level) + cond.noise_level <= max_noise;
  }
  if (!unscaled_fits) return select_scaled(key_->apply(cond, bool_scale8_lut_), a, b);
  const std::size_t nb = a.blocks.size();
  std::vector<Ciphertext> packed(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    Ciphertext x = a.blocks[i];
    key_->add_assign(x, key_->scalar_sub_from(m, b.blocks[i]));
    key_->scalar_mul_assign(x, 2);
    key_->add_assign(x, cond);
    x.degree = 4 * m - 1;
    packed[i] = std::move(x);
  }
  auto deltas = apply_all(packed, std::vector<const shortint::LookupTable*>(nb, &select_lut_unscaled_));
  RadixCiphertext out;
  out.blocks.resize(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    Ciphertext result = b.blocks[i];
    core::lwe_add_assign(result.ct, deltas[i].ct);
    result.noise_level += 1;
    result.degree = std::max(a.blocks[i].degree, b.blocks[i].degree);
    out.blocks[i] = std::move(result);
  }
  return out;
}

RadixCiphertext ServerKey::min(const RadixCiphertext& a, const RadixCiphertext& b) const {
  return select_scaled(compare_impl(a, &b, 0, Comparison::kLt, 2 * params().message_modulus), a, b);
}
RadixCiphertext ServerKey::max(const RadixCiphertext& a, const RadixCiphertext& b) const {
  return select_scaled(compare_impl(a, &b, 0, Comparison::kGt, 2 * params().message_modulus), a, b);
}
RadixCiphertext ServerKey::scalar_min(const RadixCiphertext& a, std::uint64_t c) const {
  auto t = trivial(c, a.blocks.size());
  return select_scaled(compare_impl(a, nullptr, c, Comparison::kLt, 2 * params().message_modulus), a, t);
}
RadixCiphertext ServerKey::scalar_max(const RadixCiphertext& a, std::uint64_t c) const {
  auto t = trivial(c, a.blocks.size());
  return select_scaled(compare_impl(a, nullptr, c, Comparison::kGt, 2 * params().message_modulus), a, t);
}

// argmax and argmin are the first round of the scheduler's tournament (pick_extremes), with
// every candidate eligible: ties keep the lowest index.
std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmax(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return first_extreme(values, index_blocks, true);
}
std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmin(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return first_extreme(values, index_blocks, false);
}

std::pair<RadixCiphertext, RadixCiphertext> ServerKey::first_extreme(std::span<const RadixCiphertext> values,
                                                                     std::size_t index_blocks, bool maximise) const {
  assert(!values.empty());
  std::vector<const RadixCiphertext*> ptrs;
  for (const auto& v : values) ptrs.push_back(&v);
  Picks picks = pick_extremes(ptrs, {}, 1, maximise, index_blocks, PickOutputs{.chosen = false, .values = true});
  return {std::move(picks.picks[0].index), std::move(picks.picks[0].value)};
}

}  // namespace veil::fhe::integer
