// The body of the fhe_deserialize fuzz target, shared with the unit test.
//
// Input byte 0 picks the mode: with the top bit set, the rest is taken as a *payload* and
// wrapped in a valid frame (kind = byte0 & 7 + 1, test parameters, correct length and
// checksum) so the fuzzer reaches the payload parsers behind the checksum; otherwise the
// whole input goes to every deserializer as it is.
#pragma once

#include <cstddef>
#include <cstdint>

#include "api/impl.h"
#include "veil/fhe/fhe.h"

namespace veil::fhe::fuzz {

inline void deserialize_all(ByteView bytes) {
  DeserializeOptions options;
  options.size_limit = 1 << 22;
  // Results are discarded: the point is that nothing crashes, hangs or over-allocates.
  (void)ClientKey::deserialize(bytes, options);
  (void)ServerKey::deserialize(bytes, options);
  (void)CompressedServerKey::deserialize(bytes, options);
  (void)CompactPublicKey::deserialize(bytes, options);
  (void)FheUint8::deserialize(bytes, options);
  (void)FheUint16::deserialize(bytes, options);
  (void)FheUint32::deserialize(bytes, options);
  (void)FheBool::deserialize(bytes, options);
}

inline int fuzz_one(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 0x80) != 0) {
    const auto kind = static_cast<detail::Kind>((data[0] & 7) + 1);
    Bytes payload(data + 1, data + size);
    deserialize_all(detail::frame(kind, kParamInsecureTestOnly, payload));
  } else {
    deserialize_all(ByteView(data, size));
  }
  return 0;
}

}  // namespace veil::fhe::fuzz
