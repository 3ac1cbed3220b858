// Fuzz entry: the Identify protobuf; what decodes must encode and decode again.
#include <cstdlib>

#include "veil/p2p/identify.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::p2p;
  auto m = identify::decode(veil::ByteView(data, size));
  if (m.ok()) {
    auto again = identify::decode(identify::encode(*m));
    if (!again.ok() || again->protocols != m->protocols || again->agent_version != m->agent_version) std::abort();
  }
  return 0;
}
