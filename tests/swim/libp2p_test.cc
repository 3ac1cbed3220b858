// The libp2p binding: several real Hosts on 127.0.0.1 in one process, one io_context.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "veil/common/log.h"
#include "veil/swim/formulas.h"
#include "veil/swim/libp2p_binding.h"
#include "veil/swim/wire.h"

namespace veil::swim {
namespace {

namespace asio = boost::asio;
using p2p::Multiaddr;
using p2p::PeerId;

// Fast protocol periods so a test takes seconds; the relations between the knobs are lan's.
Config fast() {
  Config c = Config::lan();
  c.probe_interval_ms = 200;
  c.probe_timeout_ms = 80;
  c.gossip_interval_ms = 50;
  c.suspicion_mult = 3;
  c.suspicion_max_timeout_mult = 3;
  c.push_pull_interval_ms = 2000;
  c.reconnect_interval_ms = 1000;
  return c;
}

p2p::HostConfig host_config() {
  p2p::HostConfig hc;
  hc.dial_timeout = std::chrono::milliseconds(1000);
  hc.backoff_base = std::chrono::milliseconds(100);
  hc.backoff_max = std::chrono::milliseconds(500);
  return hc;
}

struct Member {
  explicit Member(asio::io_context& io, Config config = fast()) : host(io, host_config()) {
    EXPECT_TRUE(host.listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0")).ok());
    swim = std::make_unique<Libp2pMembership>(io, host, config);
    swim->subscribe([this](const MemberEvent& e) { events.push_back(e); });
  }
  ~Member() {
    swim.reset();
    host.close();
  }
  Multiaddr addr() { return host.listen_addrs().front().with_peer_id(host.id()); }
  std::optional<MemberInfo> about(const PeerId& peer) const {
    for (auto& m : swim->members()) {
      if (m.peer == peer) return m;
    }
    return std::nullopt;
  }
  MemberState state_of(const PeerId& peer) const {
    auto m = about(peer);
    return m ? m->state : MemberState::kUnknown;
  }

  p2p::Host host;
  std::unique_ptr<Libp2pMembership> swim;
  std::vector<MemberEvent> events;
};

class SwimLibp2p : public ::testing::Test {
 protected:
  void SetUp() override { log::init_from_env(); }  // VEIL_LOG=swim=debug,p2p=debug to trace
  // Runs the loop until `done()` or `limit` passes; returns whether `done()` held.
  template <typename F>
  bool run_until(F done, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      io.run_for(std::chrono::milliseconds(20));
    }
    return done();
  }
  void run_for(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(20));
  }

  // Starts `n` members, all joining through the first; waits until every one sees n alive.
  void start_cluster(int n) {
    for (int i = 0; i < n; ++i) members.push_back(std::make_unique<Member>(io));
    ASSERT_TRUE(members[0]->swim->start({}).ok());
    for (int i = 1; i < n; ++i) ASSERT_TRUE(members[static_cast<std::size_t>(i)]->swim->start({members[0]->addr()}).ok());
    ASSERT_TRUE(run_until([&] { return converged(members, n); }, std::chrono::seconds(15)))
        << "cluster of " << n << " did not converge";
  }

  static bool converged(const std::vector<std::unique_ptr<Member>>& ms, int n) {
    for (auto& m : ms) {
      if (!m->swim) continue;
      int alive = 0;
      for (auto& info : m->swim->members()) alive += info.state == MemberState::kAlive && !info.addrs.empty();
      if (alive != n) return false;
    }
    return true;
  }

  asio::io_context io;
  std::vector<std::unique_ptr<Member>> members;
};

TEST_F(SwimLibp2p, JoinConvergesWithAddressesAndSignedAlives) {
  start_cluster(4);
  for (auto& m : members) {
    // Every member knows every other's dialable address (it came in a signed alive).
    for (auto& other : members) {
      auto info = m->about(other->host.id());
      ASSERT_TRUE(info);
      ASSERT_FALSE(info->addrs.empty());
      EXPECT_EQ(info->addrs.front(), other->host.listen_addrs().front());
    }
    EXPECT_EQ(m->swim->core().rejected_updates(), 0u);
    EXPECT_EQ(m->swim->stats().decode_errors, 0u);
    EXPECT_GT(m->swim->stats().messages_sent, 0u);
    int joined = 0;
    for (auto& e : m->events) joined += e.kind == Event::Kind::kJoined;
    EXPECT_EQ(joined, 3);
  }
  // A member that was never told about member 3 directly learned it through gossip/push-pull.
  EXPECT_EQ(members[1]->state_of(members[3]->host.id()), MemberState::kAlive);
}

TEST_F(SwimLibp2p, StoppedMemberIsDeclaredDeadWithinTheFormulaBound) {
  start_cluster(4);
  // Let the probers settle into their rounds.
  run_for(std::chrono::milliseconds(500));
  PeerId victim = members[3]->host.id();
  members[3].reset();  // no leave: the process is gone, its port refuses
  auto t0 = std::chrono::steady_clock::now();
  Config c = fast();
  std::int64_t bound = detection_bound_ms(4, c.probe_interval_ms, c.suspicion_mult, c.suspicion_max_timeout_mult);
  bool all_dead = run_until([&] {
    for (int i = 0; i < 3; ++i) {
      if (members[static_cast<std::size_t>(i)]->state_of(victim) != MemberState::kDead) return false;
    }
    return true;
  }, std::chrono::milliseconds(bound + 2000));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(all_dead) << "not every member declared the stopped one dead after " << took << " ms";
  EXPECT_LE(took, bound) << "detection took " << took << " ms; the formula bound is " << bound << " ms";
  // The dead event names the victim and an accuser that is one of the survivors.
  for (int i = 0; i < 3; ++i) {
    auto& evs = members[static_cast<std::size_t>(i)]->events;
    auto it = std::find_if(evs.begin(), evs.end(), [&](const MemberEvent& e) {
      return e.kind == Event::Kind::kDead && e.peer == victim;
    });
    ASSERT_NE(it, evs.end());
    ASSERT_TRUE(it->by);
    EXPECT_NE(*it->by, victim);
  }
  // Nobody healthy was declared dead on the way.
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(members[static_cast<std::size_t>(i)]->state_of(members[static_cast<std::size_t>(j)]->host.id()),
                MemberState::kAlive);
    }
  }
}

TEST_F(SwimLibp2p, GracefulLeaveIsSeenAsLeftNotDead) {
  start_cluster(3);
  PeerId leaver = members[2]->host.id();
  bool done = false;
  members[2]->swim->leave([&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done; }, std::chrono::seconds(5)));
  members[2].reset();
  ASSERT_TRUE(run_until([&] {
    return members[0]->state_of(leaver) == MemberState::kLeft && members[1]->state_of(leaver) == MemberState::kLeft;
  }, std::chrono::seconds(5)));
  // It stays left (not dead) after its process is gone, past a full suspicion timeout.
  run_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(members[0]->state_of(leaver), MemberState::kLeft);
  EXPECT_EQ(members[1]->state_of(leaver), MemberState::kLeft);
  for (auto& e : members[0]->events) EXPECT_FALSE(e.kind == Event::Kind::kDead && e.peer == leaver);
}

// Speaks /veil/swim/1.0.0 from a host that is not a member, with hand-made messages.
void send_raw(asio::io_context& io, p2p::Host& from, const PeerId& to, Bytes frame) {
  bool finished = false;
  asio::co_spawn(io, [&]() -> p2p::Task<void> {
    std::vector<std::string> protocols{kLibp2pProtocol};
    auto s = co_await from.new_stream(to, std::move(protocols));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (s.ok()) {
      EXPECT_TRUE((co_await (*s)->write_message(frame)).ok());
      (void)(*s)->close_write();
    }
    finished = true;
  }, asio::detached);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!finished && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(finished);
}

TEST_F(SwimLibp2p, ForgedAndUnsignedUpdatesAreRejected) {
  start_cluster(3);
  Member& target = *members[0];
  PeerId victim = members[1]->host.id();
  PeerId framed = members[2]->host.id();
  auto before = target.about(victim);
  ASSERT_TRUE(before);

  p2p::Host attacker(io, host_config());
  attacker.peerstore().add_addrs(target.host.id(), {target.host.listen_addrs().front()});
  Directory d;
  MemberId v = d.intern(victim.to_base58());
  MemberId f = d.intern(framed.to_base58());
  MemberId t = d.intern(target.host.id().to_base58());
  d.set_address(v, "/ip4/10.66.66.66/tcp/1");
  Message m;
  m.type = MessageType::kPing;
  m.seq = 7;
  m.target = t;
  m.updates = {
      // "framed" declares the victim dead — but the attacker cannot sign as "framed".
      {Update::Kind::kDead, v, before->incarnation, f, Bytes(64, 0x11)},
      // The victim "leaves", unsigned.
      {Update::Kind::kLeft, v, before->incarnation + 1, v, {}},
      // The victim is "alive" at a higher incarnation somewhere else, forged signature.
      {Update::Kind::kAlive, v, before->incarnation + 5, v, Bytes(64, 0x22)},
  };
  send_raw(io, attacker, target.host.id(), encode(m, d));
  ASSERT_TRUE(run_until([&] { return target.swim->core().rejected_updates() >= 3; }, std::chrono::seconds(3)));
  EXPECT_EQ(target.swim->core().rejected_updates(), 3u);
  auto after = target.about(victim);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->state, MemberState::kAlive);
  EXPECT_EQ(after->incarnation, before->incarnation);
  EXPECT_EQ(after->addrs, before->addrs);  // the forged address did not stick

  // A well-formed signature by the wrong key (the attacker's own, in the victim's name) is
  // rejected too: alives are checked against the key inside the member's PeerId.
  Update wrong_key{Update::Kind::kAlive, v, before->incarnation + 1, v, {}};
  Bytes sb = update_signing_bytes(wrong_key, d);
  std::string addr = d.address(v);
  sb.insert(sb.end(), addr.begin(), addr.end());
  wrong_key.signature = attacker.identity().sign(sb);
  Message m2;
  m2.type = MessageType::kGossip;
  m2.updates = {wrong_key};
  send_raw(io, attacker, target.host.id(), encode(m2, d));
  ASSERT_TRUE(run_until([&] { return target.swim->core().rejected_updates() >= 4; }, std::chrono::seconds(3)));
  EXPECT_EQ(target.about(victim)->incarnation, before->incarnation);

  // Garbage on the stream is counted and costs the sender its stream, nothing else.
  send_raw(io, attacker, target.host.id(), Bytes{0x01, 0x09, 0xff});
  ASSERT_TRUE(run_until([&] { return target.swim->stats().decode_errors >= 1; }, std::chrono::seconds(3)));
  run_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(converged(members, 3));
  attacker.close();
}

TEST_F(SwimLibp2p, SignedSuspicionByARealMemberIsRefuted) {
  start_cluster(3);
  // Member 2 (a legitimate member, signing with its own key) accuses member 1 — as a slow
  // network would make it. Member 1 must raise its incarnation and stay alive everywhere.
  Member& accused = *members[1];
  std::uint32_t inc = accused.swim->core().incarnation();
  p2p::Host& accuser = members[2]->host;
  Directory d;
  MemberId a = d.intern(accused.host.id().to_base58());
  MemberId by = d.intern(accuser.id().to_base58());
  Update sus{Update::Kind::kSuspect, a, inc, by, {}};
  sus.signature = accuser.identity().sign(update_signing_bytes(sus, d));
  Message m;
  m.type = MessageType::kGossip;
  m.updates = {sus};
  // Relayed by member 0, as gossip is: the signature, not the sender, names the accuser.
  send_raw(io, members[0]->host, accused.host.id(), encode(m, d));
  ASSERT_TRUE(run_until([&] { return accused.swim->core().incarnation() > inc; }, std::chrono::seconds(3)));
  ASSERT_TRUE(run_until([&] {
    auto info = members[0]->about(accused.host.id());
    return info && info->incarnation > inc && info->state == MemberState::kAlive;
  }, std::chrono::seconds(5)));
  EXPECT_EQ(accused.swim->core().rejected_updates(), 0u);
}

TEST_F(SwimLibp2p, MutatedFramesNeitherCrashNorCorruptTheView) {
  start_cluster(3);
  Member& target = *members[0];
  p2p::Host attacker(io, host_config());
  attacker.peerstore().add_addrs(target.host.id(), {target.host.listen_addrs().front()});
  // A well-formed frame: a ping carrying a correctly signed alive of the attacker itself and
  // a (wrongly signed) suspicion of member 1. Then bit flips, truncations and insertions of it.
  Directory d;
  MemberId self = d.intern(attacker.id().to_base58());
  MemberId t = d.intern(target.host.id().to_base58());
  MemberId v = d.intern(members[1]->host.id().to_base58());
  d.set_address(self, "/ip4/127.0.0.1/tcp/9");
  Update alive{Update::Kind::kAlive, self, 0, self, {}};
  Bytes sb = update_signing_bytes(alive, d);
  sb.insert(sb.end(), d.address(self).begin(), d.address(self).end());
  alive.signature = attacker.identity().sign(sb);
  Message m;
  m.type = MessageType::kPing;
  m.seq = 1;
  m.target = t;
  m.updates = {alive, {Update::Kind::kSuspect, v, 0, self, Bytes(64, 0x33)}};
  Bytes frame = encode(m, d);
  std::uint64_t rng = 0x9e3779b97f4a7c15ull;
  auto next = [&] { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; };
  bool finished = false;
  asio::co_spawn(io, [&]() -> p2p::Task<void> {
    for (int i = 0; i < 300; ++i) {
      Bytes f = frame;
      switch (next() % 3) {
        case 0: f[next() % f.size()] ^= static_cast<std::uint8_t>(1u << (next() % 8)); break;
        case 1: f.resize(next() % f.size()); break;
        default: f.insert(f.begin() + static_cast<std::ptrdiff_t>(next() % f.size()), static_cast<std::uint8_t>(next())); break;
      }
      std::vector<std::string> protocols{kLibp2pProtocol};
      auto s = co_await attacker.new_stream(target.host.id(), std::move(protocols));
      if (!s.ok()) continue;
      (void)co_await (*s)->write_message(f);
      (void)(*s)->close_write();
    }
    finished = true;
  }, asio::detached);
  ASSERT_TRUE(run_until([&] { return finished; }, std::chrono::seconds(30)));
  run_for(std::chrono::milliseconds(500));
  auto st = target.swim->stats();
  EXPECT_GT(st.decode_errors, 0u);
  EXPECT_GT(st.rejected_updates, 0u);
  // Whatever got through was either rejected or harmless: every real member is still alive in
  // every view, and none was declared dead. (The attacker's own intact, correctly signed alive
  // may get it admitted; being unreachable, it is then suspected — that is allowed.)
  for (auto& mem : members) {
    for (auto& other : members) EXPECT_EQ(mem->state_of(other->host.id()), MemberState::kAlive);
    for (auto& e : mem->events) EXPECT_FALSE(e.kind == Event::Kind::kDead && e.peer != attacker.id());
  }
  attacker.close();
}

TEST_F(SwimLibp2p, StartRejectsSeedsWithoutPeerId) {
  Member m(io);
  auto st = m.swim->start({*Multiaddr::parse("/ip4/127.0.0.1/tcp/1")});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::swim
