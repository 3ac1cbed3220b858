// The coordinator role (private to veil_node): for each job submitted to this node, run
// scheduling rounds, decide which decision a quorum of schedulers agrees on (naming those that
// disagree), gather the committee's shares, assign the replicas, anchor the deployment, and
// reschedule replicas whose node died or drained (coordinator_role.cc). With it, the job-state
// holder: every job's record is pushed to holders chosen by rendezvous hashing; a holder keeps
// the record of the highest epoch; the first live successor takes a job over when SWIM declares
// its coordinator dead; a coordinator that learns of a higher epoch steps down
// (coordinator_replication.cc, job_replication.h, docs/node.md "Fail-over").
//
// It owns the jobs it coordinates, the records it holds for other coordinators, and the work in
// flight of each round; it reaches the rest of the node through a NodeContext and the LocalRoles
// below (the scheduler, committee, executor and telemetry roles of this node, and the chain).
//
// Threading: every public method is called on the io thread. Chain calls run on the blocking
// worker and come back with NodeContext::post.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "anchor_batcher.h"
#include "executor.h"
#include "node_context.h"
#include "telemetry_role.h"
#include "veil/chain/veil_registry.h"
#include "veil/node/job_replication.h"
#include "veil/node/job_state.h"
#include "veil/node/protocol.h"

namespace veil::node {

// Work in flight for the current round of a coordinated job (not persisted: a restarted
// coordinator starts a new round).
struct RoundProgress {
  std::map<std::string, sched::DecisionRecord> records;  // decision hash hex -> full record
  bool decrypting = false;
  bool decided = false;
  std::map<std::string, DecryptResponse> responses;  // member peer -> response
  std::vector<fhe::threshold::EncryptedValue> values;
  std::unique_ptr<boost::asio::steady_timer> deadline;
  // The committee, in the order its members are asked for shares (committee_asking_order), and
  // how many of them have been asked so far.
  std::vector<std::string> asking_order;
  std::size_t asked = 0;
  std::unique_ptr<boost::asio::steady_timer> hedge;  // asks the rest when the first are slow
};

class CoordinatorRole {
 public:
  // What the coordinator asks of this node's other roles and of the chain.
  struct LocalRoles {
    // The scheduler role: this node's own round, handled as if it came by gossip; the
    // announcements seen for a round, by scheduler; and whether a round of that number was seen
    // at all (a request or an announcement: another coordinator of the job used the number).
    std::function<void(const Bytes& round)> evaluate_round;
    std::function<std::map<std::string, DecisionAnnouncement>(const Hash32& job, std::uint32_t round)> announced;
    std::function<bool(const Hash32& job, std::uint32_t round)> round_seen;
    // The schedulers whose announcement for the round's number was computed from other inputs.
    std::function<std::set<std::string>(const Hash32& job, std::uint32_t round)> announced_elsewhere;
    // The committee role: this node's shares for a DecryptRequest (`reply` on any thread).
    std::function<void(Bytes request, NodeContext::Reply reply)> decrypt;
    // The executor role: an Assignment for this node (`reply` on any thread); the replicas of
    // `job` on this node; and who coordinates them from now on.
    std::function<void(Bytes assignment, NodeContext::Reply reply)> assign;
    std::function<std::vector<LocalReplica>(const Hash32& job)> replicas_of;
    std::function<void(const Hash32& job, const std::string& coordinator)> adopt_coordinator;
    // The telemetry role: the newest record kept for `peer`.
    std::function<std::optional<KnownTelemetry>(const std::string& peer)> latest_telemetry;
    // The chain, on the blocking worker only: anchors `commitment` unless it is anchored
    // already, and says where it is (kAnchored with tx and block; kPending while its event is
    // not seen; kFailed with the error).
    std::function<AnchorInfo(const chain::VeilRegistry::Commitment& commitment)> anchor;
    // With batching (Options::anchoring.batch_size > 1), on the blocking worker only: anchors
    // the batch root `root` of `size` commitments unless the chain holds it already (sending
    // only when `may_send`), and says where it is: kAnchored with the anchorBatch's tx and block
    // once getBatch (or the BatchAnchored event) confirms it; kPending while it does not; kFailed
    // with the error.
    std::function<AnchorInfo(const Hash32& root, std::uint32_t size, bool may_send)> anchor_batch;
  };

  struct Options {
    std::string jobs_topic;  // where rounds are published
    std::size_t schedulers = 3;
    // How many eligible nodes a round evaluates (sched.candidates; a job's
    // placement.candidates overrides it). Fewer than the pool: a rendezvous sample.
    sched::CandidateCount candidates;
    std::size_t job_holders = kDefaultJobHolders;
    std::chrono::milliseconds telemetry_interval{10000};  // a record older than 3 of these + 30 s is stale
    // How long a round may wait for its schedulers (a silent one, not a dead one).
    std::chrono::seconds round_timeout{300};
    // A round asks only `threshold` committee members for shares: each member's shares cost it
    // a noise squash of the decision (~1 s of CPU for 2 replicas on 2 cores), which t members
    // suffice for. The next member is asked as soon as one gives no shares (unreachable, a
    // refusal, a wrong share), and every member not yet asked once this delay has passed (a
    // silent member); the delay counts once per two replicas of the round. Zero asks the whole
    // committee at once.
    std::chrono::milliseconds committee_hedge{3000};
    // A round that could not place retries after `first_retry`, doubled with every retry in a
    // row, at most `max_retry`, until a replica of the job runs.
    std::chrono::milliseconds first_retry{5000};
    std::chrono::milliseconds max_retry{60000};
    // How often each coordinated job's record is pushed again to its holders (and orphaned
    // held jobs looked for).
    std::chrono::milliseconds replication_interval{10000};
    // Batched anchoring (config chain.anchor.batch_size, chain.anchor.batch_max_age); a
    // batch_size of 1 anchors each deployment alone with anchorCommitment.
    AnchorBatcher::Options anchoring;
  };

  // `node` must outlive this.
  CoordinatorRole(NodeContext& node, Options options, LocalRoles roles);
  ~CoordinatorRole();
  CoordinatorRole(const CoordinatorRole&) = delete;
  CoordinatorRole& operator=(const CoordinatorRole&) = delete;

  // Reads the jobs and held records the state database keeps (before start()).
  Status restore();
  // Starts the periodic replication, and 3 s later a new round for every restored job that was
  // mid-round, and the anchors still pending.
  void start();

  // ---- the operator (API) ----
  // `secrets` (name -> value) must name exactly the spec's secrets; they are kept only sealed to
  // this node and sent only sealed to the nodes replicas are placed on.
  // A spec whose name is that of a running job with another spec is that job's next version:
  // the running version is stopped and the new one placed (docs/jobspec.md, "Versions").
  Result<JobState*> submit_job(const std::string& spec_yaml, const std::map<std::string, std::string>& secrets = {});
  // Submits again the spec of `job`'s version `version` (one of its history), as the next version.
  Result<JobState*> revert_job(const JobState& job, std::uint32_t version);
  Status stop_job(JobState& job, const std::string& why = "stopped by the operator");
  // A job this node coordinates (or, with `held`, one it holds for another coordinator), by
  // name, id or id prefix (match_job: an exact match wins).
  JobState* find_job(const std::string& id_or_name, bool held = false);
  const std::map<Hash32, JobState>& jobs() const { return jobs_; }
  const std::map<Hash32, JobState>& held() const { return held_; }
  bool coordinates(const Hash32& id) const { return jobs_.count(id) > 0; }

  // ---- peers (the protocols it serves) ----
  void handle_decision_submission(const std::string& peer, Bytes message, NodeContext::Reply reply);
  void handle_report(const std::string& peer, Bytes message, NodeContext::Reply reply);
  void handle_job_state(const std::string& peer, Bytes message, NodeContext::Reply reply);

  // ---- the other roles and membership ----
  // An announcement for a round of `job` arrived: count the votes again.
  void on_announcement(const Hash32& job);
  // This node, a scheduler of its own round, evaluated it: the record, with its hash.
  void on_own_decision(const ScheduleRequest& round, const Hash32& hash, sched::DecisionRecord record);
  // SWIM declared `peer` dead or gone (`why`): reschedule its replicas, restart rounds waiting
  // for it, and take over the jobs it coordinated whose first live successor is this node.
  void on_member_gone(const std::string& peer, const std::string& why);

  void add_job_event(const Hash32& job, const std::string& message);

 private:
  // ---- coordinator_role.cc ----
  // A new round for every replica of `job` that needs a node (slots_needing_placement), on
  // live nodes outside `exclude`; supersedes the round in flight. Nothing for a stopped job.
  void start_round(JobState& job, std::set<std::string> exclude);
  // spread_over: keeps only the `nodes` whose label value (`values`, parallel) no active
  // replica of `job` has, unless that leaves none.
  void prefer_unused_spread_values(const JobState& job, std::vector<TelemetryRef>& nodes,
                                   const std::vector<std::string>& values) const;
  // start_round after `delay`, if round `round` of job `id` is still current (and `when`,
  // given, still holds).
  void start_round_later(const Hash32& id, std::uint32_t round, std::chrono::milliseconds delay,
                         std::function<std::set<std::string>(JobState&)> exclude,
                         std::function<bool(const JobState&)> when = {});
  void consider_round(const Hash32& job_id);
  void request_shares(JobState& job);
  // Asks the next `count` members of the round's asking order not asked yet.
  void ask_committee(const Hash32& job_id, std::uint32_t round, std::size_t count);
  void on_shares(const Hash32& job_id, std::uint32_t round, const std::string& member, Result<Bytes> reply);
  void retry_unplaced(JobState& job);
  // `plaintexts`: the combined value of each decision value (index, found per replica choice).
  void place(JobState& job, const std::vector<std::vector<fhe::threshold::DecryptionShare>>& shares,
             const std::vector<std::uint64_t>& plaintexts);
  // Sends one checked assignment of job `id` to `node` (or to this node's executor).
  void send_assignment(const Hash32& id, const std::string& node, const Assignment& assignment);
  void maybe_anchor(JobState& job);
  // Sends every pending anchor: alone (batch_size 1), or into the batcher's pool.
  void resume_anchors();
  // ---- batched anchoring (Options::anchoring.batch_size > 1) ----
  void pool_anchors();
  // Sends the batch that is due, if any (its placements saved in the job records first), and
  // arms the timer for the next one.
  void send_due_batch();
  void on_batch_result(const AnchorBatcher::Batch& batch, const AnchorInfo& result);
  // Once `anchor` is on chain: every scheduler whose signed announcement for the round
  // contradicts the anchored decision over the same inputs is reported (docs/chain.md, "Slashing").
  void prove_contradictions(const JobState& job, const AnchorInfo& anchor);
  void arm_anchor_timer();
  void reschedule_lost(const std::string& peer, const std::string& why);
  // The version step of submit_job and revert_job: `sealed` is already sealed to this node.
  // With an update block and a running version, the new version rolls over it.
  Result<JobState*> submit_spec(sched::JobSpec spec, std::map<std::string, Bytes> sealed, const std::string& cause);
  // Tells `order.node` to stop its replica `order.slot` of `job` (this node's executor directly).
  void send_stop(const JobState& job, const StopOrder& order);
  // Stores the job (a new version) and pushes it to its holders; `replicated` as in replicate().
  // `also`: nodes pushed the record besides its holders (holders just dropped, so that their
  // copy says they no longer hold it).
  void save(JobState& job, std::function<void(bool)> replicated = {}, const std::vector<std::string>& also = {});
  // The wait before job `id`'s next round after one that could not place (Options::first_retry).
  std::chrono::milliseconds next_retry_delay(const Hash32& id);
  // The job, when it is not stopped and `round` is still its current round; else nullptr.
  // Every timer and late message of a round checks this first.
  JobState* job_in_round(const Hash32& id, std::uint32_t round);

  // ---- coordinator_rollout.cc (docs/jobspec.md, "Rolling updates") ----
  // Every second: each rolling update one step further.
  void start_rollout_timer();
  void advance_rollout(JobState& job, std::uint64_t now);
  // Stops the active replica of `job` in its highest slot and tells its node; false when no
  // replica is active.
  bool stop_one_replica(JobState& job);
  // auto_revert, or a revert during or after a failed roll: the replaced version `from` runs
  // again, whole, as the name's next version (`cause` in its history); `failed` stops.
  void roll_back(JobState& failed, JobState& from, const std::string& cause);

  // ---- coordinator_replication.cc ----
  // Pushes the record of `id` (coordinated here) to its holders and to `also`. `done`, when
  // given, gets true once a majority of the record's holders (this node included) stored it,
  // false when that cannot happen (unreachable, refused, superseded: then this node steps down).
  void replicate(const Hash32& id, const std::vector<std::string>& also, std::function<void(bool)> done);
  // Takes over every held job whose coordinator SWIM declared dead or left and whose first
  // live successor is this node, from the newest copy among the live holders.
  void take_over_orphaned_jobs();
  // After the other holders' copies were gathered: takes job `id` over if it is still this
  // node's to take.
  void finish_take_over(const Hash32& id);
  // Whether a take-over whose gather reached no other holder may go on from this node's copy:
  // only once no holder has answered for two replication intervals.
  bool waited_long_enough_for_holders(const Hash32& id);
  // This node learnt that `newer` supersedes the job it coordinated: keep it as a holder, and
  // stop its own replicas of the job that the newer record does not place here.
  void step_down(JobState newer);
  // Every replication_interval: re-push each coordinated job (a holder that was away learns
  // it, a superseded coordinator learns so), replace dead holders, tell replica nodes who
  // coordinates, and take over orphaned jobs.
  void start_replication_timer();
  void tell_replica_nodes(const JobState& job);
  void hold(JobState record);  // stores a record held for another coordinator
  // Asks the coordinator this node's copy names for its record and keeps it when it is newer
  // (a higher epoch: that one stepped down; or a later version): after this node refused a push
  // because that coordinator is alive here, and when it answers a report from its copy.
  void ask_live_coordinator(const Hash32& id, const std::string& coordinator);
  // The answer to a report about a job coordinated elsewhere (nullopt: no copy here): judged
  // against the held copy (a replaced replica is refused, and its node removes it); one the
  // copy keeps names the copy's live coordinator, where the node reports from then on.
  std::optional<AssignmentAck> answer_report_for_held(const Hash32& job, const std::string& peer,
                                                      const ReplicaReport& report);
  // A push's answer says `from` holds a higher epoch of job `id` than this node's (still in
  // `term`): step down to it. True when this node did.
  bool step_down_if_superseded(const Hash32& id, std::uint64_t term, const std::string& from, const JobStateReply& answer);
  // A holder refused this node's push (term `term`) because `holders_copy` names a coordinator
  // alive there: push this node's record to that coordinator when this node's epoch is higher.
  void tell_rival(const Hash32& id, std::uint64_t term, const std::string& holders_copy);
  bool is_live(const std::string& peer) const;

  NodeContext& node_;
  Options options_;
  LocalRoles roles_;
  std::map<Hash32, JobState> jobs_;
  // Records this node holds for jobs other nodes coordinate (kHeldJobDoc), by job id.
  std::map<Hash32, JobState> held_;
  std::set<Hash32> taking_over_;  // gathering the other holders' copies first
  // When a take-over's gather first got no answer from any other live holder (ms, by job): the
  // take-over waits for one until 2 replication intervals have passed since.
  std::map<Hash32, std::int64_t> unanswered_since_ms_;
  std::unique_ptr<boost::asio::steady_timer> replication_timer_;
  std::unique_ptr<boost::asio::steady_timer> rollout_timer_;
  std::map<Hash32, RoundProgress> progress_;
  // Retries in a row since a replica last ran. Not persisted nor replicated: a restarted
  // coordinator, or a successor, starts again from Options::first_retry.
  std::map<Hash32, int> retry_count_;
  // Sampled rounds in a row that found no fit, per job: each doubles the next sample.
  std::map<Hash32, std::uint32_t> widenings_;
  std::map<Hash32, std::uint32_t> restored_rounds_;  // job -> its round when restore() read it
  AnchorBatcher batcher_;
  std::unique_ptr<boost::asio::steady_timer> anchor_timer_;
};

}  // namespace veil::node
