// Dealer-free key generation (DKG) for a decryption committee: m members compute together the
// files `veil keys ceremony` writes (public.key, server.compressed.key, squash.key,
// committee.bin, hashes.json, and each member's own share-<i>.sealed) without any of them ever
// holding a whole secret key. Design, security argument, noise and costs: docs/dkg.md.
//
// This header is the protocol's state machine only: bytes in, messages out. It opens no socket
// and writes no file. The libp2p transport (`/veil/dkg/1.0.0`, veil/node/dkg_runner.h) and the
// CLI (`veil keys dkg`) drive it:
//
//   auto member = dkg::Member::create(config);          // this process's member
//   send(member->start());                               // R0: Hello to every other member
//   while (!member->finished()) {
//     auto [from, bytes] = next message from an authenticated peer (its id: member->id_of(key))
//     auto out = member->receive(from, bytes);           // error: abort, member->blamed() says who
//     if (!out.ok()) { send(member->abort_messages()); fail(out.status()); }
//     send(*out);
//     if (member->output_ready() && !written) {          // after R6: write DIR's temp copy, fsync
//       write(member->output()); send(member->confirm_written());   // R7: Ready
//     }
//   }
//   rename temp -> DIR                                    // every member has said Ready
//
// Model: semi-honest members with an honest majority (threshold t <= (m + 1) / 2). Any member can
// abort a run; a run that aborts leaves nothing a node would load.
//
// Thread safety: a Member is used by one thread at a time; it may use the shared thread pool
// internally.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/threshold.h"
#include "veil/fhe/types.h"

namespace veil::fhe::dkg {

// Largest message a member sends or accepts (chunks of the big rounds stay below it).
inline constexpr std::size_t kMaxMessageBytes = std::size_t{5} << 20;

struct Config {
  const Parameters* params = nullptr;
  unsigned threshold = 0;  // t: partial decryptions needed; 2 <= t <= (m + 1) / 2
  // Every member, this one included, in any order: ids 1..m follow the bytewise order of the
  // Ed25519 keys, so every member derives the same ids whatever order its command line used.
  std::vector<threshold::MemberPublicKey> members;
  // This member's secret key (its public half must be in `members`).
  std::shared_ptr<const threshold::MemberSecretKey> self;
};

// One message for member `to` (1..m, never this member).
struct Outgoing {
  std::uint8_t to = 0;
  Bytes bytes;
};

// What a finished run gives this member: the public files (identical bytes at every member) and
// its own sealed share.
struct Output {
  threshold::Committee committee;
  Bytes public_key;         // public.key
  Bytes server_key;         // server.compressed.key
  Bytes squash_key;         // squash.key
  Bytes committee_bytes;    // committee.bin
  Bytes sealed_share;       // share-<id>.sealed (crypto_box_seal to this member's X25519 key)
  std::string hashes_json;  // hashes.json, the same fields and order as the ceremony writes
  std::array<std::uint8_t, 32> session{};
};

// Per-round accounting for progress lines and `--json`.
struct MemberTestAccess;  // tests only: reads a member's internal shares (tests/fhe/dkg_test.cc)

struct RoundStats {
  std::string name;  // "hello", "bit contributions", ...
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  double seconds = 0;  // wall time from the round's first message sent to its last one received
};

class Member {
 public:
  // kInvalidArgument on a bad configuration (threshold outside 2..(m+1)/2, fewer than 3 or more
  // than threshold::kMaxMembers members, duplicate keys, `self` not among the members).
  static Result<Member> create(Config config);
  Member(Member&&) noexcept;
  Member& operator=(Member&&) noexcept;
  ~Member();  // wipes every secret the run held

  std::uint8_t id() const;  // this member's id, 1..m
  std::size_t size() const;  // m
  // The id of the member with this public key, or 0 if it is not a member.
  std::uint8_t id_of(const threshold::MemberPublicKey& key) const;
  const threshold::MemberPublicKey& member(std::uint8_t id) const;

  // R0: the Hello messages. Call once. They carry the run's fresh mask and PRSS keys in the
  // clear (the transport's channel, Noise, protects them): wipe them once sent.
  // Messages may arrive before start(); they wait for it.
  Result<std::vector<Outgoing>> start();
  // One message from member `from`, whose identity the transport has authenticated. Returns
  // what to send next (often nothing). An error aborts the run: blamed() names the member at
  // fault (the sender of a malformed message; the origin named in a received Abort).
  Result<std::vector<Outgoing>> receive(std::uint8_t from, ByteView bytes);

  // The run's current round, for progress lines ("bit openings", ...).
  std::string_view round() const;
  // The members whose message for the current round has not arrived yet: who to name when the
  // transport's round timeout fires.
  std::vector<std::uint8_t> waiting_on() const;
  const std::vector<RoundStats>& stats() const;

  // After the last data round every file is known. The caller writes them (temporary directory,
  // fsync), then calls confirm_written(), which returns the Ready messages.
  bool output_ready() const;
  const Output& output() const;
  Result<std::vector<Outgoing>> confirm_written();
  // Every member has said Ready: the caller may rename its temporary directory into place.
  bool finished() const;

  // Abort messages telling every other member that the run is over because of `blamed`
  // (0: this member's own failure), with a reason of at most 256 bytes. The transport sends
  // them best-effort before it exits.
  std::vector<Outgoing> abort_messages(std::uint8_t blamed, std::string_view reason) const;
  std::uint8_t blamed() const;

 private:
  friend struct MemberTestAccess;
  struct State;
  explicit Member(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace veil::fhe::dkg
