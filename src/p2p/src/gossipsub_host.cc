// GossipSub's binding to the Host: one outbound stream per peer for our RPCs, inbound
// streams read into the router, and the heartbeat timer.
#include <utility>  // Boost 1.74 awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "veil/common/log.h"
#include "veil/p2p/gossipsub.h"

namespace asio = boost::asio;

namespace veil::p2p {

struct GossipSub::Impl : std::enable_shared_from_this<GossipSub::Impl> {
  Impl(asio::io_context& io_, Host& host_, GossipSubParams params_)
      : io(io_), host(host_), params(params_), router(host_.identity(), params_), heartbeat(io_) {}

  struct PeerIo {
    explicit PeerIo(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
    std::deque<Bytes> queue;
    asio::steady_timer wake;
    bool writer = false;
    bool speaks_pubsub = false;  // a pubsub stream was opened once: worth reopening when it fails
  };

  asio::io_context& io;
  Host& host;
  GossipSubParams params;
  GossipSubRouter router;
  asio::steady_timer heartbeat;
  std::map<PeerId, std::unique_ptr<PeerIo>> peers;
  bool running = false;

  void flush() {
    for (auto& [peer, rpc] : router.take_outgoing()) {
      auto it = peers.find(peer);
      if (it == peers.end()) continue;  // not connected any more
      it->second->queue.push_back(encode_rpc(rpc));
      it->second->wake.cancel();
    }
  }

  void ensure_writer(const PeerId& peer) {
    if (!running) return;
    auto& slot = peers[peer];
    if (!slot) slot = std::make_unique<PeerIo>(io);
    if (slot->writer) return;
    slot->writer = true;
    auto self = shared_from_this();
    asio::co_spawn(io, [self, peer]() -> Task<void> { co_await self->write_loop(peer); }, asio::detached);
  }

  Task<void> write_loop(PeerId peer) {
    auto self = shared_from_this();
    std::vector<std::string> protocols{std::string(kMeshsub11), std::string(kMeshsub10), std::string(kFloodsub)};
    auto stream = co_await host.new_stream(peer, std::move(protocols));
    if (!stream.ok()) {
      log::get("p2p")->debug("gossipsub: no pubsub stream to {}: {}", peer.to_base58(), stream.status().to_string());
      if (auto it = peers.find(peer); it != peers.end()) it->second->writer = false;
      co_return;
    }
    router.add_peer(peer, (*stream)->protocol());
    if (auto it = peers.find(peer); it != peers.end()) it->second->speaks_pubsub = true;
    flush();
    while (running) {
      auto it = peers.find(peer);
      if (it == peers.end()) break;
      PeerIo& pio = *it->second;
      if (pio.queue.empty()) {
        boost::system::error_code ec;
        pio.wake.expires_at(asio::steady_timer::time_point::max());
        co_await pio.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      Bytes rpc = std::move(pio.queue.front());
      pio.queue.pop_front();
      if (!(co_await (*stream)->write_message(rpc)).ok()) break;
    }
    (void)(*stream)->close_write();
    if (auto it = peers.find(peer); it != peers.end()) it->second->writer = false;
  }

  Task<void> read_loop(StreamPtr s) {
    auto self = shared_from_this();
    PeerId peer = s->remote_peer();
    ensure_writer(peer);
    while (running) {
      auto msg = co_await s->read_message(kMaxRpcSize);
      if (!msg.ok()) break;
      auto rpc = decode_rpc(*msg);
      if (!rpc.ok()) {
        log::get("p2p")->debug("gossipsub: bad RPC from {}: {}", peer.to_base58(), rpc.status().to_string());
        break;
      }
      router.handle_rpc(peer, *rpc, std::chrono::steady_clock::now());
      flush();
    }
    s->reset();
  }

  Task<void> heartbeat_loop() {
    auto self = shared_from_this();
    while (running) {
      heartbeat.expires_after(params.heartbeat);
      boost::system::error_code ec;
      co_await heartbeat.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!running) break;
      router.heartbeat(std::chrono::steady_clock::now());
      // A pubsub stream can fail while its connection stays up (a network cut that outlasts the
      // write, then heals): the connected event does not fire again, so without this the peer
      // would stay in the mesh with nobody writing its queue.
      for (const auto& peer : host.connected_peers()) {
        auto it = peers.find(peer);
        if (it != peers.end() && it->second->speaks_pubsub && !it->second->writer) ensure_writer(peer);
      }
      flush();
    }
  }
};

GossipSub::GossipSub(asio::io_context& io, Host& host, GossipSubParams params)
    : impl_(std::make_shared<Impl>(io, host, params)) {}

GossipSub::~GossipSub() { stop(); }

void GossipSub::on_message(std::function<void(const PubsubMessage&)> f) { impl_->router.on_deliver(std::move(f)); }

void GossipSub::subscribe(const std::string& topic) {
  impl_->router.subscribe(topic);
  impl_->flush();
}

void GossipSub::unsubscribe(const std::string& topic) {
  impl_->router.unsubscribe(topic);
  impl_->flush();
}

Result<PubsubMessage> GossipSub::publish(const std::string& topic, ByteView data) {
  auto m = impl_->router.publish(topic, data, std::chrono::steady_clock::now());
  impl_->flush();
  return m;
}

GossipSubRouter& GossipSub::router() { return impl_->router; }

void GossipSub::start() {
  auto& impl = *impl_;
  if (impl.running) return;
  impl.running = true;
  std::weak_ptr<Impl> weak = impl_;
  for (auto protocol : {kMeshsub11, kMeshsub10, kFloodsub}) {
    impl.host.set_handler(std::string(protocol), [weak](StreamPtr s) -> Task<void> {
      if (auto self = weak.lock()) co_await self->read_loop(s);
    });
  }
  impl.host.add_listener({
      .connected = [weak](const PeerId& p, Direction) {
        if (auto self = weak.lock()) self->ensure_writer(p);
      },
      .disconnected = [weak](const PeerId& p) {
        auto self = weak.lock();
        if (!self) return;
        self->router.remove_peer(p);
        if (auto it = self->peers.find(p); it != self->peers.end()) {
          it->second->wake.cancel();
          // The writer notices the missing entry and exits.
          self->peers.erase(it);
        }
      },
  });
  for (const auto& p : impl.host.connected_peers()) impl.ensure_writer(p);
  asio::co_spawn(impl.io, [self = impl_]() -> Task<void> { co_await self->heartbeat_loop(); }, asio::detached);
}

void GossipSub::stop() {
  auto& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  impl.heartbeat.cancel();
  for (auto& [_, pio] : impl.peers) pio->wake.cancel();
  for (auto protocol : {kMeshsub11, kMeshsub10, kFloodsub}) impl.host.remove_handler(std::string(protocol));
}

}  // namespace veil::p2p
