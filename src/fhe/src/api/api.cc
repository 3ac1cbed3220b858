// The public handles: key generation and the operations behind FheUint / FheBool.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "api/impl.h"

namespace veil::fhe {

ClientKey ClientKey::generate(const Parameters& params) {
  return detail::ClientKeyImpl::wrap(
      std::make_shared<detail::ClientKeyImpl>(detail::ClientKeyImpl{shortint::ClientKey::generate(params)}));
}
const Parameters& ClientKey::params() const { return impl_->key.params(); }

ServerKey ServerKey::generate(const ClientKey& client) { return CompressedServerKey::generate(client).decompress(); }
const Parameters& ServerKey::params() const { return impl_->key.params(); }

CompressedServerKey CompressedServerKey::generate(const ClientKey& client) {
  return detail::CompressedServerKeyImpl::wrap(std::make_shared<detail::CompressedServerKeyImpl>(
      detail::CompressedServerKeyImpl{shortint::CompressedServerKey::generate(client.impl().key)}));
}
const Parameters& CompressedServerKey::params() const { return *impl_->key.params; }
ServerKey CompressedServerKey::decompress() const {
  return detail::ServerKeyImpl::wrap(std::make_shared<detail::ServerKeyImpl>(impl_->key.decompress()));
}

CompactPublicKey CompactPublicKey::generate(const ClientKey& client) {
  return detail::PublicKeyImpl::wrap(
      std::make_shared<detail::PublicKeyImpl>(detail::PublicKeyImpl{shortint::CompactPublicKey::generate(client.impl().key)}));
}
const Parameters& CompactPublicKey::params() const { return impl_->key.params(); }

namespace {
thread_local std::optional<ServerKey> g_thread_key;

[[noreturn]] void die(const char* message) {
  std::fprintf(stderr, "veil::fhe: %s\n", message);
  std::abort();
}
}  // namespace

void set_server_key(const ServerKey& key) { g_thread_key = key; }
void unset_server_key() { g_thread_key.reset(); }
const ServerKey* current_server_key() { return g_thread_key ? &*g_thread_key : nullptr; }

namespace detail {

const ServerKey& thread_server_key() {
  if (!g_thread_key) die("no server key set on this thread (call veil::fhe::set_server_key or pass one)");
  return *g_thread_key;
}

namespace {
const integer::ServerKey& ik(const ServerKey& key) { return key.impl().integer; }

void check(const ServerKey& key, const Parameters* p) {
  if (p->id != key.params().id) die("operand and server key use different parameter sets");
}
void check_same(const Radix& a, const Radix& b) {
  if (a.params->id != b.params->id || a.ct.blocks.size() != b.ct.blocks.size()) die("operands of different key sets or widths");
}
RadixPtr wrap(const Parameters* p, integer::RadixCiphertext ct) {
  return std::make_shared<Radix>(Radix{p, std::move(ct)});
}
BlockPtr wrap(const Parameters* p, shortint::Ciphertext ct) { return std::make_shared<Block>(Block{p, std::move(ct)}); }
integer::Comparison to_cmp(Cmp op) {
  switch (op) {
    case Cmp::kEq: return integer::Comparison::kEq;
    case Cmp::kNe: return integer::Comparison::kNe;
    case Cmp::kGt: return integer::Comparison::kGt;
    case Cmp::kGe: return integer::Comparison::kGe;
    case Cmp::kLt: return integer::Comparison::kLt;
    case Cmp::kLe: return integer::Comparison::kLe;
  }
  die("bad comparison");
}
std::uint64_t mask_for(const Radix& a) {
  const unsigned bits = static_cast<unsigned>(a.ct.blocks.size() * 2);
  return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}
}  // namespace

RadixPtr radix_encrypt(std::uint64_t value, unsigned bits, const ClientKey& key) {
  const auto& ck = key.impl().key;
  return wrap(&ck.params(), integer::encrypt_radix(ck, value, integer::blocks_for_bits(ck.params(), bits)));
}

RadixPtr radix_encrypt(std::uint64_t value, unsigned bits, const CompactPublicKey& key) {
  const auto& pk = key.impl().key;
  const Parameters& p = pk.params();
  const std::size_t nb = integer::blocks_for_bits(p, bits);
  std::vector<std::uint64_t> digits(nb);
  for (auto& d : digits) {
    d = value % p.message_modulus;
    value /= p.message_modulus;
  }
  integer::RadixCiphertext ct;
  ct.blocks = pk.encrypt(digits);
  return wrap(&p, std::move(ct));
}

RadixPtr radix_trivial(std::uint64_t value, unsigned bits, const ServerKey& key) {
  return wrap(&key.params(), ik(key).trivial(value, integer::blocks_for_bits(key.params(), bits)));
}

std::uint64_t radix_decrypt(const Radix& value, const ClientKey& key) {
  if (value.params->id != key.params().id) die("ciphertext and client key use different parameter sets");
  return integer::decrypt_radix(key.impl().key, value.ct);
}

RadixPtr radix_binary(const ServerKey& key, Op op, const Radix& a, const Radix& b) {
  check(key, a.params);
  check_same(a, b);
  const auto& s = ik(key);
  using B = integer::ServerKey::Bitwise;
  switch (op) {
    case Op::kAdd: return wrap(a.params, s.add(a.ct, b.ct));
    case Op::kSub: return wrap(a.params, s.sub(a.ct, b.ct));
    case Op::kMin: return wrap(a.params, s.min(a.ct, b.ct));
    case Op::kMax: return wrap(a.params, s.max(a.ct, b.ct));
    case Op::kAnd: return wrap(a.params, s.bitwise(a.ct, b.ct, B::kAnd));
    case Op::kOr: return wrap(a.params, s.bitwise(a.ct, b.ct, B::kOr));
    case Op::kXor: return wrap(a.params, s.bitwise(a.ct, b.ct, B::kXor));
    case Op::kMul: break;
  }
  die("ciphertext-ciphertext multiplication is not supported (use a scalar)");
}

RadixPtr radix_scalar(const ServerKey& key, Op op, const Radix& a, std::uint64_t c) {
  check(key, a.params);
  const auto& s = ik(key);
  c &= mask_for(a);
  using B = integer::ServerKey::Bitwise;
  switch (op) {
    case Op::kAdd: return wrap(a.params, s.scalar_add(a.ct, c));
    case Op::kSub: return wrap(a.params, s.scalar_sub(a.ct, c));
    case Op::kMul: return wrap(a.params, s.scalar_mul(a.ct, c));
    case Op::kMin: return wrap(a.params, s.scalar_min(a.ct, c));
    case Op::kMax: return wrap(a.params, s.scalar_max(a.ct, c));
    case Op::kAnd: return wrap(a.params, s.scalar_bitwise(a.ct, c, B::kAnd));
    case Op::kOr: return wrap(a.params, s.scalar_bitwise(a.ct, c, B::kOr));
    case Op::kXor: return wrap(a.params, s.scalar_bitwise(a.ct, c, B::kXor));
  }
  die("bad operation");
}

RadixPtr radix_shift_right(const ServerKey& key, const Radix& a, unsigned bits) {
  check(key, a.params);
  return wrap(a.params, ik(key).scalar_shift_right(a.ct, bits));
}

RadixPtr radix_not(const ServerKey& key, const Radix& a) {
  check(key, a.params);
  return wrap(a.params, ik(key).bitnot(a.ct));
}

BlockPtr radix_compare(const ServerKey& key, Cmp op, const Radix& a, const Radix& b) {
  check(key, a.params);
  check_same(a, b);
  return wrap(a.params, ik(key).compare(a.ct, b.ct, to_cmp(op)));
}

BlockPtr radix_scalar_compare(const ServerKey& key, Cmp op, const Radix& a, std::uint64_t c) {
  check(key, a.params);
  if (c > mask_for(a)) {  // out of range: the answer is public
    const bool below = op == Cmp::kLt || op == Cmp::kLe || op == Cmp::kNe;
    return wrap(a.params, key.impl().key.trivial(below ? 1 : 0));
  }
  return wrap(a.params, ik(key).scalar_compare(a.ct, c, to_cmp(op)));
}

RadixPtr radix_select(const ServerKey& key, const Block& cond, const Radix& a, const Radix& b) {
  check(key, a.params);
  check(key, cond.params);
  check_same(a, b);
  return wrap(a.params, ik(key).select(cond.ct, a.ct, b.ct));
}

std::pair<RadixPtr, RadixPtr> radix_arg_extreme(const ServerKey& key, std::span<const Radix* const> values, bool max) {
  if (values.empty()) die("argmax/argmin of an empty vector");
  if (values.size() > 65536) die("argmax/argmin over more than 65536 values");
  std::vector<integer::RadixCiphertext> cts;
  for (const Radix* v : values) {
    check(key, v->params);
    check_same(*values[0], *v);
    cts.push_back(v->ct);
  }
  const std::size_t index_blocks = integer::blocks_for_bits(key.params(), 16);
  auto [index, value] = max ? ik(key).argmax(cts, index_blocks) : ik(key).argmin(cts, index_blocks);
  return {wrap(values[0]->params, std::move(index)), wrap(values[0]->params, std::move(value))};
}

namespace {
// The ciphertexts of rows of `width` values each, checked against the key.
std::vector<std::vector<const integer::RadixCiphertext*>> row_cts(const ServerKey& key,
                                                                  const std::vector<std::vector<const Radix*>>& rows,
                                                                  std::size_t width, const char* length_error) {
  std::vector<std::vector<const integer::RadixCiphertext*>> cts;
  for (const auto& row : rows) {
    if (row.size() != width) die(length_error);
    cts.emplace_back();
    for (const Radix* v : row) {
      check(key, v->params);
      cts.back().push_back(&v->ct);
    }
  }
  return cts;
}
}  // namespace

std::vector<BlockPtr> batch_all_at_least(const ServerKey& key, const std::vector<std::vector<const Radix*>>& rows,
                                         std::span<const std::uint64_t> bounds) {
  const auto cts = row_cts(key, rows, bounds.size(), "all_at_least: a row's length differs from the bounds'");
  std::vector<BlockPtr> out;
  for (auto& b : ik(key).all_at_least(cts, std::vector<std::uint64_t>(bounds.begin(), bounds.end()))) {
    out.push_back(wrap(&key.params(), std::move(b)));
  }
  return out;
}

std::vector<RadixPtr> batch_dot_products(const ServerKey& key, const std::vector<std::vector<const Radix*>>& rows,
                                         std::span<const std::uint64_t> coefficients, std::uint64_t constant,
                                         unsigned bits) {
  const auto cts = row_cts(key, rows, coefficients.size(), "dot_products: a row's length differs from the coefficients'");
  const std::size_t blocks = integer::blocks_for_bits(key.params(), bits);
  std::vector<RadixPtr> out;
  for (auto& r : ik(key).dot_products(cts, std::vector<std::uint64_t>(coefficients.begin(), coefficients.end()),
                                      constant, blocks)) {
    out.push_back(wrap(&key.params(), std::move(r)));
  }
  return out;
}

std::pair<std::vector<RawPick>, std::vector<BlockPtr>> batch_pick_extremes(const ServerKey& key,
                                                                          std::span<const Radix* const> values,
                                                                          std::span<const Block* const> eligible,
                                                                          std::size_t rounds, bool maximise,
                                                                          bool want_chosen) {
  if (values.empty() || values.size() != eligible.size()) die("pick_extremes: needs one eligibility flag per value");
  if (values.size() > 65536) die("pick_extremes over more than 65536 values");
  std::vector<const integer::RadixCiphertext*> cts;
  std::vector<const integer::BoolCiphertext*> flags;
  for (std::size_t i = 0; i < values.size(); ++i) {
    check(key, values[i]->params);
    check_same(*values[0], *values[i]);
    check(key, eligible[i]->params);
    cts.push_back(&values[i]->ct);
    flags.push_back(&eligible[i]->ct);
  }
  const std::size_t index_blocks = integer::blocks_for_bits(key.params(), 16);
  auto picks = ik(key).pick_extremes(cts, flags, rounds, maximise, index_blocks,
                                     integer::ServerKey::PickOutputs{.chosen = want_chosen, .values = false});
  std::pair<std::vector<RawPick>, std::vector<BlockPtr>> out;
  for (auto& p : picks.picks) {
    out.first.push_back({wrap(&key.params(), std::move(p.index)), wrap(&key.params(), std::move(p.found))});
  }
  for (auto& c : picks.chosen) out.second.push_back(wrap(&key.params(), std::move(c)));
  return out;
}

std::vector<RadixPtr> batch_sub_where(const ServerKey& key, std::span<const Radix* const> values,
                                      std::span<const Block* const> conds, std::span<const std::uint64_t> amounts,
                                      bool no_underflow) {
  if (values.size() != conds.size() || values.size() != amounts.size()) die("sub_where: lengths differ");
  std::vector<const integer::RadixCiphertext*> cts;
  std::vector<const integer::BoolCiphertext*> flags;
  std::vector<std::uint64_t> scalars;
  for (std::size_t i = 0; i < values.size(); ++i) {
    check(key, values[i]->params);
    check(key, conds[i]->params);
    cts.push_back(&values[i]->ct);
    flags.push_back(&conds[i]->ct);
    scalars.push_back(amounts[i] & mask_for(*values[i]));
  }
  std::vector<RadixPtr> out;
  for (auto& r : ik(key).sub_where(cts, flags, scalars, no_underflow)) out.push_back(wrap(&key.params(), std::move(r)));
  return out;
}

BlockPtr bool_encrypt(bool value, const ClientKey& key) {
  auto ct = key.impl().key.encrypt(value ? 1 : 0);
  ct.degree = 1;
  return wrap(&key.params(), std::move(ct));
}

BlockPtr bool_encrypt(bool value, const CompactPublicKey& key) {
  const std::uint64_t v = value ? 1 : 0;
  auto blocks = key.impl().key.encrypt(std::span<const std::uint64_t>(&v, 1));
  blocks[0].degree = 1;
  return wrap(&key.params(), std::move(blocks[0]));
}

bool bool_decrypt(const Block& value, const ClientKey& key) {
  if (value.params->id != key.params().id) die("ciphertext and client key use different parameter sets");
  return key.impl().key.decrypt(value.ct) != 0;
}

BlockPtr bool_binary(const ServerKey& key, Op op, const Block& a, const Block& b) {
  check(key, a.params);
  check(key, b.params);
  const auto& s = ik(key);
  switch (op) {
    case Op::kAnd: return wrap(a.params, s.bool_and(a.ct, b.ct));
    case Op::kOr: return wrap(a.params, s.bool_or(a.ct, b.ct));
    case Op::kXor: return wrap(a.params, s.bool_xor(a.ct, b.ct));
    default: break;
  }
  die("unsupported boolean operation");
}

BlockPtr bool_not(const ServerKey& key, const Block& a) {
  check(key, a.params);
  return wrap(a.params, ik(key).bool_not(a.ct));
}

}  // namespace detail
}  // namespace veil::fhe
