// libFuzzer entry point over the DKG message codec (see dkg_wire_fuzz.h).
#include "dkg_wire_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return veil::fhe::dkg::fuzz::fuzz_one(data, size);
}
