// The coordinator role (coordinator_role.h): rounds, agreement, the committee's shares,
// assignments, anchors, and rescheduling.
#include <boost/asio/steady_timer.hpp>

#include "veil/common/log.h"

#include "coordinator_role.h"

#include "secret_box.h"
#include "veil/sched/eligibility.h"
#include "scheduler_role.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
using fhe::threshold::DecryptionShare;

auto logger() { return log::get("coordinator"); }

std::string short_id(const Hash32& id) { return hash_hex(id).substr(0, 12); }

std::string delay_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s" : std::to_string(d.count()) + " ms";
}

}  // namespace

CoordinatorRole::CoordinatorRole(NodeContext& node, Options options, LocalRoles roles)
    : node_(node), options_(std::move(options)), roles_(std::move(roles)), batcher_(options_.anchoring) {}

CoordinatorRole::~CoordinatorRole() = default;

Status CoordinatorRole::restore() {
  VEIL_ASSIGN_OR_RETURN(auto job_docs, node_.store().all(kJobDoc));
  for (const auto& doc : job_docs) {
    auto job = job_from_json(doc);
    if (!job.ok()) {
      logger()->error("state: skipping a job document: {}", job.status().to_string());
      continue;
    }
    restored_rounds_[job->id] = job->round;
    if (job->coordinator.empty()) job->coordinator = node_.self();  // stored before replication existed
    jobs_[job->id] = std::move(*job);
  }
  // Records held for other coordinators. A job this node also coordinates (it was superseded
  // and stepped down, then an older document survived) is settled by the epochs at the first push.
  VEIL_ASSIGN_OR_RETURN(auto held_docs, node_.store().all(kHeldJobDoc));
  for (const auto& doc : held_docs) {
    auto job = job_from_json(doc);
    if (!job.ok() || jobs_.count(job->id) > 0) continue;
    held_[job->id] = std::move(*job);
  }
  return {};
}

void CoordinatorRole::start() {
  // The first push of each job tells a coordinator that was superseded while it was away.
  start_replication_timer();
  start_rollout_timer();
  // Jobs that were mid-round when the node stopped get a new round once members are known.
  auto resume = std::make_shared<asio::steady_timer>(node_.io(), std::chrono::seconds(3));
  resume->async_wait([this, resume](const boost::system::error_code& ec) {
    if (ec || node_.stopping()) return;
    for (auto& [id, job] : jobs_) {
      // Only jobs read from the database whose round has not moved on since.
      auto it = restored_rounds_.find(id);
      if (it == restored_rounds_.end() || it->second != job.round) continue;
      if (job.phase == JobPhase::kScheduling || job.phase == JobPhase::kDecrypting || job.phase == JobPhase::kPlacing) {
        add_job_event(id, "resuming after a restart: starting a new round");
        start_round(job, active_replica_nodes(job));
      }
    }
    restored_rounds_.clear();
    resume_anchors();
  });
}

void CoordinatorRole::on_announcement(const Hash32& job) {
  if (jobs_.count(job) > 0) consider_round(job);
}

void CoordinatorRole::on_own_decision(const ScheduleRequest& round, const Hash32& hash, sched::DecisionRecord record) {
  // As handle_decision_submission does for other schedulers: only the current round of a job
  // that is not stopped keeps a record.
  if (job_in_round(round.job_id, round.round) == nullptr) return;
  progress_[round.job_id].records[hash_hex(hash)] = std::move(record);
  consider_round(round.job_id);
}

void CoordinatorRole::on_member_gone(const std::string& peer, const std::string& why) {
  reschedule_lost(peer, why);
  take_over_orphaned_jobs();
}

void CoordinatorRole::add_job_event(const Hash32& job, const std::string& message) {
  logger()->info("job {}: {}", short_id(job), message);
  (void)node_.store().add_event(hash_hex(job), node_.now_ms(), message);
}

void CoordinatorRole::start_round_later(const Hash32& id, std::uint32_t round, std::chrono::milliseconds delay,
                                        std::function<std::set<std::string>(JobState&)> exclude,
                                        std::function<bool(const JobState&)> when) {
  auto timer = std::make_shared<asio::steady_timer>(node_.io(), delay);
  timer->async_wait([this, timer, id, round, exclude = std::move(exclude), when = std::move(when)](
                        const boost::system::error_code& ec) {
    JobState* current = ec || node_.stopping() ? nullptr : job_in_round(id, round);
    if (current != nullptr && (!when || when(*current))) start_round(*current, exclude(*current));
  });
}

// ---- submission and rounds --------------------------------------------------------------------

Result<JobState*> CoordinatorRole::submit_job(const std::string& spec_yaml, const std::map<std::string, std::string>& secrets) {
  VEIL_ASSIGN_OR_RETURN(auto spec, sched::parse_job_spec(spec_yaml, "spec"));
  VEIL_RETURN_IF_ERROR(sched::quantize_request(spec.resources).status());
  for (const auto& [name, source] : spec.secrets) {
    if (secrets.count(name) == 0) return invalid_argument("secret " + name + " is declared in the spec but its value was not sent");
  }
  std::map<std::string, Bytes> sealed;
  for (const auto& [name, value] : secrets) {
    if (spec.secrets.count(name) == 0) return invalid_argument("secret " + name + " is not declared in the spec");
    if (value.size() > sched::kMaxSecretBytes) {
      return invalid_argument("secret " + name + " is larger than " + std::to_string(sched::kMaxSecretBytes) + " bytes");
    }
    VEIL_ASSIGN_OR_RETURN(sealed[name], seal_to_peer(node_.self(), value));
  }
  return submit_spec(std::move(spec), std::move(sealed), "submitted");
}

Result<JobState*> CoordinatorRole::revert_job(const JobState& job, std::uint32_t version) {
  auto entry = std::find_if(job.history.begin(), job.history.end(), [&](const JobVersion& v) { return v.version == version; });
  if (entry == job.history.end()) {
    return not_found("job " + job.spec.name + " has no version " + std::to_string(version) + " (versions 1.." +
                     std::to_string(job.job_version) + ")");
  }
  auto old = jobs_.find(entry->id);
  if (old == jobs_.end()) {
    return failed_precondition("version " + std::to_string(version) + " of job " + job.spec.name +
                               " was not coordinated by this node: its spec is not here; submit it again");
  }
  if (old->second.phase != JobPhase::kStopped) {
    // A rolling update away from that version is under way, or failed and stopped where it
    // was: going back is the roll-back auto_revert does.
    auto current = jobs_.find(job.id);
    if (current != jobs_.end() && current->second.rollout && current->second.rollout->from == old->first &&
        current->second.phase != JobPhase::kStopped) {
      roll_back(current->second, old->second, "revert to version " + std::to_string(version));
      return &old->second;
    }
    return failed_precondition("version " + std::to_string(version) + " of job " + job.spec.name + " is the one running");
  }
  return submit_spec(old->second.spec, old->second.sealed_secrets, "revert to version " + std::to_string(version));
}

Result<JobState*> CoordinatorRole::submit_spec(sched::JobSpec spec, std::map<std::string, Bytes> sealed, const std::string& cause) {
  const Hash32 id = sched::job_id(spec);
  for (const auto& [held_id, held] : held_) {
    if ((held_id == id || held.spec.name == spec.name) && held.phase != JobPhase::kStopped) {
      return failed_precondition("job " + spec.name + " is coordinated by " + held.coordinator +
                                 "; submit it there, or stop it there first");
    }
  }
  auto existing = jobs_.find(id);
  if (existing != jobs_.end() && existing->second.phase != JobPhase::kStopped) return &existing->second;
  // The versions of this name so far: the newest carries the history, the running ones are
  // replaced.
  JobState* latest = nullptr;
  std::vector<JobState*> live;
  for (auto& [other_id, other] : jobs_) {
    if (other.spec.name != spec.name) continue;
    if (other.rollout && other.phase != JobPhase::kStopped && !other.rollout->failed) {
      return failed_precondition("version " + std::to_string(other.job_version) + " of job " + spec.name +
                                 " is still rolling out; wait for it, or stop it first");
    }
    if (latest == nullptr || other.job_version > latest->job_version) latest = &other;
    if (other.phase != JobPhase::kStopped) live.push_back(&other);
  }
  // Two versions run at once only after a rolling update failed: the newer one is replaced, the
  // older one stops with it.
  std::sort(live.begin(), live.end(), [](const JobState* a, const JobState* b) { return a->job_version < b->job_version; });
  JobState* running = live.empty() ? nullptr : live.back();
  JobState job;
  job.id = id;
  job.spec = spec;
  job.spec_yaml = sched::to_canonical_yaml(spec);
  job.submitted_ms = static_cast<std::uint64_t>(node_.now_ms());
  job.replicas.resize(spec.replicas);
  job.coordinator = node_.self();
  if (auto me = node_.operator_of(node_.self())) job.owner = me->to_checksum();
  job.sealed_secrets = std::move(sealed);
  job.holders = choose_holders(id, node_.self(), node_.live_members(), options_.job_holders);
  if (latest != nullptr) {
    job.job_version = latest->job_version + 1;
    job.history = versions_of(*latest);
  }
  job.history.push_back({job.job_version, id, job.submitted_ms, cause});
  if (existing != jobs_.end()) {
    job.rounds = existing->second.rounds;
    job.round = existing->second.round;
    job.anchors = existing->second.anchors;
    job.term = existing->second.term;
    job.version = existing->second.version;
    job.handovers = existing->second.handovers;
  }
  // The event starts with "submitted": the timelines of `job run --wait` and the dashboard match it.
  std::string event = "submitted (" + std::to_string(spec.replicas) + " replicas of " + spec.image.to_string() + ")";
  if (job.job_version > 1) event += " as version " + std::to_string(job.job_version) + (cause == "submitted" ? "" : ": " + cause);
  for (std::size_t i = 0; i + 1 < live.size(); ++i) {
    VEIL_RETURN_IF_ERROR(stop_job(*live[i], "replaced by version " + std::to_string(job.job_version) + " (" + short_id(id) + ")"));
  }
  if (running != nullptr && spec.update && !active_replica_nodes(*running).empty()) {
    // Rolling: the running version keeps its replicas until new ones are healthy (advance_rollout).
    event += (cause == "submitted" ? ", rolling over version " : "; rolling over version ") + std::to_string(running->job_version) +
             " (" + short_id(running->id) + ") " + std::to_string(spec.update->max_parallel) + " at a time";
    Rollout rollout;
    rollout.from = running->id;
    rollout.admitted = std::min(spec.update->max_parallel, spec.replicas);
    rollout.step_started_ms = job.submitted_ms;
    job.rollout = std::move(rollout);
  } else if (running != nullptr) {
    // All at once: the running version's replicas stop as the new version's round starts.
    event += (cause == "submitted" ? ", replacing version " : "; replacing version ") + std::to_string(running->job_version) +
             " (" + short_id(running->id) + ")";
    VEIL_RETURN_IF_ERROR(stop_job(*running, "replaced by version " + std::to_string(job.job_version) + " (" + short_id(id) + ")"));
  }
  auto& stored = jobs_[id] = std::move(job);
  add_job_event(id, event);
  start_round(stored, {});
  return &stored;
}

void CoordinatorRole::prefer_unused_spread_values(const JobState& job, std::vector<TelemetryRef>& nodes,
                                                 const std::vector<std::string>& values) const {
  std::set<std::string> used;
  for (const auto& peer : active_replica_nodes(job)) {
    auto t = roles_.latest_telemetry(peer);
    used.insert(t ? sched::spread_value(job.spec, t->attributes) : "");
  }
  std::vector<TelemetryRef> unused;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (used.count(values[i]) == 0) unused.push_back(nodes[i]);
  }
  // "When possible": with every value taken, the replica goes wherever the round scores best.
  if (!unused.empty()) nodes = std::move(unused);
}

void CoordinatorRole::start_round(JobState& job, std::set<std::string> exclude) {
  const Hash32 id = job.id;
  // Every timer and message that may start a round ends here: a stopped job never gets one.
  if (!job_move_allowed(job.phase, JobPhase::kScheduling)) return;
  // A round places every replica that needs a node, not only those of the event that started
  // it: a new round supersedes the one in flight, whose replicas would otherwise be stranded.
  std::vector<std::uint32_t> slots = slots_needing_placement(job);
  if (slots.empty()) return;
  // spread_over places one replica per round, each round among the nodes whose value of the
  // label no active replica has yet (place() starts the next round once one is placed).
  if (!job.spec.spread_over.empty()) slots.resize(1);
  // Schedulers caught lying — in any job this node coordinates — are not asked again (unless no
  // one else is left): with two live schedulers, one of them lying, no majority could ever
  // form, and a scheduler that published a decision against a quorum once is faulty or hostile.
  std::set<std::string> liars;
  for (const auto& [other_id, other] : jobs_) {
    for (const auto& r : other.rounds) liars.insert(r.liars.begin(), r.liars.end());
  }
  std::vector<std::string> candidates;
  for (const auto& peer : node_.live_members()) {
    if (liars.count(peer) == 0) candidates.push_back(peer);
  }
  if (candidates.empty()) candidates = node_.live_members();
  // Inputs: every live node outside `exclude` with a fresh record whose public attributes the
  // job's constraints and volumes accept (the schedulers and the committee check the same).
  const auto freshness = static_cast<std::uint64_t>(3 * options_.telemetry_interval.count() + 30'000);
  std::vector<TelemetryRef> nodes;
  std::vector<std::string> spread_values;  // parallel to nodes
  std::string ineligible;                  // why the first live node was filtered out
  std::size_t fresh = 0;
  for (const auto& peer : node_.live_members()) {
    if (exclude.count(peer) > 0) continue;
    auto t = roles_.latest_telemetry(peer);
    if (!t || t->timestamp_ms + freshness < static_cast<std::uint64_t>(node_.now_ms())) continue;
    ++fresh;
    if (auto eligible = sched::check_eligible(job.spec, t->attributes); !eligible.ok()) {
      if (ineligible.empty()) ineligible = peer + ": " + eligible.message();
      continue;
    }
    nodes.push_back({peer, t->hash});
    spread_values.push_back(sched::spread_value(job.spec, t->attributes));
  }
  if (!job.spec.spread_over.empty()) prefer_unused_spread_values(job, nodes, spread_values);
  // Two coordinators of one job may number their rounds alike (a round of another coordinator
  // that ran past its term's numbers, or two successors whose copies of one term listed the
  // holders in different orders); schedulers evaluate a (job, round) once, so numbers seen in use
  // are skipped instead of waiting out the round timeout on the other round's announcements.
  const std::uint32_t first_skipped = job.round + 1;
  while (roles_.round_seen && job.round + 1 - first_skipped < 64 && roles_.round_seen(id, job.round + 1)) ++job.round;
  if (const std::uint32_t skipped = job.round + 1 - first_skipped; skipped > 0) {
    add_job_event(id, (skipped == 1 ? "round " + std::to_string(first_skipped) + " was"
                                    : "rounds " + std::to_string(first_skipped) + "-" + std::to_string(job.round) + " were") +
                          " used by another coordinator of this job; skipping " + (skipped == 1 ? "it" : "them"));
  }
  // Candidate sampling (docs/sched.md): a round evaluates d of the eligible nodes, chosen by
  // rendezvous hashing so that every scheduler, committee member and executor can check it.
  std::vector<std::string> pool;
  std::size_t sample_size = 0;
  {
    const sched::CandidateCount count = job.spec.candidates.value_or(options_.candidates);
    sample_size = sched::candidates_for_round(count, nodes.size(), static_cast<std::uint32_t>(slots.size()), widenings_[id]);
    if (sample_size < nodes.size()) {
      for (const auto& n : nodes) pool.push_back(n.peer);
      const auto sample = sched::sample_candidates(id, job.round + 1, pool, sample_size);
      const std::set<std::string> chosen(sample.begin(), sample.end());
      std::erase_if(nodes, [&](const TelemetryRef& n) { return chosen.count(n.peer) == 0; });
    }
  }
  if (nodes.empty()) {
    (void)move(job, JobPhase::kPending);  // allowed from every phase start_round accepts
    save(job);
    const bool filtered = fresh > 0;
    add_job_event(id, filtered ? "no live node matches the job's constraints and volumes (" + ineligible + "); retrying in 10 s"
                               : "no live node has published telemetry yet; retrying in 3 s");
    auto timer = std::make_shared<asio::steady_timer>(node_.io(), std::chrono::seconds(filtered ? 10 : 3));
    timer->async_wait([this, timer, id, exclude](const boost::system::error_code& ec) {
      auto it = jobs_.find(id);
      if (!ec && !node_.stopping() && it != jobs_.end() && it->second.phase == JobPhase::kPending) start_round(it->second, exclude);
    });
    return;
  }
  ScheduleRequest request;
  request.job_id = id;
  request.round = ++job.round;
  request.coordinator = node_.self();
  request.spec_yaml = job.spec_yaml;
  request.candidates = candidates;
  request.schedulers = select_schedulers(id, request.round, candidates, std::min(options_.schedulers, candidates.size()));
  request.nodes = nodes;
  request.replicas = static_cast<std::uint32_t>(slots.size());
  request.created_ms = static_cast<std::uint64_t>(node_.now_ms());
  if (!pool.empty()) {
    request.sample_pool = pool;
    request.sample_size = static_cast<std::uint32_t>(sample_size);
  }

  RoundRecord record;
  record.round = request.round;
  record.slots = slots;
  record.schedulers = request.schedulers;
  record.nodes = nodes;
  record.started_ms = request.created_ms;
  record.eligible = static_cast<std::uint32_t>(pool.empty() ? nodes.size() : pool.size());
  record.decision_format = request.decision_format;
  job.rounds.push_back(record);
  (void)move(job, JobPhase::kScheduling);  // checked above
  save(job);
  std::string names;
  for (const auto& s : request.schedulers) names += (names.empty() ? "" : ", ") + s;
  add_job_event(id, "round " + std::to_string(request.round) + ": " + std::to_string(slots.size()) + " replica(s) over " +
                        std::to_string(nodes.size()) + " nodes" +
                        (pool.empty() ? "" : " (a rendezvous sample of " + std::to_string(pool.size()) + " eligible)") +
                        "; schedulers " + names);

  auto& progress = progress_[id];
  progress = RoundProgress{};
  progress.deadline = std::make_unique<asio::steady_timer>(node_.io(), options_.round_timeout);
  const std::uint32_t round = request.round;
  progress.deadline->async_wait([this, id, round](const boost::system::error_code& ec) {
    JobState* current = ec || node_.stopping() ? nullptr : job_in_round(id, round);
    if (current == nullptr || progress_[id].decided) return;
    auto& job = *current;
    auto& rr = job.rounds.back();
    rr.outcome = "timeout";
    std::string silent;
    for (const auto& s : rr.schedulers) {
      if (rr.announced.count(s) == 0) silent += " " + s;
    }
    add_job_event(id, "round " + std::to_string(round) + " timed out" + (silent.empty() ? "" : "; no decision from" + silent));
    start_round(job, active_replica_nodes(job));
  });

  const Bytes bytes = encode(request);
  node_.publish(options_.jobs_topic, bytes);
  roles_.evaluate_round(bytes);
}

// ---- collecting decisions ---------------------------------------------------------------------

void CoordinatorRole::handle_decision_submission(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto submission = decode_decision_submission(message);
  AssignmentAck ack;
  auto it = submission.ok() ? jobs_.find(submission->job_id) : jobs_.end();
  if (!submission.ok()) {
    ack.error = submission.status().message();
  } else if (job_in_round(submission->job_id, submission->round) == nullptr) {
    ack.error = "not the current round of a running job this node coordinates";
  } else {
    const auto& schedulers = it->second.rounds.back().schedulers;
    if (std::find(schedulers.begin(), schedulers.end(), peer) == schedulers.end()) {
      ack.error = peer + " is not a scheduler of this round";
    } else {
      // Kept by hash: only a record whose hash the quorum announced is ever used.
      progress_[submission->job_id].records[hash_hex(sched::decision_hash(submission->record))] = submission->record;
    }
  }
  reply(encode(ack));
  if (ack.error.empty()) consider_round(submission->job_id);
}

void CoordinatorRole::consider_round(const Hash32& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.rounds.empty() || it->second.phase == JobPhase::kStopped) return;
  auto& job = it->second;
  auto& rr = job.rounds.back();
  auto& progress = progress_[job_id];
  const auto& announced = roles_.announced(job_id, rr.round);
  const Hash32 inputs = inputs_root_of(rr.decision_format, rr.nodes);
  std::map<std::string, std::size_t> votes;
  // Schedulers whose announcement for this number is for another coordinator's round of it:
  // kept before this round was seen here, or turned away once it was.
  const std::set<std::string> turned_away =
      roles_.announced_elsewhere ? roles_.announced_elsewhere(job_id, rr.round) : std::set<std::string>{};
  std::size_t elsewhere = 0;
  for (const auto& scheduler : rr.schedulers) {
    auto a = announced.find(scheduler);
    if (a == announced.end()) {
      elsewhere += turned_away.count(scheduler);
      continue;
    }
    if (a->second.inputs_root != inputs) {
      // Computed from other inputs: the same round number used by another coordinator of this
      // job, which the scheduler evaluated (it evaluates a round number once). Neither a vote
      // here nor a lie.
      ++elsewhere;
      continue;
    }
    rr.announced[scheduler] = a->second.error.empty() ? hash_hex(a->second.decision_hash) : "error: " + a->second.error;
    if (a->second.error.empty()) ++votes[hash_hex(a->second.decision_hash)];
  }
  const std::size_t quorum = agreement_quorum(rr.schedulers.size());
  if (rr.agreed.empty()) {
    for (const auto& [hash, count] : votes) {
      if (count >= quorum) rr.agreed = hash;
    }
  }
  if (!rr.agreed.empty()) {
    // Anyone who announced something else is named, once.
    for (const auto& [scheduler, what] : rr.announced) {
      if (what == rr.agreed || std::find(rr.liars.begin(), rr.liars.end(), scheduler) != rr.liars.end()) continue;
      rr.liars.push_back(scheduler);
      const std::string warning = "scheduler " + scheduler + " published decision " +
                                  (what.starts_with("error: ") ? what.substr(0, 96) : what.substr(0, 16)) +
                                  " which disagrees with the quorum's " + rr.agreed.substr(0, 16) + "; ignored";
      job.warnings.push_back(warning);
      logger()->error("job {}: {}", short_id(job_id), warning);
      add_job_event(job_id, warning);
      node_.metrics().counter("veil_sched_disagreements_total", "Decisions that disagreed with the quorum.", {"scheduler"})
          .with({scheduler})
          .inc();
    }
    save(job);
    if (!progress.decrypting && progress.records.count(rr.agreed) > 0) request_shares(job);
    return;
  }
  if (elsewhere > 0 && rr.schedulers.size() - elsewhere < quorum && rr.outcome.empty()) {
    rr.outcome = "round-reused";
    add_job_event(
        job_id, "round " + std::to_string(rr.round) + ": " + std::to_string(elsewhere) + " of its " +
                    std::to_string(rr.schedulers.size()) +
                    " schedulers evaluated another coordinator's round of this number; another round in 2 s");
    progress.decided = true;
    start_round_later(job_id, rr.round, std::chrono::seconds(2), active_replica_nodes);
    save(job);
    return;
  }
  if (rr.announced.size() + elsewhere == rr.schedulers.size()) {
    std::size_t best = 0;
    for (const auto& [hash, count] : votes) best = std::max(best, count);
    if (best < quorum && rr.outcome.empty()) {
      rr.outcome = "no-quorum";
      add_job_event(job_id, "round " + std::to_string(rr.round) + ": the schedulers do not agree; another round in 2 s");
      progress.decided = true;
      start_round_later(job_id, rr.round, std::chrono::seconds(2), active_replica_nodes);
    }
  }
  save(job);
}

// ---- threshold decryption ---------------------------------------------------------------------

void CoordinatorRole::request_shares(JobState& job) {
  auto& rr = job.rounds.back();
  auto& progress = progress_[job.id];
  const auto& record = progress.records.at(rr.agreed);
  auto values = decision_values(record, static_cast<std::uint32_t>(rr.slots.size()), node_.keys().public_key.params());
  if (!values.ok()) {
    add_job_event(job.id, "the agreed decision is malformed: " + values.status().message());
    return;
  }
  if (!move(job, JobPhase::kDecrypting)) return;
  progress.decrypting = true;
  progress.values = std::move(*values);
  save(job);
  const std::size_t threshold = node_.keys().committee.threshold;
  const std::size_t members = node_.keys().member_peers.size();
  const bool hedged = options_.committee_hedge.count() > 0 && threshold < members;
  add_job_event(job.id, "decision " + rr.agreed.substr(0, 16) + " agreed by a quorum; asking the committee (" +
                            std::to_string(threshold) + " of " + std::to_string(members) + ")" +
                            (hedged ? "" : ", every member at once"));
  progress.asking_order = committee_asking_order(job.id, rr.round, node_.keys().member_peers, node_.self(),
                                                 [this](const std::string& peer) { return node_.declared_dead(peer); });
  progress.asked = 0;
  const Hash32 id = job.id;
  const std::uint32_t round = rr.round;
  ask_committee(id, round, hedged ? threshold : members);
  if (!hedged) return;
  // A member's work grows with the values it decrypts: the delay is per two replicas (four values).
  const auto hedge = options_.committee_hedge * static_cast<long>(std::max<std::size_t>(1, (progress.values.size() + 3) / 4));
  progress.hedge = std::make_unique<asio::steady_timer>(node_.io(), hedge);
  progress.hedge->async_wait([this, id, round, hedge](const boost::system::error_code& ec) {
    if (ec) return;
    JobState* job = job_in_round(id, round);
    auto it = progress_.find(id);
    if (job == nullptr || it == progress_.end() || it->second.decided) return;
    const RoundProgress& p = it->second;
    if (p.asked >= p.asking_order.size()) return;
    std::string silent;
    for (std::size_t i = 0; i < p.asked; ++i) {
      if (p.responses.count(p.asking_order[i]) > 0) continue;
      silent += (silent.empty() ? "" : ", ") + p.asking_order[i];
    }
    add_job_event(id, "no shares yet from " + (silent.empty() ? std::string("enough members") : silent) + " after " +
                          delay_text(hedge) + "; asking the rest of the committee");
    ask_committee(id, round, p.asking_order.size());
  });
}

void CoordinatorRole::ask_committee(const Hash32& job_id, std::uint32_t round, std::size_t count) {
  auto it = progress_.find(job_id);
  JobState* job = job_in_round(job_id, round);
  if (job == nullptr || it == progress_.end()) return;
  RoundProgress& progress = it->second;
  const DecryptRequest request{job_id, round, progress.records.at(job->rounds.back().agreed)};
  const Bytes encoded = encode(request);
  for (; count > 0 && progress.asked < progress.asking_order.size(); --count) {
    const std::string member = progress.asking_order[progress.asked++];
    if (member == node_.self()) {
      // Our own share: the same checks as for anyone else's request.
      roles_.decrypt(encoded, [this, job_id, round](Bytes reply) {
        node_.post([this, job_id, round, reply = std::move(reply)]() mutable {
          on_shares(job_id, round, node_.self(), std::move(reply));
        });
      });
      continue;
    }
    node_.request(member, kDecryptProtocol, encoded,
                  [this, job_id, round, member](Result<Bytes> reply) { on_shares(job_id, round, member, std::move(reply)); });
  }
}

void CoordinatorRole::on_shares(const Hash32& job_id, std::uint32_t round, const std::string& member, Result<Bytes> reply) {
  JobState* current = job_in_round(job_id, round);
  auto progress_it = progress_.find(job_id);
  if (current == nullptr || progress_it == progress_.end() || progress_it->second.decided) return;
  auto& job = *current;
  auto& progress = progress_it->second;
  DecryptResponse response;
  if (!reply.ok()) {
    response.error = "unreachable: " + reply.status().message();
  } else if (auto decoded = decode_decrypt_response(*reply); decoded.ok()) {
    response = std::move(*decoded);
  } else {
    response.error = "malformed answer: " + decoded.status().message();
  }
  progress.responses[member] = response;
  if (!response.error.empty()) {
    const bool more = progress.asked < progress.asking_order.size();
    add_job_event(job_id, "committee member " + member + " gave no shares: " + response.error +
                              (more ? "; asking " + progress.asking_order[progress.asked] + " instead" : ""));
    ask_committee(job_id, round, 1);
  }

  // Shares per decision value from every member that answered.
  std::vector<std::vector<DecryptionShare>> shares(progress.values.size());
  std::size_t answered = 0;
  for (const auto& [peer, r] : progress.responses) {
    if (!r.error.empty() || r.shares.size() != progress.values.size()) continue;
    bool ok = true;
    std::vector<DecryptionShare> parsed;
    for (const auto& bytes : r.shares) {
      auto share = DecryptionShare::deserialize(bytes);
      if (!share.ok()) {
        ok = false;
        break;
      }
      parsed.push_back(std::move(*share));
    }
    if (!ok) continue;
    ++answered;
    for (std::size_t v = 0; v < parsed.size(); ++v) shares[v].push_back(std::move(parsed[v]));
  }
  // Every member asked has answered and none is left to ask.
  const bool everyone_answered =
      progress.asked == progress.asking_order.size() && progress.responses.size() == progress.asking_order.size();
  if (answered < node_.keys().committee.threshold) {
    if (everyone_answered) {
      job.rounds.back().outcome = "decrypt-failed";
      const auto delay = next_retry_delay(job_id);
      add_job_event(job_id, "fewer than " + std::to_string(int(node_.keys().committee.threshold)) +
                                " committee members gave shares; a new round in " + delay_text(delay));
      progress.decided = true;
      (void)move(job, JobPhase::kFailed);  // the job is not stopped (job_in_round)
      save(job);
      // Members come back (a restart before SWIM re-learned their addresses, a partition):
      // the job must not wait for an unrelated event to try again.
      start_round_later(job_id, round, delay, active_replica_nodes,
                        [](const JobState& job) { return job.phase == JobPhase::kFailed; });
    }
    return;
  }
  // Enough shares: every value must combine (the combiner names members whose shares are wrong).
  std::vector<std::uint64_t> plaintexts;
  for (std::size_t v = 0; v < shares.size(); ++v) {
    auto combined = fhe::threshold::combine(node_.keys().committee, decision_request(job_id, round, v, progress.values[v]), shares[v]);
    if (!combined.ok()) {
      if (everyone_answered) {
        add_job_event(job_id, "decryption failed: " + combined.status().message());
      } else if (progress.asked < progress.asking_order.size()) {
        // Some share is wrong and the rest of the committee can outvote it.
        add_job_event(job_id, "the shares so far do not combine (" + combined.status().message() +
                                  "); asking the rest of the committee");
        ask_committee(job_id, round, progress.asking_order.size());
      }
      return;
    }
    for (const auto& wrong : combined->wrong) {
      job.warnings.push_back("committee member " + std::to_string(int(wrong.member)) + " gave a wrong share: " + wrong.reason);
    }
    plaintexts.push_back(combined->value);
  }
  progress.decided = true;
  place(job, shares, plaintexts);
}

// ---- placement and assignment -----------------------------------------------------------------

// Replicas that fit nowhere wait, as a Kubernetes pod stays Pending: a new round for them
// every 10 s, as long as the job runs and nothing else is in flight.
void CoordinatorRole::retry_unplaced(JobState& job) {
  std::vector<std::uint32_t> unplaced;
  for (std::uint32_t i = 0; i < job.replicas.size(); ++i) {
    if (job.replicas[i].phase == ReplicaPhase::kNoFit) unplaced.push_back(i);
  }
  if (unplaced.empty()) return;
  if (unplaced.size() == job.replicas.size()) (void)move(job, JobPhase::kPending);
  // A sampled round that found no fit widens: the next one evaluates twice the candidates.
  const bool sampled = !job.rounds.empty() && job.rounds.back().nodes.size() < job.rounds.back().eligible;
  if (sampled) ++widenings_[job.id];
  add_job_event(job.id, std::to_string(unplaced.size()) + " replica(s) fit no node now; trying again in 10 s" +
                            (sampled ? " over twice the candidates" : ""));
  start_round_later(job.id, job.round, std::chrono::seconds(10), active_replica_nodes);
}

void CoordinatorRole::place(JobState& job, const std::vector<std::vector<DecryptionShare>>& shares,
                         const std::vector<std::uint64_t>& plaintexts) {
  auto& progress = progress_[job.id];
  const auto& record = progress.records.at(job.rounds.back().agreed);
  const std::uint32_t round = job.round;
  const std::vector<std::uint32_t> round_slots = job.rounds.back().slots;
  const std::vector<PlacedReplica> placed = apply_decision(job, round, plaintexts);
  std::vector<std::vector<Bytes>> share_bytes;
  for (const auto& per_value : shares) {
    std::vector<Bytes> list;
    for (const auto& s : per_value) list.push_back(s.serialize());
    share_bytes.push_back(std::move(list));
  }
  bool all_fit = true;
  for (std::uint32_t slot : round_slots) {
    if (job.replicas[slot].phase != ReplicaPhase::kNoFit) continue;
    all_fit = false;
    add_job_event(job.id, "replica " + std::to_string(slot) + ": no node fits");
  }
  if (all_fit) widenings_.erase(job.id);
  for (const PlacedReplica& p : placed) add_job_event(job.id, "replica " + std::to_string(p.slot) + " placed on " + p.node);
  std::vector<std::pair<std::string, Assignment>> assignments;  // node, assignment
  // The secrets leave this node only sealed to the node that runs each replica. A successor
  // after fail-over cannot open them (they are sealed to the node the job was submitted to):
  // its assignments carry none and the executors refuse them, naming the secrets.
  std::optional<std::map<std::string, std::string>> secrets;
  if (!job.sealed_secrets.empty()) {
    auto opened = node_.open_secrets(job.sealed_secrets);
    if (opened.ok()) secrets = std::move(*opened);
    else add_job_event(job.id, "cannot open the job's secrets (" + opened.status().message() + "); resubmit it from its owner's node");
  }
  for (const PlacedReplica& p : placed) {
    Assignment assignment;
    assignment.job_id = job.id;
    assignment.round = round;
    assignment.replica = p.slot;
    assignment.choice = p.choice;
    assignment.record = record;
    assignment.owner = job.owner;
    if (secrets) {
      for (const auto& [name, value] : *secrets) {
        auto box = seal_to_peer(p.node, value);
        if (box.ok()) assignment.secrets[name] = std::move(*box);
      }
    }
    // Only this replica's two values: the node learns where it runs, not where the others do.
    assignment.shares.resize(share_bytes.size());
    assignment.shares[2 * p.choice] = share_bytes[2 * p.choice];
    assignment.shares[2 * p.choice + 1] = share_bytes[2 * p.choice + 1];
    assignments.emplace_back(p.node, std::move(assignment));
  }
  progress.deadline.reset();
  progress.hedge.reset();
  retry_unplaced(job);
  node_.metrics().counter("veil_jobs_placed_total", "Scheduling rounds that ended in a placement.").with({}).inc();
  // The fence of fail-over (job_replication.h): the assignments leave only once a majority of
  // the job's holders stored this placement. A coordinator that was superseded cannot gather
  // that majority, and one that learns so steps down instead.
  const Hash32 id = job.id;
  save(job, [this, id, round, assignments = std::move(assignments)](bool replicated) {
    JobState* current = job_in_round(id, round);
    if (current == nullptr) return;
    if (!replicated) {
      const auto delay = next_retry_delay(id);
      add_job_event(id, "round " + std::to_string(round) + ": the placement did not reach a majority of the job's holders; "
                            "nothing assigned, a new round in " + delay_text(delay));
      for (const auto& [node, a] : assignments) apply_refusal(*current, a.replica, round, "not replicated to a majority of holders");
      save(*current);
      start_round_later(id, round, delay, active_replica_nodes);
      return;
    }
    for (const auto& [node, assignment] : assignments) send_assignment(id, node, assignment);
    // spread_over places one replica a round: the next one now, away from this one's value.
    if (!assignments.empty() && !current->spec.spread_over.empty() && !slots_needing_placement(*current).empty()) {
      start_round(*current, active_replica_nodes(*current));
    }
  });
}

void CoordinatorRole::send_assignment(const Hash32& id, const std::string& node, const Assignment& assignment) {
  auto on_ack = [this, id, slot = assignment.replica, round = assignment.round, node](Result<Bytes> reply) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    std::string error = reply.ok() ? "" : reply.status().message();
    if (reply.ok()) {
      auto ack = decode_assignment_ack(*reply);
      error = ack.ok() ? ack->error : ack.status().message();
    }
    if (error.empty()) return;
    const auto delay = next_retry_delay(id);
    add_job_event(id, "replica " + std::to_string(slot) + " refused by " + node + ": " + error + "; a new round in " +
                          delay_text(delay) + " without that node");
    apply_refusal(it->second, slot, round, error);
    save(it->second);
    // The refused replica needs another node; nothing else would start a round for it (the
    // chaos soak found a job left in "placing" for minutes after an assignment's dial timed out).
    start_round_later(
        id, round, delay,
        [node](JobState& current) {
          std::set<std::string> exclude = active_replica_nodes(current);
          exclude.insert(node);
          return exclude;
        },
        [](const JobState& current) { return !slots_needing_placement(current).empty(); });
  };
  if (node == node_.self()) {
    roles_.assign(encode(assignment), [this, on_ack](Bytes reply) {
      node_.post([on_ack, reply = std::move(reply)]() mutable { on_ack(std::move(reply)); });
    });
  } else {
    node_.request(node, kAssignProtocol, encode(assignment), on_ack);
  }
}

void CoordinatorRole::handle_report(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto report = decode_replica_report(message);
  auto it = report.ok() ? jobs_.find(report->job_id) : jobs_.end();
  auto phase = report.ok() ? parse_replica_phase(report->state) : Result<ReplicaPhase>(report.status());
  ReportOutcome outcome;
  if (report.ok() && it == jobs_.end()) {
    // A job this node holds for another coordinator (this node coordinated it before a
    // fail-over): a replaced replica is refused, any other answered without a change and sent
    // on to the coordinator the copy names.
    if (auto answer = answer_report_for_held(report->job_id, peer, *report)) {
      reply(encode(*answer));
      if (!answer->error.empty()) {
        add_job_event(report->job_id, "replica " + std::to_string(report->replica) + " on " + peer + " reported " +
                                          report->state + ": refused (" + answer->error + "); the node removes it");
      }
      return;
    }
  }
  if (!phase.ok()) outcome.refusal = phase.status().message();
  else if (it == jobs_.end()) outcome.refusal = "unknown job or replica";
  else outcome = apply_report(it->second, peer, report->replica, *phase, report->endpoint, report->detail, report->exit_code,
                              static_cast<std::uint64_t>(node_.now_ms()));
  // A refusal makes the node remove its copy: how a stopped job's late replica, or one that
  // was replaced while its node was away, is undone.
  reply(encode(AssignmentAck{outcome.refusal}));
  if (!outcome.refusal.empty()) {
    if (it != jobs_.end()) {
      add_job_event(it->second.id, "replica " + std::to_string(report->replica) + " on " + peer + " reported " +
                                       report->state + ": refused (" + outcome.refusal + "); the node removes it");
    }
    return;
  }
  auto& job = it->second;
  if (*phase == ReplicaPhase::kRunning) retry_count_.erase(job.id);
  const std::string pull_event =
      note_pull(job.replicas[report->replica], report->pull, report->at_ms, static_cast<std::uint64_t>(node_.now_ms()));
  // A pull that starts with the replica's move to starting is told by that move's event.
  if (!pull_event.empty() && !(outcome.changed && report->pull)) {
    add_job_event(job.id, "replica " + std::to_string(report->replica) + " on " + peer + ": " + pull_event);
  }
  if (outcome.changed) {
    add_job_event(job.id, "replica " + std::to_string(report->replica) + " on " + peer + ": " + report->state +
                              (report->endpoint.empty() ? "" : " at " + report->endpoint) +
                              (report->detail.empty() ? "" : " (" + report->detail + ")"));
  }
  // Progress of a pull changes nothing worth writing down: readers of this node see it in
  // memory, and the record written next carries the latest sums.
  if (report->pull && pull_event.empty() && !outcome.changed) return;
  if (outcome.drained) {
    std::set<std::string> exclude = active_replica_nodes(job);
    exclude.insert(peer);
    start_round(job, exclude);
    return;
  }
  if (outcome.reschedule) {
    add_job_event(job.id, "replica " + std::to_string(report->replica) + ": " + peer + " gave it up; rescheduling elsewhere");
    // Never back onto a node where it failed, unless no other live node is left.
    std::set<std::string> exclude = reschedule_exclusions(job);
    const auto live = node_.live_members();
    if (std::all_of(live.begin(), live.end(), [&](const std::string& p) { return exclude.count(p) > 0; })) {
      exclude = active_replica_nodes(job);
    }
    start_round(job, exclude);
    return;
  }
  if (outcome.finished) {
    add_job_event(job.id, std::string("every replica finished: the job ") + std::string(phase_name(job.phase)));
  }
  if (outcome.now_running) add_job_event(job.id, "all placed replicas are running");
  save(job);
  maybe_anchor(job);
}

// ---- anchoring --------------------------------------------------------------------------------

void CoordinatorRole::maybe_anchor(JobState& job) {
  for (const auto& rr : job.rounds) {
    if (rr.outcome != "placed") continue;
    bool anchored = false;
    for (const auto& a : job.anchors) anchored = anchored || a.round == rr.round;
    if (anchored) continue;
    bool running = true;
    for (auto slot : rr.slots) {
      const auto& r = job.replicas[slot];
      const bool up = r.phase == ReplicaPhase::kRunning || r.phase == ReplicaPhase::kNoFit || r.phase == ReplicaPhase::kSucceeded;
      if (r.round == rr.round && !up) running = false;
    }
    if (!running) continue;
    AnchorInfo anchor;
    anchor.round = rr.round;
    job.anchors.push_back(anchor);
    save(job);  // durable before the transaction: a restart resends it (resume_anchors)
    resume_anchors();
  }
}

void CoordinatorRole::resume_anchors() {
  if (batcher_.batching()) return pool_anchors();
  for (auto& [id, job] : jobs_) {
    for (auto& anchor : job.anchors) {
      if (anchor.phase != AnchorPhase::kPending) continue;
      auto commitment = round_commitment(job, anchor.round);
      if (!commitment) continue;
      anchor.commitment = to_hex_prefixed(chain::VeilRegistry::commitment_hash(*commitment));
      (void)move(anchor, AnchorPhase::kSending);  // from kPending, checked above
      const std::uint32_t round = anchor.round;
      node_.post_blocking([this, id = id, round, commitment = *commitment] {
        AnchorInfo result = roles_.anchor(commitment);
        result.round = round;
        node_.post([this, id, result] {
          auto it = jobs_.find(id);
          if (it == jobs_.end()) return;
          bool anchored = false;
          for (auto& a : it->second.anchors) {
            if (a.round != result.round || !move(a, result.phase)) continue;
            a = result;
            anchored = a.phase == AnchorPhase::kAnchored;
          }
          add_job_event(id, result.phase == AnchorPhase::kAnchored
                                ? "deployment anchored: commitment " + result.commitment + " in tx " + result.tx + " (block " +
                                      std::to_string(result.block) + ")"
                            : result.phase == AnchorPhase::kFailed ? "anchoring failed: " + result.error
                                                                    : "anchor sent; its event is not seen yet");
          if (anchored) prove_contradictions(it->second, result);
          save(it->second);
        });
      });
    }
  }
}

void CoordinatorRole::prove_contradictions(const JobState& job, const AnchorInfo& anchor) {
  const auto domain = node_.announcement_domain();
  if (!domain || !roles_.announced) return;
  const auto agreed = round_commitment(job, anchor.round);
  if (!agreed) return;
  for (const auto& [scheduler, contradiction] : contradiction_evidence(*agreed, anchor, roles_.announced(job.id, anchor.round))) {
    if (scheduler == node_.self()) continue;
    auto signer = contradiction.signer(*domain);
    if (!signer.ok()) {
      logger()->warn("job {} round {}: the announcement of {} contradicts the anchored decision but proves nothing: {}",
                     hash_hex(job.id).substr(0, 12), anchor.round, scheduler, signer.status().message());
      continue;
    }
    add_job_event(job.id, "scheduler " + scheduler + " signed decision " + hash_hex(contradiction.announced_decision).substr(0, 16) +
                              " for round " + std::to_string(anchor.round) + ", which contradicts the anchored " +
                              hash_hex(contradiction.agreed_decision).substr(0, 16) + ": submitting the evidence");
    node_.report_contradiction(scheduler, contradiction, *signer);
  }
}

// ---- batched anchoring --------------------------------------------------------------------------

void CoordinatorRole::pool_anchors() {
  for (auto& [id, job] : jobs_) {
    for (auto& anchor : job.anchors) {
      const AnchorBatcher::Key key{id, anchor.round};
      if (anchor.phase != AnchorPhase::kPending || batcher_.contains(key)) continue;
      auto commitment = round_commitment(job, anchor.round);
      if (!commitment) continue;
      const Hash32 hash = chain::VeilRegistry::commitment_hash(*commitment);
      anchor.commitment = to_hex_prefixed(hash);
      // One sent under a root before (read back after a restart or a take-over) keeps it.
      batcher_.add(key, hash, node_.now_ms(), placement_of(anchor));
    }
  }
  send_due_batch();
}

void CoordinatorRole::send_due_batch() {
  auto batch = batcher_.take_due(node_.now_ms());
  if (!batch) return arm_anchor_timer();
  // Durable before the transaction: after a restart the chain is asked about this root before
  // anything is sent again (AnchorBatcher, "sent under a root").
  std::set<Hash32> touched;
  for (std::size_t i = 0; i < batch->members.size(); ++i) {
    const auto& key = batch->members[i].first;
    auto it = jobs_.find(key.job);
    if (it == jobs_.end()) continue;
    for (auto& a : it->second.anchors) {
      if (a.round != key.round || a.phase != AnchorPhase::kPending) continue;
      set_placement(a, batch->placements[i]);
      (void)move(a, AnchorPhase::kSending);  // from kPending, checked above
      touched.insert(key.job);
    }
  }
  for (const auto& id : touched) save(jobs_.at(id));
  node_.post_blocking([this, batch = *batch] {
    AnchorInfo result = roles_.anchor_batch(batch.root, batch.size, batch.complete);
    node_.post([this, batch, result] { on_batch_result(batch, result); });
  });
}

void CoordinatorRole::on_batch_result(const AnchorBatcher::Batch& batch, const AnchorInfo& result) {
  using Outcome = AnchorBatcher::Outcome;
  const Outcome outcome = result.phase == AnchorPhase::kAnchored ? Outcome::kAnchored
                          : result.phase == AnchorPhase::kFailed ? Outcome::kFailed
                          : batch.complete                       ? Outcome::kUnconfirmed
                                                                 : Outcome::kNotAnchored;
  batcher_.finish(batch, outcome, node_.now_ms());
  const std::string root = to_hex_prefixed(batch.root);
  std::set<Hash32> touched;
  for (std::size_t i = 0; i < batch.members.size(); ++i) {
    const auto& key = batch.members[i].first;
    auto it = jobs_.find(key.job);
    if (it == jobs_.end()) {
      batcher_.remove_job(key.job);  // it moved to another coordinator while the batch was in flight
      continue;
    }
    for (auto& a : it->second.anchors) {
      if (a.round != key.round || a.phase == AnchorPhase::kAnchored) continue;
      touched.insert(key.job);
      const std::string leaf = "leaf " + std::to_string(i) + " of " + std::to_string(batch.size);
      if (outcome == Outcome::kAnchored || outcome == Outcome::kUnconfirmed) {
        set_placement(a, batch.placements[i]);
      } else {
        a.batch_root.clear();
        a.batch_index = a.batch_size = 0;
        a.proof.clear();
      }
      if (outcome == Outcome::kAnchored) {
        (void)move(a, AnchorPhase::kAnchored);
        a.tx = result.tx;
        a.block = result.block;
        a.error.clear();
        add_job_event(key.job, "deployment anchored in batch " + root + " (" + leaf + "): commitment " + a.commitment +
                                   " in tx " + result.tx + " (block " + std::to_string(result.block) + ")");
        prove_contradictions(it->second, a);
        continue;
      }
      (void)move(a, AnchorPhase::kPending);  // from kSending: retried by the batcher
      if (outcome == Outcome::kUnconfirmed) {
        add_job_event(key.job, "batch " + root + " sent (" + leaf + "); the chain does not confirm it yet");
      } else if (outcome == Outcome::kNotAnchored) {
        add_job_event(key.job, "batch " + root + " was never anchored; the commitment waits for a new batch");
      } else if (a.error != result.error) {  // one event per distinct error, not one per retry
        a.error = result.error;
        add_job_event(key.job, "anchoring batch failed (retried in " + delay_text(batcher_.options().retry) + "): " + result.error);
      }
    }
  }
  for (const auto& id : touched) save(jobs_.at(id));
  send_due_batch();
}

void CoordinatorRole::arm_anchor_timer() {
  const std::int64_t now = node_.now_ms();
  auto due = batcher_.next_due_ms(now);
  if (!due) return;
  if (!anchor_timer_) anchor_timer_ = std::make_unique<asio::steady_timer>(node_.io());
  anchor_timer_->expires_after(std::chrono::milliseconds(*due - now));  // replaces the wait armed before
  anchor_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !node_.stopping()) send_due_batch();
  });
}

// ---- failures and stops -----------------------------------------------------------------------

void CoordinatorRole::reschedule_lost(const std::string& peer, const std::string& why) {
  for (auto& [id, job] : jobs_) {
    const std::vector<std::uint32_t> lost = mark_lost(job, peer);
    if (lost.empty()) continue;
    add_job_event(id, std::to_string(lost.size()) + " replica(s) lost: node " + peer + " is " + why + "; rescheduling");
    node_.metrics().counter("veil_replicas_rescheduled_total", "Replicas rescheduled after their node died or drained.").with({}).inc(
        static_cast<double>(lost.size()));
    std::set<std::string> exclude = active_replica_nodes(job);
    exclude.insert(peer);
    start_round(job, exclude);
  }
  // A round still waiting for the dead scheduler's announcement would wait for its timeout
  // (and without it a majority may be out of reach): start it again without that scheduler.
  for (auto& [id, job] : jobs_) {
    if (job.phase != JobPhase::kScheduling || job.rounds.empty()) continue;
    const RoundRecord& rr = job.rounds.back();
    const bool waiting = std::find(rr.schedulers.begin(), rr.schedulers.end(), peer) != rr.schedulers.end() &&
                         rr.announced.count(peer) == 0 && rr.agreed.empty() && rr.outcome.empty();
    if (!waiting) continue;
    add_job_event(id, "round " + std::to_string(rr.round) + ": scheduler " + peer + " is " + why +
                          " before announcing; another round without it");
    job.rounds.back().outcome = "scheduler " + why;
    start_round(job, active_replica_nodes(job));
  }
}

Status CoordinatorRole::stop_job(JobState& job, const std::string& why) {
  if (job.phase == JobPhase::kStopped) return {};
  for (const StopOrder& order : apply_stop(job)) send_stop(job, order);
  progress_.erase(job.id);
  retry_count_.erase(job.id);
  add_job_event(job.id, why);
  save(job);
  return {};
}

void CoordinatorRole::send_stop(const JobState& job, const StopOrder& order) {
  Assignment stop;
  stop.job_id = job.id;
  stop.round = job.round;  // the node's fence refuses this round's assignment should it come later
  stop.replica = order.slot;
  stop.stop = true;
  if (order.node == node_.self()) {
    roles_.assign(encode(stop), [](Bytes) {});
  } else {
    node_.request(order.node, kAssignProtocol, encode(stop), [](Result<Bytes>) {});
  }
}

void CoordinatorRole::save(JobState& job, std::function<void(bool)> replicated, const std::vector<std::string>& also) {
  if (job.coordinator.empty()) job.coordinator = node_.self();  // stored before replication existed
  ++job.version;
  if (auto st = node_.store().put(kJobDoc, hash_hex(job.id), to_json(job)); !st.ok()) {
    logger()->error("state: cannot save job {}: {}", short_id(job.id), st.to_string());
  }
  replicate(job.id, also, std::move(replicated));
}

JobState* CoordinatorRole::job_in_round(const Hash32& id, std::uint32_t round) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.phase == JobPhase::kStopped || it->second.round != round || it->second.rounds.empty())
    return nullptr;
  return &it->second;
}

std::chrono::milliseconds CoordinatorRole::next_retry_delay(const Hash32& id) {
  const int retries = retry_count_[id]++;
  return std::min(options_.max_retry, options_.first_retry * (1 << std::min(retries, 4)));
}

JobState* CoordinatorRole::find_job(const std::string& id_or_name, bool held) {
  std::vector<JobState*> copies;  // coordinated first: a name both coordinated and held is ours
  for (auto& [_, job] : jobs_) copies.push_back(&job);
  if (held) {
    for (auto& [_, job] : held_) copies.push_back(&job);
  }
  JobState** found = best_match(copies, id_or_name, [](JobState* job) -> const JobState& { return *job; });
  return found != nullptr ? *found : nullptr;
}

}  // namespace veil::node
