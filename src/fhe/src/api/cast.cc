// Width conversions of radix integers: appending or dropping most-significant blocks moves
// no noise and costs no bootstrap, because every block is already carry-free between
// operations (integer/radix.h).
#include <cstdio>
#include <cstdlib>

#include "api/impl.h"

namespace veil::fhe::detail {
namespace {

[[noreturn]] void cast_failed(const char* message) {
  std::fprintf(stderr, "veil::fhe: %s\n", message);
  std::abort();
}

}  // namespace

RadixPtr radix_cast(const ServerKey& key, const Radix& value, unsigned bits) {
  if (value.params->id != key.params().id) cast_failed("operand and server key use different parameter sets");
  const std::size_t target = integer::blocks_for_bits(key.params(), bits);
  integer::RadixCiphertext out = value.ct;
  if (out.blocks.size() > target) {
    out.blocks.resize(target);
  } else if (out.blocks.size() < target) {
    integer::RadixCiphertext zeros = key.impl().integer.trivial(0, target - out.blocks.size());
    for (auto& block : zeros.blocks) out.blocks.push_back(std::move(block));
  }
  return std::make_shared<Radix>(Radix{value.params, std::move(out)});
}

RadixPtr bool_to_radix(const ServerKey& key, const Block& value, unsigned bits) {
  if (value.params->id != key.params().id) cast_failed("operand and server key use different parameter sets");
  const std::size_t target = integer::blocks_for_bits(key.params(), bits);
  integer::RadixCiphertext out = key.impl().integer.trivial(0, target);
  out.blocks[0] = value.ct;  // a boolean block holds 0 or 1 with an empty carry
  return std::make_shared<Radix>(Radix{value.params, std::move(out)});
}

}  // namespace veil::fhe::detail
