// Fuzz entry: Yamux frames fed to a server session (headers, windows, flags, lengths).
#include "veil/p2p/yamux.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::p2p::yamux;
  Config config;
  config.max_streams = 8;
  config.max_frame_payload = 1 << 16;
  Session server(Role::kServer, config);
  std::size_t third = size / 3;
  (void)server.on_bytes(veil::ByteView(data, third));
  for (const auto& e : server.take_events()) {
    if (e.type == Event::Type::kInbound) {
      (void)server.write(e.stream, veil::ByteView(data, third));
      server.consumed(e.stream, 1000);
    }
  }
  (void)server.on_bytes(veil::ByteView(data + third, size - third));
  (void)server.take_events();
  (void)server.take_output();
  return 0;
}
