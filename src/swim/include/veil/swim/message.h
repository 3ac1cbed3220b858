// The vocabulary of the protocol: member ids, member states, gossiped updates and the
// messages members exchange. The wire encoding of these lives in wire.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "veil/common/bytes.h"

namespace veil::swim {

// A member as the local process knows it: a dense index into a Directory. Ids are local to a
// Directory (never sent on the wire; names are), so lookups are vector indexing, which is
// what lets one process simulate 10,000 members with 10,000 views each.
using MemberId = std::uint32_t;
inline constexpr MemberId kNoMember = 0xffffffffu;

// Interns member names (a libp2p PeerId in production, "m42" in the simulator) to dense
// MemberIds and remembers the latest transport address announced for each (a multiaddr in
// production; opaque to the protocol).
//
// Thread safety: not thread-safe; one Directory is used by the protocol cores of one event
// loop (the simulator shares one among all its members).
class Directory {
 public:
  // Longest name and address accepted; longer ones are rejected by the wire parser.
  static constexpr std::size_t kMaxNameBytes = 128;
  static constexpr std::size_t kMaxAddressBytes = 256;

  // The id of `name`, creating it if new. `name` must be non-empty and at most kMaxNameBytes
  // (the wire parser guarantees this; callers constructing names themselves must too).
  MemberId intern(std::string_view name);
  // The id of `name`, or nullopt if it was never interned.
  std::optional<MemberId> find(std::string_view name) const;

  const std::string& name(MemberId id) const { return names_[id]; }
  const std::string& address(MemberId id) const { return addresses_[id]; }
  void set_address(MemberId id, std::string_view address) { addresses_[id] = std::string(address); }
  std::size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> addresses_;
  std::unordered_map<std::string, MemberId> ids_;
};

// A member's state in one observer's view. kUnknown: never heard of.
enum class MemberState : std::uint8_t { kUnknown = 0, kAlive, kSuspect, kDead, kLeft };
std::string_view member_state_name(MemberState state);

// One gossiped fact about a member (SWIM's alive / suspect / confirm messages, plus leave).
// Facts are ordered by incarnation, which only the member itself may raise.
struct Update {
  enum class Kind : std::uint8_t { kAlive = 1, kSuspect = 2, kDead = 3, kLeft = 4 };
  Kind kind = Kind::kAlive;
  MemberId member = kNoMember;
  std::uint32_t incarnation = 0;
  // Who suspects or declares it dead (the accuser); for alive and left, the member itself.
  MemberId from = kNoMember;
  // Opaque signature by `from` over the update's canonical bytes (wire.h update_signing_bytes).
  // Empty in the simulator; the libp2p binding fills and checks it (see docs/swim.md).
  Bytes signature;
};

// Every message kind a member sends. `from` is not carried in the body: the transport
// authenticates the sender (libp2p: the Noise-verified PeerId) and passes it alongside.
enum class MessageType : std::uint8_t {
  kPing = 1,      // seq, target: "are you alive?"; target is named so a misrouted ping is not acked
  kPingReq = 2,   // seq, target: "ping target for me and relay its ack"
  kAck = 3,       // seq: reply to a ping (relayed by an indirect prober)
  kNack = 4,      // seq: "I asked target for you and heard nothing" (Lifeguard)
  kGossip = 5,    // only piggybacked updates
  kPushPull = 6,  // full state: the sender's view of every member (anti-entropy and join)
};
std::string_view message_type_name(MessageType type);

// One member's entry in a push-pull state exchange.
struct StateEntry {
  MemberId member = kNoMember;
  std::uint32_t incarnation = 0;
  MemberState state = MemberState::kAlive;
};

struct Message {
  MessageType type = MessageType::kGossip;
  std::uint32_t seq = 0;             // ping, ping-req, ack, nack
  MemberId target = kNoMember;       // ping, ping-req
  bool join = false;                 // push-pull: sent by a joining member
  bool reply = false;                // push-pull: this is the answer to a push
  std::vector<StateEntry> state;     // push-pull
  std::vector<Update> updates;       // piggybacked gossip, on every type
};

}  // namespace veil::swim
