// Follows a contract's logs block range by block range, surviving chain reorganisations.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "veil/chain/eth_client.h"

namespace veil::chain {

struct LogCursorOptions {
  std::uint64_t max_range = 2000;        // blocks per eth_getLogs request
  std::uint64_t confirmations = 0;       // stay this many blocks behind the head
  std::size_t max_tracked_blocks = 256;  // reorgs deeper than the tracked blocks are an error
};

// The result of one poll: logs dropped by a reorg (removed = true, newest first) and new logs.
struct LogBatch {
  std::vector<Log> removed;
  std::vector<Log> added;
  std::uint64_t reorg_depth = 0;  // blocks rolled back before reading (0: none)
};

// Reads every log matching a filter exactly once in chain order, and reports as removed the logs
// whose blocks a reorg replaced. It remembers the hash of each block it returned logs from and
// of the last block it read; on each poll it checks them against the chain and rolls back to
// the newest one still canonical. Not thread-safe; one owner polls it.
class LogCursor {
 public:
  LogCursor(EthClient& client, LogFilter filter, std::uint64_t from_block, LogCursorOptions options = {})
      : client_(client),
        filter_(std::move(filter)),
        next_block_(from_block),
        start_block_(from_block),
        options_(options) {}

  // Reads from the last position up to head - confirmations. Errors: transport errors, or
  // kDataLoss when a reorg went deeper than every tracked block.
  Result<LogBatch> poll();

  std::uint64_t next_block() const { return next_block_; }

 private:
  struct Checkpoint {
    std::uint64_t number;
    Hash32 hash;
    std::vector<Log> logs;  // logs returned from this block
  };

  Status rewind(LogBatch& batch);

  EthClient& client_;
  LogFilter filter_;
  std::uint64_t next_block_;
  std::uint64_t start_block_;
  LogCursorOptions options_;
  std::deque<Checkpoint> checkpoints_;  // ascending block numbers
  bool trimmed_ = false;                // older checkpoints were dropped
};

}  // namespace veil::chain
