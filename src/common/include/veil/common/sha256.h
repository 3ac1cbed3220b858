// SHA-256, the one implementation every part of Veil Stack hashes with (libsodium underneath).
//
// Thread safety: sha256() and sha256_hex() are pure; a Sha256 object is not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "veil/common/bytes.h"

namespace veil {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView bytes);
Sha256Digest sha256(std::string_view text);

// Lower-case hex of sha256(), 64 characters.
std::string sha256_hex(ByteView bytes);
std::string sha256_hex(std::string_view text);

// Incremental hashing: update() as often as needed, then finish() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(ByteView bytes);
  Sha256& update(std::string_view text);
  // The digest of everything given to update(); the object must not be used afterwards.
  Sha256Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace veil
