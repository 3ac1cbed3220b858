#include "veil/node/job_state.h"

#include "secret_box.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <array>

#include <nlohmann/json.hpp>

namespace veil::node {
namespace {

template <typename Phase, std::size_t N>
std::string_view name_of(Phase phase, const std::array<std::string_view, N>& names) {
  const auto index = static_cast<std::size_t>(phase);
  return index < N ? names[index] : "unknown";
}

template <typename Phase, std::size_t N>
Result<Phase> parse_phase(std::string_view text, const std::array<std::string_view, N>& names, std::string_view what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Phase>(i);
  }
  return invalid_argument("unknown " + std::string(what) + " state '" + std::string(text) + "'");
}

// In enum order.
constexpr std::array<std::string_view, 8> kJobNames = {"pending", "scheduling", "decrypting", "placing",
                                                        "running", "failed",     "stopped",    "succeeded"};
constexpr std::array<std::string_view, 13> kReplicaNames = {"pending",   "assigned", "starting", "running",   "exited",
                                                            "failed",    "lost",     "stopped",  "drained",   "no-fit",
                                                            "succeeded", "unhealthy", "dead"};
constexpr std::array<std::string_view, 4> kAnchorNames = {"pending", "sending", "anchored", "failed"};

bool is_one_of(ReplicaPhase phase, std::initializer_list<ReplicaPhase> phases) {
  return std::find(phases.begin(), phases.end(), phase) != phases.end();
}

// The phases an executor reports about a replica it holds.
bool is_reported_phase(ReplicaPhase phase) {
  return is_one_of(phase, {ReplicaPhase::kStarting, ReplicaPhase::kRunning, ReplicaPhase::kExited, ReplicaPhase::kFailed,
                           ReplicaPhase::kStopped, ReplicaPhase::kDrained, ReplicaPhase::kSucceeded, ReplicaPhase::kUnhealthy});
}

bool is_finished(ReplicaPhase phase) { return is_one_of(phase, {ReplicaPhase::kSucceeded, ReplicaPhase::kDead}); }

// Whether the reschedule policy allows one more new placement at `now_ms`.
bool may_reschedule(const JobState& job, const ReplicaSlot& slot, std::uint64_t now_ms) {
  const auto window = static_cast<std::uint64_t>(job.spec.reschedule.interval.count());
  const auto recent = std::count_if(slot.reschedules_ms.begin(), slot.reschedules_ms.end(),
                                    [&](std::uint64_t at) { return at + window > now_ms; });
  return static_cast<std::uint64_t>(recent) < job.spec.reschedule.attempts;
}

// Once every replica has finished, the job has: succeeded when all of them did.
bool finish_if_done(JobState& job) {
  if (job.replicas.empty() || job.phase == JobPhase::kSucceeded) return false;
  if (!std::all_of(job.replicas.begin(), job.replicas.end(), [](const ReplicaSlot& r) { return is_finished(r.phase); })) {
    return false;
  }
  const bool all_succeeded = std::all_of(job.replicas.begin(), job.replicas.end(),
                                         [](const ReplicaSlot& r) { return r.phase == ReplicaPhase::kSucceeded; });
  return move(job, all_succeeded ? JobPhase::kSucceeded : JobPhase::kFailed);
}

}  // namespace

std::string_view phase_name(JobPhase phase) { return name_of(phase, kJobNames); }
std::string_view phase_name(ReplicaPhase phase) { return name_of(phase, kReplicaNames); }
std::string_view phase_name(AnchorPhase phase) { return name_of(phase, kAnchorNames); }
Result<JobPhase> parse_job_phase(std::string_view text) { return parse_phase<JobPhase>(text, kJobNames, "job"); }
Result<ReplicaPhase> parse_replica_phase(std::string_view text) {
  return parse_phase<ReplicaPhase>(text, kReplicaNames, "replica");
}
Result<AnchorPhase> parse_anchor_phase(std::string_view text) {
  return parse_phase<AnchorPhase>(text, kAnchorNames, "anchor");
}

// ---- the lifecycle's edges --------------------------------------------------------------------

bool job_move_allowed(JobPhase from, JobPhase to) {
  using P = JobPhase;
  if (from == P::kStopped) return false;  // terminal: a new submission is a new JobState
  if (from == P::kSucceeded) return to == P::kSucceeded || to == P::kStopped;
  switch (to) {
    case P::kDecrypting: return from == P::kScheduling;  // only a round's agreed decision
    case P::kPlacing: return from == P::kDecrypting || from == P::kPlacing;
    default: return true;  // new rounds, waits, failures and stops may come from any live phase
  }
}

bool replica_move_allowed(ReplicaPhase from, ReplicaPhase to) {
  using P = ReplicaPhase;
  if (from == P::kStopped) return false;
  switch (to) {
    case P::kAssigned:  // a round places it: only a replica that has no live node now
      return is_one_of(from, {P::kPending, P::kFailed, P::kLost, P::kDrained, P::kNoFit});
    case P::kStarting:
    case P::kRunning:
    case P::kExited:
    case P::kUnhealthy:  // what its node reports while it holds it
      return is_one_of(from, {P::kAssigned, P::kStarting, P::kRunning, P::kExited, P::kUnhealthy});
    case P::kSucceeded:
      return is_one_of(from, {P::kAssigned, P::kStarting, P::kRunning, P::kExited, P::kUnhealthy, P::kSucceeded});
    case P::kFailed:  // refused or given up by its node
      return is_one_of(from, {P::kAssigned, P::kStarting, P::kRunning, P::kExited, P::kUnhealthy, P::kFailed});
    case P::kDead:
      return is_one_of(from, {P::kAssigned, P::kStarting, P::kRunning, P::kExited, P::kUnhealthy, P::kFailed, P::kDead});
    case P::kDrained:
    case P::kLost:
      return is_one_of(from, {P::kAssigned, P::kStarting, P::kRunning, P::kExited, P::kUnhealthy, P::kDrained, P::kLost});
    case P::kNoFit:
      return is_one_of(from, {P::kPending, P::kFailed, P::kLost, P::kDrained, P::kNoFit});
    case P::kPending: return from == P::kPending;
    case P::kStopped: return true;
  }
  return false;
}

bool anchor_move_allowed(AnchorPhase from, AnchorPhase to) {
  using P = AnchorPhase;
  if (from == P::kAnchored) return to == P::kAnchored;  // the chain holds it: nothing undoes that
  if (to == P::kSending) return from == P::kPending;
  return true;
}

bool move(JobState& job, JobPhase to) {
  if (!job_move_allowed(job.phase, to)) return false;
  job.phase = to;
  return true;
}

bool move(ReplicaSlot& slot, ReplicaPhase to) {
  if (!replica_move_allowed(slot.phase, to)) return false;
  slot.phase = to;
  return true;
}

bool move(AnchorInfo& anchor, AnchorPhase to) {
  if (!anchor_move_allowed(anchor.phase, to)) return false;
  anchor.phase = to;
  return true;
}

std::vector<JobVersion> versions_of(const JobState& job) {
  if (!job.history.empty()) return job.history;
  return {{job.job_version, job.id, job.submitted_ms, "submitted"}};
}

bool replica_active(const ReplicaSlot& slot) {
  return !slot.node.empty() &&
         is_one_of(slot.phase, {ReplicaPhase::kAssigned, ReplicaPhase::kStarting, ReplicaPhase::kRunning, ReplicaPhase::kExited,
                                ReplicaPhase::kUnhealthy});
}

std::set<std::string> active_replica_nodes(const JobState& job) {
  std::set<std::string> nodes;
  for (const auto& slot : job.replicas) {
    if (replica_active(slot)) nodes.insert(slot.node);
  }
  return nodes;
}

std::vector<std::uint32_t> slots_needing_placement(const JobState& job) {
  std::vector<std::uint32_t> slots;
  if (job.phase == JobPhase::kStopped) return slots;
  const auto n = static_cast<std::uint32_t>(job.replicas.size());
  for (std::uint32_t i = 0; i < (job.rollout ? std::min(job.rollout->admitted, n) : n); ++i) {
    const auto& slot = job.replicas[i];
    if (is_one_of(slot.phase, {ReplicaPhase::kPending, ReplicaPhase::kFailed, ReplicaPhase::kLost, ReplicaPhase::kDrained,
                               ReplicaPhase::kNoFit}))
      slots.push_back(i);
  }
  return slots;
}

std::set<std::string> reschedule_exclusions(const JobState& job) {
  std::set<std::string> nodes = active_replica_nodes(job);
  for (std::uint32_t slot : slots_needing_placement(job)) {
    nodes.insert(job.replicas[slot].failed_nodes.begin(), job.replicas[slot].failed_nodes.end());
  }
  return nodes;
}

// ---- the coordinator's decisions --------------------------------------------------------------

std::vector<PlacedReplica> apply_decision(JobState& job, std::uint32_t round, const std::vector<std::uint64_t>& plaintexts) {
  std::vector<PlacedReplica> placed;
  if (job.phase == JobPhase::kStopped || round != job.round || job.rounds.empty() || job.rounds.back().round != round)
    return placed;
  if (!move(job, JobPhase::kPlacing)) return placed;
  RoundRecord& rr = job.rounds.back();
  rr.outcome = "placed";
  for (std::uint32_t choice = 0; choice < rr.slots.size() && 2 * choice + 1 < plaintexts.size(); ++choice) {
    const std::uint64_t index = plaintexts[2 * choice];
    const bool found = plaintexts[2 * choice + 1] != 0;
    const std::uint32_t slot_index = rr.slots[choice];
    if (slot_index >= job.replicas.size()) continue;
    ReplicaSlot& slot = job.replicas[slot_index];
    const ReplicaPhase target = found && index < rr.nodes.size() ? ReplicaPhase::kAssigned : ReplicaPhase::kNoFit;
    if (!move(slot, target)) continue;  // the slot moved on meanwhile (stopped, or placed by another round)
    slot.round = round;
    slot.endpoint.clear();
    slot.detail.clear();
    if (target == ReplicaPhase::kNoFit) {
      slot.node.clear();
      continue;
    }
    slot.node = rr.nodes[index].peer;
    placed.push_back({slot_index, choice, slot.node});
  }
  return placed;
}

void apply_refusal(JobState& job, std::uint32_t slot_index, std::uint32_t round, const std::string& error) {
  if (slot_index >= job.replicas.size()) return;
  ReplicaSlot& slot = job.replicas[slot_index];
  if (slot.round != round || !replica_active(slot)) return;
  if (move(slot, ReplicaPhase::kFailed)) slot.detail = error;
}

ReportOutcome apply_report(JobState& job, const std::string& peer, std::uint32_t slot_index, ReplicaPhase phase,
                           const std::string& endpoint, const std::string& detail, std::optional<int> exit_code,
                           std::uint64_t now_ms) {
  ReportOutcome outcome;
  if (slot_index >= job.replicas.size()) {
    outcome.refusal = "unknown job or replica";
    return outcome;
  }
  ReplicaSlot& slot = job.replicas[slot_index];
  if (job.phase == JobPhase::kStopped) {
    outcome.refusal = "the job is stopped";
    return outcome;
  }
  if (slot.node != peer) {
    outcome.refusal = peer + " does not hold this replica";
    return outcome;
  }
  if (!replica_active(slot)) {
    outcome.refusal = "this replica is " + std::string(phase_name(slot.phase)) + " here; it was replaced";
    return outcome;
  }
  if (!is_reported_phase(phase)) {
    outcome.refusal = "'" + std::string(phase_name(phase)) + "' is not a state a node reports";
    return outcome;
  }
  outcome.changed = slot.phase != phase || slot.endpoint != endpoint;
  if (phase == ReplicaPhase::kDrained || phase == ReplicaPhase::kStopped) {
    // The node gave it up (leaving, or stopped it on its own): replace it elsewhere.
    (void)move(slot, ReplicaPhase::kLost);
    slot.detail = detail;
    outcome.drained = true;
    return outcome;
  }
  if (phase == ReplicaPhase::kFailed) {
    // The node used up its restarts and gave the replica up: another node, or the end.
    const bool again = may_reschedule(job, slot, now_ms);
    if (!move(slot, again ? ReplicaPhase::kFailed : ReplicaPhase::kDead)) {
      outcome.refusal = "cannot move replica from " + std::string(phase_name(slot.phase)) + " to failed";
      return outcome;
    }
    slot.detail = detail;
    slot.exit_code = exit_code;
    slot.endpoint.clear();
    if (std::find(slot.failed_nodes.begin(), slot.failed_nodes.end(), peer) == slot.failed_nodes.end()) {
      slot.failed_nodes.push_back(peer);
    }
    if (again) slot.reschedules_ms.push_back(now_ms);
    outcome.reschedule = again;
    outcome.finished = finish_if_done(job);
    return outcome;
  }
  if (!move(slot, phase)) {
    outcome.refusal = "cannot move replica from " + std::string(phase_name(slot.phase)) + " to " + std::string(phase_name(phase));
    return outcome;
  }
  slot.endpoint = endpoint;
  slot.detail = detail;
  if (exit_code) slot.exit_code = exit_code;
  if (phase == ReplicaPhase::kSucceeded) {
    outcome.finished = finish_if_done(job);
    return outcome;
  }
  const bool all_running = std::all_of(job.replicas.begin(), job.replicas.end(), [](const ReplicaSlot& r) {
    return r.phase == ReplicaPhase::kRunning || r.phase == ReplicaPhase::kNoFit;
  });
  if (all_running && job.phase != JobPhase::kRunning && move(job, JobPhase::kRunning)) outcome.now_running = true;
  return outcome;
}

namespace {

// "812 B", "4.0 kB", "12.1 MB" (decimal units, as the engine and `veil` print sizes).
std::string byte_size(std::uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1000;
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(units)) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string pull_sums(const ImagePull& pull) {
  std::string text = std::to_string(pull.layers_done) + "/" + std::to_string(pull.layers) + " layers";
  if (pull.bytes_total > 0) text += ", " + byte_size(pull.bytes_done) + " of " + byte_size(pull.bytes_total);
  return text;
}

}  // namespace

std::string note_pull(ReplicaSlot& slot, const std::optional<ImagePull>& pull, std::uint64_t report_ms, std::uint64_t now_ms) {
  // Reports are ordered by their node's clock: a placement on another node starts afresh.
  if (slot.last_report_round != slot.round) slot.last_report_ms = 0;
  if (report_ms < slot.last_report_ms) return {};
  slot.last_report_ms = report_ms;
  slot.last_report_round = slot.round;
  if (pull) {
    const bool started = !slot.pull || slot.pull->image != pull->image;
    if (started) slot.pull_started_ms = now_ms;
    slot.pull = pull;
    return started ? "pulling image " + pull->image : std::string();
  }
  if (!slot.pull) return {};
  const ImagePull last = *slot.pull;
  const std::uint64_t took = now_ms > slot.pull_started_ms ? now_ms - slot.pull_started_ms : 0;
  slot.pull.reset();
  slot.pull_started_ms = 0;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f s", static_cast<double>(took) / 1000);
  if (last.layers > 0 && last.layers_done == last.layers) {
    return "image " + last.image + " pulled (" + pull_sums(last) + ") in " + seconds;
  }
  return "pull of image " + last.image + " ended at " + pull_sums(last) + " after " + seconds;
}

std::vector<std::uint32_t> mark_lost(JobState& job, const std::string& peer) {
  std::vector<std::uint32_t> lost;
  if (job.phase == JobPhase::kStopped) return lost;
  for (std::uint32_t i = 0; i < job.replicas.size(); ++i) {
    ReplicaSlot& slot = job.replicas[i];
    if (slot.node == peer && replica_active(slot) && move(slot, ReplicaPhase::kLost)) lost.push_back(i);
  }
  return lost;
}

std::vector<StopOrder> apply_stop(JobState& job) {
  std::vector<StopOrder> orders;
  if (!move(job, JobPhase::kStopped)) return orders;
  for (std::uint32_t i = 0; i < job.replicas.size(); ++i) {
    ReplicaSlot& slot = job.replicas[i];
    // A lost or refused replica's node may still run it (a partition): tell it too.
    if (!slot.node.empty() && slot.phase != ReplicaPhase::kStopped) orders.push_back({i, slot.node});
    (void)move(slot, ReplicaPhase::kStopped);
  }
  return orders;
}

// ---- the executor's fence ---------------------------------------------------------------------

void StopFence::record_stop(const Hash32& job, std::uint32_t replica, const std::string& coordinator, std::uint32_t round) {
  auto& at = stopped_at_[{job, replica, coordinator}];
  at = std::max(at, round);
}

bool StopFence::admits(const Hash32& job, std::uint32_t replica, const std::string& coordinator, std::uint32_t round) const {
  auto it = stopped_at_.find({job, replica, coordinator});
  return it == stopped_at_.end() || round > it->second;
}

// ---- persistence ------------------------------------------------------------------------------

nlohmann::json to_json(const AnchorInfo& a) {
  nlohmann::json j = {{"round", a.round}, {"state", phase_name(a.phase)}, {"commitment", a.commitment},
                      {"tx", a.tx},       {"block", a.block},              {"error", a.error}};
  if (!a.batch_root.empty()) {
    j["batch_root"] = a.batch_root;
    j["batch_index"] = a.batch_index;
    j["batch_size"] = a.batch_size;
    j["proof"] = a.proof;
  }
  return j;
}

nlohmann::json to_json(const JobState& job) {
  using nlohmann::json;
  json replicas = json::array();
  for (const auto& r : job.replicas) {
    replicas.push_back({{"node", r.node},
                        {"state", phase_name(r.phase)},
                        {"endpoint", r.endpoint},
                        {"detail", r.detail},
                        {"round", r.round},
                        {"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json()},
                        {"failed_nodes", r.failed_nodes},
                        {"reschedules_ms", r.reschedules_ms}});
    if (r.pull) {
      replicas.back()["pull"] = image_pull_json(*r.pull);
      replicas.back()["pull"]["started_ms"] = r.pull_started_ms;
    }
  }
  json rounds = json::array();
  for (const auto& r : job.rounds) {
    json nodes = json::array();
    for (const auto& n : r.nodes) nodes.push_back({{"peer", n.peer}, {"telemetry", hash_hex(n.telemetry_hash)}});
    rounds.push_back({{"round", r.round},
                      {"slots", r.slots},
                      {"schedulers", r.schedulers},
                      {"nodes", nodes},
                      {"announced", r.announced},
                      {"agreed", r.agreed},
                      {"liars", r.liars},
                      {"outcome", r.outcome},
                      {"started_ms", r.started_ms},
                      {"eligible", r.eligible},
                      {"decision_format", r.decision_format}});
  }
  json anchors = json::array();
  for (const auto& a : job.anchors) anchors.push_back(to_json(a));
  json handovers = json::array();
  for (const auto& h : job.handovers) {
    handovers.push_back({{"term", h.term}, {"coordinator", h.coordinator}, {"from", h.from}, {"at_ms", h.at_ms}, {"why", h.why}});
  }
  auto rollout_json = [](const std::optional<Rollout>& r) -> json {
    if (!r) return nullptr;
    json healthy = json::object();
    for (const auto& [slot, since] : r->healthy_since_ms) healthy[std::to_string(slot)] = since;
    return {{"from", hash_hex(r->from)}, {"admitted", r->admitted}, {"replaced", r->replaced},
            {"healthy_since_ms", healthy}, {"step_started_ms", r->step_started_ms}, {"failed", r->failed}};
  };
  json history = json::array();
  for (const auto& v : job.history) {
    history.push_back({{"version", v.version}, {"id", hash_hex(v.id)}, {"submitted_ms", v.submitted_ms}, {"cause", v.cause}});
  }
  return {{"id", hash_hex(job.id)},   {"spec", job.spec_yaml}, {"state", phase_name(job.phase)},
          {"job_version", job.job_version}, {"history", history}, {"rollout", rollout_json(job.rollout)},
          {"submitted_ms", job.submitted_ms}, {"round", job.round}, {"replicas", replicas},
          {"rounds", rounds},         {"anchors", anchors},    {"warnings", job.warnings},
          {"coordinator", job.coordinator}, {"owner", job.owner}, {"sealed_secrets", sealed_secrets_json(job.sealed_secrets)}, {"term", job.term}, {"version", job.version},
          {"holders", job.holders},   {"handovers", handovers}};
}

Result<JobState> job_from_json(const nlohmann::json& j) {
  auto malformed = [](const Status& status) { return data_loss("stored job is malformed: " + status.message()); };
  try {
    JobState job;
    VEIL_ASSIGN_OR_RETURN(job.id, parse_hash_hex(j.at("id").get<std::string>()));
    job.spec_yaml = j.at("spec").get<std::string>();
    VEIL_ASSIGN_OR_RETURN(job.spec, sched::parse_job_spec(job.spec_yaml, "stored job"));
    auto phase = parse_job_phase(j.at("state").get<std::string>());
    if (!phase.ok()) return malformed(phase.status());
    job.phase = *phase;
    job.submitted_ms = j.at("submitted_ms").get<std::uint64_t>();
    job.round = j.at("round").get<std::uint32_t>();
    for (const auto& r : j.at("replicas")) {
      ReplicaSlot slot;
      slot.node = r.at("node").get<std::string>();
      auto replica_phase = parse_replica_phase(r.at("state").get<std::string>());
      if (!replica_phase.ok()) return malformed(replica_phase.status());
      slot.phase = *replica_phase;
      slot.endpoint = r.at("endpoint").get<std::string>();
      slot.detail = r.at("detail").get<std::string>();
      slot.round = r.at("round").get<std::uint32_t>();
      // Absent in documents written before restarts and reschedules were kept.
      if (r.contains("exit_code") && !r.at("exit_code").is_null()) slot.exit_code = r.at("exit_code").get<int>();
      slot.failed_nodes = r.value("failed_nodes", std::vector<std::string>{});
      slot.reschedules_ms = r.value("reschedules_ms", std::vector<std::uint64_t>{});
      if (r.contains("pull")) {  // only while its node pulls the image
        const auto& p = r.at("pull");
        slot.pull = ImagePull{p.at("image").get<std::string>(), p.at("layers").get<std::uint32_t>(),
                              p.at("layers_done").get<std::uint32_t>(), p.at("bytes_done").get<std::uint64_t>(),
                              p.at("bytes_total").get<std::uint64_t>()};
        slot.pull_started_ms = p.at("started_ms").get<std::uint64_t>();
      }
      job.replicas.push_back(std::move(slot));
    }
    for (const auto& r : j.at("rounds")) {
      RoundRecord rr;
      rr.round = r.at("round");
      rr.slots = r.at("slots").get<std::vector<std::uint32_t>>();
      rr.schedulers = r.at("schedulers").get<std::vector<std::string>>();
      for (const auto& n : r.at("nodes")) {
        VEIL_ASSIGN_OR_RETURN(auto h, parse_hash_hex(n.at("telemetry").get<std::string>()));
        rr.nodes.push_back({n.at("peer").get<std::string>(), h});
      }
      rr.announced = r.at("announced").get<std::map<std::string, std::string>>();
      rr.agreed = r.at("agreed");
      rr.liars = r.at("liars").get<std::vector<std::string>>();
      rr.outcome = r.at("outcome");
      rr.started_ms = r.at("started_ms");
      // Records stored before sampling existed scanned every node.
      rr.eligible = r.contains("eligible") ? r.at("eligible").get<std::uint32_t>() : static_cast<std::uint32_t>(rr.nodes.size());
      // ... and before the decision format was named.
      rr.decision_format = r.value("decision_format", 1u);
      job.rounds.push_back(std::move(rr));
    }
    for (const auto& a : j.at("anchors")) {
      AnchorInfo info;
      info.round = a.at("round");
      auto anchor_phase = parse_anchor_phase(a.at("state").get<std::string>());
      if (!anchor_phase.ok()) return malformed(anchor_phase.status());
      // The process died while sending: send again (the chain is asked first, so no double anchor).
      info.phase = *anchor_phase == AnchorPhase::kSending ? AnchorPhase::kPending : *anchor_phase;
      info.commitment = a.at("commitment");
      info.tx = a.at("tx");
      info.block = a.at("block");
      info.error = a.at("error");
      // Absent for anchors made one at a time (and in documents written before batching).
      info.batch_root = a.value("batch_root", std::string());
      info.batch_index = a.value("batch_index", std::uint32_t{0});
      info.batch_size = a.value("batch_size", std::uint32_t{0});
      info.proof = a.value("proof", std::vector<std::string>{});
      job.anchors.push_back(std::move(info));
    }
    job.warnings = j.at("warnings").get<std::vector<std::string>>();
    // Absent in documents written before replication: the node that stored it coordinates it.
    job.coordinator = j.value("coordinator", std::string());
    job.owner = j.value("owner", std::string());  // absent in records written before owners
    if (auto sealed = j.find("sealed_secrets"); sealed != j.end()) {
      VEIL_ASSIGN_OR_RETURN(job.sealed_secrets, sealed_secrets_from_json(*sealed));
    }
    job.term = j.value("term", std::uint64_t{0});
    job.version = j.value("version", std::uint64_t{0});
    job.holders = j.value("holders", std::vector<std::string>{});
    for (const auto& h : j.value("handovers", nlohmann::json::array())) {
      job.handovers.push_back({h.at("term").get<std::uint64_t>(), h.at("coordinator").get<std::string>(),
                               h.at("from").get<std::string>(), h.at("at_ms").get<std::uint64_t>(), h.at("why").get<std::string>()});
    }
    // Absent in records written before versions: every such job is the first of its name.
    job.job_version = j.value("job_version", std::uint32_t{1});
    for (const auto& v : j.value("history", nlohmann::json::array())) {
      JobVersion entry;
      entry.version = v.at("version").get<std::uint32_t>();
      VEIL_ASSIGN_OR_RETURN(entry.id, parse_hash_hex(v.at("id").get<std::string>()));
      entry.submitted_ms = v.at("submitted_ms").get<std::uint64_t>();
      entry.cause = v.at("cause").get<std::string>();
      job.history.push_back(std::move(entry));
    }
    if (auto r = j.find("rollout"); r != j.end() && !r->is_null()) {
      Rollout rollout;
      VEIL_ASSIGN_OR_RETURN(rollout.from, parse_hash_hex(r->at("from").get<std::string>()));
      rollout.admitted = r->at("admitted").get<std::uint32_t>();
      rollout.replaced = r->at("replaced").get<std::uint32_t>();
      for (const auto& [key, since] : r->at("healthy_since_ms").items()) {
        std::uint32_t slot = 0;
        auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), slot);
        if (ec != std::errc() || end != key.data() + key.size()) return data_loss("stored job is malformed: rollout slot '" + key + "'");
        rollout.healthy_since_ms[slot] = since.get<std::uint64_t>();
      }
      rollout.step_started_ms = r->at("step_started_ms").get<std::uint64_t>();
      rollout.failed = r->at("failed").get<bool>();
      job.rollout = std::move(rollout);
    }
    return job;
  } catch (const nlohmann::json::exception& e) {
    return data_loss(std::string("stored job is malformed: ") + e.what());
  }
}

JobMatch match_job(std::string_view wanted, const Hash32& id, std::string_view name) {
  const std::string hex = hash_hex(id);
  if (wanted == name || wanted == hex) return JobMatch::kExact;
  if (wanted.size() >= 6 && std::string_view(hex).starts_with(wanted)) return JobMatch::kPrefix;
  return JobMatch::kNone;
}

}  // namespace veil::node
