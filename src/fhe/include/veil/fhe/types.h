// Encrypted integers and booleans (TFHE-rs high-level API style).
//
//   auto a = FheUint16::encrypt(42, public_key);
//   auto b = FheUint16::encrypt(7, client_key);
//   set_server_key(server_key);            // or pass it: a.ge(b, server_key)
//   FheBool c = a.ge(b);
//   FheUint16 m = c.select(a, b);          // c ? a : b
//   std::uint64_t v = m.decrypt(client_key);
//
// FheUint<Bits> is a radix integer of Bits/2 blocks of 2 bits (default parameters); arithmetic
// wraps modulo 2^Bits. FheBool is one block holding 0 or 1. Values are immutable handles:
// copying is cheap and operations return new values. Operands must come from the same key
// set (same parameters); mixing sets, or calling an operator with no server key set on the
// thread, aborts. Each operation's noise reasoning is in docs/fhe.md.
//
// Serialization: serialize() / deserialize(bytes, options) as for keys (veil/fhe/keys.h); the
// bit width is part of the object kind, so a FheUint8 file is refused as a FheUint16.
//
// Thread safety: values may be shared across threads; operations are reentrant and run their
// independent bootstraps on veil::ThreadPool::shared().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "veil/fhe/keys.h"

namespace veil::fhe {

namespace detail {
struct Radix;  // blocks of a radix ciphertext
struct Block;  // one boolean block
using RadixPtr = std::shared_ptr<const Radix>;
using BlockPtr = std::shared_ptr<const Block>;

enum class Op { kAdd, kSub, kMul, kAnd, kOr, kXor, kMin, kMax };
enum class Cmp { kEq, kNe, kGt, kGe, kLt, kLe };

const ServerKey& thread_server_key();  // aborts when unset
RadixPtr radix_encrypt(std::uint64_t value, unsigned bits, const ClientKey& key);
RadixPtr radix_encrypt(std::uint64_t value, unsigned bits, const CompactPublicKey& key);
RadixPtr radix_trivial(std::uint64_t value, unsigned bits, const ServerKey& key);
std::uint64_t radix_decrypt(const Radix& value, const ClientKey& key);
RadixPtr radix_binary(const ServerKey& key, Op op, const Radix& a, const Radix& b);
RadixPtr radix_scalar(const ServerKey& key, Op op, const Radix& a, std::uint64_t c);
RadixPtr radix_not(const ServerKey& key, const Radix& a);
RadixPtr radix_shift_right(const ServerKey& key, const Radix& a, unsigned bits);
BlockPtr radix_compare(const ServerKey& key, Cmp op, const Radix& a, const Radix& b);
BlockPtr radix_scalar_compare(const ServerKey& key, Cmp op, const Radix& a, std::uint64_t c);
RadixPtr radix_select(const ServerKey& key, const Block& cond, const Radix& a, const Radix& b);
RadixPtr radix_cast(const ServerKey& key, const Radix& value, unsigned bits);
RadixPtr bool_to_radix(const ServerKey& key, const Block& value, unsigned bits);
std::pair<RadixPtr, RadixPtr> radix_arg_extreme(const ServerKey& key, std::span<const Radix* const> values, bool max);
std::vector<BlockPtr> batch_all_at_least(const ServerKey& key, const std::vector<std::vector<const Radix*>>& rows,
                                         std::span<const std::uint64_t> bounds);
std::vector<RadixPtr> batch_dot_products(const ServerKey& key, const std::vector<std::vector<const Radix*>>& rows,
                                         std::span<const std::uint64_t> coefficients, std::uint64_t constant,
                                         unsigned bits);
struct RawPick {
  RadixPtr index;
  BlockPtr found;
};
std::pair<std::vector<RawPick>, std::vector<BlockPtr>> batch_pick_extremes(const ServerKey& key,
                                                                          std::span<const Radix* const> values,
                                                                          std::span<const Block* const> eligible,
                                                                          std::size_t rounds, bool maximise,
                                                                          bool want_chosen);
std::vector<RadixPtr> batch_sub_where(const ServerKey& key, std::span<const Radix* const> values,
                                      std::span<const Block* const> conds, std::span<const std::uint64_t> amounts,
                                      bool no_underflow);
Bytes radix_serialize(const Radix& value, unsigned bits);
Result<RadixPtr> radix_deserialize(ByteView bytes, unsigned bits, const DeserializeOptions& options);

BlockPtr bool_encrypt(bool value, const ClientKey& key);
BlockPtr bool_encrypt(bool value, const CompactPublicKey& key);
bool bool_decrypt(const Block& value, const ClientKey& key);
BlockPtr bool_binary(const ServerKey& key, Op op, const Block& a, const Block& b);
BlockPtr bool_not(const ServerKey& key, const Block& a);
Bytes bool_serialize(const Block& value);
Result<BlockPtr> bool_deserialize(ByteView bytes, const DeserializeOptions& options);
}  // namespace detail

class FheBool;

template <unsigned Bits>
class FheUint {
  static_assert(Bits == 8 || Bits == 16 || Bits == 32, "FheUint8, FheUint16 and FheUint32 are supported");

 public:
  static constexpr unsigned kBits = Bits;
  static constexpr std::uint64_t kMax = (std::uint64_t{1} << Bits) - 1;

  // Encrypts value mod 2^Bits with the secret key or, from anywhere, with the public key.
  static FheUint encrypt(std::uint64_t value, const ClientKey& key) { return FheUint(detail::radix_encrypt(value, Bits, key)); }
  static FheUint encrypt(std::uint64_t value, const CompactPublicKey& key) {
    return FheUint(detail::radix_encrypt(value, Bits, key));
  }
  // A noiseless public constant usable as an operand.
  static FheUint trivial(std::uint64_t value, const ServerKey& key) { return FheUint(detail::radix_trivial(value, Bits, key)); }

  std::uint64_t decrypt(const ClientKey& key) const { return detail::radix_decrypt(*v_, key); }

  // Arithmetic (mod 2^Bits). The scalar forms take a plaintext right operand.
  FheUint add(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kAdd, o); }
  FheUint sub(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kSub, o); }
  FheUint add(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kAdd, c); }
  FheUint sub(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kSub, c); }
  FheUint mul(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kMul, c); }
  FheUint min(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kMin, o); }
  FheUint max(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kMax, o); }
  FheUint min(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kMin, c); }
  FheUint max(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kMax, c); }
  FheUint bit_and(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kAnd, o); }
  FheUint bit_or(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kOr, o); }
  FheUint bit_xor(const FheUint& o, const ServerKey& k) const { return bin(k, detail::Op::kXor, o); }
  FheUint bit_and(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kAnd, c); }
  FheUint bit_or(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kOr, c); }
  FheUint bit_xor(std::uint64_t c, const ServerKey& k) const { return sc(k, detail::Op::kXor, c); }
  FheUint bit_not(const ServerKey& k) const { return FheUint(detail::radix_not(k, *v_)); }
  // this >> bits (logical). A shift by whole blocks (a multiple of 2 bits with the default
  // parameters) costs no bootstrap, and the zero top blocks it leaves are public, so kernels
  // that skip public blocks (dot_products, pick_extremes) do less work on the result.
  FheUint shr(unsigned bits, const ServerKey& k) const { return FheUint(detail::radix_shift_right(k, *v_, bits)); }

  // Comparisons return an encrypted boolean.
  FheBool eq(const FheUint& o, const ServerKey& k) const;
  FheBool ne(const FheUint& o, const ServerKey& k) const;
  FheBool gt(const FheUint& o, const ServerKey& k) const;
  FheBool ge(const FheUint& o, const ServerKey& k) const;
  FheBool lt(const FheUint& o, const ServerKey& k) const;
  FheBool le(const FheUint& o, const ServerKey& k) const;
  FheBool eq(std::uint64_t c, const ServerKey& k) const;
  FheBool ne(std::uint64_t c, const ServerKey& k) const;
  FheBool gt(std::uint64_t c, const ServerKey& k) const;
  FheBool ge(std::uint64_t c, const ServerKey& k) const;
  FheBool lt(std::uint64_t c, const ServerKey& k) const;
  FheBool le(std::uint64_t c, const ServerKey& k) const;

  // The same with the thread's server key (set_server_key).
  template <typename T> FheUint add(const T& o) const { return add(o, detail::thread_server_key()); }
  template <typename T> FheUint sub(const T& o) const { return sub(o, detail::thread_server_key()); }
  FheUint mul(std::uint64_t c) const { return mul(c, detail::thread_server_key()); }
  template <typename T> FheUint min(const T& o) const { return min(o, detail::thread_server_key()); }
  template <typename T> FheUint max(const T& o) const { return max(o, detail::thread_server_key()); }
  template <typename T> FheBool eq(const T& o) const;
  template <typename T> FheBool ne(const T& o) const;
  template <typename T> FheBool gt(const T& o) const;
  template <typename T> FheBool ge(const T& o) const;
  template <typename T> FheBool lt(const T& o) const;
  template <typename T> FheBool le(const T& o) const;
  FheUint operator+(const FheUint& o) const { return add(o); }
  FheUint operator-(const FheUint& o) const { return sub(o); }
  FheUint operator+(std::uint64_t c) const { return add(c); }
  FheUint operator-(std::uint64_t c) const { return sub(c); }
  FheUint operator*(std::uint64_t c) const { return mul(c); }
  FheUint operator&(const FheUint& o) const { return bit_and(o, detail::thread_server_key()); }
  FheUint operator|(const FheUint& o) const { return bit_or(o, detail::thread_server_key()); }
  FheUint operator^(const FheUint& o) const { return bit_xor(o, detail::thread_server_key()); }
  FheUint operator~() const { return bit_not(detail::thread_server_key()); }
  FheUint operator>>(unsigned bits) const { return shr(bits, detail::thread_server_key()); }

  Bytes serialize() const { return detail::radix_serialize(*v_, Bits); }
  static Result<FheUint> deserialize(ByteView bytes, const DeserializeOptions& options = {}) {
    auto r = detail::radix_deserialize(bytes, Bits, options);
    if (!r.ok()) return r.status();
    return FheUint(std::move(r).value());
  }

  const detail::Radix& raw() const { return *v_; }
  explicit FheUint(detail::RadixPtr v) : v_(std::move(v)) {}

 private:
  FheUint bin(const ServerKey& k, detail::Op op, const FheUint& o) const { return FheUint(detail::radix_binary(k, op, *v_, *o.v_)); }
  FheUint sc(const ServerKey& k, detail::Op op, std::uint64_t c) const { return FheUint(detail::radix_scalar(k, op, *v_, c)); }
  FheBool cmp(const ServerKey& k, detail::Cmp op, const FheUint& o) const;
  FheBool cmp(const ServerKey& k, detail::Cmp op, std::uint64_t c) const;

  detail::RadixPtr v_;
};

using FheUint8 = FheUint<8>;
using FheUint16 = FheUint<16>;
using FheUint32 = FheUint<32>;

class FheBool {
 public:
  static FheBool encrypt(bool value, const ClientKey& key) { return FheBool(detail::bool_encrypt(value, key)); }
  static FheBool encrypt(bool value, const CompactPublicKey& key) { return FheBool(detail::bool_encrypt(value, key)); }
  bool decrypt(const ClientKey& key) const { return detail::bool_decrypt(*v_, key); }

  FheBool bit_and(const FheBool& o, const ServerKey& k) const { return FheBool(detail::bool_binary(k, detail::Op::kAnd, *v_, *o.v_)); }
  FheBool bit_or(const FheBool& o, const ServerKey& k) const { return FheBool(detail::bool_binary(k, detail::Op::kOr, *v_, *o.v_)); }
  FheBool bit_xor(const FheBool& o, const ServerKey& k) const { return FheBool(detail::bool_binary(k, detail::Op::kXor, *v_, *o.v_)); }
  FheBool bit_not(const ServerKey& k) const { return FheBool(detail::bool_not(k, *v_)); }
  FheBool operator&(const FheBool& o) const { return bit_and(o, detail::thread_server_key()); }
  FheBool operator|(const FheBool& o) const { return bit_or(o, detail::thread_server_key()); }
  FheBool operator^(const FheBool& o) const { return bit_xor(o, detail::thread_server_key()); }
  FheBool operator!() const { return bit_not(detail::thread_server_key()); }

  // this ? a : b (if-then-else).
  template <unsigned Bits>
  FheUint<Bits> select(const FheUint<Bits>& a, const FheUint<Bits>& b, const ServerKey& k) const {
    return FheUint<Bits>(detail::radix_select(k, *v_, a.raw(), b.raw()));
  }
  template <unsigned Bits>
  FheUint<Bits> select(const FheUint<Bits>& a, const FheUint<Bits>& b) const {
    return select(a, b, detail::thread_server_key());
  }

  Bytes serialize() const { return detail::bool_serialize(*v_); }
  static Result<FheBool> deserialize(ByteView bytes, const DeserializeOptions& options = {}) {
    auto r = detail::bool_deserialize(bytes, options);
    if (!r.ok()) return r.status();
    return FheBool(std::move(r).value());
  }

  const detail::Block& raw() const { return *v_; }
  explicit FheBool(detail::BlockPtr v) : v_(std::move(v)) {}

 private:
  detail::BlockPtr v_;
};

template <unsigned Bits>
FheBool FheUint<Bits>::cmp(const ServerKey& k, detail::Cmp op, const FheUint& o) const {
  return FheBool(detail::radix_compare(k, op, *v_, *o.v_));
}
template <unsigned Bits>
FheBool FheUint<Bits>::cmp(const ServerKey& k, detail::Cmp op, std::uint64_t c) const {
  return FheBool(detail::radix_scalar_compare(k, op, *v_, c));
}

#define VEIL_FHE_CMP_(name, code)                                                                       \
  template <unsigned Bits>                                                                              \
  FheBool FheUint<Bits>::name(const FheUint& o, const ServerKey& k) const { return cmp(k, code, o); }   \
  template <unsigned Bits>                                                                              \
  FheBool FheUint<Bits>::name(std::uint64_t c, const ServerKey& k) const { return cmp(k, code, c); }    \
  template <unsigned Bits>                                                                              \
  template <typename T>                                                                                 \
  FheBool FheUint<Bits>::name(const T& o) const { return name(o, detail::thread_server_key()); }
VEIL_FHE_CMP_(eq, detail::Cmp::kEq)
VEIL_FHE_CMP_(ne, detail::Cmp::kNe)
VEIL_FHE_CMP_(gt, detail::Cmp::kGt)
VEIL_FHE_CMP_(ge, detail::Cmp::kGe)
VEIL_FHE_CMP_(lt, detail::Cmp::kLt)
VEIL_FHE_CMP_(le, detail::Cmp::kLe)
#undef VEIL_FHE_CMP_

// Zero-extends to a wider type or keeps the low bits for a narrower one (value mod 2^To).
// Costs no bootstrap: blocks are carry-free between operations.
template <unsigned To, unsigned From>
FheUint<To> cast(const FheUint<From>& value, const ServerKey& k) {
  return FheUint<To>(detail::radix_cast(k, value.raw(), To));
}
// An encrypted boolean as the integer 0 or 1. Costs no bootstrap.
template <unsigned To>
FheUint<To> cast(const FheBool& value, const ServerKey& k) {
  return FheUint<To>(detail::bool_to_radix(k, value.raw(), To));
}

// Index (FheUint16, of the first maximum/minimum; ties pick the lowest index) and value over
// a non-empty vector (at most 65536 entries).
template <unsigned Bits>
std::pair<FheUint16, FheUint<Bits>> argmax(std::span<const FheUint<Bits>> values, const ServerKey& k) {
  std::vector<const detail::Radix*> raw;
  for (const auto& v : values) raw.push_back(&v.raw());
  auto [index, value] = detail::radix_arg_extreme(k, raw, true);
  return {FheUint16(std::move(index)), FheUint<Bits>(std::move(value))};
}
template <unsigned Bits>
std::pair<FheUint16, FheUint<Bits>> argmin(std::span<const FheUint<Bits>> values, const ServerKey& k) {
  std::vector<const detail::Radix*> raw;
  for (const auto& v : values) raw.push_back(&v.raw());
  auto [index, value] = detail::radix_arg_extreme(k, raw, false);
  return {FheUint16(std::move(index)), FheUint<Bits>(std::move(value))};
}

// ---------------- batched kernels ----------------
// Vectorised circuits (encrypted scheduling evaluates one per node): each call evaluates many
// independent items level by level, every level of bootstraps of all items in one batch, and
// spends no bootstrap on public (trivial) blocks. They cost far fewer bootstraps than the
// same result built from the element-wise operations above (costs in docs/sched.md). All are
// deterministic. Inputs must come from `k`'s key set; mismatched lengths abort.

// out[i] = AND_r (rows[i][r] >= bounds[r]); every row has bounds.size() values. A bound of
// zero is always met.
namespace detail {
template <unsigned Bits>
std::vector<std::vector<const Radix*>> raw_rows(const std::vector<std::vector<FheUint<Bits>>>& rows) {
  std::vector<std::vector<const Radix*>> raw;
  for (const auto& row : rows) {
    raw.emplace_back();
    for (const auto& v : row) raw.back().push_back(&v.raw());
  }
  return raw;
}
}  // namespace detail

template <unsigned Bits>
std::vector<FheBool> all_at_least(const std::vector<std::vector<FheUint<Bits>>>& rows,
                                  std::span<const std::uint64_t> bounds, const ServerKey& k) {
  std::vector<FheBool> out;
  for (auto& b : detail::batch_all_at_least(k, detail::raw_rows(rows), bounds)) out.emplace_back(std::move(b));
  return out;
}

// out[i] = (sum_r coefficients[r] * rows[i][r] + constant) mod 2^To, every row having
// coefficients.size() values; carries are propagated once, at the end.
template <unsigned To, unsigned Bits>
std::vector<FheUint<To>> dot_products(const std::vector<std::vector<FheUint<Bits>>>& rows,
                                      std::span<const std::uint64_t> coefficients, std::uint64_t constant,
                                      const ServerKey& k) {
  std::vector<FheUint<To>> out;
  for (auto& r : detail::batch_dot_products(k, detail::raw_rows(rows), coefficients, constant, To)) {
    out.emplace_back(std::move(r));
  }
  return out;
}

struct Pick {
  FheUint16 index;  // meaningful only when `found` decrypts to true
  FheBool found;
};
struct Picks {
  std::vector<Pick> picks;      // one per round
  std::vector<FheBool> chosen;  // per candidate: true iff some round picked it; empty with Chosen::kNotNeeded
};
// Whether a caller needs Picks::chosen. Without it the last round skips its one-hot (about one
// bootstrap per candidate); the picks are the same ciphertexts either way.
enum class Chosen { kNeeded, kNotNeeded };

// `rounds` times in a row: among the candidates whose `eligible` flag is true and that no
// earlier round picked, the first (lowest index) maximum (maximise) or minimum of `values`;
// `found` is false when no such candidate is left. Non-empty, at most 65536 candidates.
template <unsigned Bits>
Picks pick_extremes(std::span<const FheUint<Bits>> values, std::span<const FheBool> eligible, std::size_t rounds,
                    bool maximise, const ServerKey& k, Chosen chosen_bits = Chosen::kNeeded) {
  std::vector<const detail::Radix*> raw;
  std::vector<const detail::Block*> flags;
  for (const auto& v : values) raw.push_back(&v.raw());
  for (const auto& e : eligible) flags.push_back(&e.raw());
  auto [picks, chosen] = detail::batch_pick_extremes(k, raw, flags, rounds, maximise, chosen_bits == Chosen::kNeeded);
  Picks out;
  for (auto& p : picks) out.picks.push_back({FheUint16(std::move(p.index)), FheBool(std::move(p.found))});
  for (auto& c : chosen) out.chosen.emplace_back(std::move(c));
  return out;
}

// out[i] = values[i] - (conds[i] ? amounts[i] : 0) mod 2^Bits. Callers that know
// values[i] >= amounts[i] wherever conds[i] is 1 (a reservation after a fit check) may pass
// SubWhere::kNoUnderflow: the borrow ripple then stops at each value's highest block that is
// not a public zero (e.g. a value widened by cast<>), which saves a bootstrap per such block.
// Where the promise does not hold, those values' results are wrong.
enum class SubWhere { kExact, kNoUnderflow };
template <unsigned Bits>
std::vector<FheUint<Bits>> sub_where(std::span<const FheUint<Bits>> values, std::span<const FheBool> conds,
                                     std::span<const std::uint64_t> amounts, const ServerKey& k,
                                     SubWhere mode = SubWhere::kExact) {
  std::vector<const detail::Radix*> raw;
  std::vector<const detail::Block*> flags;
  for (const auto& v : values) raw.push_back(&v.raw());
  for (const auto& c : conds) flags.push_back(&c.raw());
  std::vector<FheUint<Bits>> out;
  for (auto& r : detail::batch_sub_where(k, raw, flags, amounts, mode == SubWhere::kNoUnderflow)) {
    out.emplace_back(std::move(r));
  }
  return out;
}

}  // namespace veil::fhe
