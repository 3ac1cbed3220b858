// The messages nodes exchange to place a job (docs/node.md, "The placement flow").
//
//   coordinator --ScheduleRequest (gossip, <prefix>/jobs)------------------> every node
//   scheduler   --DecisionAnnouncement (gossip, <prefix>/decisions)--------> every node
//   scheduler   --DecisionSubmission (stream /veil/decision/1.0.0)---------> coordinator
//   coordinator --DecryptRequest (stream /veil/decrypt/1.0.0)--------------> committee member
//               <-DecryptResponse (signed threshold decryption shares)----
//   coordinator --Assignment (stream /veil/assign/1.0.0)-------------------> chosen node
//               <-AssignmentAck
//   node        --ReplicaReport (stream /veil/report/1.0.0)----------------> coordinator
//   any node    --LogsRequest (stream /veil/logs/1.0.0)--------------------> a replica's node
//               <-LogsReply (the last lines of its replicas of the job)---
//
// Encoding: CBOR maps (RFC 8949) with a "v" version and a "t" type; byte strings for hashes
// and ciphertexts. Every decoder checks types, sizes and counts before building anything and
// fails with data_loss (not CBOR, truncated) or invalid_argument (well-formed but wrong); the
// decoders are fuzzed (tests/node/protocol_fuzz.cc).
//
// Gossip messages are authenticated by GossipSub's StrictSign signature (the `from` peer);
// stream messages by the Noise session (the remote PeerId). A message that names a peer
// (coordinator, scheduler, node) must name the peer that sent it; receivers check that.
//
// Thread safety: plain values; functions are reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/threshold.h"
#include "veil/sched/decision.h"

namespace veil::node {

using Hash32 = std::array<std::uint8_t, 32>;

inline constexpr std::string_view kDecisionProtocol = "/veil/decision/1.0.0";
inline constexpr std::string_view kDecryptProtocol = "/veil/decrypt/1.0.0";
inline constexpr std::string_view kAssignProtocol = "/veil/assign/1.0.0";
inline constexpr std::string_view kReportProtocol = "/veil/report/1.0.0";
inline constexpr std::string_view kLogsProtocol = "/veil/logs/1.0.0";
// A LogsRequest asks for at most this many lines per replica; a LogsReply carries at most
// kMaxReplicaLogBytes of each replica's output (the end of it).
inline constexpr std::uint32_t kMaxLogLines = 10'000;
inline constexpr std::size_t kMaxReplicaLogBytes = 1 << 20;
inline constexpr std::size_t kMaxProtocolMessage = 16 << 20;

// GossipSub topic names of a cluster, scoped by the registry contract address so that two
// clusters sharing peers never mix messages.
struct Topics {
  std::string telemetry, jobs, decisions;
  static Topics for_cluster(std::string_view contract_address);
};

// A node's telemetry record as an input of a placement.
struct TelemetryRef {
  std::string peer;       // PeerId text
  Hash32 telemetry_hash;  // sched::telemetry_hash of the record's ciphertexts

  friend bool operator==(const TelemetryRef&, const TelemetryRef&) = default;
};

// One scheduling round of a job, fixed by its coordinator so that every scheduler evaluates
// the same inputs: the candidates the schedulers were drawn from, the schedulers, and the
// exact telemetry record of every node the job may land on.
struct ScheduleRequest {
  Hash32 job_id{};
  std::uint32_t round = 0;
  std::string coordinator;             // PeerId text; must be the gossip sender
  std::string spec_yaml;               // canonical YAML; job_id == sched::job_id(parse(spec_yaml))
  std::vector<std::string> candidates;  // live members at the time, sorted
  std::vector<std::string> schedulers;  // select_schedulers(job_id, round, candidates, k)
  std::vector<TelemetryRef> nodes;     // placement inputs, sorted by peer
  std::uint32_t replicas = 0;          // replicas to place this round
  std::uint64_t created_ms = 0;
  // Candidate sampling (docs/sched.md): when not empty, the eligible nodes the coordinator
  // sampled from, and `nodes` must be sched::sample_candidates(job_id, round, sample_pool,
  // sample_size). Empty: `nodes` is the whole pool (a full scan).
  std::vector<std::string> sample_pool;
  std::uint32_t sample_size = 0;
  // sched::kDecisionFormat of the coordinator's release; 1 when the message has none (a release
  // from before the field). Schedulers of another format refuse the round.
  std::uint32_t decision_format = sched::kDecisionFormat;
};

struct DecisionAnnouncement {
  Hash32 job_id{};
  std::uint32_t round = 0;
  std::string scheduler;  // must be the gossip sender
  Hash32 decision_hash{};
  std::string error;      // non-empty: the scheduler could not evaluate (and says why)
  // 65 bytes r ‖ s ‖ v by the scheduler's operator key over chain::announcement_digest of
  // (job, round, decision hash, peer_id_hash(scheduler), inputs root) (docs/chain.md,
  // "Slashing"); empty only from a node without an operator key, which nodes with a chain
  // view do not count.
  Bytes signature;
  // inputs_root() of the round's telemetry hashes: what the decision was computed from. Signed,
  // so that a decision contradicting the anchored one is a provable lie only over equal inputs.
  Hash32 inputs_root{};
};

struct DecisionSubmission {
  Hash32 job_id{};
  std::uint32_t round = 0;
  sched::DecisionRecord record;
};

struct DecryptRequest {
  Hash32 job_id{};
  std::uint32_t round = 0;
  sched::DecisionRecord record;
};

struct DecryptResponse {
  std::string error;         // non-empty: refused, with the reason
  std::vector<Bytes> shares;  // serialized DecryptionShare, one per decision value
};

struct Assignment {
  Hash32 job_id{};
  std::uint32_t round = 0;
  std::uint32_t replica = 0;  // the job's replica index
  std::uint32_t choice = 0;   // which of the round's replica choices it is (values 2c, 2c+1)
  bool stop = false;  // true: stop and remove this replica (job stopped or moved)
  sched::DecisionRecord record;
  // Per decision value (decision_values order), the shares the coordinator combined, so the
  // chosen node checks its own selection instead of trusting the coordinator.
  std::vector<std::vector<Bytes>> shares;
  // The job's owner (JobState::owner): the executor serves the replica's logs to nodes of this
  // operator only. Empty from coordinators that predate owners.
  std::string owner;
  // The job's secrets, each sealed to the assigned node alone (name -> sealed box; docs/jobspec.md).
  std::map<std::string, Bytes> secrets;
};

struct AssignmentAck {
  std::string error;
  // Set by a node that answers a ReplicaReport from its copy of another coordinator's record
  // (it coordinated the job before a fail-over): the coordinator that copy names. The reporting
  // node reports there from then on; the copy may be older than that coordinator's record.
  std::string coordinator;
};

// How far a node's pull of a replica's image has come (runtime::PullProgress, as the engine
// reports it). Layers and sizes grow as the engine learns of them.
struct ImagePull {
  std::string image;
  std::uint32_t layers = 0;
  std::uint32_t layers_done = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  bool operator==(const ImagePull&) const = default;
};
// {"image", "layers", "layers_done", "bytes_done", "bytes_total"}: its form in a report, in a
// job's record and in the API.
nlohmann::json image_pull_json(const ImagePull& pull);

struct ReplicaReport {
  Hash32 job_id{};
  std::uint32_t replica = 0;
  std::string state;     // "starting", "running", "exited", "failed", "stopped", "drained"
  std::string endpoint;  // "127.0.0.1:PORT" of the first published port, may be empty
  std::string detail;    // error text or container id
  std::uint64_t at_ms = 0;
  std::optional<int> exit_code;  // 0..255 once the container exited (field "exit", absent otherwise)
  std::optional<ImagePull> pull;  // while the node pulls the replica's image (field "pull", absent otherwise)
};

// `veil job logs` on a node that does not run every replica: it asks each replica's node.
struct LogsRequest {
  Hash32 job_id{};
  std::uint32_t tail = 200;  // lines per replica, 1..kMaxLogLines
};

struct LogsReply {
  struct Replica {
    std::uint32_t replica = 0;
    std::string text;  // its last lines, at most kMaxReplicaLogBytes
  };
  std::string error;  // empty: `replicas` are this node's replicas of the job (maybe none)
  std::vector<Replica> replicas;
};

Bytes encode(const ScheduleRequest& m);
Bytes encode(const DecisionAnnouncement& m);
Bytes encode(const DecisionSubmission& m);
Bytes encode(const DecryptRequest& m);
Bytes encode(const DecryptResponse& m);
Bytes encode(const Assignment& m);
Bytes encode(const AssignmentAck& m);
Bytes encode(const ReplicaReport& m);
Bytes encode(const LogsRequest& m);
Bytes encode(const LogsReply& m);

Result<ScheduleRequest> decode_schedule_request(ByteView bytes);
Result<DecisionAnnouncement> decode_decision_announcement(ByteView bytes);
Result<DecisionSubmission> decode_decision_submission(ByteView bytes);
Result<DecryptRequest> decode_decrypt_request(ByteView bytes);
Result<DecryptResponse> decode_decrypt_response(ByteView bytes);
Result<Assignment> decode_assignment(ByteView bytes);
Result<AssignmentAck> decode_assignment_ack(ByteView bytes);
Result<ReplicaReport> decode_replica_report(ByteView bytes);
Result<LogsRequest> decode_logs_request(ByteView bytes);
Result<LogsReply> decode_logs_reply(ByteView bytes);

// ---- deterministic choices every node recomputes --------------------------------------------

// Rendezvous (highest random weight) hashing: the k candidates with the largest
// SHA-256("veil-sched-v1" | job | round | peer), in that order. Every node that knows the
// candidates computes the same schedulers; a member joining or leaving moves only the
// jobs for which it is among the top k.
std::vector<std::string> select_schedulers(const Hash32& job_id, std::uint32_t round,
                                           const std::vector<std::string>& candidates, std::size_t k);

// The order in which a coordinator asks the committee's members for their shares: itself first
// when it is a member (no network, and it holds the record already), then the members not
// known dead, then those known dead, each group by SHA-256("veil-committee-v1" | job | round |
// peer), largest first, so that across jobs the work of the first asked spreads evenly over
// the committee. `known_dead` says which members SWIM declared dead.
std::vector<std::string> committee_asking_order(const Hash32& job_id, std::uint32_t round,
                                                const std::vector<std::string>& members, const std::string& self,
                                                const std::function<bool(const std::string&)>& known_dead);

// How many schedulers must agree on a decision hash: a strict majority of k.
std::size_t agreement_quorum(std::size_t schedulers);

// The round-robin offset of a job: public, derived from the job id.
std::uint32_t round_robin_offset(const Hash32& job_id, std::size_t node_count);

// The encrypted values a committee decrypts for a decision: for each replica its node index
// (FheUint16) and its found flag (FheBool), in that order. Nothing else in the record (the
// capacity left on every node) is ever decrypted. invalid_argument when the record's outputs
// do not hold `replicas` choices.
Result<std::vector<fhe::threshold::EncryptedValue>> decision_values(const sched::DecisionRecord& record,
                                                                    std::uint32_t replicas,
                                                                    const fhe::Parameters& params);

// The decryption request of decision value `index`: derived, not random, so that every
// committee member answers the same request and a repeated request gets the same answer.
fhe::threshold::DecryptionRequest decision_request(const Hash32& job_id, std::uint32_t round, std::size_t index,
                                                   const fhe::threshold::EncryptedValue& value);

// keccak-free root of the inputs that a deployment commitment binds: SHA-256 over the decision
// format and the telemetry hashes in node order (docs/node.md). Format 1 gives the root its
// releases computed, without the format, so their anchored commitments still check.
Hash32 inputs_root(std::uint32_t decision_format, const std::vector<Hash32>& telemetry_hashes);
// inputs_root() of the telemetry hashes of `nodes`, in their order (a request's or a round record's).
Hash32 inputs_root_of(std::uint32_t decision_format, const std::vector<TelemetryRef>& nodes);
// inputs_root() of a round's format and nodes, in the request's order.
Hash32 round_inputs_root(const ScheduleRequest& request);

// Why a scheduler of this release cannot evaluate a round of `decision_format`; empty when it can.
std::string decision_format_mismatch(std::uint32_t decision_format);

std::string hash_hex(const Hash32& hash);
Result<Hash32> parse_hash_hex(std::string_view text);

}  // namespace veil::node
