// Batched anchoring: the pool of commitments waiting for a batch (anchor_batcher.h).
#include "anchor_batcher.h"

#include <algorithm>

#include "veil/chain/merkle_batch.h"
#include "veil/chain/veil_registry.h"
#include "veil/node/protocol.h"

namespace veil::node {

void AnchorBatcher::add(const Key& key, const Hash32& commitment, std::int64_t now_ms, std::optional<Placement> sent) {
  entries_.try_emplace(key, Entry{commitment, now_ms, std::move(sent)});
}

void AnchorBatcher::remove_job(const Hash32& job) {
  if (in_flight_) return;  // finish() settles the batch in flight; the next call removes the rest
  std::erase_if(entries_, [&](const auto& e) { return e.first.job == job; });
}

std::optional<AnchorBatcher::Batch> AnchorBatcher::take_due(std::int64_t now_ms) {
  if (in_flight_ || entries_.empty() || now_ms < not_before_ms_) return std::nullopt;
  std::optional<Batch> batch = take_resend();
  if (!batch) {
    // The oldest new commitments first (ties in key order, so that the batch is the same on
    // every run), up to batch_size.
    std::vector<std::pair<std::int64_t, Key>> fresh;
    for (const auto& [key, e] : entries_) {
      if (!e.sent) fresh.emplace_back(e.added_ms, key);
    }
    std::sort(fresh.begin(), fresh.end());
    const bool full = fresh.size() >= options_.batch_size;
    const bool old = !fresh.empty() && now_ms - fresh.front().first >= options_.max_age.count();
    if (!full && !old) return std::nullopt;
    std::vector<Key> keys;
    for (std::size_t i = 0; i < fresh.size() && i < options_.batch_size; ++i) keys.push_back(fresh[i].second);
    batch = build(std::move(keys));
  }
  in_flight_ = true;
  return batch;
}

// The commitments sent under the first root still unconfirmed, as that batch.
std::optional<AnchorBatcher::Batch> AnchorBatcher::take_resend() {
  const Placement* first = nullptr;
  for (const auto& [key, e] : entries_) {
    if (e.sent) {
      first = &*e.sent;
      break;
    }
  }
  if (first == nullptr) return std::nullopt;
  Batch batch;
  batch.root = first->root;
  batch.size = first->size;
  batch.resent = true;
  std::vector<std::pair<std::uint32_t, Key>> order;
  for (const auto& [key, e] : entries_) {
    if (e.sent && e.sent->root == batch.root) order.emplace_back(e.sent->index, key);
  }
  std::sort(order.begin(), order.end());
  std::vector<Hash32> leaves;
  for (const auto& [index, key] : order) {
    const Entry& e = entries_.at(key);
    batch.members.emplace_back(key, e.commitment);
    batch.placements.push_back(*e.sent);
    leaves.push_back(e.commitment);
  }
  // Complete when every leaf is here, in its place, and they still make the root.
  auto root = chain::batch_root(leaves);
  batch.complete = order.size() == batch.size && root.ok() && *root == batch.root;
  for (std::size_t i = 0; batch.complete && i < order.size(); ++i) batch.complete = order[i].first == i;
  return batch;
}

AnchorBatcher::Batch AnchorBatcher::build(std::vector<Key> keys) {
  Batch batch;
  std::vector<Hash32> leaves;
  for (const auto& key : keys) leaves.push_back(entries_.at(key).commitment);
  batch.root = *chain::batch_root(leaves);  // keys is not empty: take_due checked
  batch.size = static_cast<std::uint32_t>(leaves.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    batch.members.emplace_back(keys[i], leaves[i]);
    batch.placements.push_back(
        Placement{batch.root, static_cast<std::uint32_t>(i), batch.size, *chain::batch_proof(leaves, i)});
  }
  return batch;
}

void AnchorBatcher::finish(const Batch& batch, Outcome outcome, std::int64_t now_ms) {
  in_flight_ = false;
  for (std::size_t i = 0; i < batch.members.size(); ++i) {
    auto it = entries_.find(batch.members[i].first);
    if (it == entries_.end()) continue;
    switch (outcome) {
      case Outcome::kAnchored: entries_.erase(it); break;
      case Outcome::kUnconfirmed: it->second.sent = batch.placements[i]; break;
      case Outcome::kNotAnchored:
      case Outcome::kFailed: it->second.sent.reset(); break;
    }
  }
  if (outcome == Outcome::kUnconfirmed || outcome == Outcome::kFailed) not_before_ms_ = now_ms + options_.retry.count();
}

std::optional<std::int64_t> AnchorBatcher::next_due_ms(std::int64_t now_ms) const {
  if (in_flight_ || entries_.empty()) return std::nullopt;
  std::size_t fresh = 0;
  std::optional<std::int64_t> oldest;
  bool resend = false;
  for (const auto& [key, e] : entries_) {
    if (e.sent) {
      resend = true;
      continue;
    }
    ++fresh;
    if (!oldest || e.added_ms < *oldest) oldest = e.added_ms;
  }
  std::int64_t due = resend || fresh >= options_.batch_size ? now_ms : *oldest + options_.max_age.count();
  return std::max({due, not_before_ms_, now_ms});
}

// ---- the job record's side ---------------------------------------------------------------------

std::optional<chain::VeilRegistry::Commitment> round_commitment(const JobState& job, std::uint32_t round) {
  const RoundRecord* rr = nullptr;
  for (const auto& r : job.rounds) {
    if (r.round == round) rr = &r;
  }
  if (rr == nullptr || rr->agreed.empty()) return std::nullopt;
  auto decision = parse_hash_hex(rr->agreed);
  if (!decision.ok()) return std::nullopt;
  chain::VeilRegistry::Commitment commitment;
  commitment.job_id = job.id;
  commitment.round = round;
  commitment.decision_hash = *decision;
  commitment.inputs_root = inputs_root_of(rr->decision_format, rr->nodes);
  for (const auto& s : rr->schedulers) {
    auto it = rr->announced.find(s);
    if (it != rr->announced.end() && it->second == rr->agreed) commitment.schedulers.push_back(chain::peer_id_hash(s));
  }
  return commitment;
}

void set_placement(AnchorInfo& anchor, const AnchorBatcher::Placement& placement) {
  anchor.batch_root = to_hex_prefixed(placement.root);
  anchor.batch_index = placement.index;
  anchor.batch_size = placement.size;
  anchor.proof.clear();
  for (const auto& h : placement.proof) anchor.proof.push_back(to_hex_prefixed(h));
}

std::optional<AnchorBatcher::Placement> placement_of(const AnchorInfo& anchor) {
  if (anchor.batch_root.empty()) return std::nullopt;
  AnchorBatcher::Placement p;
  auto root = parse_hash_hex(anchor.batch_root);
  if (!root.ok()) return std::nullopt;
  p.root = *root;
  p.index = anchor.batch_index;
  p.size = anchor.batch_size;
  for (const auto& text : anchor.proof) {
    auto h = parse_hash_hex(text);
    if (!h.ok()) return std::nullopt;
    p.proof.push_back(*h);
  }
  return p;
}

}  // namespace veil::node
