#include "veil/p2p/multiaddr.h"

#include <gtest/gtest.h>

namespace veil::p2p {
namespace {

constexpr std::string_view kPeer = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

TEST(Multiaddr, BinaryMatchesJsMultiaddr) {
  // Binary forms computed with @multiformats/multiaddr.
  auto a = Multiaddr::parse("/ip6/::1/tcp/4001/p2p/" + std::string(kPeer));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(to_hex(a->to_bytes()),
            "2900000000000000000000000000000001060fa1a503260024080112201ed1e8fae2c4a144b8be8fd4b4"
            "7bf3d3b34b871c3cacf6010f0e42d474fce27e");
  auto d = Multiaddr::parse("/dns4/example.com/tcp/80");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(to_hex(d->to_bytes()), "360b6578616d706c652e636f6d060050");
  auto back = Multiaddr::from_bytes(a->to_bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *a);
  EXPECT_EQ(back->to_string(), "/ip6/::1/tcp/4001/p2p/" + std::string(kPeer));
}

TEST(Multiaddr, TcpTargetAndPeerId) {
  auto a = Multiaddr::parse("/ip4/127.0.0.1/tcp/4001/p2p/" + std::string(kPeer));
  ASSERT_TRUE(a.ok());
  auto t = a->tcp_target();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 4001);
  ASSERT_TRUE(a->peer_id().has_value());
  EXPECT_EQ(a->peer_id()->to_base58(), kPeer);
  EXPECT_EQ(a->without_peer_id().to_string(), "/ip4/127.0.0.1/tcp/4001");
  // /ipfs is the legacy name of /p2p; the CID form of the PeerId is accepted too.
  auto legacy = Multiaddr::parse("/ip4/127.0.0.1/tcp/4001/ipfs/bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(*legacy, *a);
}

TEST(Multiaddr, RejectsBadInput) {
  for (std::string_view bad : {"", "ip4/1.2.3.4", "/ip4/1.2.3", "/ip4/1.2.3.4/tcp/70000", "/tcp",
                               "/udp/53", "/ip6/zz::1", "/p2p/notapeer", "/ip4/1.2.3.4/tcp/-1"}) {
    EXPECT_FALSE(Multiaddr::parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x04, 1, 2}).ok());           // truncated ip4
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x91, 0x02}).ok());            // unknown code 273
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x36, 0x05, 'a'}).ok());      // dns past end
  EXPECT_FALSE(Multiaddr::parse("/ip4/1.2.3.4").value().tcp_target().ok());
}

}  // namespace
}  // namespace veil::p2p
