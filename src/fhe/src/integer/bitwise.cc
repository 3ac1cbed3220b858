// Bitwise and boolean operations, shifts.
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

namespace {
std::uint64_t bit_op(ServerKey::Bitwise op, std::uint64_t x, std::uint64_t y) {
  switch (op) {
    case ServerKey::Bitwise::kAnd: return x & y;
    case ServerKey::Bitwise::kOr: return x | y;
    case ServerKey::Bitwise::kXor: return x ^ y;
  }
  return 0;
}
}  // namespace

RadixCiphertext ServerKey::bitwise(const RadixCiphertext& a, const RadixCiphertext& b, Bitwise op) const {
  const auto lut = key_->bivariate_lut([op](std::uint64_t x, std::uint64_t y) { return bit_op(op, x, y); });
  std::vector<Ciphertext> packed;
  for (std::size_t i = 0; i < a.blocks.size(); ++i) packed.push_back(key_->pack_bivariate(a.blocks[i], b.blocks[i]));
  RadixCiphertext out;
  out.blocks = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &lut));
  return out;
}

RadixCiphertext ServerKey::scalar_bitwise(const RadixCiphertext& a, std::uint64_t c, Bitwise op) const {
  const std::uint64_t m = params().message_modulus;
  RadixCiphertext out;
  out.blocks.resize(a.blocks.size());
  parallel(a.blocks.size(), [&](std::size_t i) {
    const std::uint64_t ci = digit(c, m, i);
    if ((op == Bitwise::kAnd && ci == m - 1) || (op != Bitwise::kAnd && ci == 0)) {
      out.blocks[i] = a.blocks[i];
    } else if (op == Bitwise::kAnd && ci == 0) {
      out.blocks[i] = key_->trivial(0);
    } else {
      out.blocks[i] = key_->apply(a.blocks[i], key_->lut([&](std::uint64_t x) { return bit_op(op, x % m, ci); }));
    }
  });
  return out;
}

RadixCiphertext ServerKey::bitnot(const RadixCiphertext& a) const {
  RadixCiphertext out;
  for (const auto& block : a.blocks) out.blocks.push_back(key_->scalar_sub_from(params().message_modulus - 1, block));
  return out;
}

RadixCiphertext ServerKey::scalar_shift_right(const RadixCiphertext& a, unsigned bits) const {
  const std::uint64_t m = params().message_modulus;
  unsigned block_bits = 0;
  for (std::uint64_t v = m; v > 1; v >>= 1) ++block_bits;
  const std::size_t nb = a.blocks.size();
  const std::size_t whole = std::min<std::size_t>(bits / block_bits, nb);
  const unsigned rest = bits % block_bits;
  // Whole blocks move down for free; zeros enter at the top as public blocks.
  RadixCiphertext out;
  for (std::size_t i = whole; i < nb; ++i) out.blocks.push_back(a.blocks[i]);
  if (rest != 0 && !out.blocks.empty()) {
    // The remaining bits: block i keeps its own high bits and takes the next block's low bits.
    const auto lut = key_->bivariate_lut([&](std::uint64_t next, std::uint64_t own) {
      return ((next << (block_bits - rest)) | (own >> rest)) % m;
    });
    std::vector<Ciphertext> packed;
    for (std::size_t i = 0; i < out.blocks.size(); ++i) {
      const Ciphertext next = i + 1 < out.blocks.size() ? out.blocks[i + 1] : key_->trivial(0);
      packed.push_back(key_->pack_bivariate(next, out.blocks[i]));
    }
    out.blocks = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &lut));
  }
  while (out.blocks.size() < nb) out.blocks.push_back(key_->trivial(0));
  return out;
}

BoolCiphertext ServerKey::bool_and(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x & y; });
}
BoolCiphertext ServerKey::bool_or(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x | y; });
}
BoolCiphertext ServerKey::bool_xor(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x ^ y; });
}
BoolCiphertext ServerKey::bool_not(const BoolCiphertext& a) const { return key_->scalar_sub_from(1, a); }

}  // namespace veil::fhe::integer
