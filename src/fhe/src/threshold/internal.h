// Internals of the threshold layer shared with its tests: the squashing key's representation
// and dealing with a caller-chosen 128-bit key (so tests can check the reconstruction).
#pragma once

#include "core/squash.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::threshold {

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
