#include "veil/swim/wire.h"

#include <random>

#include <gtest/gtest.h>

namespace veil::swim {
namespace {

class SwimWire : public ::testing::Test {
 protected:
  Directory dir;
  MemberId a = dir.intern("12D3KooWAlice"), b = dir.intern("12D3KooWBob"), c = dir.intern("carol");

  void SetUp() override { dir.set_address(b, "/ip4/127.0.0.1/tcp/4001"); }

  std::vector<Message> samples() {
    std::vector<Message> out;
    Message ping;
    ping.type = MessageType::kPing;
    ping.seq = 300;
    ping.target = b;
    out.push_back(ping);
    Message req = ping;
    req.type = MessageType::kPingReq;
    req.seq = 0xffffffffu;
    out.push_back(req);
    Message ack;
    ack.type = MessageType::kAck;
    ack.seq = 7;
    out.push_back(ack);
    Message nack = ack;
    nack.type = MessageType::kNack;
    out.push_back(nack);
    Message gossip;
    gossip.type = MessageType::kGossip;
    gossip.updates.push_back({Update::Kind::kAlive, b, 3, b, {}});
    gossip.updates.push_back({Update::Kind::kSuspect, c, 1, a, Bytes{1, 2, 3}});
    gossip.updates.push_back({Update::Kind::kDead, c, 200, b, {}});
    gossip.updates.push_back({Update::Kind::kLeft, a, 9, a, Bytes(64, 0xab)});
    out.push_back(gossip);
    Message pp;
    pp.type = MessageType::kPushPull;
    pp.join = true;
    pp.state = {{a, 0, MemberState::kAlive}, {b, 5, MemberState::kSuspect}, {c, 1, MemberState::kDead}};
    out.push_back(pp);
    Message reply = pp;
    reply.join = false;
    reply.reply = true;
    reply.state.push_back({dir.intern("dave"), 4, MemberState::kLeft});
    reply.updates = gossip.updates;
    out.push_back(reply);
    return out;
  }
};

void expect_same(const Message& x, const Directory& dx, const Message& y, const Directory& dy) {
  EXPECT_EQ(x.type, y.type);
  EXPECT_EQ(x.seq, y.seq);
  if (x.type == MessageType::kPing || x.type == MessageType::kPingReq) { EXPECT_EQ(dx.name(x.target), dy.name(y.target)); }
  EXPECT_EQ(x.join, y.join);
  EXPECT_EQ(x.reply, y.reply);
  ASSERT_EQ(x.state.size(), y.state.size());
  for (std::size_t i = 0; i < x.state.size(); ++i) {
    EXPECT_EQ(dx.name(x.state[i].member), dy.name(y.state[i].member));
    EXPECT_EQ(x.state[i].incarnation, y.state[i].incarnation);
    EXPECT_EQ(x.state[i].state, y.state[i].state);
  }
  ASSERT_EQ(x.updates.size(), y.updates.size());
  for (std::size_t i = 0; i < x.updates.size(); ++i) {
    const auto &u = x.updates[i], &v = y.updates[i];
    EXPECT_EQ(u.kind, v.kind);
    EXPECT_EQ(u.incarnation, v.incarnation);
    EXPECT_EQ(dx.name(u.member), dy.name(v.member));
    EXPECT_EQ(dx.name(u.from), dy.name(v.from));
    EXPECT_EQ(u.signature, v.signature);
    if (u.kind == Update::Kind::kAlive) { EXPECT_EQ(dx.address(u.member), dy.address(v.member)); }
  }
}

TEST_F(SwimWire, EveryMessageTypeRoundTripsIntoAFreshDirectory) {
  for (const auto& m : samples()) {
    Bytes bytes = encode(m, dir);
    EXPECT_EQ(bytes.size(), encoded_size(m, dir)) << message_type_name(m.type);
    Directory other;
    auto decoded = decode(bytes, other);
    ASSERT_TRUE(decoded.ok()) << message_type_name(m.type) << ": " << decoded.status().to_string();
    expect_same(m, dir, *decoded, other);
  }
}

TEST_F(SwimWire, PingIsCompact) {
  Message ping;
  ping.type = MessageType::kPing;
  ping.seq = 5;
  ping.target = c;  // "carol"
  EXPECT_EQ(encode(ping, dir), (Bytes{1, 1, 5, 5, 'c', 'a', 'r', 'o', 'l', 0}));
}

TEST_F(SwimWire, RejectsMalformedInputWithoutTouchingTheDirectory) {
  auto reject = [&](Bytes bytes, const char* why) {
    Directory fresh;
    auto r = decode(bytes, fresh);
    EXPECT_FALSE(r.ok()) << why;
    EXPECT_EQ(fresh.size(), 0u) << why;
  };
  reject({}, "empty");
  reject({1}, "no type");
  reject({2, 5, 0}, "unknown version");
  reject({1, 0, 0}, "type 0");
  reject({1, 7, 0}, "type 7");
  reject({1, 5, 0, 0}, "trailing byte");
  reject({1, 3, 0x80, 0x00, 0}, "non-canonical varint");
  reject({1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}, "varint longer than 5 bytes");
  reject({1, 3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}, "varint beyond 32 bits");
  reject({1, 1, 5, 0, 0}, "empty target name");
  reject({1, 1, 5, 3, 'a', 'b'}, "truncated name");
  reject({1, 5, 1, 9, 0, 1, 'x', 0}, "unknown update kind");
  reject({1, 5, 0x7f}, "update count larger than the message");
  reject({1, 6, 4, 0, 0}, "unknown push-pull flag");
  reject({1, 6, 0, 1, 7, 0, 1, 'x', 0}, "unknown member state");
  Bytes long_name = {1, 1, 5, 0x81, 0x01};  // 129-byte name
  long_name.insert(long_name.end(), 129, 'n');
  long_name.push_back(0);
  reject(long_name, "name over 128 bytes");

  // Every strict prefix of every valid message is rejected.
  for (const auto& m : samples()) {
    Bytes bytes = encode(m, dir);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      Directory fresh;
      EXPECT_FALSE(decode(ByteView(bytes.data(), len), fresh).ok()) << message_type_name(m.type) << " prefix " << len;
      EXPECT_EQ(fresh.size(), 0u);
    }
  }
}

TEST_F(SwimWire, ErrorsSayWhatAndWhere) {
  Directory fresh;
  auto r = decode(Bytes{1, 5, 0, 0}, fresh);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("trailing"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("gossip"), std::string::npos) << r.status().message();
}

TEST_F(SwimWire, SigningBytesBindKindIncarnationMemberAndAccuser) {
  Update u{Update::Kind::kSuspect, c, 4, a, {}};
  Bytes base = update_signing_bytes(u, dir);
  Update other = u;
  other.incarnation = 5;
  EXPECT_NE(update_signing_bytes(other, dir), base);
  other = u;
  other.from = b;
  EXPECT_NE(update_signing_bytes(other, dir), base);
  other = u;
  other.kind = Update::Kind::kDead;
  EXPECT_NE(update_signing_bytes(other, dir), base);
  other = u;
  other.signature = {1, 2};  // the signature itself is not signed
  EXPECT_EQ(update_signing_bytes(other, dir), base);
}

// The fuzz entry point over random bytes and over mutations of valid messages: it must never
// crash, and it must accept the unmutated valid messages.
TEST_F(SwimWire, FuzzEntryPointSurvivesRandomAndMutatedInput) {
  std::mt19937_64 rng(20260125);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes junk(rng() % 64);
    for (auto& byte : junk) byte = static_cast<std::uint8_t>(rng());
    if (i % 2 == 0 && junk.size() >= 2) {
      junk[0] = 1;  // valid version, so the parser goes deeper
      junk[1] = static_cast<std::uint8_t>(1 + rng() % 6);
    }
    parsed += fuzz_decode_one(junk.data(), junk.size());
  }
  std::vector<Bytes> corpus;
  for (const auto& m : samples()) corpus.push_back(encode(m, dir));
  for (const auto& bytes : corpus) EXPECT_EQ(fuzz_decode_one(bytes.data(), bytes.size()), 1);
  int mutated_ok = 0;
  for (int i = 0; i < 50000; ++i) {
    Bytes bytes = corpus[rng() % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0: bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng()); break;
        case 1: bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: if (bytes.size() > 2) bytes.resize(bytes.size() - 1 - rng() % 3); break;
        case 3: bytes.insert(bytes.begin() + static_cast<long>(rng() % bytes.size()), static_cast<std::uint8_t>(rng())); break;
      }
      if (bytes.empty()) bytes.push_back(1);
    }
    mutated_ok += fuzz_decode_one(bytes.data(), bytes.size());
  }
  // Some mutations (a changed seq or incarnation) stay valid; most must not.
  EXPECT_GT(mutated_ok, 0);
  EXPECT_LT(mutated_ok, 50000);
  (void)parsed;
}

}  // namespace
}  // namespace veil::swim
