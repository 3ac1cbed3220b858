// Radix integers: an unsigned integer as little-endian blocks of message_modulus values
// (2 bits with the default parameters), after TFHE-rs `integer`. FheUint16 = 8 blocks.
//
// Invariant between operations: every block's degree is < message_modulus (carries empty).
// Operations take inputs in that state and return outputs in that state; noise levels may be
// above 1 and are cleaned by a bootstrap only where an operation's packing would exceed the
// budget (shortint::ServerKey::with_noise_at_most).
//
// Parallelism: independent bootstraps of one step run through ThreadPool::parallel_for;
// key switches of a step are batched so the key-switching key is streamed once per step.
//
// Thread safety: ServerKey is immutable; calls may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "shortint/shortint.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe::integer {

using shortint::Ciphertext;
using core::Torus;

struct RadixCiphertext {
  std::vector<Ciphertext> blocks;  // least significant first
};

// A boolean result: one block holding 0 or 1.
using BoolCiphertext = Ciphertext;

// Encrypts / decrypts with the secret key.
RadixCiphertext encrypt_radix(const shortint::ClientKey& ck, std::uint64_t value, std::size_t num_blocks);
std::uint64_t decrypt_radix(const shortint::ClientKey& ck, const RadixCiphertext& ct);
// Number of blocks for `bits` bits.
std::size_t blocks_for_bits(const Parameters& params, unsigned bits);

enum class Comparison { kEq, kNe, kGt, kGe, kLt, kLe };

class ServerKey {
 public:
  // `pool` runs independent bootstraps; nullptr means ThreadPool::shared().
  explicit ServerKey(const shortint::ServerKey& key, ThreadPool* pool = nullptr);
  const shortint::ServerKey& shortint() const { return *key_; }
  const Parameters& params() const { return key_->params(); }

  RadixCiphertext trivial(std::uint64_t value, std::size_t num_blocks) const;

  RadixCiphertext add(const RadixCiphertext& a, const RadixCiphertext& b) const;
  RadixCiphertext sub(const RadixCiphertext& a, const RadixCiphertext& b) const;
  RadixCiphertext scalar_add(const RadixCiphertext& a, std::uint64_t c) const;
  RadixCiphertext scalar_sub(const RadixCiphertext& a, std::uint64_t c) const;
  RadixCiphertext scalar_mul(const RadixCiphertext& a, std::uint64_t c) const;

  BoolCiphertext compare(const RadixCiphertext& a, const RadixCiphertext& b, Comparison op) const;
  BoolCiphertext scalar_compare(const RadixCiphertext& a, std::uint64_t c, Comparison op) const;

  RadixCiphertext min(const RadixCiphertext& a, const RadixCiphertext& b) const;
  RadixCiphertext max(const RadixCiphertext& a, const RadixCiphertext& b) const;
  RadixCiphertext scalar_min(const RadixCiphertext& a, std::uint64_t c) const;
  RadixCiphertext scalar_max(const RadixCiphertext& a, std::uint64_t c) const;

  // cond ? a : b, with cond a boolean block.
  RadixCiphertext select(const BoolCiphertext& cond, const RadixCiphertext& a, const RadixCiphertext& b) const;

  enum class Bitwise { kAnd, kOr, kXor };
  RadixCiphertext bitwise(const RadixCiphertext& a, const RadixCiphertext& b, Bitwise op) const;
  RadixCiphertext scalar_bitwise(const RadixCiphertext& a, std::uint64_t c, Bitwise op) const;
  RadixCiphertext bitnot(const RadixCiphertext& a) const;

  // Index (as a radix of `index_blocks` blocks) and value of the first maximum / minimum.
  std::pair<RadixCiphertext, RadixCiphertext> argmax(std::span<const RadixCiphertext> values,
                                                     std::size_t index_blocks) const;
  std::pair<RadixCiphertext, RadixCiphertext> argmin(std::span<const RadixCiphertext> values,
                                                     std::size_t index_blocks) const;

  // Boolean blocks.
  BoolCiphertext bool_and(const BoolCiphertext& a, const BoolCiphertext& b) const;
  BoolCiphertext bool_or(const BoolCiphertext& a, const BoolCiphertext& b) const;
  BoolCiphertext bool_xor(const BoolCiphertext& a, const BoolCiphertext& b) const;
  BoolCiphertext bool_not(const BoolCiphertext& a) const;

  // Carry propagation strategies (public for tests): both return clean blocks.
  RadixCiphertext propagate_sequential(std::vector<Ciphertext> blocks) const;
  RadixCiphertext propagate_parallel(std::vector<Ciphertext> blocks) const;

  // Runs fn(i) for i in [0, count) on the pool.
  void parallel(std::size_t count, const std::function<void(std::size_t)>& fn) const;

 private:
  RadixCiphertext propagate(std::vector<Ciphertext> blocks) const;
  // Comparison result as a block whose value is scale * bool (scale 1 for FheBool, 8 for the
  // select trick).
  Ciphertext compare_impl(const RadixCiphertext& a, const RadixCiphertext* b, std::uint64_t scalar,
                          Comparison op, std::uint64_t scale) const;
  // The same for several independent pairs at once (bs[i] == nullptr: compare with scalar);
  // every level of every pair's reduction goes into one batch.
  std::vector<Ciphertext> compare_many(const std::vector<const RadixCiphertext*>& as,
                                       const std::vector<const RadixCiphertext*>& bs, std::uint64_t scalar,
                                       Comparison op, std::uint64_t scale) const;
  // cond8 holds 8 * cond.
  RadixCiphertext select_scaled(const Ciphertext& cond8, const RadixCiphertext& a, const RadixCiphertext& b) const;
  std::vector<RadixCiphertext> select_scaled_many(const std::vector<const Ciphertext*>& conds8,
                                                  const std::vector<const RadixCiphertext*>& as,
                                                  const std::vector<const RadixCiphertext*>& bs) const;
  // One batch of bootstraps: luts[i] applied to inputs[i].
  std::vector<std::vector<Ciphertext>> run(const std::vector<Ciphertext>& inputs,
                                           const std::vector<const shortint::LookupTable*>& luts) const;
  std::pair<RadixCiphertext, RadixCiphertext> arg_extreme(std::span<const RadixCiphertext> values,
                                                          std::size_t index_blocks, Comparison op) const;
  // Applies luts[i] to inputs[i] for all i in parallel.
  std::vector<Ciphertext> apply_all(const std::vector<Ciphertext>& inputs,
                                    const std::vector<const shortint::LookupTable*>& luts) const;

  const shortint::ServerKey* key_;
  ThreadPool* pool_;
  // Tables built once per key.
  shortint::LookupTable msg_lut_, carry_lut_, msg_carry_many_, sign_lut_, ne_lut_, any_lut_;
  shortint::LookupTable select_lut_, select_lut_unscaled_, bool_scale8_lut_, state_many_, prefix_lut_;
  shortint::LookupTable carry_add_lut_;
};

}  // namespace veil::fhe::integer
