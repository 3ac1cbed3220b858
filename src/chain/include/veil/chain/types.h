// Value types shared by the chain client: 256-bit unsigned integers, addresses and hashes.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::chain {

// A 32-byte hash (Keccak-256 output, a block or transaction hash, a bytes32 value).
using Hash32 = std::array<std::uint8_t, 32>;

// An unsigned 256-bit integer (EVM word). Plain value type; arithmetic wraps modulo 2^256 like
// the EVM. Signed ABI integers are stored here in two's complement.
class U256 {
 public:
  constexpr U256() = default;
  constexpr U256(std::uint64_t v) : limbs_{v, 0, 0, 0} {}  // NOLINT: implicit by design

  // Parses "0x..." hex or decimal text. Fails with kInvalidArgument on bad digits and
  // kOutOfRange when the value does not fit in 256 bits.
  static Result<U256> parse(std::string_view text);
  // Big-endian bytes, at most 32 (shorter input is left-padded with zeros).
  static Result<U256> from_be_bytes(ByteView bytes);

  Hash32 to_be32() const;
  // Minimal big-endian bytes (empty for zero), as RLP wants integers.
  Bytes to_be_minimal() const;
  std::string to_dec() const;
  std::string to_hex_quantity() const;  // "0x0", "0x1f" (JSON-RPC QUANTITY)

  bool is_zero() const { return (limbs_[0] | limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  bool fits_u64() const { return (limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  std::uint64_t low_u64() const { return limbs_[0]; }
  // Number of significant bits (0 for zero).
  int bit_length() const;
  bool bit(int i) const { return (limbs_[i / 64] >> (i % 64)) & 1; }

  U256 operator+(const U256& o) const;
  U256 operator-(const U256& o) const;
  U256 operator*(const U256& o) const;
  U256 operator~() const;
  U256 operator<<(int n) const;
  // Division by a small divisor; returns quotient and stores the remainder.
  U256 divmod_small(std::uint32_t divisor, std::uint32_t& remainder) const;

  friend bool operator==(const U256&, const U256&) = default;
  friend std::strong_ordering operator<=>(const U256& a, const U256& b) {
    for (int i = 3; i >= 0; --i) {
      if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] <=> b.limbs_[i];
    }
    return std::strong_ordering::equal;
  }

 private:
  std::array<std::uint64_t, 4> limbs_{};  // little-endian limbs
};

// A 20-byte Ethereum account address.
struct Address {
  std::array<std::uint8_t, 20> bytes{};

  // Accepts "0x" + 40 hex digits (any case; the EIP-55 checksum is verified when the text is
  // mixed-case). Fails with kInvalidArgument otherwise.
  static Result<Address> parse(std::string_view text);
  // EIP-55 mixed-case checksum form.
  std::string to_checksum() const;
  std::string to_hex() const;  // lower-case, 0x-prefixed
  bool is_zero() const;
  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;
};

std::string hash_hex(const Hash32& h);  // 0x-prefixed lower-case
Result<Hash32> parse_hash(std::string_view text);

}  // namespace veil::chain
