// Radix integers: encryption, the server key and its tables, batching, trivial values.
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

std::size_t blocks_for_bits(const Parameters& params, unsigned bits) {
  std::size_t bits_per_block = 0;
  for (std::uint64_t m = params.message_modulus; m > 1; m >>= 1) ++bits_per_block;
  return (bits + bits_per_block - 1) / bits_per_block;
}

RadixCiphertext encrypt_radix(const shortint::ClientKey& ck, std::uint64_t value, std::size_t num_blocks) {
  RadixCiphertext out;
  const std::uint64_t m = ck.params().message_modulus;
  for (std::size_t i = 0; i < num_blocks; ++i) {
    out.blocks.push_back(ck.encrypt(value % m));
    value /= m;
  }
  return out;
}

std::uint64_t decrypt_radix(const shortint::ClientKey& ck, const RadixCiphertext& ct) {
  const std::uint64_t m = ck.params().message_modulus;
  std::uint64_t value = 0, weight = 1;
  for (const auto& block : ct.blocks) {
    value += ck.decrypt(block) * weight;
    weight *= m;
  }
  return value;
}

ServerKey::ServerKey(const shortint::ServerKey& key, ThreadPool* pool)
    : key_(&key), pool_(pool != nullptr ? pool : &ThreadPool::shared()) {
  const std::uint64_t m = params().message_modulus;
  msg_lut_ = key.lut([m](std::uint64_t x) { return x % m; });
  carry_lut_ = key.lut([m](std::uint64_t x) { return x / m; });
  msg_carry_many_ = key.many_lut({[m](std::uint64_t x) { return x % m; }, [m](std::uint64_t x) { return x / m; }});
  state_many_ = key.many_lut({[m](std::uint64_t x) { return x % m; }, [m](std::uint64_t x) {
                                return x >= m ? kGenerate : x == m - 1 ? kPropagate : kNone;
                              }});
  prefix_lut_ = key.lut([m](std::uint64_t x) {
    const std::uint64_t cur = x / m, prev = x % m;
    return cur == kPropagate ? prev : cur;
  });
  // d = a - b + m for block messages a, b.
  sign_lut_ = key.lut([m](std::uint64_t d) { return d < m ? kLess : d == m ? kEqual : kGreater; });
  ne_lut_ = key.lut([m](std::uint64_t d) -> std::uint64_t { return d != m ? 1 : 0; });
  any_lut_ = key.lut([](std::uint64_t x) -> std::uint64_t { return x != 0 ? 1 : 0; });
  // x = (a - b + m) + 2m * c  ->  c ? (a - b) * Delta : 0, added to b afterwards.
  const Torus delta = params().delta();
  select_lut_ = key.lut_torus(
      [m, delta](std::uint64_t x) -> Torus {
        if (x < 2 * m) return 0;
        const auto d = static_cast<std::int64_t>(x - 2 * m) - static_cast<std::int64_t>(m);
        return static_cast<Torus>(d) * delta;
      },
      m - 1);
  // x = 2 (a - b + m) + c.
  select_lut_unscaled_ = key.lut_torus(
      [m, delta](std::uint64_t x) -> Torus {
        if ((x & 1) == 0) return 0;
        const auto d = static_cast<std::int64_t>(x >> 1) - static_cast<std::int64_t>(m);
        return static_cast<Torus>(d) * delta;
      },
      m - 1);
  bool_scale8_lut_ = key.lut([m](std::uint64_t x) -> std::uint64_t { return x != 0 ? 2 * m : 0; });
}

void ServerKey::parallel(std::size_t count, const std::function<void(std::size_t)>& fn) const {
  if (count == 1) {
    fn(0);
    return;
  }
  pool_->parallel_for(0, count, fn);
}

std::vector<std::vector<Ciphertext>> ServerKey::run(const std::vector<Ciphertext>& inputs,
                                                    const std::vector<const shortint::LookupTable*>& luts) const {
  return key_->apply_batch(inputs, luts, *pool_);
}

std::vector<Ciphertext> ServerKey::apply_all(const std::vector<Ciphertext>& inputs,
                                             const std::vector<const shortint::LookupTable*>& luts) const {
  auto results = run(inputs, luts);
  std::vector<Ciphertext> out(inputs.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::move(results[i][0]);
  return out;
}

RadixCiphertext ServerKey::trivial(std::uint64_t value, std::size_t num_blocks) const {
  RadixCiphertext out;
  const std::uint64_t m = params().message_modulus;
  for (std::size_t i = 0; i < num_blocks; ++i) {
    out.blocks.push_back(key_->trivial(value % m));
    value /= m;
  }
  return out;
}

}  // namespace veil::fhe::integer
