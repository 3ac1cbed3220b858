// Fuzz entry: multiaddr binary and text parsers; whatever parses must round-trip.
#include <cstdlib>

#include "veil/p2p/multiaddr.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using veil::p2p::Multiaddr;
  veil::ByteView in(data, size);
  if (auto a = Multiaddr::from_bytes(in); a.ok()) {
    if (a->to_bytes() != veil::Bytes(in.begin(), in.end())) std::abort();
    auto again = Multiaddr::parse(a->to_string());
    if (!again.ok() || !(*again == *a)) std::abort();
  }
  if (auto t = Multiaddr::parse(veil::to_string(in)); t.ok()) {
    auto b = Multiaddr::from_bytes(t->to_bytes());
    if (!b.ok() || !(*b == *t)) std::abort();
  }
  return 0;
}
