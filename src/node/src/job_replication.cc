#include "veil/node/job_replication.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "veil/common/sha256.h"

namespace veil::node {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;
constexpr std::size_t kMaxRecord = 4 << 20;   // a job's record as JSON text
constexpr std::size_t kMaxRecords = 4096;     // records in one kList reply
constexpr std::size_t kMaxText = 1 << 16;

bool is_live_phase(JobPhase phase) {
  return phase == JobPhase::kScheduling || phase == JobPhase::kDecrypting || phase == JobPhase::kPlacing ||
         phase == JobPhase::kFailed;
}

}  // namespace

Epoch epoch_of(const JobState& job) { return {job.term, job.coordinator}; }

// ---- who holds a job --------------------------------------------------------------------------

std::vector<std::string> holder_order(const Hash32& job, std::vector<std::string> members) {
  std::vector<std::pair<Sha256Digest, std::string>> weighted;
  for (auto& peer : members) {
    Sha256 h;
    h.update(std::string_view("veil-holder-v1")).update(ByteView(job.data(), job.size())).update(std::string_view(peer));
    weighted.emplace_back(h.finish(), std::move(peer));
  }
  std::sort(weighted.begin(), weighted.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& [weight, peer] : weighted) {
    if (out.empty() || out.back() != peer) out.push_back(std::move(peer));
  }
  return out;
}

std::vector<std::string> choose_holders(const Hash32& job, const std::string& coordinator,
                                        const std::vector<std::string>& live, std::size_t count) {
  std::vector<std::string> holders{coordinator};
  std::vector<std::string> others;
  for (const auto& peer : live) {
    if (peer != coordinator) others.push_back(peer);
  }
  for (auto& peer : holder_order(job, std::move(others))) {
    if (holders.size() >= count) break;
    holders.push_back(std::move(peer));
  }
  return holders;
}

std::vector<std::string> refresh_holders(const JobState& job, const std::vector<std::string>& live, std::size_t count) {
  auto is_live = [&live](const std::string& peer) { return std::find(live.begin(), live.end(), peer) != live.end(); };
  auto holds = [](const std::vector<std::string>& list, const std::string& peer) {
    return std::find(list.begin(), list.end(), peer) != list.end();
  };
  std::vector<std::string> holders{job.coordinator};
  for (const auto& old : job.holders) {
    if (holders.size() < count && is_live(old) && !holds(holders, old)) holders.push_back(old);
  }
  for (const auto& peer : choose_holders(job.id, job.coordinator, live, live.size() + 1)) {
    if (holders.size() < count && !holds(holders, peer)) holders.push_back(peer);
  }
  for (const auto& old : job.holders) {
    if (holders.size() < count && !holds(holders, old)) holders.push_back(old);
  }
  return holders;
}

std::optional<std::string> successor(const JobState& job, const std::function<bool(const std::string&)>& is_live) {
  if (job.phase == JobPhase::kStopped) return std::nullopt;
  for (const auto& holder : job.holders) {
    if (holder != job.coordinator && is_live(holder)) return holder;
  }
  return std::nullopt;
}

std::size_t holder_quorum(std::size_t holders) { return holders / 2 + 1; }

// ---- a holder's rule --------------------------------------------------------------------------

PushVerdict judge_push(const JobState* held, const JobState& incoming, bool held_coordinator_live) {
  if (held == nullptr) return PushVerdict::kStore;
  const Epoch mine = epoch_of(*held);
  const Epoch theirs = epoch_of(incoming);
  if (theirs < mine) return PushVerdict::kSuperseded;
  if (theirs == mine) return incoming.version > held->version ? PushVerdict::kStore : PushVerdict::kKeep;
  if (incoming.coordinator != held->coordinator && held_coordinator_live) return PushVerdict::kRefused;
  return PushVerdict::kStore;
}

// ---- take-over --------------------------------------------------------------------------------

Result<TakeOver> take_over(JobState& job, const std::string& self, const std::vector<std::string>& live,
                           std::size_t holders, std::uint64_t now_ms, const std::string& why) {
  if (job.phase == JobPhase::kStopped) return failed_precondition("job " + hash_hex(job.id) + " is stopped");
  // Self's place among the successors: concurrent successors (views of who is live differ
  // for a moment) take different terms of the next generation, and the larger one wins at
  // every holder.
  std::uint64_t place = 0;
  for (const auto& holder : job.holders) {
    if (holder == job.coordinator) continue;
    ++place;
    if (holder == self) break;
  }
  if (self == job.coordinator || std::find(job.holders.begin(), job.holders.end(), self) == job.holders.end()) {
    return failed_precondition(self + " is not a successor of job " + hash_hex(job.id));
  }
  if (place >= kTermsPerGeneration) {
    return failed_precondition(self + " is successor " + std::to_string(place) + " of job " + hash_hex(job.id) +
                               "; only the first " + std::to_string(kTermsPerGeneration - 1) + " may take it over");
  }
  const std::uint64_t term = (job.term / kTermsPerGeneration + 1) * kTermsPerGeneration + place;
  if (term > kMaxTerm) return failed_precondition("job " + hash_hex(job.id) + " was taken over too often (term limit)");

  TakeOver out;
  out.old_holders = job.holders;
  job.handovers.push_back({term, self, job.coordinator, now_ms, why});
  job.coordinator = self;
  job.term = term;
  job.version = 0;
  job.round = std::max(job.round, static_cast<std::uint32_t>(term * kRoundsPerTerm));
  job.holders = refresh_holders(job, live, holders);

  // The round in flight is abandoned: its assignments may or may not have reached their nodes.
  // A node that did accept one reports to the new coordinator, which refuses it once the slot
  // was placed again (and the node removes its copy).
  if (is_live_phase(job.phase)) {
    if (!job.rounds.empty() && job.rounds.back().outcome.empty()) job.rounds.back().outcome = "coordinator " + why;
    for (auto& slot : job.replicas) {
      if (slot.phase == ReplicaPhase::kAssigned) (void)move(slot, ReplicaPhase::kLost);
    }
    (void)move(job, JobPhase::kPending);  // allowed from every live phase
  }
  for (std::uint32_t i = 0; i < job.replicas.size(); ++i) {
    const ReplicaSlot& slot = job.replicas[i];
    if (slot.node.empty() || std::find(live.begin(), live.end(), slot.node) != live.end()) continue;
    for (auto lost : mark_lost(job, slot.node)) out.lost.push_back(lost);
  }
  std::sort(out.lost.begin(), out.lost.end());
  return out;
}

// ---- wire messages ----------------------------------------------------------------------------

std::string_view kind_name(JobStateKind kind) {
  switch (kind) {
    case JobStateKind::kPush: return "push";
    case JobStateKind::kGet: return "get";
    case JobStateKind::kList: return "list";
    case JobStateKind::kHandover: return "handover";
  }
  return "?";
}

Bytes encode(const JobStateRequest& m) {
  json j = {{"v", kVersion},
            {"t", "jobstate-request"},
            {"kind", std::string(kind_name(m.kind))},
            {"job", json::binary(std::vector<std::uint8_t>(m.job_id.begin(), m.job_id.end()))},
            {"record", m.record}};
  return json::to_cbor(j);
}

Bytes encode(const JobStateReply& m) {
  json j = {{"v", kVersion}, {"t", "jobstate-reply"}, {"error", m.error}, {"superseded", m.superseded}, {"records", m.records}};
  return json::to_cbor(j);
}

namespace {

// Parses a CBOR map of our version and type `type`; the fields are checked by the caller.
Result<json> parse_map(ByteView bytes, std::string_view type) {
  if (bytes.size() > kMaxProtocolMessage) return out_of_range(std::string(type) + ": message too large");
  json j;
  try {
    // allow_exceptions=false is not enough: a huge declared length still throws.
    j = json::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  } catch (const json::exception& e) {
    return data_loss(std::string(type) + ": malformed CBOR (" + e.what() + ")");
  }
  if (j.is_discarded()) return data_loss(std::string(type) + ": not a CBOR message (truncated or corrupted)");
  if (!j.is_object()) return invalid_argument(std::string(type) + ": not a CBOR map");
  auto v = j.find("v");
  auto t = j.find("t");
  if (v == j.end() || !v->is_number_unsigned() || v->get<std::uint64_t>() != kVersion) {
    return invalid_argument(std::string(type) + ": missing or unsupported version");
  }
  if (t == j.end() || !t->is_string() || t->get_ref<const std::string&>() != type) {
    return invalid_argument("expected a " + std::string(type) + " message");
  }
  return j;
}

// The string field `key` of `j`, at most `limit` bytes; nullptr when absent or wrong.
const std::string* text_field(const json& j, const char* key, std::size_t limit) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().size() > limit) return nullptr;
  return &it->get_ref<const std::string&>();
}

}  // namespace

Result<JobStateRequest> decode_job_state_request(ByteView bytes) {
  VEIL_ASSIGN_OR_RETURN(json j, parse_map(bytes, "jobstate-request"));
  JobStateRequest m;
  const std::string* kind = text_field(j, "kind", 16);
  if (kind == nullptr) return invalid_argument("jobstate-request: missing field 'kind'");
  bool known = false;
  for (auto k : {JobStateKind::kPush, JobStateKind::kGet, JobStateKind::kList, JobStateKind::kHandover}) {
    if (*kind == kind_name(k)) m.kind = k, known = true;
  }
  if (!known) return invalid_argument("jobstate-request: unknown kind '" + *kind + "'");
  auto job = j.find("job");
  if (job == j.end() || !job->is_binary() || job->get_binary().size() != m.job_id.size()) {
    return invalid_argument("jobstate-request: field 'job' must be 32 bytes");
  }
  std::copy(job->get_binary().begin(), job->get_binary().end(), m.job_id.begin());
  const std::string* record = text_field(j, "record", kMaxRecord);
  if (record == nullptr) return invalid_argument("jobstate-request: field 'record' is missing or too long");
  m.record = *record;
  return m;
}

Result<JobStateReply> decode_job_state_reply(ByteView bytes) {
  VEIL_ASSIGN_OR_RETURN(json j, parse_map(bytes, "jobstate-reply"));
  JobStateReply m;
  const std::string* error = text_field(j, "error", kMaxText);
  if (error == nullptr) return invalid_argument("jobstate-reply: field 'error' is missing or too long");
  m.error = *error;
  auto superseded = j.find("superseded");
  if (superseded == j.end() || !superseded->is_boolean()) return invalid_argument("jobstate-reply: missing field 'superseded'");
  m.superseded = superseded->get<bool>();
  auto records = j.find("records");
  if (records == j.end() || !records->is_array() || records->size() > kMaxRecords) {
    return invalid_argument("jobstate-reply: field 'records' is missing or has too many entries");
  }
  for (const auto& r : *records) {
    if (!r.is_string() || r.get_ref<const std::string&>().size() > kMaxRecord) {
      return invalid_argument("jobstate-reply: 'records' must hold JSON texts");
    }
    m.records.push_back(r.get<std::string>());
  }
  return m;
}

Result<JobState> parse_record(std::string_view text) {
  auto j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("job record: not a JSON object");
  VEIL_ASSIGN_OR_RETURN(JobState job, job_from_json(j));
  if (sched::job_id(job.spec) != job.id) return invalid_argument("job record: the spec does not hash to the job id");
  if (job.coordinator.empty()) return invalid_argument("job record: names no coordinator");
  if (job.term > kMaxTerm) return invalid_argument("job record: term out of range");
  return job;
}

Result<JobState> record_in_get_reply(const Result<Bytes>& reply, const Hash32& job) {
  if (!reply.ok()) return reply.status();
  VEIL_ASSIGN_OR_RETURN(JobStateReply answer, decode_job_state_reply(*reply));
  if (!answer.error.empty()) return failed_precondition(answer.error);
  if (answer.records.empty()) return not_found("the holder has no record of the job");
  VEIL_ASSIGN_OR_RETURN(JobState record, parse_record(answer.records.front()));
  if (record.id != job) return invalid_argument("job record: answered with another job's record");
  return record;
}

}  // namespace veil::node
