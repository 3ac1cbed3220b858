#include "veil/chain/log_cursor.h"

#include <map>

namespace veil::chain {

Status LogCursor::rewind(LogBatch& batch) {
  const std::uint64_t before = next_block_;
  bool rolled_back = false;
  while (!checkpoints_.empty()) {
    Checkpoint& last = checkpoints_.back();
    auto hash = client_.block_hash(last.number);
    if (!hash.ok() && hash.status().code() != StatusCode::kNotFound) return hash.status();
    if (hash.ok() && *hash == last.hash) {
      // The fork point lies after this block: everything after it is read again.
      if (rolled_back) next_block_ = last.number + 1;
      batch.reorg_depth = before - next_block_;
      return {};
    }
    // This block was replaced (or the chain got shorter): its logs are gone.
    for (auto it = last.logs.rbegin(); it != last.logs.rend(); ++it) {
      Log removed = *it;
      removed.removed = true;
      batch.removed.push_back(std::move(removed));
    }
    checkpoints_.pop_back();
    rolled_back = true;
  }
  if (rolled_back) {
    if (trimmed_) {
      return data_loss("chain reorganised deeper than the " + std::to_string(options_.max_tracked_blocks) +
                       " blocks the log cursor tracks");
    }
    next_block_ = start_block_;
    batch.reorg_depth = before - next_block_;
  }
  return {};
}

Result<LogBatch> LogCursor::poll() {
  LogBatch batch;
  VEIL_RETURN_IF_ERROR(rewind(batch));
  VEIL_ASSIGN_OR_RETURN(std::uint64_t head, client_.block_number());
  if (head < options_.confirmations || head - options_.confirmations < next_block_) return batch;
  std::uint64_t to = head - options_.confirmations;
  VEIL_ASSIGN_OR_RETURN(std::vector<Log> logs, client_.logs(filter_, next_block_, to, options_.max_range));
  // Group by block so a later reorg can report exactly what it removed.
  std::map<std::uint64_t, Checkpoint> by_block;
  for (const auto& log : logs) {
    auto& cp = by_block[log.block_number];
    cp.number = log.block_number;
    cp.hash = log.block_hash;
    cp.logs.push_back(log);
  }
  // The last block read anchors the next poll's reorg check even when it held no logs.
  if (!by_block.count(to)) {
    VEIL_ASSIGN_OR_RETURN(Hash32 h, client_.block_hash(to));
    by_block[to] = Checkpoint{to, h, {}};
  }
  for (auto& [number, cp] : by_block) checkpoints_.push_back(std::move(cp));
  while (checkpoints_.size() > options_.max_tracked_blocks) {
    checkpoints_.pop_front();
    trimmed_ = true;
  }
  batch.added = std::move(logs);
  next_block_ = to + 1;
  return batch;
}

}  // namespace veil::chain
