// Byte buffers and their text forms.
//
// Bytes owns a buffer; ByteView is a non-owning view of one (valid only while the owner is).
// Every parser here returns Result and never reads past the end of its input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Lower-case hex without prefix: {0xde, 0xad} -> "dead".
std::string to_hex(ByteView bytes);
// "0x"-prefixed lower-case hex, as Ethereum prints it.
std::string to_hex_prefixed(ByteView bytes);

// Parses hex with or without a "0x"/"0X" prefix, either case. Fails on an odd length or
// a non-hex character, naming its position.
Result<Bytes> from_hex(std::string_view text);

// Parses exactly N bytes of hex (e.g. a 32-byte hash); fails on any other length.
template <std::size_t N>
Result<std::array<std::uint8_t, N>> fixed_from_hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != N) {
    return invalid_argument("expected " + std::to_string(N) + " bytes of hex, got " +
                            std::to_string(bytes->size()));
  }
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = (*bytes)[i];
  return out;
}

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string to_string(ByteView bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Constant-time comparison for secrets (MACs, keys): the time taken depends only on sizes.
bool constant_time_equal(ByteView a, ByteView b);

// Overwrites a buffer with zeros in a way the compiler may not elide; for secret material.
void secure_wipe(void* data, std::size_t size);
inline void secure_wipe(Bytes& bytes) { secure_wipe(bytes.data(), bytes.size()); }

// Big-endian fixed-width integer codecs for wire formats.
void append_u16_be(Bytes& out, std::uint16_t value);
void append_u32_be(Bytes& out, std::uint32_t value);
void append_u64_be(Bytes& out, std::uint64_t value);
std::uint16_t read_u16_be(const std::uint8_t* p);
std::uint32_t read_u32_be(const std::uint8_t* p);
std::uint64_t read_u64_be(const std::uint8_t* p);

}  // namespace veil
