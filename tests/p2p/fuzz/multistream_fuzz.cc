// Fuzz entry: multistream message framing and both negotiation roles on hostile input.
#include "veil/p2p/multistream.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::p2p::multistream;
  MessageBuffer buf;
  Dialer dialer({"/a/1", "/b/1"});
  Listener listener([](std::string_view p) { return p == "/b/1"; });
  (void)dialer.start();
  (void)listener.start();
  // Feed in two pieces to exercise reassembly.
  std::size_t half = size / 2;
  for (auto piece : {veil::ByteView(data, half), veil::ByteView(data + half, size - half)}) {
    buf.append(piece);
    while (true) {
      auto m = buf.next();
      if (!m.ok() || !m->has_value()) break;
      (void)dialer.on_message(**m);
      (void)listener.on_message(**m);
    }
  }
  (void)buf.take_rest();
  return 0;
}
