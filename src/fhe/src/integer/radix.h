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
  // a >> bits. Whole blocks move without a bootstrap (the freed top blocks are public zeros,
  // which later kernels skip); a shift by a part of a block costs one bootstrap per block.
  RadixCiphertext scalar_shift_right(const RadixCiphertext& a, unsigned bits) const;

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

  // ---------------- batched kernels ----------------
  // Each kernel evaluates many independent items together: every level of bootstraps of all
  // items is one batch (the keys are streamed once per level, and the batch keeps every
  // thread busy). Blocks whose value is public (trivial, noise level 0) cost no bootstrap.
  // Inputs must satisfy the radix invariant (carry-free blocks); outputs do too.

  // out[i] = AND_r (rows[i][r] >= bounds[r]) as a boolean block. Each row holds bounds.size()
  // radix values (any widths). Per value: one bootstrap per pair of blocks from the lowest
  // non-zero pair of the bound up, then a tree of sign merges; then one AND per <= 5 values.
  std::vector<BoolCiphertext> all_at_least(const std::vector<std::vector<const RadixCiphertext*>>& rows,
                                           const std::vector<std::uint64_t>& bounds) const;

  // out[i] = (sum_r coefficients[r] * rows[i][r] + constant) mod m^out_blocks. Partial
  // products go into per-digit columns without propagating carries; each column is compacted
  // only as far as one final ripple needs (one or two bootstraps per output block). Output
  // blocks that cannot be non-zero (degree tracking) are public zeros.
  std::vector<RadixCiphertext> dot_products(const std::vector<std::vector<const RadixCiphertext*>>& rows,
                                            const std::vector<std::uint64_t>& coefficients, std::uint64_t constant,
                                            std::size_t out_blocks) const;

  struct Pick {
    RadixCiphertext index;  // `index_blocks` blocks; meaningful when found is 1
    BoolCiphertext found;
    RadixCiphertext value;  // the picked value (as many blocks as the values), when wanted and found is 1
  };
  struct Picks {
    std::vector<Pick> picks;              // one per round
    std::vector<BoolCiphertext> chosen;   // per candidate: 1 iff some round picked it; empty unless wanted
  };
  // What pick_extremes computes besides each round's index and found flag.
  struct PickOutputs {
    bool chosen = false;  // Picks::chosen (the last round's one-hot, about one bootstrap per candidate)
    bool values = false;  // Pick::value (the winner's value blocks are selected at the last level too)
  };
  // `rounds` times: among the candidates whose `eligible` block is 1 and that no earlier round
  // picked, the first (lowest index) maximum (maximise) or minimum of `values`; found is 0
  // when no candidate is left. Empty `eligible`: every candidate is (found is a public 1 when
  // rounds == 1, and no flag is compared). A tournament over (eligible, value) keys: n - 1
  // comparisons and selections per round, the comparison bits give the one-hot `chosen`
  // directly. This is the engine's one tournament: argmax() and argmin() are its first round.
  Picks pick_extremes(const std::vector<const RadixCiphertext*>& values,
                      const std::vector<const BoolCiphertext*>& eligible, std::size_t rounds, bool maximise,
                      std::size_t index_blocks, PickOutputs outputs) const;

  // out[i] = (values[i] - (conds[i] ? amounts[i] : 0)) mod m^nb, conds boolean blocks: one
  // borrow ripple from the lowest non-zero digit of the amount (one bootstrap per block).
  // no_underflow: the caller guarantees values[i] >= amounts[i] wherever conds[i] is 1 (a
  // reservation after a fit check), so no borrow leaves a value's highest block that is not
  // a public zero: the ripple stops there and the public zero blocks above stay as they are.
  std::vector<RadixCiphertext> sub_where(const std::vector<const RadixCiphertext*>& values,
                                         const std::vector<const BoolCiphertext*>& conds,
                                         const std::vector<std::uint64_t>& amounts, bool no_underflow = false) const;

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
  // argmax()/argmin(): one round of pick_extremes() with every candidate eligible.
  std::pair<RadixCiphertext, RadixCiphertext> first_extreme(std::span<const RadixCiphertext> values,
                                                            std::size_t index_blocks, bool maximise) const;
  // pick_extremes()'s value of the winner whose key blocks are `key` (pick_extremes.cc).
  RadixCiphertext winner_value(const std::vector<Ciphertext>& key, std::size_t value_blocks, std::size_t flag_block,
                               bool folded, bool maximise, std::uint64_t weight, std::uint64_t top_degree) const;
  // run(), except that a public input (noise level 0) of a table made by lut()/many_lut() is
  // evaluated in the clear: no bootstrap, public outputs.
  std::vector<std::vector<Ciphertext>> run_public_aware(const std::vector<Ciphertext>& inputs,
                                                        const std::vector<const shortint::LookupTable*>& luts) const;
  // Public value of a trivial block whose value is in [0, p), or -1.
  std::int64_t public_value(const Ciphertext& c) const;
  // Identity bootstraps of the given blocks (each once), in one batch: noise level 1.
  void clean_many(std::vector<Ciphertext*> targets) const;
  // Cleans, in one batch, whichever of each pair's blocks is noisier until
  // noise(a) + noise(b) <= budget for every pair.
  void fit_noise_many(std::vector<std::pair<Ciphertext*, Ciphertext*>>& pairs, std::uint64_t budget) const;
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
