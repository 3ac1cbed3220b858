// libFuzzer entry point over every FHE deserializer (see deserialize_fuzz.h).
#include "deserialize_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return veil::fhe::fuzz::fuzz_one(data, size);
}
