// GossipSub router driven in memory: wire codec, StrictSign, mesh maintenance, gossip.
#include "veil/p2p/gossipsub.h"

#include <gtest/gtest.h>

namespace veil::p2p {
namespace {

using Clock = std::chrono::steady_clock;

TEST(GossipSubWire, RpcRoundTripAndStrictSign) {
  KeyPair key = KeyPair::generate();
  Rpc rpc;
  rpc.subscriptions.push_back({true, "t"});
  rpc.publish.push_back(make_signed_message(key, "t", as_bytes("hello"), 7));
  rpc.ihave.push_back({"t", {Bytes{1, 2}, Bytes{3}}});
  rpc.iwant.push_back({Bytes{9}});
  rpc.graft.push_back("t");
  rpc.prune.push_back({"u", 60});
  auto back = decode_rpc(encode_rpc(rpc));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->publish.size(), 1u);
  EXPECT_TRUE(verify_message(back->publish[0]).ok());
  EXPECT_EQ(back->publish[0].seqno, (Bytes{0, 0, 0, 0, 0, 0, 0, 7}));
  EXPECT_EQ(back->ihave.at(0).ids.size(), 2u);
  EXPECT_EQ(back->graft, std::vector<std::string>{"t"});
  EXPECT_EQ(back->prune.at(0).backoff_s, 60u);
  EXPECT_TRUE(back->subscriptions.at(0).subscribe);

  PubsubMessage tampered = back->publish[0];
  tampered.data[0] ^= 1;
  EXPECT_EQ(verify_message(tampered).code(), StatusCode::kPermissionDenied);
  PubsubMessage forged = back->publish[0];
  forged.from = PeerId::from_public_key(KeyPair::generate().public_key());
  EXPECT_FALSE(verify_message(forged).ok());
  PubsubMessage unsigned_msg = back->publish[0];
  unsigned_msg.signature.clear();
  EXPECT_FALSE(verify_message(unsigned_msg).ok());
  EXPECT_FALSE(decode_rpc(Bytes{0x12, 0x05, 0x0a, 0x03, 1, 2, 3}).ok());  // from is no PeerId
}

// N routers, fully connected or on a given edge list, exchanging RPCs through encode/decode.
struct Net {
  std::vector<KeyPair> keys;
  std::vector<std::unique_ptr<GossipSubRouter>> routers;
  std::vector<PeerId> ids;
  std::vector<std::vector<PubsubMessage>> delivered;
  Clock::time_point now = Clock::now();

  explicit Net(int n, GossipSubParams params = {}) {
    for (int i = 0; i < n; ++i) {
      keys.push_back(KeyPair::generate());
      ids.push_back(PeerId::from_public_key(keys.back().public_key()));
      routers.push_back(std::make_unique<GossipSubRouter>(keys.back(), params, 1000 + i));
      delivered.emplace_back();
      routers.back()->on_deliver([this, i](const PubsubMessage& m) { delivered[i].push_back(m); });
    }
  }
  int index(const PeerId& id) const { return static_cast<int>(std::find(ids.begin(), ids.end(), id) - ids.begin()); }
  void connect(int a, int b) {
    routers[a]->add_peer(ids[b], kMeshsub11);
    routers[b]->add_peer(ids[a], kMeshsub11);
  }
  // Delivers queued RPCs until none are left; `drop` can filter (from, to).
  void pump(const std::function<bool(int, int, Rpc&)>& edit = nullptr) {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (std::size_t i = 0; i < routers.size(); ++i) {
        for (auto& [to, rpc] : routers[i]->take_outgoing()) {
          if (edit && !edit(static_cast<int>(i), index(to), rpc)) continue;
          auto decoded = decode_rpc(encode_rpc(rpc));
          ASSERT_TRUE(decoded.ok());
          routers[index(to)]->handle_rpc(ids[i], *decoded, now);
          any = true;
        }
      }
      if (!any) return;
    }
  }
  void heartbeat_all() {
    now += std::chrono::seconds(1);
    for (auto& r : routers) r->heartbeat(now);
    pump();
  }
};

TEST(GossipSubRouter, MeshStaysWithinBoundsAndDeliversExactlyOnce) {
  const int n = 20;
  Net net(n);
  for (int i = 0; i < n; ++i) for (int j = i + 1; j < n; ++j) net.connect(i, j);
  for (auto& r : net.routers) r->subscribe("t");
  net.pump();
  for (int h = 0; h < 5; ++h) net.heartbeat_all();
  GossipSubParams p;
  for (int i = 0; i < n; ++i) {
    auto m = net.routers[i]->mesh("t");
    EXPECT_GE(m.size(), static_cast<std::size_t>(p.d_lo)) << i;
    EXPECT_LE(m.size(), static_cast<std::size_t>(p.d_hi)) << i;
    for (const auto& peer : m) EXPECT_TRUE(net.routers[net.index(peer)]->mesh("t").count(net.ids[i])) << "mesh is symmetric";
  }
  for (int i = 0; i < n; ++i) ASSERT_TRUE(net.routers[i]->publish("t", as_bytes("m" + std::to_string(i)), net.now).ok());
  net.pump();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(net.delivered[i].size(), static_cast<std::size_t>(n - 1)) << "peer " << i;
    std::set<Bytes> unique;
    for (const auto& m : net.delivered[i]) unique.insert(message_id(m));
    EXPECT_EQ(unique.size(), net.delivered[i].size());
  }
}

TEST(GossipSubRouter, ForwardsAlongALineWithoutFloodPublish) {
  GossipSubParams p;
  p.flood_publish = false;
  Net net(5, p);
  for (int i = 0; i + 1 < 5; ++i) net.connect(i, i + 1);
  for (auto& r : net.routers) r->subscribe("t");
  net.pump();
  net.heartbeat_all();
  ASSERT_TRUE(net.routers[0]->publish("t", as_bytes("x"), net.now).ok());
  net.pump();
  for (int i = 1; i < 5; ++i) EXPECT_EQ(net.delivered[i].size(), 1u) << i;
}

TEST(GossipSubRouter, PruneBackoffIsRespected) {
  Net net(2);
  net.connect(0, 1);
  net.routers[0]->subscribe("t");
  net.routers[1]->subscribe("t");
  net.pump();
  net.heartbeat_all();  // subscriptions are known now; the heartbeat builds the mesh
  ASSERT_TRUE(net.routers[0]->mesh("t").count(net.ids[1]));
  // Peer 1 prunes peer 0 (by leaving and re-joining the topic).
  net.routers[1]->unsubscribe("t");
  net.pump();
  EXPECT_FALSE(net.routers[0]->mesh("t").count(net.ids[1]));
  net.routers[1]->subscribe("t");
  // Peer 0 recorded the backoff from 1's PRUNE: during it, 0 must not GRAFT 1 again even
  // though 1 is subscribed and 0's mesh is below D_lo.
  bool grafted_by_0 = false;
  net.pump([&](int from, int, Rpc& rpc) {
    if (from == 0 && !rpc.graft.empty()) grafted_by_0 = true;
    return true;
  });
  for (int h = 0; h < 5; ++h) {
    net.now += std::chrono::seconds(1);
    for (auto& r : net.routers) r->heartbeat(net.now);
    net.pump([&](int from, int, Rpc& rpc) {
      if (from == 0 && !rpc.graft.empty()) grafted_by_0 = true;
      return true;
    });
  }
  EXPECT_FALSE(grafted_by_0);
}

TEST(GossipSubRouter, GraftDuringBackoffIsAnsweredWithPrune) {
  Net net(2);
  net.connect(0, 1);
  net.routers[0]->subscribe("t");
  net.routers[1]->subscribe("t");
  net.pump();
  net.heartbeat_all();  // subscriptions are known now; the heartbeat builds the mesh
  net.routers[0]->unsubscribe("t");  // 0 prunes 1, recording a backoff for it
  net.pump();
  net.routers[0]->subscribe("t");    // 0 re-joins but must not graft 1 (backoff)
  net.pump();
  EXPECT_FALSE(net.routers[0]->mesh("t").count(net.ids[1]));
  // 1 sends a GRAFT anyway: 0 refuses with PRUNE.
  Rpc graft;
  graft.graft.push_back("t");
  net.routers[0]->handle_rpc(net.ids[1], graft, net.now);
  auto out = net.routers[0]->take_outgoing();
  bool pruned = false;
  for (auto& [to, rpc] : out) pruned |= to == net.ids[1] && !rpc.prune.empty();
  EXPECT_TRUE(pruned);
  EXPECT_FALSE(net.routers[0]->mesh("t").count(net.ids[1]));
}

TEST(GossipSubRouter, IHaveIWantRecoversAMissedMessage) {
  GossipSubParams p;
  p.flood_publish = false;
  p.d = 1; p.d_lo = 1; p.d_hi = 1;
  Net net(3, p);
  net.connect(0, 1);
  net.connect(0, 2);
  for (auto& r : net.routers) r->subscribe("t");
  net.pump();
  net.heartbeat_all();  // 1 and 2 both graft 0
  net.heartbeat_all();  // 0 prunes one of them to get back to D = 1
  // With D = 1, peer 0 meshes with one of 1 and 2; the other learns by gossip.
  int in_mesh = net.routers[0]->mesh("t").count(net.ids[1]) ? 1 : 2;
  int outside = 3 - in_mesh;
  ASSERT_TRUE(net.routers[0]->publish("t", as_bytes("gossip me"), net.now).ok());
  bool saw_ihave = false, saw_iwant = false;
  net.pump();
  EXPECT_EQ(net.delivered[in_mesh].size(), 1u);
  EXPECT_EQ(net.delivered[outside].size(), 0u);
  net.now += std::chrono::seconds(1);
  net.routers[0]->heartbeat(net.now);
  net.pump([&](int from, int to, Rpc& rpc) {
    if (from == 0 && to == outside && !rpc.ihave.empty()) saw_ihave = true;
    if (from == outside && !rpc.iwant.empty()) saw_iwant = true;
    return true;
  });
  EXPECT_TRUE(saw_ihave);
  EXPECT_TRUE(saw_iwant);
  EXPECT_EQ(net.delivered[outside].size(), 1u);
}

TEST(GossipSubRouter, InvalidMessagesLowerTheScoreAndLeaveTheMesh) {
  Net net(2);
  net.connect(0, 1);
  net.routers[0]->subscribe("t");
  net.routers[1]->subscribe("t");
  net.pump();
  net.heartbeat_all();  // subscriptions are known now; the heartbeat builds the mesh
  ASSERT_TRUE(net.routers[0]->mesh("t").count(net.ids[1]));
  PubsubMessage bad = make_signed_message(net.keys[1], "t", as_bytes("x"), 1);
  bad.data[0] ^= 1;  // signature no longer matches
  Rpc rpc;
  rpc.publish.push_back(bad);
  net.routers[0]->handle_rpc(net.ids[1], rpc, net.now);
  EXPECT_TRUE(net.delivered[0].empty());
  EXPECT_LT(net.routers[0]->score(net.ids[1]), 0);
  net.now += std::chrono::seconds(1);
  net.routers[0]->heartbeat(net.now);
  EXPECT_FALSE(net.routers[0]->mesh("t").count(net.ids[1]));
}

}  // namespace
}  // namespace veil::p2p
