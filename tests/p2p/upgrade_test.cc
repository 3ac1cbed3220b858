// multistream-select, Noise XX and Yamux driven in memory, without sockets.
#include <gtest/gtest.h>

#include <algorithm>

#include "veil/p2p/multistream.h"
#include "veil/p2p/noise.h"
#include "veil/p2p/yamux.h"

namespace veil::p2p {
namespace {

// Delivers `bytes` to a multistream machine message by message; returns the last step.
template <typename Machine>
Result<multistream::Step> deliver(Machine& m, multistream::MessageBuffer& buf, const Bytes& bytes, Bytes* reply) {
  buf.append(bytes);
  multistream::Step last;
  while (true) {
    auto msg = buf.next();
    if (!msg.ok()) return msg.status();
    if (!msg->has_value()) break;
    auto step = m.on_message(**msg);
    if (!step.ok()) return step.status();
    reply->insert(reply->end(), step->send.begin(), step->send.end());
    last = *step;
    if (last.done) break;
  }
  return last;
}

TEST(Multistream, EncodesLikeTheSpec) {
  // "\x13/multistream/1.0.0\n": length 19 counts the newline.
  Bytes m = multistream::encode("/multistream/1.0.0");
  EXPECT_EQ(m.size(), 20u);
  EXPECT_EQ(m[0], 19);
  EXPECT_EQ(m.back(), '\n');
}

TEST(Multistream, UnsupportedProtocolGetsNaThenFallsBack) {
  multistream::Dialer dialer({"/meshsub/1.2.0", "/meshsub/1.1.0"});
  multistream::Listener listener([](std::string_view p) { return p == "/meshsub/1.1.0"; });
  multistream::MessageBuffer at_dialer, at_listener;
  Bytes to_listener = dialer.start();
  Bytes to_dialer = listener.start();
  // The listener answers the first proposal with exactly "na".
  Bytes reply;
  auto l1 = deliver(listener, at_listener, to_listener, &reply);
  ASSERT_TRUE(l1.ok());
  EXPECT_FALSE(l1->done);
  Bytes expected_na = multistream::encode("na");
  ASSERT_GE(reply.size(), expected_na.size());
  EXPECT_TRUE(std::equal(expected_na.begin(), expected_na.end(), reply.begin()));
  to_dialer.insert(to_dialer.end(), reply.begin(), reply.end());
  Bytes to_listener2;
  auto d1 = deliver(dialer, at_dialer, to_dialer, &to_listener2);
  ASSERT_TRUE(d1.ok());
  EXPECT_FALSE(d1->done);
  Bytes to_dialer2;
  auto l2 = deliver(listener, at_listener, to_listener2, &to_dialer2);
  ASSERT_TRUE(l2.ok());
  EXPECT_TRUE(l2->done);
  EXPECT_EQ(l2->protocol, "/meshsub/1.1.0");
  Bytes none;
  auto d2 = deliver(dialer, at_dialer, to_dialer2, &none);
  ASSERT_TRUE(d2.ok());
  EXPECT_TRUE(d2->done);
  EXPECT_EQ(d2->protocol, "/meshsub/1.1.0");
}

TEST(Multistream, AllRefusedIsNotFoundAndBadHeaderFails) {
  multistream::Dialer dialer({"/x/1"});
  ASSERT_TRUE(dialer.on_message(multistream::kHeader).ok());
  (void)dialer.start();
  EXPECT_EQ(dialer.on_message("na").status().code(), StatusCode::kNotFound);
  multistream::Listener listener([](std::string_view) { return true; });
  EXPECT_FALSE(listener.on_message("/multistream/2.0.0").ok());
  multistream::MessageBuffer buf;
  buf.append(Bytes{0x03, 'a', 'b', 'c'});  // no newline
  EXPECT_FALSE(buf.next().ok());
}

struct NoisePair {
  KeyPair a = KeyPair::generate();
  KeyPair b = KeyPair::generate();
};

// Runs a handshake to completion in memory; returns the first error.
Status run_handshake(noise::Handshake& init, noise::Handshake& resp) {
  Bytes to_resp = init.start();
  for (int round = 0; round < 4 && !(init.done() && resp.done()); ++round) {
    Bytes to_init;
    VEIL_RETURN_IF_ERROR(resp.on_bytes(to_resp, &to_init));
    to_resp.clear();
    VEIL_RETURN_IF_ERROR(init.on_bytes(to_init, &to_resp));
  }
  return init.done() && resp.done() ? Status() : internal_error("handshake did not finish");
}

TEST(Noise, HandshakeVerifiesBothPeerIdsAndEncrypts) {
  NoisePair k;
  PeerId id_a = PeerId::from_public_key(k.a.public_key());
  PeerId id_b = PeerId::from_public_key(k.b.public_key());
  noise::Handshake init(k.a, noise::Role::kInitiator, id_b);
  noise::Handshake resp(k.b, noise::Role::kResponder);
  ASSERT_TRUE(run_handshake(init, resp).ok());
  auto sa = init.finish();
  auto sb = resp.finish();
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->remote(), id_b);
  EXPECT_EQ(sb->remote(), id_a);
  Bytes big(200000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  Bytes wire;
  sa->seal(big, &wire);
  Bytes plain;
  // Deliver in odd-sized pieces to exercise reassembly.
  for (std::size_t pos = 0; pos < wire.size(); pos += 1237) {
    ASSERT_TRUE(sb->open(ByteView(wire).subspan(pos, std::min<std::size_t>(1237, wire.size() - pos)), &plain).ok());
  }
  EXPECT_EQ(plain, big);
  // A flipped bit fails authentication.
  Bytes wire2;
  sb->seal(as_bytes("hi"), &wire2);
  wire2[3] ^= 1;
  Bytes out;
  EXPECT_EQ(sa->open(wire2, &out).code(), StatusCode::kDataLoss);
}

// The transport's zero-copy forms produce and accept exactly the frames of seal()/open().
TEST(Noise, GatherSealAndInPlaceOpenMatchTheCopyingForms) {
  NoisePair k;
  noise::Handshake init(k.a, noise::Role::kInitiator);
  noise::Handshake resp(k.b, noise::Role::kResponder);
  ASSERT_TRUE(run_handshake(init, resp).ok());
  auto sa = init.finish();
  auto sb = resp.finish();
  ASSERT_TRUE(sa.ok() && sb.ok());
  // Three parts whose boundaries fall inside frames (12 + 100000 + 40000 bytes: 3 frames).
  Bytes p1(12, 0x01), p2(100000), p3(40000, 0x03);
  for (std::size_t i = 0; i < p2.size(); ++i) p2[i] = static_cast<std::uint8_t>(i * 13);
  Bytes joined = p1;
  joined.insert(joined.end(), p2.begin(), p2.end());
  joined.insert(joined.end(), p3.begin(), p3.end());
  const ByteView parts[3] = {p1, p2, p3};
  Bytes wire(noise::Session::sealed_size(joined.size()));
  sa->seal_to(std::span<const ByteView>(parts), wire.data());
  EXPECT_EQ(wire.size(), joined.size() + 3 * (2 + noise::kTagSize));
  // Open it in place, presenting it in uneven pieces as a socket would: the caller keeps the
  // unconsumed tail at the front of its buffer.
  Bytes buffer, plain;
  std::size_t fed = 0;
  while (fed < wire.size()) {
    std::size_t n = std::min<std::size_t>(30001, wire.size() - fed);
    buffer.insert(buffer.end(), wire.begin() + static_cast<std::ptrdiff_t>(fed), wire.begin() + static_cast<std::ptrdiff_t>(fed + n));
    fed += n;
    auto used = sb->open_in_place(buffer, [&plain](ByteView p) -> Status {
      plain.insert(plain.end(), p.begin(), p.end());
      return {};
    });
    ASSERT_TRUE(used.ok());
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*used));
  }
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(plain, joined);
  // A sealed message from the copying form opens in place too; a tampered one does not.
  Bytes wire2;
  sa->seal(as_bytes("hello"), &wire2);
  Bytes bad = wire2;
  bad[4] ^= 0x80;
  auto ignore = [](ByteView) -> Status { return {}; };
  noise::Session copy_b = *sb;  // same keys and nonce: try the tampered copy on a twin
  EXPECT_EQ(copy_b.open_in_place(bad, ignore).status().code(), StatusCode::kDataLoss);
  std::string got;
  auto used = sb->open_in_place(wire2, [&got](ByteView p) -> Status {
    got = to_string(p);
    return {};
  });
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, wire2.size());
  EXPECT_EQ(got, "hello");
}

TEST(Noise, RejectsAPeerOtherThanTheOneDialled) {
  NoisePair k;
  PeerId someone_else = PeerId::from_public_key(KeyPair::generate().public_key());
  noise::Handshake init(k.a, noise::Role::kInitiator, someone_else);
  noise::Handshake resp(k.b, noise::Role::kResponder);
  Status st = run_handshake(init, resp);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("dialled"), std::string::npos);
}

TEST(Noise, RejectsABadSignature) {
  NoisePair k;
  noise::Handshake init(k.a, noise::Role::kInitiator);
  noise::Handshake resp(k.b, noise::Role::kResponder);
  // The responder signs some other static key: a valid signature, but not over its key.
  noise::HandshakePayload p;
  p.identity_key = k.b.public_key().encode();
  Bytes wrong(noise::kSignaturePrefix.begin(), noise::kSignaturePrefix.end());
  wrong.resize(wrong.size() + 32, 0x42);
  p.identity_sig = k.b.sign(wrong);
  resp.override_payload_for_testing(noise::encode_payload(p));
  Status st = run_handshake(init, resp);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("signature"), std::string::npos);
  // Same from the initiator's side: the responder rejects it.
  noise::Handshake init2(k.a, noise::Role::kInitiator);
  noise::Handshake resp2(k.b, noise::Role::kResponder);
  p.identity_key = k.a.public_key().encode();
  p.identity_sig = k.a.sign(wrong);
  init2.override_payload_for_testing(noise::encode_payload(p));
  EXPECT_EQ(run_handshake(init2, resp2).code(), StatusCode::kPermissionDenied);
}

yamux::Config four_mib_window() {
  yamux::Config c;
  c.receive_window = 4 * 1024 * 1024;
  return c;
}

// Two yamux sessions wired back to back, each granting a 4 MiB window.
struct YamuxPair {
  yamux::Session client{yamux::Role::kClient, four_mib_window()};
  yamux::Session server{yamux::Role::kServer, four_mib_window()};
  std::vector<yamux::Event> client_events, server_events;
  void pump() {
    for (int i = 0; i < 16; ++i) {
      Bytes c = client.take_output();
      Bytes s = server.take_output();
      if (c.empty() && s.empty()) break;
      ASSERT_TRUE(server.on_bytes(c).ok());
      ASSERT_TRUE(client.on_bytes(s).ok());
      for (auto& e : client.take_events()) client_events.push_back(std::move(e));
      for (auto& e : server.take_events()) server_events.push_back(std::move(e));
    }
  }
};

Bytes collect(const std::vector<yamux::Event>& events, std::uint32_t stream) {
  Bytes out;
  for (const auto& e : events) {
    if (e.type == yamux::Event::Type::kData && e.stream == stream) out.insert(out.end(), e.data.begin(), e.data.end());
  }
  return out;
}
bool has(const std::vector<yamux::Event>& events, yamux::Event::Type t, std::uint32_t stream) {
  for (const auto& e : events) if (e.type == t && e.stream == stream) return true;
  return false;
}

TEST(Yamux, HeaderMatchesSpecLayout) {
  Bytes out;
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 1, 0x10}, &out);
  EXPECT_EQ(to_hex(out), "000100010000000100000010");
  EXPECT_FALSE(yamux::decode_header(*from_hex("010000000000000100000000")).ok());
  EXPECT_FALSE(yamux::decode_header(*from_hex("000400000000000100000000")).ok());
}

TEST(Yamux, StreamDataFlowControlAndFin) {
  YamuxPair p;
  auto id = p.client.open_stream();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 1u);  // clients use odd ids
  p.pump();
  ASSERT_TRUE(has(p.server_events, yamux::Event::Type::kInbound, 1));
  // The server granted 4 MiB with its ACK; write 6 MiB: only the window goes out at first.
  Bytes data(6 * 1024 * 1024);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i ^ (i >> 8));
  std::size_t sent = *p.client.write(1, data);
  EXPECT_EQ(sent, 4u * 1024 * 1024);
  EXPECT_EQ(*p.client.write(1, ByteView(data).subspan(sent)), 0u);  // window closed
  p.pump();
  // The application consumes what arrived; that grants the window back.
  p.server.consumed(1, collect(p.server_events, 1).size());
  p.pump();
  EXPECT_TRUE(has(p.client_events, yamux::Event::Type::kWritable, 1));
  sent += *p.client.write(1, ByteView(data).subspan(sent));
  EXPECT_EQ(sent, data.size());
  p.client.close(1);
  p.pump();
  EXPECT_EQ(collect(p.server_events, 1), data);
  EXPECT_TRUE(has(p.server_events, yamux::Event::Type::kRemoteFin, 1));
  // The server can still answer on its half, then closes too.
  ASSERT_TRUE(p.server.write(1, as_bytes("bye")).ok());
  p.server.close(1);
  p.pump();
  EXPECT_EQ(to_string(collect(p.client_events, 1)), "bye");
  EXPECT_TRUE(has(p.client_events, yamux::Event::Type::kRemoteFin, 1));
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);
}

// Data frames are delivered as their bytes arrive; whatever the split, the stream sees the
// same bytes in order and the FIN only after the last one.
TEST(Yamux, DataArrivingInPiecesIsDeliveredAsItComes) {
  yamux::Session server(yamux::Role::kServer);
  Bytes frames;
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 1, 0}, &frames);
  Bytes payload(70000);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i ^ (i >> 7));
  yamux::encode_header({0, yamux::FrameType::kData, yamux::kFin, 1, static_cast<std::uint32_t>(payload.size())}, &frames);
  frames.insert(frames.end(), payload.begin(), payload.end());
  std::vector<yamux::Event> events;
  bool fin_before_last_byte = false;
  std::size_t data_seen = 0;
  for (std::size_t pos = 0; pos < frames.size();) {
    std::size_t n = std::min<std::size_t>(pos < 30 ? 5 : 9999, frames.size() - pos);  // split headers too
    ASSERT_TRUE(server.on_bytes(ByteView(frames).subspan(pos, n)).ok());
    pos += n;
    for (auto& e : server.take_events()) {
      if (e.type == yamux::Event::Type::kData) {
        data_seen += e.data.size();
        server.recycle(Bytes(e.data));  // hand buffers back, as the host does
      }
      if (e.type == yamux::Event::Type::kRemoteFin && data_seen < payload.size()) fin_before_last_byte = true;
      events.push_back(std::move(e));
    }
  }
  EXPECT_FALSE(fin_before_last_byte);
  EXPECT_GT(std::count_if(events.begin(), events.end(), [](const yamux::Event& e) { return e.type == yamux::Event::Type::kData; }), 2);
  EXPECT_EQ(collect(events, 1), payload);
  EXPECT_TRUE(has(events, yamux::Event::Type::kRemoteFin, 1));
}

// write_header() accounts like write() but leaves the payload to the caller.
TEST(Yamux, WriteHeaderTakesTheWindowWithoutThePayload) {
  YamuxPair p;
  auto id = p.client.open_stream();
  ASSERT_TRUE(id.ok());
  p.pump();
  std::size_t window = p.client.send_window(*id);
  Bytes header;
  auto n = p.client.write_header(*id, 1 << 20, &header);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, std::size_t{yamux::kInitialWindow});  // one frame at most
  ASSERT_EQ(header.size(), yamux::kHeaderSize);
  auto h = yamux::decode_header(header);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->type, yamux::FrameType::kData);
  EXPECT_EQ(h->length, *n);
  EXPECT_EQ(p.client.send_window(*id), window - *n);
  EXPECT_FALSE(p.client.has_output());
  // The header plus the caller's bytes make a frame the server accepts.
  Bytes payload(*n, 0x42);
  header.insert(header.end(), payload.begin(), payload.end());
  ASSERT_TRUE(p.server.on_bytes(header).ok());
  for (auto& e : p.server.take_events()) p.server_events.push_back(std::move(e));
  EXPECT_EQ(collect(p.server_events, *id), payload);
}

TEST(Yamux, PeerExceedingTheWindowIsReset) {
  yamux::Session server(yamux::Role::kServer, four_mib_window());
  Bytes frames;
  // A misbehaving client opens stream 1 and ignores the 256 KiB initial window... but the
  // server granted 4 MiB on ACK; the client sends 4 MiB + 1 without waiting for updates.
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 1, 0}, &frames);
  std::uint32_t n = 4 * 1024 * 1024 + 1;
  yamux::encode_header({0, yamux::FrameType::kData, 0, 1, n}, &frames);
  frames.resize(frames.size() + n, 0xab);
  ASSERT_TRUE(server.on_bytes(frames).ok());
  auto events = server.take_events();
  EXPECT_TRUE(has(events, yamux::Event::Type::kReset, 1));
  EXPECT_FALSE(has(events, yamux::Event::Type::kData, 1));
  Bytes out = server.take_output();
  // ... and the server told the client: a frame for stream 1 with the RST flag.
  bool saw_rst = false;
  for (std::size_t pos = 0; pos + 12 <= out.size(); pos += 12) {
    auto h = yamux::decode_header(ByteView(out).subspan(pos, 12));
    ASSERT_TRUE(h.ok());
    if (h->stream_id == 1 && (h->flags & yamux::kRst)) saw_rst = true;
  }
  EXPECT_TRUE(saw_rst);
  EXPECT_EQ(server.open_streams(), 0u);
}

TEST(Yamux, ResetPingGoAwayAndLimits) {
  YamuxPair p;
  auto a = p.client.open_stream();
  p.pump();
  p.server.reset(*a);
  p.pump();
  EXPECT_TRUE(has(p.client_events, yamux::Event::Type::kReset, *a));
  EXPECT_FALSE(p.client.write(*a, as_bytes("x")).ok());
  p.client.ping(77);
  p.pump();
  bool pong = false;
  for (const auto& e : p.client_events) pong |= e.type == yamux::Event::Type::kPong && e.value == 77;
  EXPECT_TRUE(pong);
  p.server.go_away();
  p.pump();
  EXPECT_TRUE(p.client.remote_went_away());
  EXPECT_EQ(p.client.open_stream().status().code(), StatusCode::kUnavailable);

  yamux::Config small;
  small.max_streams = 1;
  yamux::Session server(yamux::Role::kServer, small);
  Bytes frames;
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 1, 0}, &frames);
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 3, 0}, &frames);
  ASSERT_TRUE(server.on_bytes(frames).ok());
  EXPECT_EQ(server.open_streams(), 1u);  // stream 3 was refused with RST
  // Our own parity from the remote, or a reused id, is a protocol error with GoAway.
  Bytes bad;
  yamux::encode_header({0, yamux::FrameType::kWindowUpdate, yamux::kSyn, 2, 0}, &bad);
  EXPECT_FALSE(server.on_bytes(bad).ok());
}

}  // namespace
}  // namespace veil::p2p
