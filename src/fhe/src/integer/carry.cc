// Carry propagation: sequential (many-LUT) and parallel (Kogge-Stone).
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

RadixCiphertext ServerKey::propagate(std::vector<Ciphertext> blocks) const {
  const std::size_t nb = blocks.size();
  // Threads that really run at once: the workers plus the caller, at most the cores.
  const std::size_t t = std::max<std::size_t>(
      1, std::min<std::size_t>(pool_->size() + 1, std::max(1u, std::thread::hardware_concurrency())));
  auto units = [t](std::size_t count) { return (count + t - 1) / t; };
  std::size_t parallel_units = units(nb) + units(nb - 1);
  for (std::size_t d = 1; d + 1 < nb; d *= 2) parallel_units += units(nb - 1 - d);
  const bool small_degrees = std::all_of(blocks.begin(), blocks.end(), [&](const Ciphertext& b) {
    return b.degree < params().plaintext_modulus() / 2;
  });
  if (small_degrees && nb > 2 && parallel_units < nb) return propagate_parallel(std::move(blocks));
  return propagate_sequential(std::move(blocks));
}

RadixCiphertext ServerKey::propagate_sequential(std::vector<Ciphertext> blocks) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t half = params().plaintext_modulus() / 2;
  RadixCiphertext out;
  out.blocks.resize(blocks.size());
  std::optional<Ciphertext> carry;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    Ciphertext cur = std::move(blocks[i]);
    if (carry) {
      cur = key_->with_noise_at_most(cur, params().max_noise_level - carry->noise_level);
      key_->add_assign(cur, *carry);
      carry.reset();
    }
    if (cur.degree < m) {
      out.blocks[i] = std::move(cur);
    } else if (i + 1 == blocks.size()) {
      out.blocks[i] = key_->apply(cur, msg_lut_);
    } else if (cur.degree < half) {
      auto parts = key_->apply_many(cur, msg_carry_many_);
      out.blocks[i] = std::move(parts[0]);
      carry = std::move(parts[1]);
    } else {
      auto parts = apply_all({cur, cur}, {&msg_lut_, &carry_lut_});
      out.blocks[i] = std::move(parts[0]);
      carry = std::move(parts[1]);
    }
  }
  return out;
}

RadixCiphertext ServerKey::propagate_parallel(std::vector<Ciphertext> blocks) const {
  // Kogge-Stone prefix over carry states: a block generates a carry (sum >= m), propagates an
  // incoming one (sum == m - 1) or neither. combine(cur, prev) = cur == propagate ? prev : cur
  // is associative, so log2(nb) levels of bivariate bootstraps resolve every carry.
  const std::size_t nb = blocks.size();
  std::vector<const shortint::LookupTable*> luts(nb, &state_many_);
  luts[0] = &msg_carry_many_;
  luts[nb - 1] = &msg_lut_;
  auto first = run(blocks, luts);
  std::vector<Ciphertext> msg(nb), state(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    msg[i] = std::move(first[i][0]);
    if (i + 1 < nb) state[i] = std::move(first[i][1]);
  }
  const std::uint64_t m = params().message_modulus;
  for (std::size_t d = 1; d + 1 < nb; d *= 2) {
    std::vector<Ciphertext> packed;
    for (std::size_t i = d; i + 1 < nb; ++i) {
      Ciphertext p = state[i];
      key_->scalar_mul_assign(p, m);
      key_->add_assign(p, state[i - d]);
      packed.push_back(std::move(p));
    }
    auto next = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &prefix_lut_));
    for (std::size_t i = d; i + 1 < nb; ++i) state[i] = std::move(next[i - d]);
  }
  RadixCiphertext out;
  out.blocks.resize(nb);
  out.blocks[0] = std::move(msg[0]);
  std::vector<Ciphertext> sums;
  for (std::size_t i = 1; i < nb; ++i) {
    Ciphertext sum = msg[i];
    key_->add_assign(sum, state[i - 1]);
    sums.push_back(std::move(sum));
  }
  auto finals = apply_all(sums, std::vector<const shortint::LookupTable*>(sums.size(), &msg_lut_));
  for (std::size_t i = 1; i < nb; ++i) out.blocks[i] = std::move(finals[i - 1]);
  return out;
}

}  // namespace veil::fhe::integer
