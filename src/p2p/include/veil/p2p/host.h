// The libp2p host: listener, dialer, connection upgrade, peerstore, protocol handlers and a
// connection gater, on Boost.Asio with C++20 coroutines.
//
// A TCP connection is upgraded in the rust-libp2p/go-libp2p order:
//   TCP -> multistream-select(/noise) -> Noise XX (remote PeerId verified)
//       -> gater(PeerId, direction)  -- a refusal closes the socket here, before any
//                                       application protocol or muxer negotiation runs
//       -> multistream-select(/yamux/1.0.0) -> Yamux
// Each Yamux stream then negotiates its protocol with multistream-select and is handed to
// the handler registered for it. The host serves Identify, Identify Push and, on every new
// connection, runs Identify against the peer (results land in the peerstore).
//
// Thread safety: a Host and everything it hands out (Stream, callbacks) belong to the
// io_context given at construction and must be used only from a thread running it; run that
// io_context on one thread. Handlers and event callbacks run on that thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "veil/common/bytes.h"
#include "veil/common/log_throttle.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"
#include "veil/p2p/multiaddr.h"
#include "veil/p2p/yamux.h"

namespace veil::p2p {

template <typename T>
using Task = boost::asio::awaitable<T>;

enum class Direction { kInbound, kOutbound };

// Why the host turned a connection away (Host::refused_connections()).
enum class Refusal {
  kGated,            // the gater said no (either direction)
  kConnectionLimit,  // HostConfig::max_connections reached (either direction)
};
// "gated", "connection_limit": stable, for metric labels.
std::string_view refusal_name(Refusal reason);

namespace detail {
class Connection;
struct StreamState;
}  // namespace detail

// One negotiated Yamux stream. Owned by whoever holds the shared_ptr; dropping the last
// reference without close_write() resets the stream.
class Stream {
 public:
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const std::string& protocol() const { return protocol_; }
  const PeerId& remote_peer() const;

  // Reads up to `buffer.size()` bytes. Returns 0 once the remote has closed its side and
  // everything was read; an error (cancelled/unavailable) if the stream or connection was
  // reset.
  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buffer);
  // Reads exactly `buffer.size()` bytes; data_loss if the stream ends first.
  Task<Status> read_exact(std::span<std::uint8_t> buffer);
  // Reads one uvarint-length-prefixed message of at most `max_size` bytes. not_found at a
  // clean end of stream before the message starts; out_of_range if it is too long.
  Task<Result<Bytes>> read_message(std::size_t max_size);
  // Writes all of `data`, waiting for the remote's flow-control window as needed. Completes
  // once every byte is queued or written; bulk data is sealed straight from `data` (no copy),
  // so it is read up to the completion, as with any awaited write.
  Task<Status> write(ByteView data);
  // Writes uvarint(len) || data.
  Task<Status> write_message(ByteView data);
  // Half-closes our side (Yamux FIN); reading stays possible.
  Status close_write();
  // Aborts both directions (Yamux RST).
  void reset();

 private:
  friend class detail::Connection;
  Stream(std::shared_ptr<detail::Connection> conn, std::shared_ptr<detail::StreamState> state);
  std::shared_ptr<detail::Connection> conn_;
  std::shared_ptr<detail::StreamState> state_;
  std::string protocol_;
  bool closed_ = false;
};
using StreamPtr = std::shared_ptr<Stream>;

// What the host knows about a peer.
struct PeerInfo {
  PeerId id;
  std::vector<Multiaddr> addrs;       // dialable addresses (configured or from Identify)
  std::vector<std::string> protocols;  // from Identify
  std::string agent_version;          // from Identify
  std::string protocol_version;       // from Identify
  std::optional<Multiaddr> observed_addr;  // how the peer sees us
  bool identified = false;
};

// Peers, their addresses and Identify results. Owned by the Host.
class Peerstore {
 public:
  void add_addrs(const PeerId& id, const std::vector<Multiaddr>& addrs);
  void set_identify(const PeerInfo& info);
  std::optional<PeerInfo> get(const PeerId& id) const;
  std::vector<PeerId> peers() const;

 private:
  std::map<PeerId, PeerInfo> peers_;
};

struct HostConfig {
  // Our identity; a fresh key unless set.
  KeyPair identity = KeyPair::generate();
  // Sent in Identify as agentVersion.
  std::string agent_version = "veil/0.1.0";
  // Upper bound on TCP connect plus the whole upgrade when dialling.
  std::chrono::milliseconds dial_timeout{10'000};
  // Upper bound on an inbound connection's upgrade (slowloris defence).
  std::chrono::milliseconds upgrade_timeout{10'000};
  // Upper bound on negotiating a protocol on a new stream.
  std::chrono::milliseconds stream_negotiation_timeout{10'000};
  // After a failed dial the address is not retried for backoff_base, doubling per failure
  // up to backoff_max; a success clears it.
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_max{5 * 60'000};
  // Connections beyond this are closed right after accept (inbound) or refused (outbound).
  std::size_t max_connections = 256;
  // Per-connection Yamux settings (stream limit, receive window).
  yamux::Config yamux;
  // Refusals cost a remote one handshake each, so they are counted, not logged one by one:
  // the first refusal of each peer (inbound over the limit: of each address) is logged in
  // full, at most `burst` such lines per interval, and the rest as one summary line per
  // interval (veil/common/log_throttle.h). Defaults: 60 s, 5 lines.
  LogThrottle::Options refusal_log;
};

class Host {
 public:
  // Runs on a stream whose protocol was negotiated. The host keeps nothing of the stream
  // after the handler returns except what the handler still references.
  using Handler = std::function<Task<void>(StreamPtr)>;
  // Decides after Noise (remote PeerId proven) whether the connection may continue. Returning
  // false closes it before Yamux or any protocol runs. Called for both directions.
  using Gater = std::function<bool(const PeerId& peer, Direction direction)>;
  struct Listener {
    std::function<void(const PeerId&, Direction)> connected;  // first connection to a peer
    std::function<void(const PeerId&)> disconnected;          // last connection closed
    std::function<void(const PeerInfo&)> identified;          // Identify (or a push) arrived
  };

  Host(boost::asio::io_context& io, HostConfig config = {});
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const PeerId& id() const;
  const KeyPair& identity() const;

  // Binds and starts accepting on a /ip4|ip6/<ip>/tcp/<port> address (port 0 picks one).
  // Fails (invalid_argument, unavailable) when the address is wrong or in use.
  Status listen(const Multiaddr& addr);
  // The bound addresses with their actual ports, without /p2p.
  std::vector<Multiaddr> listen_addrs() const;

  // Registers (or replaces) the handler for `protocol`; it is advertised by Identify, and a
  // new protocol (or a removed one) is announced to connected peers with Identify Push.
  void set_handler(std::string protocol, Handler handler);
  void remove_handler(const std::string& protocol);
  std::vector<std::string> protocols() const;

  void set_gater(Gater gater);
  void add_listener(Listener listener);

  // Connections turned away for `reason` since construction, both directions: every one,
  // including those the log only summarised (HostConfig::refusal_log).
  std::uint64_t refused_connections(Refusal reason) const;

  // Connects to `addr` (which should end in /p2p/<id>; without it the remote is accepted
  // as whoever it proves to be). Reuses an existing connection to that peer. Fails with
  // deadline_exceeded, unavailable (refused, backing off), permission_denied (wrong peer,
  // bad signature, gated) — never leaves a half-open connection behind.
  Task<Result<PeerId>> connect(const Multiaddr& addr);
  // Opens a stream to a connected peer (dialling its known addresses otherwise) and
  // negotiates the first of `protocols` the peer supports; not_found when it supports none.
  Task<Result<StreamPtr>> new_stream(const PeerId& peer, std::vector<std::string> protocols);

  bool is_connected(const PeerId& peer) const;
  std::vector<PeerId> connected_peers() const;
  // Closes every connection to `peer` (GoAway, then the socket).
  void disconnect(const PeerId& peer);
  Peerstore& peerstore();

  // Graceful shutdown: stops accepting, sends GoAway on every connection, lets queued
  // output flush, then closes the sockets. Idempotent. Pending operations complete with
  // errors; the io_context runs out of work once they have.
  void close();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace veil::p2p
