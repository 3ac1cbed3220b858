// Compact binary wire format of SWIM messages (version 1).
//
//   message := version:u8(=1) type:u8 body updates
//   body    := ping/ping-req: seq:varint target:name
//              ack/nack:      seq:varint
//              gossip:        (empty)
//              push-pull:     flags:u8 (bit0 join, bit1 reply) count:varint entry*count
//   entry   := state:u8 (1 alive 2 suspect 3 dead 4 left) incarnation:varint name
//   updates := count:varint update*count
//   update  := kind:u8 incarnation:varint member:name [from:name] [address:str] signature:str
//              (from only for suspect/dead; address only for alive)
//   name    := len:varint (1..128) bytes      str := len:varint bytes (address <= 256, sig <= 128)
//   varint  := unsigned LEB128, at most 5 bytes, canonical (no redundant zero groups)
//
// Decoding is strict: unknown versions, types or kinds, overlong or non-canonical varints,
// out-of-range lengths and counts, and trailing bytes are all rejected with data_loss or
// invalid_argument, and nothing is interned into the Directory unless the whole message parses.
#pragma once

#include <cstddef>
#include <cstdint>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/swim/message.h"

namespace veil::swim {

inline constexpr std::uint8_t kWireVersion = 1;
// Largest message the decoder accepts (push-pull of ~10k members fits; UDP-size messages are
// bounded separately by Config::max_packet_bytes).
inline constexpr std::size_t kMaxMessageBytes = 4u << 20;
inline constexpr std::size_t kMaxSignatureBytes = 128;

// Appends the encoding of `message` to `out`. Names and addresses come from `directory`.
void encode(const Message& message, const Directory& directory, Bytes& out);
Bytes encode(const Message& message, const Directory& directory);

// Exact size encode() would produce, without encoding (used by the piggyback packer and the
// simulator's byte counters).
std::size_t encoded_size(const Message& message, const Directory& directory);
std::size_t encoded_size(const Update& update, const Directory& directory);

// Parses one message; new names are interned into `directory` and alive updates record
// their address there. Fails cleanly (no partial effect) on any malformed input.
Result<Message> decode(ByteView bytes, Directory& directory);

// The bytes a member signs for an update: "veil-swim-update-v1" || kind || incarnation ||
// member name || from name. The libp2p binding signs these with the PeerId key of `from`.
Bytes update_signing_bytes(const Update& update, const Directory& directory);

// Fuzz entry point: decodes `data` into a fresh Directory and, when that succeeds, checks
// that re-encoding and decoding again gives the same bytes (aborts otherwise). Used by the
// libFuzzer target (VEIL_FUZZ=ON, clang) and by a unit test over random and mutated inputs.
// Returns 1 if the input parsed, 0 if it was rejected.
int fuzz_decode_one(const std::uint8_t* data, std::size_t size);

}  // namespace veil::swim
