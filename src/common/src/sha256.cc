#include "veil/common/sha256.h"

#include <sodium.h>

namespace veil {

struct Sha256::State {
  crypto_hash_sha256_state sodium;
};

Sha256Digest sha256(ByteView bytes) {
  Sha256Digest digest;
  crypto_hash_sha256(digest.data(), bytes.data(), bytes.size());
  return digest;
}

Sha256Digest sha256(std::string_view text) { return sha256(as_bytes(text)); }

std::string sha256_hex(ByteView bytes) {
  const Sha256Digest digest = sha256(bytes);
  return to_hex(ByteView(digest.data(), digest.size()));
}

std::string sha256_hex(std::string_view text) { return sha256_hex(as_bytes(text)); }

Sha256::Sha256() : state_(std::make_unique<State>()) { crypto_hash_sha256_init(&state_->sodium); }

Sha256::~Sha256() = default;

Sha256& Sha256::update(ByteView bytes) {
  crypto_hash_sha256_update(&state_->sodium, bytes.data(), bytes.size());
  return *this;
}

Sha256& Sha256::update(std::string_view text) { return update(as_bytes(text)); }

Sha256Digest Sha256::finish() {
  Sha256Digest digest;
  crypto_hash_sha256_final(&state_->sodium, digest.data());
  return digest;
}

}  // namespace veil
