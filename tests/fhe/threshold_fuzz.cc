// libFuzzer entry point over the threshold-decryption parsers (see threshold_fuzz.h).
#include "threshold_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return veil::fhe::threshold::fuzz::fuzz_one(data, size);
}
