// The scheduler role (private to veil_node): evaluate the placement circuit on ciphertexts for
// the rounds whose schedulers include this node, announce the decision's hash on gossip and
// hand the record to the round's coordinator; remember every round and announcement seen, for
// the check that committee members and executors apply before acting on a decision: that a
// quorum of the round's schedulers announced it (docs/node.md, "Scheduling rounds").
//
// It owns the rounds seen, the announcements and the set of rounds it evaluated, and reaches
// the rest of the node through a NodeContext, the telemetry it is given a finder for, and two
// hooks into this node's coordinator role.
//
// Threading: every public method is called on the io thread. Evaluation runs on the FHE
// worker (NodeContext::post_fhe) and its result comes back to the io thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node_context.h"
#include "veil/chain/evidence.h"
#include "veil/chain/veil_registry.h"
#include "veil/node/job_state.h"
#include "veil/common/status.h"
#include "veil/node/protocol.h"
#include "veil/sched/telemetry_record.h"

namespace veil::node {

class SchedulerRole {
 public:
  // The record of `peer` whose hash is `hash`, if this node keeps it (the telemetry role).
  using FindTelemetry =
      std::function<std::shared_ptr<const sched::EncryptedTelemetry>(const std::string& peer, const Hash32& hash)>;

  // What the role tells this node's coordinator role.
  struct CoordinatorHooks {
    // An announcement for round `round` of `job` arrived or was made here: a coordinator of the
    // job counts the votes again.
    std::function<void(const Hash32& job)> on_announcement;
    // This node evaluated a round it coordinates itself: the record, with its hash, goes to the
    // coordinator role directly instead of over a stream.
    std::function<void(const ScheduleRequest& round, const Hash32& hash, sched::DecisionRecord record)> on_own_decision;
  };

  struct Options {
    std::string decisions_topic;  // where announcements are published
    // Test switches (docs/operations.md): a dishonest scheduler, one that announces the honest
    // decision and then a tampered one (an equivocation, provable on chain), a slow one.
    bool tamper_decisions = false;
    bool equivocate_decisions = false;
    std::chrono::milliseconds evaluation_delay{0};
    // How long a round waits for the telemetry records it names to arrive by gossip, and how
    // long a check waits for the round and its announcements, before giving up.
    std::chrono::milliseconds telemetry_wait{10'000};
    std::chrono::milliseconds agreement_wait{10'000};
    // The public attributes signed into the record of `peer` whose hash is `hash`. When set,
    // a round with an input node its spec's constraints or volumes exclude is refused (the
    // coordinator's public filter, checked). Unset in tests without attributes.
    std::function<std::optional<sched::NodeAttributes>(const std::string& peer, const Hash32& hash)> find_attributes;
  };

  // `node` must outlive this.
  SchedulerRole(NodeContext& node, Options options, FindTelemetry find_telemetry, CoordinatorHooks coordinator);
  ~SchedulerRole();
  SchedulerRole(const SchedulerRole&) = delete;
  SchedulerRole& operator=(const SchedulerRole&) = delete;

  // A round from the jobs topic, published by `from` (or this node's own, with from = self).
  // Kept when it decodes and names its sender as coordinator; evaluated once when this node is
  // one of its schedulers.
  void on_round(const std::string& from, ByteView data);
  // An announcement from the decisions topic, published by `from`; kept when it names its
  // sender as the scheduler and, on a node with a chain view, is signed by the operator the
  // registry binds that scheduler to. A second signed announcement of the same scheduler for
  // the round with another decision is an equivocation: the scheduler's vote no longer counts
  // (it is kept as an error starting with kEquivocated) and the evidence goes to
  // NodeContext::report_equivocation.
  void on_announcement(const std::string& from, ByteView data);

  // The hash hex of `record` when it is the decision a quorum of the schedulers of `request`
  // announced and the round itself is sound (its spec, candidates, schedulers, policy).
  Result<std::string> check_agreed_decision(const ScheduleRequest& request, const sched::DecisionRecord& record) const;
  // Ok when the round's inputs are the rendezvous sample of its pool (a sampled round) and
  // every input node passes `spec`'s constraints and volumes on the attributes signed into
  // the record the round names for it (eligibility.h).
  Status check_public_filter(const ScheduleRequest& request, const sched::JobSpec& spec) const;
  // Calls `then` once check_agreed_decision passes for round `round` of `job` coordinated by
  // `coordinator` — waiting up to agreement_wait for gossip — or with the error (and no round)
  // when it fails for good.
  void when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                            sched::DecisionRecord record, NodeContext::AgreedCallback then);

  // The announcements seen for a round, by scheduler.
  const std::map<std::string, DecisionAnnouncement>& announced(const Hash32& job, std::uint32_t round) const;
  // Whether this node saw a request or an announcement for the round (among those remembered).
  bool round_seen(const Hash32& job, std::uint32_t round) const;
  // The schedulers that announced, for this round's number, a decision computed from other
  // inputs than the round this node saw (another coordinator's round of the same number).
  std::set<std::string> announced_elsewhere(const Hash32& job, std::uint32_t round) const;

  // How many rounds are remembered (the oldest by creation time are forgotten first), and as
  // many rounds known only from announcements (their request never reached this node: the
  // oldest such round is forgotten first).
  static constexpr std::size_t kRoundsRemembered = 512;
  // The error an equivocating scheduler's announcement is kept with.
  static constexpr std::string_view kEquivocated = "equivocated";

 private:
  using RoundKey = std::pair<Hash32, std::uint32_t>;
  static constexpr std::chrono::milliseconds kPoll{250};

  void evaluate(const ScheduleRequest& request, std::chrono::steady_clock::time_point give_up);
  // Signs and publishes the announcement; `remember` false publishes without keeping it here
  // (the equivocating test switch's second announcement).
  void announce(const ScheduleRequest& request, const Hash32& hash, const std::string& error, bool remember = true);
  // Why `a` must not be counted (unsigned, or not signed by its node's operator), or OK; always
  // OK without a chain view.
  Status check_signature(const DecisionAnnouncement& a) const;
  void await_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                    sched::DecisionRecord record, NodeContext::AgreedCallback then,
                    std::chrono::steady_clock::time_point give_up);
  // Notes that announcements_ takes in `arriving`, a round whose request this node has not seen,
  // and forgets the oldest such round's announcements beyond kRoundsRemembered.
  void forget_oldest_unseen_round(const RoundKey& arriving);
  // Runs `then` on the io thread after kPoll, unless the role is gone or the node stopping.
  void later(std::function<void()> then);

  NodeContext& node_;
  Options options_;
  FindTelemetry find_telemetry_;
  CoordinatorHooks coordinator_;
  std::map<RoundKey, ScheduleRequest> rounds_seen_;
  std::map<RoundKey, std::map<std::string, DecisionAnnouncement>> announcements_;
  // Rounds announcements_ took in before their request, oldest first: announcements of rounds
  // whose request never arrives would otherwise stay for the daemon's life.
  std::deque<RoundKey> announced_before_seen_;
  std::set<RoundKey> evaluated_;
  // Schedulers whose announcement for a seen round was computed from other inputs: another
  // coordinator's round of the same number (not counted, and not a lie).
  std::map<RoundKey, std::set<std::string>> announced_elsewhere_;
  // Evaluations on the FHE worker and pending timers hold this; the role's destruction expires it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// What an announcement's signature covers: (job, round, decision hash, peer_id_hash(scheduler),
// inputs root).
chain::Announcement announcement_content(const DecisionAnnouncement& a);
// The evidence that `first` and `second` make when they are announcements of one scheduler for
// one job and round, both signed and without error, naming different decisions; nullopt
// otherwise. Whether the two signatures recover to one signer is Evidence::signer's to check.
std::optional<chain::Evidence> equivocation_evidence(const DecisionAnnouncement& first, const DecisionAnnouncement& second);
// The contradictions of an anchored decision among the announcements of its round, by
// scheduler: each signed announcement without error, over the same inputs, that names another
// non-zero decision. `anchor` says where the commitment is anchored (its batch root and proof,
// or alone). Whether each signature recovers is Contradiction::signer's to check.
std::vector<std::pair<std::string, chain::Contradiction>> contradiction_evidence(
    const chain::VeilRegistry::Commitment& agreed, const AnchorInfo& anchor,
    const std::map<std::string, DecisionAnnouncement>& announced);

}  // namespace veil::node
