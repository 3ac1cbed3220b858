// Fuzz entry point over every threshold-decryption parser: committee, key share, decryption
// request, decryption share, member public key (text), member secret key and squashing key.
//
// Random bytes almost never pass the frame's BLAKE2b checksum, so the entry point first
// repairs the length field and the checksum of anything that starts with the "VFHE" magic:
// the payload parsers behind the checksum are what it exercises. Whatever parses must
// re-serialize to the same bytes (the encodings are canonical); a difference aborts.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold::fuzz {

inline void require(bool ok) {
  if (!ok) std::abort();
}

inline int fuzz_one(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, data + size);
  if (in.size() >= 32 && std::memcmp(in.data(), "VFHE", 4) == 0) {
    const std::uint64_t len = in.size() - 32;
    for (int i = 0; i < 8; ++i) in[8 + i] = static_cast<std::uint8_t>(len >> (8 * i));
    crypto_generichash(in.data() + 16 + len, 16, in.data(), 16 + len, nullptr, 0);
  }
  const ByteView view(in);
  if (auto c = Committee::deserialize(view); c.ok()) require(c->serialize() == in);
  if (auto s = KeyShare::deserialize(view); s.ok()) require(s->serialize() == in);
  if (auto r = DecryptionRequest::deserialize(view); r.ok()) require(r->serialize() == in);
  if (auto s = DecryptionShare::deserialize(view); s.ok()) require(s->serialize() == in);
  if (auto p = MemberPublicKey::from_text(std::string_view(reinterpret_cast<const char*>(in.data()), in.size())); p.ok()) {
    require(MemberPublicKey::from_text(p->to_text()).ok());
  }
  if (auto k = MemberSecretKey::deserialize(view); k.ok()) require(k->serialize() == in);
  if (auto k = SquashingKey::deserialize(view); k.ok()) require(k->serialize() == in);
  return 0;
}

}  // namespace veil::fhe::threshold::fuzz
