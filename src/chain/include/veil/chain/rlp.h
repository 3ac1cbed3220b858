// Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B).
#pragma once

#include <cstddef>
#include <variant>
#include <vector>

#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

// One RLP item: a byte string or a list of items. Plain value type.
struct RlpItem {
  std::variant<Bytes, std::vector<RlpItem>> value;

  static RlpItem bytes(Bytes b) { return RlpItem{std::move(b)}; }
  static RlpItem bytes(ByteView b) { return RlpItem{Bytes(b.begin(), b.end())}; }
  // Integers are encoded big-endian without leading zeros (zero is the empty string).
  static RlpItem uint(const U256& v) { return RlpItem{v.to_be_minimal()}; }
  static RlpItem list(std::vector<RlpItem> items) { return RlpItem{std::move(items)}; }

  bool is_list() const { return value.index() == 1; }
  const Bytes& as_bytes() const { return std::get<0>(value); }
  const std::vector<RlpItem>& as_list() const { return std::get<1>(value); }
  friend bool operator==(const RlpItem&, const RlpItem&) = default;
};

// Serializes an item. Never fails.
Bytes rlp_encode(const RlpItem& item);

// Limits applied while decoding untrusted input.
struct RlpLimits {
  std::size_t max_depth = 64;  // nesting of lists
};

// Decodes exactly one item spanning all of `data`. Strict: rejects non-canonical forms (a single
// byte < 0x80 wrapped in a header, long forms for short payloads, leading zeros in lengths),
// lengths past the end, trailing bytes and nesting beyond `limits.max_depth`, each with
// kInvalidArgument and the offset where decoding stopped.
Result<RlpItem> rlp_decode(ByteView data, RlpLimits limits = {});

// Reads an RLP byte string as an unsigned integer (canonical: no leading zeros, at most 32 bytes).
Result<U256> rlp_to_uint(const RlpItem& item);

}  // namespace veil::chain
