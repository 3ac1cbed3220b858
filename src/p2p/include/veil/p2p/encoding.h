// Small wire encodings used across libp2p: unsigned varints (multiformats uvarint),
// base58btc (Bitcoin alphabet), RFC 4648 base32 lower-case without padding (multibase 'b').
//
// All decoders are total: they return an error instead of reading past their input.
// Thread safety: free functions over values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::p2p {

// Appends `value` as a multiformats unsigned varint (LEB128, at most 9 bytes for 63 bits).
void append_uvarint(Bytes& out, std::uint64_t value);

// Decodes a uvarint at the start of `in`. On success returns the value and sets *consumed.
// Returns std::nullopt with *consumed == 0 when `in` ends before the varint does (need more
// bytes), and an error for a varint longer than 9 bytes or not minimally encoded.
struct VarintDecode {
  std::uint64_t value = 0;
  std::size_t consumed = 0;  // 0 means "incomplete"
};
Result<VarintDecode> decode_uvarint(ByteView in);

std::string base58btc_encode(ByteView data);
// Fails on characters outside the Bitcoin alphabet.
Result<Bytes> base58btc_decode(std::string_view text);

// RFC 4648 base32, lower-case alphabet, no padding (multibase prefix 'b' not included).
std::string base32_encode(ByteView data);
// Accepts either case; fails on padding, bad characters or non-zero trailing bits.
Result<Bytes> base32_decode(std::string_view text);

}  // namespace veil::p2p
