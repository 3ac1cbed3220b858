// Compact public key (ring-LWE), after TFHE-rs's CompactPublicKey for KS-PBS parameters:
// a pair (a, b = a * s + e) over Z_2^64[X]/(X^N' + 1) with N' = k*N and s the big (flattened
// GLWE) key. Anyone holding it encrypts a list of blocks at once; the list expands to ordinary
// blocks under the big key, usable by the server key as they are.
//
// The mask `a` is derived from a public 32-byte seed, so the key is stored as seed + body.
//
// Thread safety: immutable after construction; encrypt() may run concurrently.
#pragma once

#include <span>
#include <vector>

#include "shortint/shortint.h"

namespace veil::fhe::shortint {

class CompactPublicKey {
 public:
  static CompactPublicKey generate(const ClientKey& ck);
  // Rebuilds the key from its stored form (the mask is regenerated from the seed).
  static CompactPublicKey from_seed_and_body(const Parameters& params, const core::Seed& seed,
                                             std::vector<Torus> body);

  const Parameters& params() const { return *params_; }
  const core::Seed& seed() const { return seed_; }
  const std::vector<Torus>& body() const { return body_; }

  // Encrypts each value (< message_modulus) into one block; at most N' values per call.
  std::vector<Ciphertext> encrypt(std::span<const std::uint64_t> values) const;

 private:
  const Parameters* params_ = nullptr;
  core::Seed seed_{};
  std::vector<Torus> mask_, body_;
};

}  // namespace veil::fhe::shortint
