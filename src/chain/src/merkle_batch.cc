// Batch trees of deployment commitments (veil/chain/merkle_batch.h).
#include "veil/chain/merkle_batch.h"

#include <algorithm>

#include "veil/chain/keccak.h"

namespace veil::chain {
namespace {

std::vector<Hash32> leaves(const std::vector<Hash32>& commitments) {
  std::vector<Hash32> level;
  level.reserve(commitments.size());
  for (const auto& c : commitments) level.push_back(batch_leaf_hash(c));
  return level;
}

std::vector<Hash32> next_level(const std::vector<Hash32>& level) {
  std::vector<Hash32> up;
  up.reserve((level.size() + 1) / 2);
  for (std::size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(batch_node_hash(level[i], level[i + 1]));
  if (level.size() % 2 == 1) up.push_back(level.back());  // carried up unchanged
  return up;
}

}  // namespace

Hash32 batch_leaf_hash(const Hash32& commitment) {
  Bytes msg = {0x00};
  msg.insert(msg.end(), commitment.begin(), commitment.end());
  return keccak256(msg);
}

Hash32 batch_node_hash(const Hash32& a, const Hash32& b) {
  const auto& lo = std::min(a, b);
  const auto& hi = std::max(a, b);
  Bytes msg = {0x01};
  msg.insert(msg.end(), lo.begin(), lo.end());
  msg.insert(msg.end(), hi.begin(), hi.end());
  return keccak256(msg);
}

Result<Hash32> batch_root(const std::vector<Hash32>& commitments) {
  if (commitments.empty()) return invalid_argument("a batch needs at least one commitment");
  auto level = leaves(commitments);
  while (level.size() > 1) level = next_level(level);
  return level.front();
}

Result<std::vector<Hash32>> batch_proof(const std::vector<Hash32>& commitments, std::size_t index) {
  if (index >= commitments.size()) {
    return out_of_range("commitment " + std::to_string(index) + " of a batch of " + std::to_string(commitments.size()));
  }
  std::vector<Hash32> proof;
  auto level = leaves(commitments);
  while (level.size() > 1) {
    const std::size_t sibling = index ^ 1;
    if (sibling < level.size()) proof.push_back(level[sibling]);  // none: the node is carried up
    level = next_level(level);
    index /= 2;
  }
  return proof;
}

bool batch_proof_leads_to(const Hash32& root, const Hash32& commitment, const std::vector<Hash32>& proof) {
  Hash32 h = batch_leaf_hash(commitment);
  for (const auto& sibling : proof) h = batch_node_hash(h, sibling);
  return h == root;
}

}  // namespace veil::chain
