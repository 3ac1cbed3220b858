// A coordinated job's state and the one set of rules by which it changes.
//
// A job, each of its replica slots and each of its deployment anchors is in one phase (an
// enum; text only at the JSON and wire boundaries). Every change of phase goes through
// move(), which refuses the moves the lifecycle does not have — above all, nothing leaves
// kStopped: a job the operator stopped stays stopped whatever late decisions, shares or
// reports arrive, and the coordinator's answers undo anything such a message started.
//
// The coordinator's decisions about a job (apply a decrypted placement, an executor's
// report, a node's death, a stop) are pure functions of the JobState below, so they can be
// driven by tests without a network (tests/node/job_lifecycle_test.cc interleaves them at
// random). The daemon's coordinator role performs the I/O they ask for.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/node/protocol.h"
#include "veil/sched/job_spec.h"

namespace veil::node {

enum class JobPhase : std::uint8_t {
  kPending,     // waiting for a round: no node has telemetry yet, or no replica fits now
  kScheduling,  // a round is out: schedulers evaluate, the coordinator waits for a quorum
  kDecrypting,  // a quorum agreed; the committee is asked for decryption shares
  kPlacing,     // the decision is decrypted; replicas are assigned to their nodes
  kRunning,     // every placed replica reported running
  kFailed,      // the last round could not be decrypted (a node death or retry starts another),
                // or every replica has finished and one of them is dead: for good
  kStopped,     // stopped by the operator: terminal
  kSucceeded,   // a batch job whose every replica exited 0: terminal but for a stop
};

enum class ReplicaPhase : std::uint8_t {
  kPending,   // not placed yet
  kAssigned,  // placed; the assignment is on its way to the node
  kStarting,  // the node accepted it; its container is not running yet
  kRunning,
  kExited,    // its container exited; the node restarts it under the job's restart policy
  kFailed,    // the node refused the assignment, or gave the replica up (restarts used up):
              // a new round places it, avoiding that node, while reschedules are left
  kLost,      // its node died or left; a new round replaces it
  kStopped,   // the job was stopped: terminal
  kDrained,   // its node drained it on the way out (becomes kLost at once)
  kNoFit,     // no node fits it now; retried every 10 s
  kSucceeded, // a batch replica exited 0: terminal but for a stop
  kUnhealthy, // running, but its health check failed `failures` times in a row
  kDead,      // failed for good (its reschedules are used up): terminal but for a stop
};

enum class AnchorPhase : std::uint8_t {
  kPending,   // recorded, not sent yet (a restart resends it)
  kSending,   // the transaction is being sent
  kAnchored,  // the chain holds the commitment
  kFailed,
};

// Wire and JSON names ("scheduling", "no-fit", ...), and back. Parsing fails with
// invalid_argument naming the unknown text.
std::string_view phase_name(JobPhase phase);
std::string_view phase_name(ReplicaPhase phase);
std::string_view phase_name(AnchorPhase phase);
Result<JobPhase> parse_job_phase(std::string_view text);
Result<ReplicaPhase> parse_replica_phase(std::string_view text);
Result<AnchorPhase> parse_anchor_phase(std::string_view text);

// The lifecycle's edges. A move to the phase one is already in is allowed unless noted.
bool job_move_allowed(JobPhase from, JobPhase to);
bool replica_move_allowed(ReplicaPhase from, ReplicaPhase to);
bool anchor_move_allowed(AnchorPhase from, AnchorPhase to);

struct ReplicaSlot {
  std::string node;  // PeerId text; empty when not placed
  ReplicaPhase phase = ReplicaPhase::kPending;
  std::string endpoint;
  std::string detail;
  std::uint32_t round = 0;  // the round that placed it
  std::optional<int> exit_code;              // its last exit, when its node reported one
  std::vector<std::string> failed_nodes;     // nodes that gave it up; reschedules avoid them
  std::vector<std::uint64_t> reschedules_ms;  // when it was rescheduled (the policy's window)
  // The image pull its node reports while the replica starts, and when the first such report
  // came; reset by the node's first report without one (note_pull).
  std::optional<ImagePull> pull;
  std::uint64_t pull_started_ms = 0;
  // at_ms of the newest report of round last_report_round applied (not kept): older ones say
  // nothing of the pull.
  std::uint64_t last_report_ms = 0;
  std::uint32_t last_report_round = 0;
};

struct RoundRecord {
  std::uint32_t round = 0;
  std::vector<std::uint32_t> slots;  // job replica index of each replica placed this round
  std::vector<std::string> schedulers;
  std::vector<TelemetryRef> nodes;
  std::map<std::string, std::string> announced;  // scheduler -> decision hash hex or "error: ..."
  std::string agreed;                             // decision hash hex once a quorum agreed
  std::vector<std::string> liars;                 // schedulers that disagreed with the quorum
  std::string outcome;                            // "", "placed", "no-quorum", "round-reused",
                                                  // "decrypt-failed", "timeout", "scheduler …", "coordinator …"
  std::uint64_t started_ms = 0;
  // The eligible nodes `nodes` were sampled from (docs/sched.md, "Candidate sampling"); equal
  // to nodes.size() for a full scan.
  std::uint32_t eligible = 0;
  // The round's sched::kDecisionFormat, which its inputs root binds (protocol.h).
  std::uint32_t decision_format = 1;
};

struct AnchorInfo {
  std::uint32_t round = 0;
  AnchorPhase phase = AnchorPhase::kPending;
  std::string commitment, tx, error;
  std::uint64_t block = 0;
  // Batched anchoring (docs/chain.md, "Batched anchoring"): the Merkle root the commitment was
  // sent under, its leaf index, the batch's leaf count and the inclusion proof (sibling hashes,
  // 0x hex, from the leaf up). Empty root: anchored alone (anchorCommitment), or not yet in a
  // batch. A pending anchor with a root was sent under it and waits for the chain to confirm.
  std::string batch_root;
  std::uint32_t batch_index = 0, batch_size = 0;
  std::vector<std::string> proof;
};

// A change of coordinator (docs/node.md, "Fail-over"): who took the job over, in which term,
// from whom, and why. Kept in the replicated record so that every holder's status says it.
struct Handover {
  std::uint64_t term = 0;
  std::string coordinator;  // the new one
  std::string from;         // the one it replaced
  std::uint64_t at_ms = 0;
  std::string why;
};

// One version of a job's name (docs/jobspec.md, "Versions"): which spec (the job id is its
// hash), when it was submitted, and why ("submitted", "revert to version 2").
struct JobVersion {
  std::uint32_t version = 0;
  Hash32 id{};
  std::uint64_t submitted_ms = 0;
  std::string cause;
};

// A rolling update in progress (docs/jobspec.md, "Rolling updates"): this version replaces the
// running version `from` a few replicas at a time, as its spec's update block says.
struct Rollout {
  Hash32 from{};
  std::uint32_t admitted = 0;  // this version's first `admitted` slots may be placed
  std::uint32_t replaced = 0;  // the old version's replicas stopped so far
  std::map<std::uint32_t, std::uint64_t> healthy_since_ms;  // admitted slot -> running since
  std::uint64_t step_started_ms = 0;                         // when the last slots were admitted
  bool failed = false;  // missed its healthy deadline without auto_revert: no further step
};

struct JobState {
  Hash32 id{};
  // Who coordinates the job, in which term (0: the node it was submitted to; each take-over
  // raises it), the change count within the term, and the nodes that hold copies of this
  // record (the coordinator first, then its successors in order): job_replication.h.
  // The operator (checksummed address) of the node the job was submitted to: only nodes of
  // this operator may read its replicas' logs (docs/node.md, "Logs").
  std::string owner;
  // The job's secrets sealed to its coordinator's identity (name -> sealed box): what the
  // coordinator seals again to each node it places a replica on. Never in clear (docs/jobspec.md).
  std::map<std::string, Bytes> sealed_secrets;
  std::string coordinator;
  std::uint64_t term = 0;
  std::uint64_t version = 0;
  std::vector<std::string> holders;
  std::vector<Handover> handovers;
  std::string spec_yaml;
  sched::JobSpec spec;
  JobPhase phase = JobPhase::kPending;
  std::uint64_t submitted_ms = 0;
  std::uint32_t round = 0;
  std::vector<ReplicaSlot> replicas;
  std::vector<RoundRecord> rounds;
  std::vector<AnchorInfo> anchors;
  std::vector<std::string> warnings;
  // Which version of its name this job is (1, 2, …), and every version of the name up to this
  // one, oldest first: a changed spec submitted under a running job's name is the next version
  // and replaces it. (`version` above counts changes of this record, for replication.)
  std::uint32_t job_version = 1;
  std::vector<JobVersion> history;
  std::optional<Rollout> rollout;
};

// The versions of `job`'s name up to it, oldest first: its history, or for a record written
// before versions, the job itself as the first one.
std::vector<JobVersion> versions_of(const JobState& job);

// The persisted form (a kJobDoc document). job_from_json fails with data_loss on a document
// that is malformed or names an unknown phase.
nlohmann::json to_json(const JobState& job);
nlohmann::json to_json(const AnchorInfo& anchor);  // as stored, and as the API shows it
Result<JobState> job_from_json(const nlohmann::json& j);

// Moves `job` (or `slot`, `anchor`) to `to` when the lifecycle allows it and returns true;
// otherwise leaves it as it is and returns false.
[[nodiscard]] bool move(JobState& job, JobPhase to);
[[nodiscard]] bool move(ReplicaSlot& slot, ReplicaPhase to);
[[nodiscard]] bool move(AnchorInfo& anchor, AnchorPhase to);

// True when the slot holds a node that runs (or is about to run) the replica.
bool replica_active(const ReplicaSlot& slot);
// The nodes that hold an active replica of `job`: a new round for its other replicas avoids them.
std::set<std::string> active_replica_nodes(const JobState& job);
// The slots a new round should place: never placed, lost, refused, or fitting nowhere before —
// during a rolling update, only among the slots admitted so far.
std::vector<std::uint32_t> slots_needing_placement(const JobState& job);

// ---- the coordinator's decisions --------------------------------------------------------------

struct PlacedReplica {
  std::uint32_t slot = 0;
  std::uint32_t choice = 0;  // which of the round's replica choices (decision values 2c, 2c+1)
  std::string node;
};

// Applies the decrypted decision of the job's current round `round`: `plaintexts` holds
// (index into the round's nodes, found flag) per replica choice. Returns the replicas to
// assign; slots that fit nowhere become kNoFit. Returns nothing and changes nothing when the
// job is stopped or `round` is not its current round (a late decision).
std::vector<PlacedReplica> apply_decision(JobState& job, std::uint32_t round, const std::vector<std::uint64_t>& plaintexts);

// A node refused (or could not be reached with) the assignment of `slot` made in `round`.
// Only that assignment is marked kFailed; a later one, or a stopped job, is left alone.
void apply_refusal(JobState& job, std::uint32_t slot, std::uint32_t round, const std::string& error);

// The nodes a new round for `job` should leave out: those holding an active replica, and those
// where a replica now needing placement failed (the caller drops the latter when no other
// live node is left: "never back onto the node where it failed unless no other fits").
std::set<std::string> reschedule_exclusions(const JobState& job);

struct ReportOutcome {
  // Non-empty: the report is refused with this text, and the node removes its copy of the
  // replica (the job was stopped, or the replica was moved elsewhere or lost meanwhile).
  std::string refusal;
  bool changed = false;     // phase or endpoint changed (worth an event)
  bool drained = false;     // the node gave the replica up: reschedule it elsewhere
  bool now_running = false; // the job just became kRunning
  bool reschedule = false;  // the node gave the replica up and a reschedule is left: new round
  bool finished = false;    // every replica has finished: the job just became kSucceeded or kFailed
};
// An executor `peer` reports `phase` for replica `slot`, with the container's `exit_code` when
// it exited. A kFailed report (the node used up its restarts) is rescheduled while the job's
// reschedule policy allows at `now_ms`, and is otherwise kDead.
ReportOutcome apply_report(JobState& job, const std::string& peer, std::uint32_t slot, ReplicaPhase phase,
                           const std::string& endpoint, const std::string& detail,
                           std::optional<int> exit_code = std::nullopt, std::uint64_t now_ms = 0);

// A report's image pull (`pull`, or its absence) on `slot`, made by its node at `report_ms` and
// received at `now_ms`: what the job's events should say — "pulling image I" when a pull starts,
// "image I pulled (…) in T" or "pull of image I ended at …" when the node's next report carries
// none — or an empty string. A report older than the newest one applied changes nothing (the
// node sends progress and state reports on separate streams).
std::string note_pull(ReplicaSlot& slot, const std::optional<ImagePull>& pull, std::uint64_t report_ms, std::uint64_t now_ms);

// Marks every active replica on `peer` kLost and returns their slots (none for a stopped job).
std::vector<std::uint32_t> mark_lost(JobState& job, const std::string& peer);

struct StopOrder {
  std::uint32_t slot = 0;
  std::string node;
};
// Stops the job: it and every slot become kStopped. Returns the nodes to tell, one per slot
// that may hold a container (assignments in flight included).
std::vector<StopOrder> apply_stop(JobState& job);

// ---- naming a job --------------------------------------------------------------------------------

// How `wanted` (a CLI or API argument) names the job `id` called `name`: exactly (its name or
// its full id in hex), by a prefix of its id of at least 6 hex digits, or not at all. Where
// several jobs answer, an exact match wins over a prefix, and among the versions of a name the
// running one, or else the newest, answers.
enum class JobMatch : std::uint8_t { kNone, kPrefix, kExact };
JobMatch match_job(std::string_view wanted, const Hash32& id, std::string_view name);
// The element of `range` that `wanted` names (match_job: the job of that full id, else the best
// version of that name, else the first prefix match), or nullptr; `job_of(element)` is the
// element's JobState.
template <typename Range, typename JobOf>
auto best_match(Range& range, std::string_view wanted, JobOf job_of) -> decltype(&*std::begin(range)) {
  decltype(&*std::begin(range)) prefix = nullptr, named = nullptr;
  // Among the versions of a name: the one not stopped, then the newest.
  auto rank = [](const JobState& job) { return std::pair(job.phase != JobPhase::kStopped, job.job_version); };
  for (auto& element : range) {
    const JobState& job = job_of(element);
    const JobMatch how = match_job(wanted, job.id, job.spec.name);
    if (how == JobMatch::kExact && wanted != job.spec.name) return &element;  // its full id
    if (how == JobMatch::kExact && (named == nullptr || rank(job) > rank(job_of(*named)))) named = &element;
    if (prefix == nullptr && how == JobMatch::kPrefix) prefix = &element;
  }
  return named != nullptr ? named : prefix;
}

// ---- the executor's fence ---------------------------------------------------------------------

// Remembers, per (job, replica, coordinator), the round at which that coordinator stopped
// the replica, so that an assignment of that round or an earlier one — still being verified
// when the stop came, or delivered after it — is refused instead of starting a container.
// Keyed by the coordinator too: a peer's stop only fences the assignments that peer sends.
class StopFence {
 public:
  void record_stop(const Hash32& job, std::uint32_t replica, const std::string& coordinator, std::uint32_t round);
  bool admits(const Hash32& job, std::uint32_t replica, const std::string& coordinator, std::uint32_t round) const;

 private:
  std::map<std::tuple<Hash32, std::uint32_t, std::string>, std::uint32_t> stopped_at_;
};

}  // namespace veil::node
