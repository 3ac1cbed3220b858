// SWIM over libp2p streams: see libp2p_binding.h for the transport, identity and signature
// rules, docs/swim.md for why.
#include "veil/swim/libp2p_binding.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <deque>
#include <map>
#include <sstream>
#include <utility>  // Boost 1.74 awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "veil/common/log.h"
#include "veil/swim/wire.h"

namespace asio = boost::asio;
using veil::p2p::Task;

namespace veil::swim {
namespace {

// Messages waiting for one peer beyond this are dropped (oldest first): a peer that cannot
// take them is unreachable, and stale probes are worthless anyway.
constexpr std::size_t kMaxQueuedPerPeer = 128;
// Seconds between join attempts while no seed has answered.
constexpr std::chrono::milliseconds kJoinRetry{2000};

std::string join_addrs(const std::vector<p2p::Multiaddr>& addrs) {
  // Space-separated text, as many whole addresses as fit the wire's address field.
  std::string out;
  for (const auto& a : addrs) {
    std::string text = a.without_peer_id().to_string();
    std::size_t extra = text.size() + (out.empty() ? 0 : 1);
    if (out.size() + extra > Directory::kMaxAddressBytes) break;
    if (!out.empty()) out += ' ';
    out += text;
  }
  return out;
}

std::vector<p2p::Multiaddr> split_addrs(std::string_view text) {
  std::vector<p2p::Multiaddr> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) {
      auto a = p2p::Multiaddr::parse(text.substr(pos, end - pos));
      // Only plain TCP addresses without /p2p are kept: the PeerId is the member's name.
      if (a.ok() && a->tcp_target().ok() && !a->peer_id()) out.push_back(std::move(*a));
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace

struct Libp2pMembership::Impl : std::enable_shared_from_this<Libp2pMembership::Impl> {
  Impl(asio::io_context& io_, p2p::Host& host_, Config config_)
      : io(io_), host(host_), config(config_), timer(io_), join_timer(io_), leave_timer(io_) {}

  struct PeerIo {
    explicit PeerIo(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
    std::deque<Bytes> queue;
    asio::steady_timer wake;
    p2p::StreamPtr stream;
    bool writer = false;
  };
  // The newest alive of a member whose signature (over the update and its address text) we
  // checked: re-attached to our push-pulls, and the source of its dialable addresses.
  struct SignedAlive {
    Update update;
    std::string address;
    std::vector<p2p::Multiaddr> addrs;
  };

  asio::io_context& io;
  p2p::Host& host;
  Config config;
  Directory directory;
  std::unique_ptr<Node> node;
  MemberId self = kNoMember;
  std::string self_address;
  std::vector<p2p::Multiaddr> advertise;
  bool advertise_set = false;

  asio::steady_timer timer;
  asio::steady_timer join_timer;
  asio::steady_timer leave_timer;
  bool running = false;
  bool started = false;
  std::vector<MemberId> seeds;

  std::map<p2p::PeerId, std::unique_ptr<PeerIo>> peers;
  std::map<MemberId, SignedAlive> alives;
  std::map<MemberId, std::optional<p2p::PeerId>> peer_ids;  // parse cache of member names
  std::vector<Bytes> verified_in_message;                   // alive signatures checked this message
  std::map<int, std::function<void(const MemberEvent&)>> listeners;
  int next_listener = 1;
  Stats counters;

  static std::int64_t now() { return Libp2pMembership::now_ms(); }

  const std::optional<p2p::PeerId>& peer_of(MemberId m) {
    auto it = peer_ids.find(m);
    if (it != peer_ids.end()) return it->second;
    auto parsed = p2p::PeerId::parse(directory.name(m));
    std::optional<p2p::PeerId> id;
    if (parsed.ok()) id = std::move(*parsed);
    return peer_ids.emplace(m, std::move(id)).first->second;
  }

  // --- Signatures -----------------------------------------------------------------------------
  Bytes signing_bytes(const Update& u, std::string_view address) {
    Bytes b = update_signing_bytes(u, directory);
    if (u.kind == Update::Kind::kAlive) b.insert(b.end(), address.begin(), address.end());
    return b;
  }

  Bytes sign(const Update& u) {
    return host.identity().sign(signing_bytes(u, u.kind == Update::Kind::kAlive ? self_address : ""));
  }

  bool check(const Update& u, std::string_view address) {
    // Alive and left are statements a member makes about itself.
    if ((u.kind == Update::Kind::kAlive || u.kind == Update::Kind::kLeft) && u.from != u.member) return false;
    const auto& signer = peer_of(u.from);
    if (!signer) return false;
    auto key = signer->public_key();
    if (!key.ok()) return false;
    return key->verify(signing_bytes(u, address), u.signature);
  }

  bool verify(const Update& u) {
    if (u.kind == Update::Kind::kAlive) {
      // Checked in on_message() against the address that came with it (the Directory only
      // keeps verified addresses once a message has been processed).
      return std::find(verified_in_message.begin(), verified_in_message.end(), u.signature) !=
             verified_in_message.end();
    }
    return check(u, "");
  }

  // --- Receiving ------------------------------------------------------------------------------
  void on_message(const p2p::PeerId& remote, ByteView bytes) {
    auto decoded = decode(bytes, directory);
    if (!decoded.ok()) {
      ++counters.decode_errors;
      log::get("swim")->debug("swim: bad message from {}: {}", remote.to_base58(), decoded.status().to_string());
      return;
    }
    ++counters.messages_received;
    Message& m = *decoded;
    MemberId from = directory.intern(remote.to_base58());
    // Check every alive against the address text it arrived with, then put back the verified
    // address of each member it touched, so a forged alive cannot change where we dial.
    verified_in_message.clear();
    for (const auto& u : m.updates) {
      if (u.kind != Update::Kind::kAlive) continue;
      std::string address = directory.address(u.member);
      if (!check(u, address)) continue;
      verified_in_message.push_back(u.signature);
      if (u.member != self) {
        auto it = alives.find(u.member);
        if (it == alives.end() || u.incarnation > it->second.update.incarnation) {
          SignedAlive sa{u, address, split_addrs(address)};
          if (const auto& pid = peer_of(u.member); pid && !sa.addrs.empty()) host.peerstore().add_addrs(*pid, sa.addrs);
          alives[u.member] = std::move(sa);
        }
      }
    }
    for (const auto& u : m.updates) {
      if (u.kind != Update::Kind::kAlive) continue;
      if (u.member == self) {
        directory.set_address(self, self_address);
      } else {
        auto it = alives.find(u.member);
        directory.set_address(u.member, it == alives.end() ? std::string() : it->second.address);
      }
    }
    std::uint64_t rejected_before = node->rejected_updates();
    node->handle(from, m, now());
    verified_in_message.clear();
    if (node->rejected_updates() != rejected_before) {
      log::get("swim")->debug("swim: {} update(s) from {} failed signature checks",
                              node->rejected_updates() - rejected_before, remote.to_base58());
    }
    flush();
    arm();
  }

  Task<void> read_loop(p2p::StreamPtr s) {
    auto self_ref = shared_from_this();
    p2p::PeerId remote = s->remote_peer();
    while (running) {
      auto msg = co_await s->read_message(kMaxMessageBytes);
      if (!msg.ok() || !running) break;
      std::uint64_t errors = counters.decode_errors;
      on_message(remote, *msg);
      if (counters.decode_errors != errors) break;  // a peer that sends garbage loses the stream
    }
    s->reset();
  }

  // --- Sending --------------------------------------------------------------------------------
  Update own_alive() {
    Update u{Update::Kind::kAlive, self, node->incarnation(), self, {}};
    u.signature = sign(u);
    return u;
  }

  void flush() {
    std::vector<Envelope> out;
    node->take_outgoing(out);
    for (auto& env : out) {
      if (env.message.type == MessageType::kPushPull) {
        // Carry the signed alives we hold, so the receiver can check (and dial) every member
        // the state names; see merge_state's authenticated path in node.cc.
        auto has = [&](MemberId m) {
          return std::any_of(env.message.updates.begin(), env.message.updates.end(),
                             [&](const Update& u) { return u.member == m; });
        };
        if (!node->has_left() && !has(self)) env.message.updates.push_back(own_alive());
        for (const auto& e : env.message.state) {
          auto it = alives.find(e.member);
          if (it == alives.end() || has(e.member)) continue;
          if (it->second.update.incarnation != e.incarnation) continue;  // stale: not what we hold
          env.message.updates.push_back(it->second.update);
        }
      }
      const auto& pid = peer_of(env.to);
      if (!pid || env.to == self) {
        ++counters.messages_dropped;
        continue;
      }
      enqueue(*pid, encode(env.message, directory));
    }
  }

  void enqueue(const p2p::PeerId& peer, Bytes frame) {
    if (!running) return;
    auto& slot = peers[peer];
    if (!slot) slot = std::make_unique<PeerIo>(io);
    if (slot->queue.size() >= kMaxQueuedPerPeer) {
      slot->queue.pop_front();
      ++counters.messages_dropped;
    }
    slot->queue.push_back(std::move(frame));
    slot->wake.cancel();
    if (!slot->writer) {
      slot->writer = true;
      asio::co_spawn(io, [self_ref = shared_from_this(), peer]() -> Task<void> {
        co_await self_ref->write_loop(peer);
      }, asio::detached);
    }
  }

  Task<void> write_loop(p2p::PeerId peer) {
    auto self_ref = shared_from_this();
    // The entry this writer serves. drop_peer() may replace it while we are suspended; the
    // new entry gets its own writer, and two writers on one stream would interleave frames.
    PeerIo* const mine = peers.at(peer).get();
    auto lookup = [&]() -> PeerIo* {
      auto it = peers.find(peer);
      return it == peers.end() || it->second.get() != mine || !running ? nullptr : mine;
    };
    while (running) {
      PeerIo* pio = lookup();
      if (!pio) co_return;
      if (pio->queue.empty()) {
        boost::system::error_code ec;
        pio->wake.expires_at(asio::steady_timer::time_point::max());
        co_await pio->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (!pio->stream) {
        std::vector<std::string> protocols{std::string(kLibp2pProtocol)};
        auto stream = co_await host.new_stream(peer, std::move(protocols));
        if (!(pio = lookup())) co_return;
        if (!stream.ok()) {
          // Unreachable: what waited is stale by now. The next message tries again (the
          // host's dial backoff paces the attempts).
          counters.messages_dropped += pio->queue.size();
          pio->queue.clear();
          log::get("swim")->debug("swim: no stream to {}: {}", peer.to_base58(), stream.status().to_string());
          continue;
        }
        pio->stream = *stream;
      }
      if (pio->queue.empty()) continue;
      Bytes frame = std::move(pio->queue.front());
      pio->queue.pop_front();
      p2p::StreamPtr stream = pio->stream;
      Status st = co_await stream->write_message(frame);
      if (!(pio = lookup())) co_return;
      if (st.ok()) {
        ++counters.messages_sent;
      } else {
        ++counters.messages_dropped;
        if (pio->stream == stream) pio->stream.reset();
        stream->reset();
      }
    }
  }

  void drop_peer(const p2p::PeerId& peer) {
    auto it = peers.find(peer);
    if (it == peers.end()) return;
    if (it->second->stream) it->second->stream->reset();
    it->second->wake.cancel();
    // The writer, if any, notices the missing entry and exits.
    peers.erase(it);
  }

  // --- Timers ---------------------------------------------------------------------------------
  void arm() {
    if (!running) return;
    std::int64_t at = node->next_deadline();
    auto when = std::chrono::steady_clock::time_point(std::chrono::milliseconds(at));
    if (timer.expiry() == when) return;  // already waiting for exactly this
    timer.expires_at(when);
    std::weak_ptr<Impl> weak = shared_from_this();
    timer.async_wait([weak](const boost::system::error_code& ec) {
      auto self_ref = weak.lock();
      if (ec || !self_ref || !self_ref->running) return;
      self_ref->node->tick(now());
      self_ref->flush();
      self_ref->timer.expires_at(asio::steady_timer::time_point::min());  // force a re-arm
      self_ref->arm();
    });
  }

  void try_join() {
    if (!running || seeds.empty()) return;
    if (node->live_count() > 1) return;  // a seed answered (or someone found us)
    Status st = node->join(seeds, now());
    if (!st.ok()) log::get("swim")->warn("swim: join: {}", st.to_string());
    flush();
    arm();
    join_timer.expires_after(kJoinRetry);
    std::weak_ptr<Impl> weak = shared_from_this();
    join_timer.async_wait([weak](const boost::system::error_code& ec) {
      if (auto self_ref = weak.lock(); self_ref && !ec) self_ref->try_join();
    });
  }

  void on_event(const Event& e) {
    // Forget the streams of members that are gone: a link that died silently leaves a TCP
    // connection that swallows what we write until it times out; a fresh dial does not.
    if (e.kind == Event::Kind::kDead || e.kind == Event::Kind::kLeft) {
      if (const auto& pid = peer_of(e.member)) {
        p2p::PeerId peer = *pid;
        std::weak_ptr<Impl> weak = shared_from_this();
        asio::post(io, [weak, peer] {
          auto self_ref = weak.lock();
          if (!self_ref || !self_ref->running) return;
          self_ref->drop_peer(peer);
          self_ref->host.disconnect(peer);
        });
      }
    }
    if (listeners.empty()) return;
    const auto& pid = peer_of(e.member);
    if (!pid) return;
    MemberEvent me{e.kind, *pid, e.incarnation, e.at_ms, std::nullopt};
    if (e.by != kNoMember) me.by = peer_of(e.by);
    // Copy: a listener may unsubscribe itself.
    auto current = listeners;
    for (auto& [id, f] : current) f(me);
  }
};

Libp2pMembership::Libp2pMembership(asio::io_context& io, p2p::Host& host, Config config)
    : impl_(std::make_shared<Impl>(io, host, config)) {
  assert(config.validate().ok());
  Impl& impl = *impl_;
  impl.self = impl.directory.intern(host.id().to_base58());
  std::weak_ptr<Impl> weak = impl_;
  UpdateAuth auth;
  auth.sign = [weak](const Update& u) {
    auto self_ref = weak.lock();
    return self_ref ? self_ref->sign(u) : Bytes{};
  };
  auth.verify = [weak](const Update& u) {
    auto self_ref = weak.lock();
    return self_ref && self_ref->verify(u);
  };
  auth.signed_alive = [weak](MemberId member, std::uint32_t incarnation) -> std::optional<Update> {
    auto self_ref = weak.lock();
    if (!self_ref) return std::nullopt;
    auto it = self_ref->alives.find(member);
    if (it == self_ref->alives.end() || it->second.update.incarnation != incarnation) return std::nullopt;
    return it->second.update;
  };
  Config c = config;
  // Different members must not make the same random choices.
  for (auto b : host.id().bytes()) c.seed = c.seed * 1099511628211ull ^ b;
  impl.node = std::make_unique<Node>(c, impl.directory, impl.self, Impl::now(), 0, std::move(auth));
  impl.node->subscribe([weak](const Event& e) {
    if (auto self_ref = weak.lock()) self_ref->on_event(e);
  });
}

Libp2pMembership::~Libp2pMembership() { stop(); }

std::int64_t Libp2pMembership::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Libp2pMembership::set_advertise_addrs(std::vector<p2p::Multiaddr> addrs) {
  impl_->advertise = std::move(addrs);
  impl_->advertise_set = true;
}

Status Libp2pMembership::start(std::vector<p2p::Multiaddr> seeds) {
  Impl& impl = *impl_;
  if (impl.started) return failed_precondition("swim: membership already started");
  std::vector<MemberId> seed_ids;
  for (const auto& s : seeds) {
    auto pid = s.peer_id();
    if (!pid) return invalid_argument("swim: seed " + s.to_string() + " has no /p2p/<peer id>");
    if (*pid == impl.host.id()) continue;
    impl.host.peerstore().add_addrs(*pid, {s.without_peer_id()});
    seed_ids.push_back(impl.directory.intern(pid->to_base58()));
  }
  if (!impl.advertise_set) impl.advertise = impl.host.listen_addrs();
  impl.self_address = join_addrs(impl.advertise);
  impl.directory.set_address(impl.self, impl.self_address);
  impl.started = impl.running = true;
  std::weak_ptr<Impl> weak = impl_;
  impl.host.set_handler(kLibp2pProtocol, [weak](p2p::StreamPtr s) -> p2p::Task<void> {
    if (auto self_ref = weak.lock()) co_await self_ref->read_loop(s);
  });
  impl.host.add_listener({
      .connected = nullptr,
      .disconnected = [weak](const p2p::PeerId& p) {
        auto self_ref = weak.lock();
        if (!self_ref) return;
        // Queued messages may still go out over a fresh connection; only the stream is dead.
        if (auto it = self_ref->peers.find(p); it != self_ref->peers.end()) it->second->stream.reset();
      },
      .identified = nullptr,
  });
  impl.seeds = std::move(seed_ids);
  impl.try_join();
  impl.arm();
  return Status{};
}

void Libp2pMembership::leave(std::function<void()> done) {
  Impl& impl = *impl_;
  if (!impl.running || impl.node->has_left()) {
    if (done) asio::post(impl.io, std::move(done));
    return;
  }
  impl.join_timer.cancel();
  impl.node->leave(Impl::now());
  impl.flush();
  impl.arm();
  // Long enough for a few gossip rounds and one probe period to carry the news.
  auto delay = std::chrono::milliseconds(
      std::max(impl.config.probe_interval_ms, 4 * impl.config.gossip_interval_ms));
  impl.leave_timer.expires_after(delay);
  impl.leave_timer.async_wait([done = std::move(done)](const boost::system::error_code& ec) {
    if (!ec && done) done();  // cancelled by stop(): the caller has moved on
  });
}

void Libp2pMembership::stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  impl.timer.cancel();
  impl.join_timer.cancel();
  impl.leave_timer.cancel();
  impl.host.remove_handler(kLibp2pProtocol);
  for (auto& [peer, pio] : impl.peers) {
    if (pio->stream) (void)pio->stream->close_write();
    pio->wake.cancel();
  }
  impl.peers.clear();
}

std::vector<MemberInfo> Libp2pMembership::members() const {
  Impl& impl = *impl_;
  std::vector<MemberInfo> out;
  for (MemberId m = 0; m < impl.directory.size(); ++m) {
    MemberState st = impl.node->state_of(m);
    if (st == MemberState::kUnknown) continue;
    const auto& pid = impl.peer_of(m);
    if (!pid) continue;
    MemberInfo info{*pid, st, impl.node->incarnation_of(m), {}};
    if (m == impl.self) {
      info.addrs = split_addrs(impl.self_address);
    } else if (auto it = impl.alives.find(m); it != impl.alives.end()) {
      info.addrs = it->second.addrs;
    }
    out.push_back(std::move(info));
  }
  return out;
}

int Libp2pMembership::subscribe(std::function<void(const MemberEvent&)> listener) {
  int id = impl_->next_listener++;
  impl_->listeners.emplace(id, std::move(listener));
  return id;
}

void Libp2pMembership::unsubscribe(int id) { impl_->listeners.erase(id); }

const Node& Libp2pMembership::core() const { return *impl_->node; }

Libp2pMembership::Stats Libp2pMembership::stats() const {
  Stats s = impl_->counters;
  s.rejected_updates = impl_->node->rejected_updates();
  return s;
}

}  // namespace veil::swim
