// One member's run of the dealer-free key generation over libp2p: the transport that drives the
// protocol's state machine (veil/fhe/dkg.h) and writes its files atomically. Design and failure
// rules: docs/dkg.md, section 7.
//
// Every member runs one Host whose identity is its member Ed25519 key, so its PeerId follows
// from its `member.pub`; the gater admits the other members only. For each pair the member with
// the smaller id dials and opens one `/veil/dkg/1.0.0` stream, used both ways for the whole run
// (uvarint-length-prefixed protocol messages). A member that closes its connection, sends a
// message the protocol refuses, or stays silent for a round timeout aborts the run for everyone,
// and every member's error names it. Files go to a hidden directory beside `out` and are renamed
// into place only once every member has confirmed the same set, so an aborted run leaves no key
// set a node would load.
//
// Thread safety: run_dkg blocks its caller and uses its own io_context; several runs may proceed
// on different threads (tests run whole committees in one process).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"
#include "veil/fhe/dkg.h"
#include "veil/fhe/threshold.h"
#include "veil/p2p/identity.h"
#include "veil/p2p/multiaddr.h"

namespace veil::node {

inline constexpr std::string_view kDkgProtocol = "/veil/dkg/1.0.0";

struct DkgMemberAddress {
  fhe::threshold::MemberPublicKey key;
  // Where the member listens; a trailing /p2p/<id> must be the key's PeerId.
  p2p::Multiaddr address;
};

struct DkgRunConfig {
  const fhe::Parameters* params = nullptr;
  unsigned threshold = 0;
  std::shared_ptr<const fhe::threshold::MemberSecretKey> self;
  p2p::Multiaddr listen;
  // Every member, this one included (its address is not used: `listen` is).
  std::vector<DkgMemberAddress> members;
  // Must not exist, or be an empty directory. Its parent must exist.
  std::filesystem::path out;
  // Every other member must be connected within start_timeout of the start; after that a member
  // whose message for the current round has not arrived within round_timeout of the last
  // message received is named as silent.
  std::chrono::milliseconds start_timeout{300'000};
  std::chrono::milliseconds round_timeout{600'000};
  // One human-readable line per event (connections, rounds, files); none when empty.
  std::function<void(const std::string&)> progress;
};

struct DkgRunReport {
  std::uint8_t id = 0;
  std::size_t members = 0;
  std::filesystem::path out;
  std::string hashes_json;
  std::vector<fhe::dkg::RoundStats> rounds;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  double seconds = 0;  // from the listener's start to the rename
};

// The PeerId a member's host has in a run: the libp2p identity of its Ed25519 key.
p2p::PeerId dkg_peer_id(const fhe::threshold::MemberPublicKey& key);

// Runs this member's part to the end. Errors: kInvalidArgument for a bad configuration (also
// an `out` that is a file or a non-empty directory), kUnavailable when `listen` cannot be bound,
// kDeadlineExceeded when members did not connect in time (naming them), and kFailedPrecondition
// "dkg aborted: ..." naming the member at fault for everything that ends a started run.
Result<DkgRunReport> run_dkg(const DkgRunConfig& config);

}  // namespace veil::node
