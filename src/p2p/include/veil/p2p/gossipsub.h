// GossipSub v1.1 (/meshsub/1.1.0, with /meshsub/1.0.0 and /floodsub/1.0.0 fallback), after
// libp2p/specs pubsub/gossipsub/gossipsub-v1.0.md and gossipsub-v1.1.md.
//
// Three layers, one header:
//  - wire: the RPC protobuf (encode_rpc / decode_rpc) and StrictSign signing/verification
//    (signature over "libp2p-pubsub:" || the Message protobuf without signature and key);
//  - GossipSubRouter: the socket-free protocol state machine (mesh with D/Dlo/Dhi/Dlazy,
//    heartbeat, GRAFT/PRUNE with backoff, IHAVE/IWANT from the message cache, seen cache,
//    flood publishing, fanout, basic peer scoring). Time is passed in, output is collected
//    with take_outgoing(), so tests drive it directly;
//  - GossipSub: binds a router to a Host (streams, heartbeat timer).
//
// Message ids are from || seqno (the StrictSign default of go- and js-libp2p).
// Thread safety: none; everything runs on the host's io_context thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/p2p/host.h"
#include "veil/p2p/identity.h"

namespace boost::asio {
class io_context;
}

namespace veil::p2p {

inline constexpr std::string_view kMeshsub11 = "/meshsub/1.1.0";
inline constexpr std::string_view kMeshsub10 = "/meshsub/1.0.0";
inline constexpr std::string_view kFloodsub = "/floodsub/1.0.0";
inline constexpr std::string_view kPubsubSignPrefix = "libp2p-pubsub:";
inline constexpr std::size_t kMaxRpcSize = 1 << 20;

// ---- wire ----

struct PubsubMessage {
  PeerId from;
  Bytes data;
  Bytes seqno;
  std::string topic;
  Bytes signature;
  Bytes key;
  bool has_data = false;  // presence matters for the signed encoding
};

struct Rpc {
  struct Sub {
    bool subscribe = false;
    std::string topic;
  };
  struct IHave {
    std::string topic;
    std::vector<Bytes> ids;
  };
  struct Prune {
    std::string topic;
    std::optional<std::uint64_t> backoff_s;
  };
  std::vector<Sub> subscriptions;
  std::vector<PubsubMessage> publish;
  std::vector<IHave> ihave;
  std::vector<std::vector<Bytes>> iwant;
  std::vector<std::string> graft;
  std::vector<Prune> prune;
  bool empty() const {
    return subscriptions.empty() && publish.empty() && ihave.empty() && iwant.empty() && graft.empty() && prune.empty();
  }
};

Bytes encode_rpc(const Rpc& rpc);
// Fails on malformed protobuf, a `from` that is not a PeerId, or more than 5000 entries of
// any list (a bound on the work one RPC can cause).
Result<Rpc> decode_rpc(ByteView bytes);

// The bytes a StrictSign signature covers.
Bytes signing_bytes(const PubsubMessage& m);
// Builds a signed message from `key` with the given seqno.
PubsubMessage make_signed_message(const KeyPair& key, std::string topic, ByteView data, std::uint64_t seqno);
// StrictSign verification: from, seqno and signature present, the key (inline in the PeerId
// or in `key`) matches `from`, and the signature verifies. permission_denied otherwise.
Status verify_message(const PubsubMessage& m);
Bytes message_id(const PubsubMessage& m);

// ---- router ----

struct GossipSubParams {
  int d = 6, d_lo = 4, d_hi = 12, d_lazy = 6;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::seconds fanout_ttl{60};
  int mcache_len = 5;      // heartbeats of messages kept for IWANT
  int mcache_gossip = 3;   // heartbeats of messages advertised in IHAVE
  double gossip_factor = 0.25;
  std::chrono::seconds seen_ttl{120};
  std::chrono::seconds prune_backoff{60};
  bool flood_publish = true;
  int max_iwant_replies = 3;  // per message id and peer
  // Basic scoring: score = mesh_delivery_weight * min(first deliveries, cap)
  //                      - invalid_message_weight * invalid^2. Peers below 0 are pruned
  // from meshes and get no gossip; below graylist their RPCs are ignored.
  double mesh_delivery_weight = 0.1;
  double mesh_delivery_cap = 100;
  double invalid_message_weight = 10;
  double graylist_threshold = -80;

  // Short heartbeat for tests and small clusters.
  static GossipSubParams fast() {
    GossipSubParams p;
    p.heartbeat = std::chrono::milliseconds(200);
    return p;
  }
};

class GossipSubRouter {
 public:
  using Clock = std::chrono::steady_clock;
  GossipSubRouter(KeyPair identity, GossipSubParams params = {}, std::uint64_t rng_seed = std::random_device{}());

  // A stream to `peer` speaking `protocol` (meshsub or floodsub) is ready for output.
  void add_peer(const PeerId& peer, std::string_view protocol);
  void remove_peer(const PeerId& peer);
  // Processes one RPC received from `peer` at `now`.
  void handle_rpc(const PeerId& peer, const Rpc& rpc, Clock::time_point now);
  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);
  // Signs and sends a new message; fails if `data` is too large.
  Result<PubsubMessage> publish(const std::string& topic, ByteView data, Clock::time_point now);
  void heartbeat(Clock::time_point now);

  // Messages to hand to the application (valid, first seen, on a subscribed topic).
  void on_deliver(std::function<void(const PubsubMessage&)> f) { deliver_ = std::move(f); }
  // RPCs to send, per peer, accumulated since the last call.
  std::vector<std::pair<PeerId, Rpc>> take_outgoing();

  // Introspection (tests, metrics).
  std::set<PeerId> mesh(const std::string& topic) const;
  double score(const PeerId& peer) const;
  bool knows_peer(const PeerId& peer) const { return peers_.count(peer) > 0; }

 private:
  struct PeerState {
    std::string protocol;  // empty until our stream to it is up
    std::set<std::string> topics;
    double first_deliveries = 0;
    double invalid = 0;
    std::map<std::string, Clock::time_point> backoff;  // per topic: no GRAFT before
    std::map<Bytes, int> iwant_served;
  };
  struct Cached {
    PubsubMessage msg;
    Bytes id;
  };
  Rpc& out(const PeerId& peer) { return outgoing_[peer]; }
  bool is_gossipsub(const PeerState& p) const { return p.protocol == kMeshsub11 || p.protocol == kMeshsub10; }
  void handle_message(const PeerId& from, const PubsubMessage& m, Clock::time_point now);
  void forward(const PubsubMessage& m, const PeerId& source);
  void remember(const Bytes& id, const PubsubMessage& m, Clock::time_point now);
  std::vector<PeerId> pick(const std::string& topic, std::size_t n, const std::function<bool(const PeerId&, const PeerState&)>& ok);
  void graft(const std::string& topic, const PeerId& peer);
  void prune(const std::string& topic, const PeerId& peer, Clock::time_point now);

  KeyPair identity_;
  PeerId self_;
  GossipSubParams params_;
  std::mt19937_64 rng_;
  std::uint64_t next_seqno_;
  std::map<PeerId, PeerState> peers_;
  std::set<std::string> topics_;
  std::map<std::string, std::set<PeerId>> mesh_;
  std::map<std::string, std::set<PeerId>> fanout_;
  std::map<std::string, Clock::time_point> fanout_last_publish_;
  std::deque<std::vector<Bytes>> mcache_windows_;
  std::map<Bytes, Cached> mcache_;
  std::map<Bytes, Clock::time_point> seen_;
  std::map<PeerId, Rpc> outgoing_;
  std::function<void(const PubsubMessage&)> deliver_;
};

// ---- host binding ----

class GossipSub {
 public:
  // Registers the pubsub protocols on `host`; the host must outlive this object.
  GossipSub(boost::asio::io_context& io, Host& host, GossipSubParams params = {});
  ~GossipSub();
  void on_message(std::function<void(const PubsubMessage&)> f);
  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);
  Result<PubsubMessage> publish(const std::string& topic, ByteView data);
  // Starts the heartbeat and opens pubsub streams to current and future peers.
  void start();
  void stop();
  GossipSubRouter& router();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace veil::p2p
