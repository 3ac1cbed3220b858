// Ether amounts as people type them — "1eth", "0.5ether", "100gwei", "250000wei", "42" — parsed
// exactly into wei, and wei written back as ether for messages.
//
// Grammar: DIGITS [ "." DIGITS ] [ UNIT ], nothing else: no sign, exponent, whitespace, hex or
// thousands separator. UNIT is one of wei, gwei, eth, ether, in lower case; no unit means wei.
// The arithmetic is exact (256-bit integers, never floating point): "0.1eth" is exactly
// 100000000000000000 wei, a fraction of a wei ("0.5wei", "1.0000000001gwei") is an error rather
// than rounded, and a value above 2^256 - 1 wei is out of range. The text is split by
// veil/common/quantity.h's split_quantity, whose parse_quantity cannot hold ether amounts in its
// 64-bit results (2^64 wei is only about 18.4 ETH).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "veil/chain/types.h"
#include "veil/common/status.h"

namespace veil::chain {

// Parses `text`. kInvalidArgument quotes the text (through printable()) and gives examples;
// kOutOfRange for more than 2^256 - 1 wei.
Result<U256> parse_ether_amount(std::string_view text);

// "1.5 ETH", "0.000000001 ETH", "0 ETH": the exact value in ether, trailing zeros dropped.
std::string format_ether(const U256& wei);

}  // namespace veil::chain
