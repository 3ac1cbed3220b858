// libFuzzer entry for the SWIM wire parser; the same function runs in wire_test.cc on random
// and mutated inputs so CI exercises it without clang.
#include <cstddef>
#include <cstdint>

#include "veil/swim/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  veil::swim::fuzz_decode_one(data, size);
  return 0;
}
