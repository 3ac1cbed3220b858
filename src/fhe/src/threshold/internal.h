// Internals of the threshold layer shared with its tests: the squashing key's representation
// and dealing with a caller-chosen 128-bit key (so tests can check the reconstruction).
#pragma once

#include "core/squash.h"
#include "threshold/galois_ring.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold {

// A 128-bit word stored as two 64-bit words, low half first (the wire's and the shares' layout).
inline gr::u128 load128(const std::uint64_t* p) { return static_cast<gr::u128>(p[0]) | (static_cast<gr::u128>(p[1]) << 64); }
inline void store128(std::uint64_t* p, gr::u128 v) {
  p[0] = static_cast<std::uint64_t>(v);
  p[1] = static_cast<std::uint64_t>(v >> 64);
}

// Blocks of a value of `kind` (64-bit LWE blocks of message_modulus values each).
std::size_t block_count(ValueKind kind, const Parameters& params);

struct SquashingKeyImpl {
  core::NoiseSquashingKey key;
  Hash hash{};  // SHA-256 of the serialized form
};

// SHA-256 of a member's KeyShare values ("veil-keyshare-v2" domain), as Committee::share_hashes
// records it (the DKG computes its members' hashes the way the dealer does).
Hash share_hash(std::uint8_t member, const std::vector<std::uint64_t>& values);

// deal() with `squash_key` as the shared 128-bit key (deal() generates it, and wipes it).
Result<Ceremony> deal_with_squash_key(const ClientKey& key, const core::GlweSecretKey128& squash_key, unsigned threshold,
                                      const std::vector<MemberPublicKey>& members, ByteView public_key,
                                      ByteView server_key);

}  // namespace veil::fhe::threshold
