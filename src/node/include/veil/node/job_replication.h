// Replicated job state and coordinator fail-over (docs/node.md, "Fail-over").
//
// A job's record (JobState: spec, rounds, placements, anchors, phase) is held by its
// coordinator and by successors chosen by rendezvous hashing over the job id among the live
// members: `holders` in all (default 3), the coordinator first. The coordinator pushes the
// whole record to the other holders on every change (JobStateRequest "push" on
// /veil/jobstate/1.0.0); each holder stores it in its SQLite and answers.
//
// Fencing. Every record carries an epoch: the coordinator's term and PeerId. A holder keeps
// the record of the highest epoch it has seen and refuses a push of a lower one, answering
// with the record it holds — so a coordinator that was declared dead and comes back learns at
// its first push that it was superseded, and steps down. A take-over raises the term to the next
// generation of terms, so one from a stale copy loses against one from a newer copy; the rounds of
// term t are numbered from t * kRoundsPerTerm, so two coordinators never run a round of the same
// number. A coordinator sends the assignments of a round only once a majority of
// the record's holders (itself included) stored the placement: a superseded coordinator cannot
// gather that majority once the successor's push reached the others.
//
// Everything here is pure (no sockets, no clock): the daemon performs the I/O.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/node/job_state.h"
#include "veil/node/protocol.h"

namespace veil::node {

inline constexpr std::string_view kJobStateProtocol = "/veil/jobstate/1.0.0";
inline constexpr std::size_t kDefaultJobHolders = 3;
inline constexpr std::size_t kMaxJobHolders = 15;  // jobs.holders: the coordinator and 14 successors
// Terms come in generations of kTermsPerGeneration: a take-over from a copy of term t takes term
// (t / kTermsPerGeneration + 1) * kTermsPerGeneration + its place among the successors. Every
// take-over along a job's history moves to a higher generation, so a node that takes the job
// over from a stale copy (it was away while the job changed hands) takes a lower term than the
// job's real coordinator, whatever its place; concurrent successors of one copy take different
// terms. (Old term plus place alone let a stale copy's last successor tie or beat the real
// coordinator; node.chaos saw the tie.) Above the most successors (kMaxJobHolders - 1).
inline constexpr std::uint64_t kTermsPerGeneration = 16;
// Round numbers of term t start at t * kRoundsPerTerm: 65,536 rounds a term (45 days of retries
// at the 60 s maximum before a term's rounds run into the next term's numbers, which the
// coordinator skips if it saw them used) and 4,095 take-overs of a job at most.
inline constexpr std::uint32_t kRoundsPerTerm = 1u << 16;
static_assert(kTermsPerGeneration > kMaxJobHolders - 1, "every successor needs a term of its own in a generation");
inline constexpr std::uint64_t kMaxTerm = (0xFFFFFFFFu / kRoundsPerTerm) - 1;

// Who may change a job: the higher term wins; in one term (two successors that each took
// over at once) the larger PeerId.
struct Epoch {
  std::uint64_t term = 0;
  std::string coordinator;
  friend auto operator<=>(const Epoch&, const Epoch&) = default;
};
Epoch epoch_of(const JobState& job);

// ---- who holds a job --------------------------------------------------------------------------

// `members` in rendezvous order for `job`: by SHA-256("veil-holder-v1" | job | peer),
// largest first. Every node computes the same order from the same members.
std::vector<std::string> holder_order(const Hash32& job, std::vector<std::string> members);

// The holders of a job coordinated by `coordinator`: it first, then the first `count - 1` of
// the other `live` members in holder_order. Fewer when fewer members are live.
std::vector<std::string> choose_holders(const Hash32& job, const std::string& coordinator,
                                        const std::vector<std::string>& live, std::size_t count);

// The holders after members came or went: the coordinator, then the record's holders that are
// still live, in their order (a member that returns does not displace them: fewer copies move,
// fewer members learn the placement, and the successor order stays put), then live members in
// rendezvous order, then, up to `count`, the earlier holders that are not live. The majority a
// coordinator needs therefore never shrinks because holders died: a coordinator cut off on its
// own must not become a majority of one.
std::vector<std::string> refresh_holders(const JobState& job, const std::vector<std::string>& live, std::size_t count);

// The holder that takes the job over when its coordinator is not live: the first holder after
// the coordinator for which `is_live` is true; nothing when none is (or the job is stopped).
std::optional<std::string> successor(const JobState& job, const std::function<bool(const std::string&)>& is_live);

// How many holders (the coordinator included) must have stored a record before the
// coordinator acts on it: a strict majority.
std::size_t holder_quorum(std::size_t holders);

// ---- a holder's rule --------------------------------------------------------------------------

enum class PushVerdict : std::uint8_t {
  kStore,       // newer than what is held: store it
  kKeep,        // same epoch, not newer (a reordered push): nothing to do, but it is not refused
  kSuperseded,  // a lower epoch than the one held: refused, the sender must step down
  kRefused,     // a different coordinator claims the job while the held one is live here
};
// What a holder does with `incoming`, pushed by its coordinator, given the record it holds
// (nullptr: none) and whether the held record's coordinator is live as this node sees it.
// A new coordinator (higher epoch) is accepted only when the one it replaces is not live
// here, so that a member cannot take a job over from a coordinator others still reach.
PushVerdict judge_push(const JobState* held, const JobState& incoming, bool held_coordinator_live);

// ---- take-over --------------------------------------------------------------------------------

struct TakeOver {
  std::vector<std::uint32_t> lost;       // slots whose node is not live: to reschedule
  std::vector<std::string> old_holders;  // tell them too: the superseded coordinator learns sooner
};
// `self` takes `job` over from its coordinator (not live, for `why`): a new term (the next
// generation's, plus self's place among the successors, so concurrent successors differ), rounds
// numbered from term * kRoundsPerTerm, holders refreshed among `live` (refresh_holders), a Handover entry, and every
// replica on a node that is not live marked lost. The round in flight is abandoned (its
// outcome says why) and the job waits for a new one. Fails with failed_precondition when the
// job is stopped, self is not one of its holders (or beyond the 15th successor), or the term
// would exceed kMaxTerm.
Result<TakeOver> take_over(JobState& job, const std::string& self, const std::vector<std::string>& live,
                           std::size_t holders, std::uint64_t now_ms, const std::string& why);

// ---- wire messages (CBOR, like protocol.h; fuzzed by tests/node/jobstate_fuzz.cc) -------------

enum class JobStateKind : std::uint8_t {
  kPush,      // coordinator -> holder: store `record` (a JobState as JSON text)
  kGet,       // anyone -> holder: the record of `job_id`
  kList,      // anyone -> holder: every record it holds
  kHandover,  // new coordinator -> a node running a replica: report to me from now on
};
std::string_view kind_name(JobStateKind kind);

struct JobStateRequest {
  JobStateKind kind = JobStateKind::kPush;
  Hash32 job_id{};
  std::string record;  // kPush: to_json(JobState).dump(); empty otherwise
};

struct JobStateReply {
  std::string error;                 // non-empty: refused or failed, with the reason
  bool superseded = false;           // a push of a lower epoch: `records` holds the newer one
  std::vector<std::string> records;  // JSON texts of JobState
};

Bytes encode(const JobStateRequest& m);
Bytes encode(const JobStateReply& m);
Result<JobStateRequest> decode_job_state_request(ByteView bytes);
Result<JobStateReply> decode_job_state_reply(ByteView bytes);

// A record received on the wire: parsed and checked (the spec hashes to the id it names).
Result<JobState> parse_record(std::string_view text);

// The record of `job` in a holder's answer to a kGet (or why there is none: the request failed,
// the holder refused or holds no copy, or the copy is malformed or of another job).
Result<JobState> record_in_get_reply(const Result<Bytes>& reply, const Hash32& job);

}  // namespace veil::node
