// Batched anchoring (private to veil_node; docs/chain.md, "Batched anchoring"): the deployment
// commitments a coordinator has still to anchor, gathered into batches whose Merkle root is
// anchored in one anchorBatch transaction. A batch is due when it holds `batch_size` commitments
// or its oldest has waited `max_age`; one batch is in flight at a time; a failed batch returns its
// commitments to the pool and nothing is sent again before `retry` has passed.
//
// A commitment that was sent under a root (and persisted so, with its index and proof, before
// the transaction) and not yet confirmed keeps that root: it is offered again as the same batch,
// so that the chain is asked about that root first and a root is never sent twice. If some of
// that batch's commitments are gone (their job moved to another coordinator), the batch is
// offered as incomplete: the caller only asks the chain about it and, if it is not anchored,
// returns the commitments to the pool as new ones (restore()).
//
// The caller owns the clock (milliseconds, any monotonic origin) and the transaction; this
// holds no timer, thread or chain. Thread safety: none (the coordinator's io thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "veil/chain/types.h"
#include "veil/chain/veil_registry.h"
#include "veil/node/job_state.h"

namespace veil::node {

class AnchorBatcher {
 public:
  struct Options {
    std::size_t batch_size = 1;  // 1: every commitment is anchored alone (the batcher is unused)
    std::chrono::milliseconds max_age{10000};
    std::chrono::milliseconds retry{5000};
  };
  // One job's round whose commitment waits for a batch.
  struct Key {
    Hash32 job{};
    std::uint32_t round = 0;
    auto operator<=>(const Key&) const = default;
  };
  // Where a commitment was sent: the batch's root, its leaf index, the leaf count and its proof.
  struct Placement {
    Hash32 root{};
    std::uint32_t index = 0, size = 0;
    std::vector<Hash32> proof;
  };
  struct Batch {
    Hash32 root{};
    std::uint32_t size = 0;                    // leaves in the tree (what anchorBatch records)
    std::vector<std::pair<Key, Hash32>> members;  // (key, commitment), in leaf order when complete
    std::vector<Placement> placements;         // one per member
    // False for a batch sent before whose commitments are not all here any more: the caller
    // must not send it, only ask the chain whether its root is anchored.
    bool complete = true;
    bool resent = false;  // offered again under a root that was sent before
  };
  // What became of a batch in flight.
  enum class Outcome {
    kAnchored,     // the chain holds the root: its members leave the pool
    kUnconfirmed,  // sent, not confirmed yet: its members keep the root and are asked about again after `retry`
    kNotAnchored,  // an incomplete batch the chain does not hold: its members rejoin the pool as new ones
    kFailed,       // the transaction failed: its members rejoin the pool; nothing is sent before `retry`
  };

  explicit AnchorBatcher(Options options) : options_(options) {}

  const Options& options() const { return options_; }
  bool batching() const { return options_.batch_size > 1; }

  // Adds a commitment to the pool (nothing when `key` is there already). `sent`, when given,
  // is the batch it was sent under before (read back from its job record).
  void add(const Key& key, const Hash32& commitment, std::int64_t now_ms, std::optional<Placement> sent = std::nullopt);
  bool contains(const Key& key) const { return entries_.count(key) > 0; }
  // Removes every commitment of `job` that is not in flight (its job moved elsewhere).
  void remove_job(const Hash32& job);
  std::size_t pending() const { return entries_.size(); }
  bool in_flight() const { return in_flight_; }

  // The batch due at `now_ms`, marked in flight, or nothing (one in flight already, a retry
  // wait, or no batch due). A batch sent before is due first, and at once.
  std::optional<Batch> take_due(std::int64_t now_ms);
  // The batch in flight ended so.
  void finish(const Batch& batch, Outcome outcome, std::int64_t now_ms);
  // When take_due will next have a batch (nothing while one is in flight or the pool is empty).
  std::optional<std::int64_t> next_due_ms(std::int64_t now_ms) const;

 private:
  struct Entry {
    Hash32 commitment{};
    std::int64_t added_ms = 0;
    std::optional<Placement> sent;
  };
  std::optional<Batch> take_resend();
  Batch build(std::vector<Key> keys);

  Options options_;
  std::map<Key, Entry> entries_;
  bool in_flight_ = false;
  std::int64_t not_before_ms_ = 0;  // after a failure or an unconfirmed send
};

// The commitment of round `round` of `job` (the agreed decision, the inputs' root and the
// schedulers that agreed), or nothing when the round has no agreed decision.
std::optional<chain::VeilRegistry::Commitment> round_commitment(const JobState& job, std::uint32_t round);

// An AnchorInfo's batch fields <-> a Placement (hex, as the job record and the API show them).
void set_placement(AnchorInfo& anchor, const AnchorBatcher::Placement& placement);
std::optional<AnchorBatcher::Placement> placement_of(const AnchorInfo& anchor);

}  // namespace veil::node
