// Fuzz entry: the GossipSub RPC protobuf, then the router handling what decoded.
#include "veil/p2p/gossipsub.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::p2p;
  auto rpc = decode_rpc(veil::ByteView(data, size));
  if (!rpc.ok()) return 0;
  for (const auto& m : rpc->publish) (void)verify_message(m);
  (void)decode_rpc(encode_rpc(*rpc));
  static const KeyPair key = KeyPair::from_seed(veil::Bytes(32, 3));
  static const PeerId remote = PeerId::from_public_key(KeyPair::from_seed(veil::Bytes(32, 4)).public_key());
  GossipSubRouter router(key, {}, 1);
  router.subscribe("t");
  router.add_peer(remote, kMeshsub11);
  auto now = std::chrono::steady_clock::now();
  router.handle_rpc(remote, *rpc, now);
  router.heartbeat(now + std::chrono::seconds(1));
  (void)router.take_outgoing();
  return 0;
}
