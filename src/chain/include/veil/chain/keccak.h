// Keccak-256 as Ethereum uses it: the original Keccak padding (0x01), not SHA3-256's (0x06).
#pragma once

#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

// Hashes `data` in one call. Never fails.
Hash32 keccak256(ByteView data);

// Incremental Keccak-256 for data that arrives in pieces. Not thread-safe; one per stream.
class Keccak256 {
 public:
  Keccak256();
  void update(ByteView data);
  // Returns the digest; the object must not be updated afterwards.
  Hash32 finish();

 private:
  std::array<std::uint64_t, 25> state_{};
  std::size_t offset_ = 0;  // bytes absorbed into the current block
};

}  // namespace veil::chain
