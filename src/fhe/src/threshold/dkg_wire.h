// The DKG's message codec (docs/dkg.md section 4, "Message format"): protobuf wire format,
// written by hand as p2p/protobuf.h does (fhe cannot depend on p2p). One message per
// `/veil/dkg/1.0.0` frame.
//
//   DkgMessage { 1: version  2: session (32 B; zero in Hello)  3: round  4: sender id
//                10: Hello { 1: params  2: threshold  3: member_list_hash  4: coin
//                            5: mask_key (32 B, only from the smaller id of the pair)
//                            6: repeated PrssKey { 1: set  2: key } }
//                11: Chunk { 1: phase (1 bits, 2 bodies)  2: direction (1 contribution,
//                            2 opening)  3: object  4: first word  5: word count
//                            6: words (little-endian, word count * word size bytes) }
//                12: Confirm { 1: public_key  2: server_key  3: squash_key  4: share_hash }
//                13: Sealed  { 1: committee  2: sealed_share }
//                14: Ready   { 1: hashes_json }
//                15: Abort   { 1: blamed member (0: the sender itself)  2: round  3: reason } }
//
// The encoding is canonical: every field present exactly once (mask_key and the PrssKeys only
// when they apply), in field-number order, varints minimal. decode() accepts only that form and
// checks every structural rule it can without the run's state (body type against round,
// phase/direction against round, 32-byte hashes, word bytes against the count), so a decoded
// message re-encodes to the same bytes; the member checks the rest (session, sender, order).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::fhe::dkg::wire {

inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kMaxReason = 256;

using Hash32 = std::array<std::uint8_t, 32>;

enum class Round : std::uint8_t {
  kHello = 0,
  kBitContributions = 1,
  kBitOpenings = 2,
  kBodyContributions = 3,
  kBodyOpenings = 4,
  kConfirm = 5,
  kSealed = 6,
  kReady = 7,
};
inline constexpr unsigned kRounds = 8;
const char* round_name(Round round);

enum class Phase : std::uint8_t { kBits = 1, kBodies = 2 };
enum class Direction : std::uint8_t { kContribution = 1, kOpening = 2 };

struct PrssKey {
  std::uint16_t set = 0;
  Hash32 key{};
};

struct Hello {
  std::uint8_t params = 0;
  std::uint32_t threshold = 0;
  Hash32 member_list_hash{};
  Hash32 coin{};
  std::optional<Hash32> mask_key;
  std::vector<PrssKey> prss_keys;
};

struct Chunk {
  Phase phase = Phase::kBits;
  Direction direction = Direction::kContribution;
  std::uint32_t object = 0;
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  ByteView words;  // decode(): a view into the decoded input
};

struct Confirm {
  Hash32 public_key{}, server_key{}, squash_key{}, share_hash{};
};
struct Sealed {
  Hash32 committee{}, sealed_share{};
};
struct Ready {
  Hash32 hashes_json{};
};
struct Abort {
  std::uint8_t blamed = 0;
  std::uint8_t round = 0;
  std::string reason;
};

struct Message {
  std::uint32_t version = kVersion;
  Hash32 session{};
  Round round = Round::kHello;
  std::uint8_t sender = 0;
  std::variant<Hello, Chunk, Confirm, Sealed, Ready, Abort> body;
};

// The round a chunk of this phase and direction belongs to.
Round chunk_round(Phase phase, Direction direction);
// Bytes per word of a phase's objects: 16 for bits (128-bit openings); for bodies, the
// object's word size, which decode() cannot know, so it only checks a multiple of 8.
inline constexpr unsigned kBitWordBytes = 16;

Bytes encode(const Message& message);
// Parses one message of at most `limit` bytes. kInvalidArgument naming the first rule broken.
Result<Message> decode(ByteView bytes, std::size_t limit);

}  // namespace veil::fhe::dkg::wire
