// Two or three hosts in one process talking over loopback TCP.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "veil/common/log.h"
#include "veil/p2p/host.h"
#include "veil/p2p/protocols.h"

namespace veil::p2p {
namespace {

namespace asio = boost::asio;

// Runs `body` on `io` to completion (or fails the test after 20 s).
template <typename F>
void run(asio::io_context& io, F body) {
  bool finished = false;
  asio::co_spawn(io, [&]() -> Task<void> {
    co_await body();
    finished = true;
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!finished && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(finished) << "test body timed out";
}

Task<void> sleep_ms(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}

Multiaddr loopback() { return *Multiaddr::parse("/ip4/127.0.0.1/tcp/0"); }
Multiaddr dial_addr(Host& h) { return h.listen_addrs().front().with_peer_id(h.id()); }

// A host that redials at once after a failure (no dial backoff), to repeat refusals quickly.
HostConfig no_backoff() {
  HostConfig c;
  c.backoff_base = c.backoff_max = std::chrono::milliseconds(0);
  return c;
}

// Collects every line the "p2p" logger writes (at its level, info by default) while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_pattern("%l %v");
    log::get("p2p")->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = log::get("p2p")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(Host, PingEchoAndIdentifyOverLoopback) {
  asio::io_context io;
  HostConfig ca;
  ca.agent_version = "veil-test-a/1";
  Host a(io, ca);
  Host b(io);
  enable_ping(a);
  enable_echo(a);
  ASSERT_TRUE(a.listen(loopback()).ok());
  std::optional<PeerInfo> b_learned;
  b.add_listener({.identified = [&](const PeerInfo& info) { b_learned = info; }});
  run(io, [&]() -> Task<void> {
    auto peer = co_await b.connect(dial_addr(a));
    EXPECT_TRUE(peer.ok()) << peer.status().to_string();
    if (!peer.ok()) co_return;
    EXPECT_EQ(*peer, a.id());
    auto rtt = co_await ping(b, a.id());
    EXPECT_TRUE(rtt.ok()) << rtt.status().to_string();
    Bytes data(3 * 1024 * 1024 + 17);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
    auto back = co_await echo(b, a.id(), data);
    EXPECT_TRUE(back.ok()) << back.status().to_string();
    if (back.ok()) {
      EXPECT_TRUE(*back == data);
    }
    for (int i = 0; i < 100 && !b_learned; ++i) co_await sleep_ms(10);
  });
  ASSERT_TRUE(b_learned.has_value());
  EXPECT_EQ(b_learned->agent_version, "veil-test-a/1");
  auto has = [&](std::string_view p) {
    return std::find(b_learned->protocols.begin(), b_learned->protocols.end(), p) != b_learned->protocols.end();
  };
  EXPECT_TRUE(has(kPingProtocol));
  EXPECT_TRUE(has(kEchoProtocol));
  EXPECT_TRUE(has("/ipfs/id/1.0.0"));
  a.close();
  b.close();
  io.run_for(std::chrono::milliseconds(200));
}

TEST(Host, NewHandlersReachConnectedPeersByIdentifyPush) {
  asio::io_context io;
  Host a(io), b(io);
  ASSERT_TRUE(a.listen(loopback()).ok());
  std::vector<PeerInfo> seen;
  b.add_listener({.identified = [&](const PeerInfo& info) { seen.push_back(info); }});
  auto has_new = [&] {
    return !seen.empty() && std::count(seen.back().protocols.begin(), seen.back().protocols.end(), "/new/1.0.0") == 1;
  };
  run(io, [&]() -> Task<void> {
    EXPECT_TRUE((co_await b.connect(dial_addr(a))).ok());
    for (int i = 0; i < 100 && seen.empty(); ++i) co_await sleep_ms(10);
    EXPECT_FALSE(has_new());
    a.set_handler("/new/1.0.0", [](StreamPtr) -> Task<void> { co_return; });
    for (int i = 0; i < 100 && !has_new(); ++i) co_await sleep_ms(10);
  });
  EXPECT_TRUE(has_new());
  EXPECT_GE(seen.size(), 2u);
}

TEST(Host, UnsupportedProtocolIsNotFound) {
  asio::io_context io;
  Host a(io), b(io);
  ASSERT_TRUE(a.listen(loopback()).ok());
  run(io, [&]() -> Task<void> {
    auto peer = co_await b.connect(dial_addr(a));
    EXPECT_TRUE(peer.ok());
    std::vector<std::string> protos{"/no/such/1.0.0"};
    auto s = co_await b.new_stream(a.id(), protos);
    EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
    // The connection survives a refused protocol.
    EXPECT_TRUE(b.is_connected(a.id()));
  });
}

TEST(Host, DialingTheWrongPeerIdIsRejected) {
  asio::io_context io;
  Host a(io), b(io);
  ASSERT_TRUE(a.listen(loopback()).ok());
  PeerId impostor = PeerId::from_public_key(KeyPair::generate().public_key());
  run(io, [&]() -> Task<void> {
    auto r = co_await b.connect(a.listen_addrs().front().with_peer_id(impostor));
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().to_string();
    EXPECT_FALSE(b.is_connected(a.id()));
    EXPECT_FALSE(b.is_connected(impostor));
    // A second try within the backoff window fails fast.
    auto again = co_await b.connect(a.listen_addrs().front().with_peer_id(impostor));
    EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
  });
}

TEST(Host, GaterRefusalClosesTheConnectionBeforeAnyProtocol) {
  asio::io_context io;
  Host a(io), b(io);
  int protocol_runs = 0;
  int connected_events = 0;
  a.set_handler("/count/1.0.0", [&](StreamPtr) -> Task<void> { ++protocol_runs; co_return; });
  a.add_listener({.connected = [&](const PeerId&, Direction) { ++connected_events; }});
  std::vector<PeerId> asked;
  a.set_gater([&](const PeerId& p, Direction d) {
    asked.push_back(p);
    EXPECT_EQ(d, Direction::kInbound);
    return p != b.id();
  });
  ASSERT_TRUE(a.listen(loopback()).ok());
  std::optional<PeerInfo> b_identified;
  b.add_listener({.identified = [&](const PeerInfo& i) { b_identified = i; }});
  run(io, [&]() -> Task<void> {
    auto r = co_await b.connect(dial_addr(a));
    EXPECT_FALSE(r.ok());
    co_await sleep_ms(100);
    EXPECT_FALSE(b.is_connected(a.id()));
  });
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], b.id());  // the gater saw the proven PeerId
  EXPECT_EQ(protocol_runs, 0);
  EXPECT_EQ(connected_events, 0);
  EXPECT_FALSE(b_identified.has_value());  // not even Identify ran
}

// Refused dials cost the remote one handshake each, so they must not cost us a log line each:
// every refusal is counted, but only the first of each peer is logged, at most `burst` lines
// per interval (the interval here outlasts the test, so no summary line is due).
TEST(Host, RefusedConnectionsAreAllCountedButLoggedBoundedly) {
  asio::io_context io;
  HostConfig ca = no_backoff();
  ca.refusal_log = {.interval = std::chrono::hours(1), .burst = 5, .max_keys = 64};
  Host a(io, ca), b(io, no_backoff()), c(io);
  std::vector<std::unique_ptr<Host>> strangers;
  for (int i = 0; i < 20; ++i) strangers.push_back(std::make_unique<Host>(io, no_backoff()));
  a.set_gater([&](const PeerId&, Direction) { return false; });
  ASSERT_TRUE(a.listen(loopback()).ok());
  ASSERT_TRUE(c.listen(loopback()).ok());
  LogCapture captured;
  run(io, [&]() -> Task<void> {
    // One peer again and again, many peers once each, and outbound dials that a refuses.
    for (int i = 0; i < 30; ++i) EXPECT_FALSE((co_await b.connect(dial_addr(a))).ok());
    for (auto& s : strangers) EXPECT_FALSE((co_await s->connect(dial_addr(a))).ok());
    for (int i = 0; i < 10; ++i) EXPECT_FALSE((co_await a.connect(dial_addr(c))).ok());
  });
  EXPECT_EQ(a.refused_connections(Refusal::kGated), 30u + 20u + 10u);
  EXPECT_EQ(a.refused_connections(Refusal::kConnectionLimit), 0u);
  const auto lines = captured.lines();
  EXPECT_LE(lines.size(), 5u) << "first and middle lines:\n"
                              << (lines.empty() ? "" : lines[0] + "\n" + lines[lines.size() / 2]);
  ASSERT_FALSE(lines.empty());
  const std::string first = "gater refused inbound connection from " + b.id().to_base58();
  EXPECT_NE(lines[0].find(first), std::string::npos) << lines[0];
}

TEST(Host, ConnectionsOverTheLimitAreAllCountedButLoggedOnce) {
  asio::io_context io;
  HostConfig ca;
  ca.max_connections = 1;
  Host a(io, ca), b(io), d(io, no_backoff());
  ASSERT_TRUE(a.listen(loopback()).ok());
  LogCapture captured;
  run(io, [&]() -> Task<void> {
    EXPECT_TRUE((co_await b.connect(dial_addr(a))).ok());
    for (int i = 0; i < 25; ++i) EXPECT_FALSE((co_await d.connect(dial_addr(a))).ok());
  });
  EXPECT_EQ(a.refused_connections(Refusal::kConnectionLimit), 25u);
  EXPECT_EQ(a.refused_connections(Refusal::kGated), 0u);
  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 1u) << (lines.empty() ? "" : lines.back());  // every dial comes from 127.0.0.1
  const std::string first = "connection limit 1 reached; closing inbound connection from 127.0.0.1";
  EXPECT_NE(lines[0].find(first), std::string::npos) << lines[0];
}

TEST(Host, DialToASilentListenerTimesOut) {
  asio::io_context io;
  // A TCP listener that accepts and then never speaks (the kernel completes the handshake).
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  HostConfig c;
  c.dial_timeout = std::chrono::milliseconds(300);
  Host b(io, c);
  PeerId someone = PeerId::from_public_key(KeyPair::generate().public_key());
  auto addr = Multiaddr::from_ip_port("127.0.0.1", silent.local_endpoint().port())->with_peer_id(someone);
  run(io, [&]() -> Task<void> {
    auto start = std::chrono::steady_clock::now();
    auto r = co_await b.connect(addr);
    EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  });
}

TEST(Host, ConnectionLimitClosesExtraInboundConnections) {
  asio::io_context io;
  HostConfig c;
  c.max_connections = 1;
  Host a(io, c), b(io), d(io);
  ASSERT_TRUE(a.listen(loopback()).ok());
  run(io, [&]() -> Task<void> {
    EXPECT_TRUE((co_await b.connect(dial_addr(a))).ok());
    auto r = co_await d.connect(dial_addr(a));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(b.is_connected(a.id()));
  });
}

TEST(Host, GracefulShutdownDisconnectsPeers) {
  asio::io_context io;
  Host a(io), b(io);
  ASSERT_TRUE(a.listen(loopback()).ok());
  bool b_saw_disconnect = false;
  b.add_listener({.disconnected = [&](const PeerId& p) { b_saw_disconnect = p == a.id(); }});
  run(io, [&]() -> Task<void> {
    auto r = co_await b.connect(dial_addr(a));
    EXPECT_TRUE(r.ok());
    a.close();
    for (int i = 0; i < 100 && !b_saw_disconnect; ++i) co_await sleep_ms(10);
  });
  EXPECT_TRUE(b_saw_disconnect);
  b.close();
  io.run_for(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace veil::p2p
