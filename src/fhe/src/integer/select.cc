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

std::pair<RadixCiphertext, RadixCiphertext> ServerKey::arg_extreme(std::span<const RadixCiphertext> values,
                                                                   std::size_t index_blocks, Comparison op) const {
  assert(!values.empty());
  struct Candidate {
    RadixCiphertext value;
    RadixCiphertext index;
  };
  std::vector<Candidate> round;
  for (std::size_t i = 0; i < values.size(); ++i) round.push_back({values[i], trivial(i, index_blocks)});
  const std::uint64_t scale = 2 * params().message_modulus;
  // Tournament: the right candidate (higher indices) wins only when strictly better, so ties
  // keep the lowest index.
  while (round.size() > 1) {
    const std::size_t pairs = round.size() / 2;
    std::vector<const RadixCiphertext*> rights, lefts;
    for (std::size_t j = 0; j < pairs; ++j) {
      rights.push_back(&round[2 * j + 1].value);
      lefts.push_back(&round[2 * j].value);
    }
    // All comparisons of this round in one batch, then all selections (value and index
    // blocks together) in another.
    std::vector<Ciphertext> conds = compare_many(rights, lefts, 0, op, scale);
    std::vector<RadixCiphertext> both_right(pairs), both_left(pairs);
    std::vector<const Ciphertext*> cond_ptrs;
    std::vector<const RadixCiphertext*> rp, lp;
    for (std::size_t j = 0; j < pairs; ++j) {
      both_right[j] = round[2 * j + 1].value;
      both_left[j] = round[2 * j].value;
      both_right[j].blocks.insert(both_right[j].blocks.end(), round[2 * j + 1].index.blocks.begin(),
                                  round[2 * j + 1].index.blocks.end());
      both_left[j].blocks.insert(both_left[j].blocks.end(), round[2 * j].index.blocks.begin(),
                                 round[2 * j].index.blocks.end());
      cond_ptrs.push_back(&conds[j]);
      rp.push_back(&both_right[j]);
      lp.push_back(&both_left[j]);
    }
    std::vector<RadixCiphertext> chosen = select_scaled_many(cond_ptrs, rp, lp);
    std::vector<Candidate> next((round.size() + 1) / 2);
    const std::size_t vb = round[0].value.blocks.size();
    for (std::size_t j = 0; j < pairs; ++j) {
      next[j].value.blocks.assign(chosen[j].blocks.begin(), chosen[j].blocks.begin() + static_cast<std::ptrdiff_t>(vb));
      next[j].index.blocks.assign(chosen[j].blocks.begin() + static_cast<std::ptrdiff_t>(vb), chosen[j].blocks.end());
    }
    if (round.size() % 2 == 1) next.back() = std::move(round.back());
    round = std::move(next);
  }
  return {std::move(round[0].index), std::move(round[0].value)};
}

std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmax(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return arg_extreme(values, index_blocks, Comparison::kGt);
}
std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmin(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return arg_extreme(values, index_blocks, Comparison::kLt);
}

}  // namespace veil::fhe::integer
