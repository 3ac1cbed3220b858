// Solidity contract ABI encoding and decoding (https://docs.soliditylang.org/en/latest/abi-spec.html):
// static and dynamic types, tuples, fixed and dynamic arrays, function selectors, event topics.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

// An ABI type. Plain value type, built by parse() from the canonical spelling.
struct AbiType {
  enum class Kind { kUint, kInt, kAddress, kBool, kFixedBytes, kBytes, kString, kArray, kFixedArray, kTuple };

  Kind kind = Kind::kUint;
  int size = 256;                 // bits for uint/int, bytes for bytesN
  std::size_t length = 0;         // element count of a fixed array T[k]
  std::vector<AbiType> children;  // element type of arrays; components of a tuple

  // Parses a canonical type such as "uint256", "bytes32[]", "(address,uint8[2])[]".
  // Aliases "uint"/"int" mean 256 bits. Fails with kInvalidArgument naming the bad part.
  static Result<AbiType> parse(std::string_view text);

  std::string canonical() const;  // the spelling used in signatures
  bool is_dynamic() const;
  // Bytes the value occupies in the head of its enclosing tuple (32 for dynamic types).
  std::size_t head_size() const;
};

// An ABI value. Integers (signed ones in two's complement) are U256; bytesN/bytes are Bytes;
// arrays and tuples are lists. Plain value type.
struct AbiValue {
  std::variant<bool, U256, Address, Bytes, std::string, std::vector<AbiValue>> v;

  AbiValue() : v(false) {}
  AbiValue(bool b) : v(b) {}                                   // NOLINT
  AbiValue(U256 u) : v(u) {}                                   // NOLINT
  AbiValue(Address a) : v(a) {}                                // NOLINT
  AbiValue(Bytes b) : v(std::move(b)) {}                       // NOLINT
  AbiValue(const Hash32& h) : v(Bytes(h.begin(), h.end())) {}  // NOLINT: bytes32
  AbiValue(std::string s) : v(std::move(s)) {}                 // NOLINT
  AbiValue(std::vector<AbiValue> l) : v(std::move(l)) {}       // NOLINT

  bool as_bool() const { return std::get<bool>(v); }
  const U256& as_uint() const { return std::get<U256>(v); }
  const Address& as_address() const { return std::get<Address>(v); }
  const Bytes& as_bytes() const { return std::get<Bytes>(v); }
  Hash32 as_bytes32() const;  // requires a 32-byte Bytes value
  const std::string& as_string() const { return std::get<std::string>(v); }
  const std::vector<AbiValue>& as_list() const { return std::get<std::vector<AbiValue>>(v); }
  friend bool operator==(const AbiValue&, const AbiValue&) = default;
};

// Renders a value the way `cast` prints decoded values (decimal integers, signed for int types,
// 0x-hex bytes, checksum addresses, "(a, b)" tuples, "[a, b]" arrays). For logs and CLI output.
std::string abi_value_to_string(const AbiType& type, const AbiValue& value);

// Encodes `values` as the tuple `types` (a function's argument list). Fails with
// kInvalidArgument when a value does not match its type (wrong variant, out-of-range integer,
// wrong bytesN length, wrong fixed-array length).
Result<Bytes> abi_encode(const std::vector<AbiType>& types, const std::vector<AbiValue>& values);

// Limits applied while decoding untrusted input.
struct AbiLimits {
  std::size_t max_depth = 32;          // nesting of arrays/tuples
  std::size_t max_elements = 1 << 20;  // total elements of all dynamic arrays
};

// Decodes `data` as the tuple `types`. Strict: offsets and lengths must stay inside the data,
// integers must fit their width, addresses and booleans must be clean, bytesN padding must be
// zero. Errors are kInvalidArgument with the offending offset. Trailing data is allowed (as in
// Solidity's abi.decode).
Result<std::vector<AbiValue>> abi_decode(const std::vector<AbiType>& types, ByteView data,
                                         AbiLimits limits = {});

// Parses a comma-separated list of types, e.g. "address,uint256[]" ("" gives an empty list).
Result<std::vector<AbiType>> parse_abi_types(std::string_view list);

// First four bytes of keccak256("name(type1,type2)").
std::array<std::uint8_t, 4> function_selector(std::string_view signature);
// keccak256 of an event signature: topic 0 of its logs.
Hash32 event_topic(std::string_view signature);

// The topic of an indexed event argument: static values are their 32-byte encoding; dynamic
// ones (bytes, string, arrays, tuples) are the keccak256 of their in-place encoding.
Result<Hash32> indexed_topic(const AbiType& type, const AbiValue& value);

}  // namespace veil::chain
