#include "veil/chain/types.h"

#include <algorithm>
#include <bit>
#include <cctype>

#include "veil/chain/keccak.h"

namespace veil::chain {

// GCC and Clang provide 128-bit integers; __extension__ keeps -Wpedantic quiet about them.
__extension__ typedef unsigned __int128 u128;

Result<U256> U256::parse(std::string_view text) {
  if (text.empty()) return invalid_argument("empty integer");
  U256 out;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
    if (text.size() > 64) return out_of_range("hex integer wider than 256 bits");
    for (char c : text) {
      int v = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (v < 0) return invalid_argument("bad hex digit in integer '" + std::string(text) + "'");
      out = (out << 4) + U256(static_cast<std::uint64_t>(v));
    }
    return out;
  }
  for (char c : text) {
    if (c < '0' || c > '9')
      return invalid_argument("bad decimal digit in integer '" + std::string(text) + "'");
    U256 next = out * U256(10) + U256(static_cast<std::uint64_t>(c - '0'));
    // Overflow check: the product wrapped iff dividing back does not give the old value.
    std::uint32_t rem = 0;
    if (next.divmod_small(10, rem) != out) return out_of_range("decimal integer wider than 256 bits");
    out = next;
  }
  return out;
}

Result<U256> U256::from_be_bytes(ByteView bytes) {
  if (bytes.size() > 32) return out_of_range("integer wider than 32 bytes");
  U256 out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::size_t pos = bytes.size() - 1 - i;  // byte significance
    out.limbs_[pos / 8] |= static_cast<std::uint64_t>(bytes[i]) << (8 * (pos % 8));
  }
  return out;
}

Hash32 U256::to_be32() const {
  Hash32 out{};
  for (int i = 0; i < 32; ++i) out[31 - i] = static_cast<std::uint8_t>(limbs_[i / 8] >> (8 * (i % 8)));
  return out;
}

Bytes U256::to_be_minimal() const {
  Hash32 full = to_be32();
  auto it = std::find_if(full.begin(), full.end(), [](std::uint8_t b) { return b != 0; });
  return Bytes(it, full.end());
}

std::string U256::to_dec() const {
  if (is_zero()) return "0";
  std::string out;
  U256 v = *this;
  while (!v.is_zero()) {
    std::uint32_t rem = 0;
    v = v.divmod_small(10, rem);
    out.push_back(static_cast<char>('0' + rem));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string U256::to_hex_quantity() const {
  std::string hex = veil::to_hex(to_be_minimal());
  std::size_t nz = hex.find_first_not_of('0');
  return "0x" + (nz == std::string::npos ? std::string("0") : hex.substr(nz));
}

int U256::bit_length() const {
  for (int i = 3; i >= 0; --i) {
    if (limbs_[i] != 0) return i * 64 + 64 - std::countl_zero(limbs_[i]);
  }
  return 0;
}

U256 U256::operator+(const U256& o) const {
  U256 r;
  u128 carry = 0;
  for (int i = 0; i < 4; ++i) {
    carry += static_cast<u128>(limbs_[i]) + o.limbs_[i];
    r.limbs_[i] = static_cast<std::uint64_t>(carry);
    carry >>= 64;
  }
  return r;
}

U256 U256::operator~() const {
  U256 r;
  for (int i = 0; i < 4; ++i) r.limbs_[i] = ~limbs_[i];
  return r;
}

U256 U256::operator-(const U256& o) const { return *this + (~o + U256(1)); }

U256 U256::operator*(const U256& o) const {
  U256 r;
  for (int i = 0; i < 4; ++i) {
    u128 carry = 0;
    for (int j = 0; i + j < 4; ++j) {
      carry += static_cast<u128>(limbs_[i]) * o.limbs_[j] + r.limbs_[i + j];
      r.limbs_[i + j] = static_cast<std::uint64_t>(carry);
      carry >>= 64;
    }
  }
  return r;
}

U256 U256::operator<<(int n) const {
  U256 r;
  if (n >= 256) return r;
  int limb = n / 64, bits = n % 64;
  for (int i = 3; i >= limb; --i) {
    std::uint64_t v = limbs_[i - limb] << bits;
    if (bits != 0 && i - limb - 1 >= 0) v |= limbs_[i - limb - 1] >> (64 - bits);
    r.limbs_[i] = v;
  }
  return r;
}

U256 U256::divmod_small(std::uint32_t divisor, std::uint32_t& remainder) const {
  U256 q;
  u128 rem = 0;
  for (int i = 3; i >= 0; --i) {
    u128 cur = (rem << 64) | limbs_[i];
    q.limbs_[i] = static_cast<std::uint64_t>(cur / divisor);
    rem = cur % divisor;
  }
  remainder = static_cast<std::uint32_t>(rem);
  return q;
}

Result<Address> Address::parse(std::string_view text) {
  if (text.size() != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return invalid_argument("address must be 0x followed by 40 hex digits, got '" + std::string(text) + "'");
  }
  auto bytes = fixed_from_hex<20>(text.substr(2));
  if (!bytes.ok())
    return invalid_argument("address '" + std::string(text) + "': " + bytes.status().message());
  Address a{*bytes};
  std::string_view digits = text.substr(2);
  bool has_lower = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'a' && c <= 'f'; });
  bool has_upper = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  if (has_lower && has_upper && a.to_checksum() != "0x" + std::string(digits)) {
    return invalid_argument("address '" + std::string(text) + "' fails its EIP-55 checksum");
  }
  return a;
}

std::string Address::to_hex() const { return to_hex_prefixed(bytes); }

std::string Address::to_checksum() const {
  std::string hex = veil::to_hex(bytes);
  Hash32 h = keccak256(as_bytes(hex));
  for (std::size_t i = 0; i < hex.size(); ++i) {
    int nibble = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
    if (nibble >= 8) hex[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return "0x" + hex;
}

bool Address::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string hash_hex(const Hash32& h) { return to_hex_prefixed(h); }

Result<Hash32> parse_hash(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  return fixed_from_hex<32>(text);
}

}  // namespace veil::chain
