// The Merkle tree of a batch of deployment commitments, as VeilRegistry.anchorBatch /
// verifyInclusion define it (docs/chain.md, "Batched anchoring"):
//   leaf  = keccak256(0x00 ‖ commitment)
//   inner = keccak256(0x01 ‖ min(a, b) ‖ max(a, b))   (sorted pair: proofs need no left/right bits)
//   a level with an odd count carries its last node up unchanged.
// The 0x00/0x01 prefixes keep a leaf from being passed off as an inner node.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <vector>

#include "veil/chain/types.h"
#include "veil/common/status.h"

namespace veil::chain {

Hash32 batch_leaf_hash(const Hash32& commitment);
Hash32 batch_node_hash(const Hash32& a, const Hash32& b);

// The root of a non-empty batch (kInvalidArgument when empty).
Result<Hash32> batch_root(const std::vector<Hash32>& commitments);
// Sibling hashes from the leaf level up for commitments[index] (kOutOfRange for a bad index).
Result<std::vector<Hash32>> batch_proof(const std::vector<Hash32>& commitments, std::size_t index);
// True when `proof` leads from `commitment` to `root` (no chain access: the contract's
// verifyInclusion also checks that the root was anchored).
bool batch_proof_leads_to(const Hash32& root, const Hash32& commitment, const std::vector<Hash32>& proof);

}  // namespace veil::chain
