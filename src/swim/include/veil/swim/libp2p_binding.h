// The libp2p binding of SWIM: runs one Node (node.h) over a p2p::Host on protocol
// /veil/swim/1.0.0.
//
// Transport. Every SWIM message is encoded with wire.h and written as one uvarint
// length-prefixed message on a Yamux stream. Each member keeps one long-lived outbound stream
// per peer it talks to (opened on first use, reopened after an error), fed by a per-peer queue
// that one writer coroutine drains in order; inbound streams are read in a loop until they end.
// A message that cannot be delivered (no connection, the queue over its bound, a write error)
// is dropped, as a UDP datagram would be: the protocol already tolerates loss, and a sender
// that blocked on an unreachable peer would stall its own probing. docs/swim.md explains why
// this was chosen over one stream per message (a stream open costs a multistream-select round
// trip per message, which would sit inside every probe timeout).
//
// Identity. A member is named by its PeerId (base58). The sender of a message is the
// Noise-authenticated remote PeerId of the stream it arrived on, never a claim in the body.
// Alive updates carry the member's listen multiaddrs (space-separated text in the update's
// address field) so that others can dial it.
//
// Authentication (UpdateAuth). Alive and left updates are signed by the member's own libp2p
// Ed25519 key; suspect and dead updates by the accuser's key. The signed bytes are
// update_signing_bytes() followed, for alive updates, by the address text, so neither the
// incarnation nor the addresses can be altered in transit. A receiver verifies each update
// against the public key inlined in the signer's PeerId and drops it otherwise (counted in
// rejected_updates()), so nobody can declare another member dead, alive or left in its name.
// The binding keeps the last verified signed alive of every member and attaches those to every
// push-pull it sends, which is how a joiner learns the others' addresses.
//
// Timers. One asio steady_timer is armed for Node::next_deadline() and calls Node::tick().
//
// Host settings. A member that was cut off dials its peers again when it comes back; a Host
// whose dial backoff has grown to minutes (HostConfig::backoff_max) delays that rejoin by as
// much, so members should use a backoff_max of a few probe intervals (the CLI uses 2 s).
//
// Thread safety: not thread-safe. Every call, and every callback it makes, runs on the thread
// running the io_context the Host was built on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "veil/common/status.h"
#include "veil/p2p/host.h"
#include "veil/p2p/identity.h"
#include "veil/p2p/multiaddr.h"
#include "veil/swim/config.h"
#include "veil/swim/node.h"

namespace veil::swim {

inline constexpr const char* kLibp2pProtocol = "/veil/swim/1.0.0";

// One member as this process sees it.
struct MemberInfo {
  p2p::PeerId peer;
  MemberState state;
  std::uint32_t incarnation;
  std::vector<p2p::Multiaddr> addrs;  // from its last verified alive; ours: what we advertise
};

// A membership change (Event, with PeerIds instead of local MemberIds).
struct MemberEvent {
  Event::Kind kind;
  p2p::PeerId peer;
  std::uint32_t incarnation;
  std::int64_t at_ms;                // milliseconds of the steady clock (see now_ms())
  std::optional<p2p::PeerId> by;     // the accuser for suspect/dead; the member otherwise
};

class Libp2pMembership {  // all calls on the host's io_context thread
 public:
  // A member named by host.id(). `host` and `io` must outlive this object, and `host` should
  // already listen (its listen addresses are what this member advertises, unless
  // set_advertise_addrs() says otherwise). `config` must pass Config::validate() (asserted).
  Libp2pMembership(boost::asio::io_context& io, p2p::Host& host, Config config);
  ~Libp2pMembership();
  Libp2pMembership(const Libp2pMembership&) = delete;
  Libp2pMembership& operator=(const Libp2pMembership&) = delete;

  // Starts serving /veil/swim/1.0.0; with seeds (full multiaddrs with /p2p/) joins through them,
  // retrying every few seconds until one answers. Empty seeds: first member of a cluster.
  // Returns invalid_argument if a seed has no /p2p/ component, failed_precondition if
  // already started.
  Status start(std::vector<p2p::Multiaddr> seeds);
  // Graceful leave, done() after the propagation delay (a few gossip intervals, at least one
  // probe interval). The member keeps answering until stop(). done may be empty; a stop()
  // (or destruction) before then cancels it and done is never called.
  void leave(std::function<void()> done);
  // Stops the timer, removes the protocol handler and closes our outbound streams. Idempotent;
  // also done by the destructor. The Host is left running.
  void stop();
  std::vector<MemberInfo> members() const;  // self included
  // `listener` runs on the io_context thread for every event, in order. It may call members()
  // but must not destroy this object. Returns an id for unsubscribe().
  int subscribe(std::function<void(const MemberEvent&)> listener);
  void unsubscribe(int id);
  const Node& core() const;

  // --- Additions beyond the node's contract --------------------------------------------------
  // Addresses to advertise instead of host.listen_addrs() (e.g. when listening on 0.0.0.0).
  // Takes effect at start() or on the next refutation.
  void set_advertise_addrs(std::vector<p2p::Multiaddr> addrs);
  // Milliseconds of the clock the core runs on (steady_clock since an arbitrary epoch).
  static std::int64_t now_ms();

  struct Stats {
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_received = 0;
    std::uint64_t messages_dropped = 0;   // queue full, no stream, write error
    std::uint64_t decode_errors = 0;      // malformed frames (the stream is reset)
    std::uint64_t rejected_updates = 0;   // failed signature checks
  };
  Stats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace veil::swim
