// Fuzz entry: the Noise handshake payload protobuf, its verification, and a responder
// handshake fed hostile handshake frames.
#include "veil/p2p/noise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::p2p;
  veil::ByteView in(data, size);
  if (auto p = noise::decode_payload(in); p.ok()) {
    std::uint8_t key[32] = {};
    (void)noise::verify_payload(*p, veil::ByteView(key, 32));
    (void)noise::encode_payload(*p);
  }
  static const KeyPair identity = KeyPair::from_seed(veil::Bytes(32, 7));
  noise::Handshake responder(identity, noise::Role::kResponder);
  veil::Bytes send;
  (void)responder.on_bytes(in, &send);
  return 0;
}
