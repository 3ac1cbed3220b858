// The coordinator role: for each job submitted to this node, run scheduling rounds, decide
// which decision a quorum of schedulers agrees on (naming those that disagree), gather the
// committee's shares, assign the replicas, anchor the deployment, and reschedule replicas
// whose node died or drained.
#include <boost/asio/steady_timer.hpp>

#include "daemon_impl.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
using fhe::threshold::DecryptionShare;

auto logger() { return log::get("coordinator"); }

std::string short_id(const Hash32& id) { return hash_hex(id).substr(0, 12); }

// How long a job whose round could not place (too few committee shares, a placement not
// replicated, an assignment refused) waits before the next round: 5 s, doubling with every
// retry in a row up to a minute, until one of its replicas runs.
constexpr std::chrono::seconds kFirstRetry{5};
constexpr std::chrono::seconds kMaxRetry{60};

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

std::chrono::seconds round_timeout(const fhe::Parameters& params) {
  // A decision on the real parameters takes seconds for tens of nodes on a 2-core machine
  // (bench/README.md); the timeout only matters when a scheduler stays silent without dying
  // (a dead one ends its rounds at once, reschedule_lost). (The test set was meant to get
  // 120 s before, but a case-sensitive match on its name gave it 900 s.)
  return params.insecure ? std::chrono::seconds(120) : std::chrono::seconds(300);
}

}  // namespace

// ---- submission and rounds --------------------------------------------------------------------

Result<JobState*> Daemon::Impl::submit_job(const std::string& spec_yaml) {
  VEIL_ASSIGN_OR_RETURN(auto spec, sched::parse_job_spec(spec_yaml, "spec"));
  VEIL_RETURN_IF_ERROR(sched::quantize_request(spec.resources).status());
  const Hash32 id = sched::job_id(spec);
  if (auto held = held_.find(id); held != held_.end() && held->second.phase != JobPhase::kStopped) {
    return failed_precondition("job " + spec.name + " is coordinated by " + held->second.coordinator +
                               "; submit it there, or stop it there first");
  }
  auto existing = jobs_.find(id);
  if (existing != jobs_.end() && existing->second.phase != JobPhase::kStopped) return &existing->second;
  JobState job;
  job.id = id;
  job.spec = spec;
  job.spec_yaml = sched::to_canonical_yaml(spec);
  job.submitted_ms = static_cast<std::uint64_t>(now_ms());
  job.replicas.resize(spec.replicas);
  job.coordinator = self_text_;
  job.holders = choose_holders(id, self_text_, live_members(), settings_.job_holders);
  if (existing != jobs_.end()) {
    job.rounds = existing->second.rounds;
    job.round = existing->second.round;
    job.anchors = existing->second.anchors;
    job.term = existing->second.term;
    job.version = existing->second.version;
    job.handovers = existing->second.handovers;
  }
  auto& stored = jobs_[id] = std::move(job);
  add_job_event(id, "submitted (" + std::to_string(spec.replicas) + " replicas of " + spec.image.to_string() + ")");
  start_round(stored, {});
  return &stored;
}

void Daemon::Impl::start_round(JobState& job, std::set<std::string> exclude) {
  const Hash32 id = job.id;
  // Every timer and message that may start a round ends here: a stopped job never gets one.
  if (!job_move_allowed(job.phase, JobPhase::kScheduling)) return;
  // A round places every replica that needs a node, not only those of the event that started
  // it: a new round supersedes the one in flight, whose replicas would otherwise be stranded.
  const std::vector<std::uint32_t> slots = slots_needing_placement(job);
  if (slots.empty()) return;
  // Schedulers caught lying — in any job this node coordinates — are not asked again (unless no
  // one else is left): with two live schedulers, one of them lying, no majority could ever
  // form, and a scheduler that published a decision against a quorum once is faulty or hostile.
  std::set<std::string> liars;
  for (const auto& [other_id, other] : jobs_) {
    for (const auto& r : other.rounds) liars.insert(r.liars.begin(), r.liars.end());
  }
  std::vector<std::string> candidates;
  for (const auto& peer : live_members()) {
    if (liars.count(peer) == 0) candidates.push_back(peer);
  }
  if (candidates.empty()) candidates = live_members();
  // Inputs: every live node outside `exclude` with a fresh record.
  const auto freshness = static_cast<std::uint64_t>(3 * settings_.telemetry_interval.count() + 30'000);
  std::vector<TelemetryRef> nodes;
  for (const auto& peer : live_members()) {
    if (exclude.count(peer) > 0) continue;
    auto t = telemetry_->latest(peer);
    if (t && t->timestamp_ms + freshness >= static_cast<std::uint64_t>(now_ms())) nodes.push_back({peer, t->hash});
  }
  if (nodes.empty()) {
    (void)move(job, JobPhase::kPending);  // allowed from every phase start_round accepts
    save(job);
    add_job_event(id, "no live node has published telemetry yet; retrying in 3 s");
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(3));
    timer->async_wait([this, timer, id, exclude](const boost::system::error_code& ec) {
      auto it = jobs_.find(id);
      if (!ec && !stopping_ && it != jobs_.end() && it->second.phase == JobPhase::kPending) start_round(it->second, exclude);
    });
    return;
  }
  ScheduleRequest request;
  request.job_id = id;
  request.round = ++job.round;
  request.coordinator = self_text_;
  request.spec_yaml = job.spec_yaml;
  request.candidates = candidates;
  request.schedulers = select_schedulers(id, request.round, candidates, std::min(settings_.schedulers, candidates.size()));
  request.nodes = nodes;
  request.replicas = static_cast<std::uint32_t>(slots.size());
  request.created_ms = static_cast<std::uint64_t>(now_ms());

  RoundRecord record;
  record.round = request.round;
  record.slots = slots;
  record.schedulers = request.schedulers;
  record.nodes = nodes;
  record.started_ms = request.created_ms;
  job.rounds.push_back(record);
  (void)move(job, JobPhase::kScheduling);  // checked above
  save(job);
  std::string names;
  for (const auto& s : request.schedulers) names += (names.empty() ? "" : ", ") + s;
  add_job_event(id, "round " + std::to_string(request.round) + ": " + std::to_string(slots.size()) + " replica(s) over " +
                        std::to_string(nodes.size()) + " nodes; schedulers " + names);

  auto& progress = progress_[id];
  progress = RoundProgress{};
  progress.deadline = std::make_unique<asio::steady_timer>(io_, round_timeout(keys_.public_key.params()));
  const std::uint32_t round = request.round;
  progress.deadline->async_wait([this, id, round](const boost::system::error_code& ec) {
    JobState* current = ec || stopping_ ? nullptr : job_in_round(id, round);
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
  publish(topics_.jobs, bytes);
  scheduler_->on_round(self_text_, bytes);
}

// ---- collecting decisions ---------------------------------------------------------------------

void Daemon::Impl::handle_decision_submission(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
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

void Daemon::Impl::consider_round(const Hash32& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.rounds.empty() || it->second.phase == JobPhase::kStopped) return;
  auto& job = it->second;
  auto& rr = job.rounds.back();
  auto& progress = progress_[job_id];
  const auto& announced = scheduler_->announced(job_id, rr.round);
  std::map<std::string, std::size_t> votes;
  for (const auto& scheduler : rr.schedulers) {
    auto a = announced.find(scheduler);
    if (a == announced.end()) continue;
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
      const std::string warning = "scheduler " + scheduler + " published decision " + what.substr(0, 16) +
                                  " which disagrees with the quorum's " + rr.agreed.substr(0, 16) + "; ignored";
      job.warnings.push_back(warning);
      logger()->error("job {}: {}", short_id(job_id), warning);
      add_job_event(job_id, warning);
      metrics_.counter("veil_sched_disagreements_total", "Decisions that disagreed with the quorum.", {"scheduler"})
          .with({scheduler})
          .inc();
    }
    save(job);
    if (!progress.decrypting && progress.records.count(rr.agreed) > 0) request_shares(job);
    return;
  }
  if (rr.announced.size() == rr.schedulers.size()) {
    std::size_t best = 0;
    for (const auto& [hash, count] : votes) best = std::max(best, count);
    if (best < quorum && rr.outcome.empty()) {
      rr.outcome = "no-quorum";
      add_job_event(job_id, "round " + std::to_string(rr.round) + ": the schedulers do not agree; another round in 2 s");
      progress.decided = true;
      const std::uint32_t round = rr.round;
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
      timer->async_wait([this, timer, job_id, round](const boost::system::error_code& ec) {
        JobState* current = ec || stopping_ ? nullptr : job_in_round(job_id, round);
        if (current != nullptr) start_round(*current, active_replica_nodes(*current));
      });
    }
  }
  save(job);
}

// ---- threshold decryption ---------------------------------------------------------------------

void Daemon::Impl::request_shares(JobState& job) {
  auto& rr = job.rounds.back();
  auto& progress = progress_[job.id];
  const auto& record = progress.records.at(rr.agreed);
  auto values = decision_values(record, static_cast<std::uint32_t>(rr.slots.size()), keys_.public_key.params());
  if (!values.ok()) {
    add_job_event(job.id, "the agreed decision is malformed: " + values.status().message());
    return;
  }
  if (!move(job, JobPhase::kDecrypting)) return;
  progress.decrypting = true;
  progress.values = std::move(*values);
  save(job);
  add_job_event(job.id, "decision " + rr.agreed.substr(0, 16) + " agreed by a quorum; asking the committee (" +
                            std::to_string(int(keys_.committee.threshold)) + " of " + std::to_string(keys_.committee.size()) +
                            ")");
  const DecryptRequest request{job.id, rr.round, record};
  const Hash32 id = job.id;
  const std::uint32_t round = rr.round;
  for (const auto& member : keys_.member_peers) {
    if (member == self_text_) {
      // Our own share: the same checks as for anyone else's request.
      committee_->handle(self_text_, encode(request), [this, id, round](Bytes reply) {
        asio::post(io_, [this, id, round, reply = std::move(reply)]() mutable { on_shares(id, round, self_text_, std::move(reply)); });
      });
      continue;
    }
    this->request(member, kDecryptProtocol, encode(request),
                  [this, id, round, member](Result<Bytes> reply) { on_shares(id, round, member, std::move(reply)); });
  }
}

void Daemon::Impl::on_shares(const Hash32& job_id, std::uint32_t round, const std::string& member, Result<Bytes> reply) {
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
  if (!response.error.empty()) add_job_event(job_id, "committee member " + member + " gave no shares: " + response.error);
  progress.responses[member] = response;

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
  const bool everyone_answered = progress.responses.size() == keys_.member_peers.size();
  if (answered < keys_.committee.threshold) {
    if (everyone_answered) {
      job.rounds.back().outcome = "decrypt-failed";
      const auto delay = next_retry_delay(job_id);
      add_job_event(job_id, "fewer than " + std::to_string(int(keys_.committee.threshold)) +
                                " committee members gave shares; a new round in " + seconds_text(delay));
      progress.decided = true;
      (void)move(job, JobPhase::kFailed);  // the job is not stopped (job_in_round)
      save(job);
      // Members come back (a restart before SWIM re-learned their addresses, a partition):
      // the job must not wait for an unrelated event to try again.
      auto timer = std::make_shared<asio::steady_timer>(io_, delay);
      timer->async_wait([this, timer, job_id, round](const boost::system::error_code& ec) {
        JobState* current = ec || stopping_ ? nullptr : job_in_round(job_id, round);
        if (current != nullptr && current->phase == JobPhase::kFailed) start_round(*current, active_replica_nodes(*current));
      });
    }
    return;
  }
  // Enough shares: every value must combine (the combiner names members whose shares are wrong).
  std::vector<std::uint64_t> plaintexts;
  for (std::size_t v = 0; v < shares.size(); ++v) {
    auto combined = fhe::threshold::combine(keys_.committee, decision_request(job_id, round, v, progress.values[v]), shares[v]);
    if (!combined.ok()) {
      if (everyone_answered) add_job_event(job_id, "decryption failed: " + combined.status().message());
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
void Daemon::Impl::retry_unplaced(JobState& job) {
  std::vector<std::uint32_t> unplaced;
  for (std::uint32_t i = 0; i < job.replicas.size(); ++i) {
    if (job.replicas[i].phase == ReplicaPhase::kNoFit) unplaced.push_back(i);
  }
  if (unplaced.empty()) return;
  if (unplaced.size() == job.replicas.size()) (void)move(job, JobPhase::kPending);
  add_job_event(job.id, std::to_string(unplaced.size()) + " replica(s) fit no node now; trying again in 10 s");
  const Hash32 id = job.id;
  const std::uint32_t round = job.round;
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(10));
  timer->async_wait([this, timer, id, round](const boost::system::error_code& ec) {
    JobState* current = ec || stopping_ ? nullptr : job_in_round(id, round);
    if (current == nullptr) return;
    start_round(*current, active_replica_nodes(*current));
  });
}

void Daemon::Impl::place(JobState& job, const std::vector<std::vector<DecryptionShare>>& shares,
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
  for (std::uint32_t slot : round_slots) {
    if (job.replicas[slot].phase == ReplicaPhase::kNoFit) add_job_event(job.id, "replica " + std::to_string(slot) + ": no node fits");
  }
  for (const PlacedReplica& p : placed) add_job_event(job.id, "replica " + std::to_string(p.slot) + " placed on " + p.node);
  std::vector<std::pair<std::string, Assignment>> assignments;  // node, assignment
  for (const PlacedReplica& p : placed) {
    Assignment assignment;
    assignment.job_id = job.id;
    assignment.round = round;
    assignment.replica = p.slot;
    assignment.choice = p.choice;
    assignment.record = record;
    // Only this replica's two values: the node learns where it runs, not where the others do.
    assignment.shares.resize(share_bytes.size());
    assignment.shares[2 * p.choice] = share_bytes[2 * p.choice];
    assignment.shares[2 * p.choice + 1] = share_bytes[2 * p.choice + 1];
    assignments.emplace_back(p.node, std::move(assignment));
  }
  progress.deadline.reset();
  retry_unplaced(job);
  metrics_.counter("veil_jobs_placed_total", "Scheduling rounds that ended in a placement.").with({}).inc();
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
                            "nothing assigned, a new round in " + seconds_text(delay));
      for (const auto& [node, a] : assignments) apply_refusal(*current, a.replica, round, "not replicated to a majority of holders");
      save(*current);
      auto timer = std::make_shared<asio::steady_timer>(io_, delay);
      timer->async_wait([this, timer, id, round](const boost::system::error_code& ec) {
        JobState* again = ec || stopping_ ? nullptr : job_in_round(id, round);
        if (again != nullptr) start_round(*again, active_replica_nodes(*again));
      });
      return;
    }
    for (const auto& [node, assignment] : assignments) send_assignment(id, node, assignment);
  });
}

void Daemon::Impl::send_assignment(const Hash32& id, const std::string& node, const Assignment& assignment) {
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
                          seconds_text(delay) + " without that node");
    apply_refusal(it->second, slot, round, error);
    save(it->second);
    // The refused replica needs another node; nothing else would start a round for it (the
    // chaos soak found a job left in "placing" for minutes after an assignment's dial timed out).
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([this, timer, id, round, node](const boost::system::error_code& ec) {
      JobState* current = ec || stopping_ ? nullptr : job_in_round(id, round);
      if (current == nullptr || slots_needing_placement(*current).empty()) return;
      std::set<std::string> exclude = active_replica_nodes(*current);
      exclude.insert(node);
      start_round(*current, exclude);
    });
  };
  if (node == self_text_) {
    executor_->handle_assignment(self_text_, encode(assignment), [this, on_ack](Bytes reply) {
      asio::post(io_, [on_ack, reply = std::move(reply)]() mutable { on_ack(std::move(reply)); });
    });
  } else {
    request(node, kAssignProtocol, encode(assignment), on_ack);
  }
}

void Daemon::Impl::handle_report(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto report = decode_replica_report(message);
  auto it = report.ok() ? jobs_.find(report->job_id) : jobs_.end();
  auto phase = report.ok() ? parse_replica_phase(report->state) : Result<ReplicaPhase>(report.status());
  ReportOutcome outcome;
  if (report.ok() && it == jobs_.end()) {
    // A job this node holds for another coordinator (this node coordinated it before a
    // fail-over): a replaced replica is refused, any other answered without a change; its
    // node learns who coordinates now from the coordinator's handover message.
    if (auto judged = judge_report_for_held(report->job_id, peer, *report)) {
      reply(encode(AssignmentAck{judged->refusal}));
      if (!judged->refusal.empty()) {
        add_job_event(report->job_id, "replica " + std::to_string(report->replica) + " on " + peer + " reported " +
                                          report->state + ": refused (" + judged->refusal + "); the node removes it");
      }
      return;
    }
  }
  if (!phase.ok()) outcome.refusal = phase.status().message();
  else if (it == jobs_.end()) outcome.refusal = "unknown job or replica";
  else outcome = apply_report(it->second, peer, report->replica, *phase, report->endpoint, report->detail, report->exit_code,
                              static_cast<std::uint64_t>(now_ms()));
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
  if (outcome.changed) {
    add_job_event(job.id, "replica " + std::to_string(report->replica) + " on " + peer + ": " + report->state +
                              (report->endpoint.empty() ? "" : " at " + report->endpoint) +
                              (report->detail.empty() ? "" : " (" + report->detail + ")"));
  }
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
    const auto live = live_members();
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

void Daemon::Impl::maybe_anchor(JobState& job) {
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

void Daemon::Impl::resume_anchors() {
  for (auto& [id, job] : jobs_) {
    for (auto& anchor : job.anchors) {
      if (anchor.phase != AnchorPhase::kPending) continue;
      const RoundRecord* rr = nullptr;
      for (const auto& r : job.rounds) {
        if (r.round == anchor.round) rr = &r;
      }
      if (rr == nullptr || rr->agreed.empty()) continue;
      chain::VeilRegistry::Commitment commitment;
      commitment.job_id = id;
      commitment.decision_hash = *parse_hash_hex(rr->agreed);
      std::vector<Hash32> inputs;
      for (const auto& n : rr->nodes) inputs.push_back(n.telemetry_hash);
      commitment.inputs_root = inputs_root(inputs);
      for (const auto& s : rr->schedulers) {
        auto it = rr->announced.find(s);
        if (it != rr->announced.end() && it->second == rr->agreed) commitment.schedulers.push_back(chain::peer_id_hash(s));
      }
      anchor.commitment = to_hex_prefixed(chain::VeilRegistry::commitment_hash(commitment));
      (void)move(anchor, AnchorPhase::kSending);  // from kPending, checked above
      const std::uint32_t round = anchor.round;
      blocking_->post([this, id = id, round, commitment] {
        AnchorInfo result;
        result.round = round;
        result.commitment = to_hex_prefixed(chain::VeilRegistry::commitment_hash(commitment));
        if (!sender_) {
          result.phase = AnchorPhase::kFailed;
          result.error = "no eth.key_file: this node cannot anchor deployments";
        } else {
          auto existing = registry_->deployment(chain::VeilRegistry::commitment_hash(commitment));
          Status status;
          if (!existing.ok() || existing->status == chain::VeilRegistry::DeploymentStatus::kNone) {
            status = registry_->anchor_commitment(commitment).status();
          }
          auto events = registry_->anchored_events(0, 0, commitment.job_id);
          if (!status.ok()) {
            result.phase = AnchorPhase::kFailed;
            result.error = status.message();
          } else if (events.ok()) {
            // Sent, but its event not seen yet: stays kPending and is looked for again.
            for (const auto& e : *events) {
              if (e.assignment_hash == chain::VeilRegistry::commitment_hash(commitment)) {
                result.phase = AnchorPhase::kAnchored;
                result.tx = to_hex_prefixed(e.transaction_hash);
                result.block = e.block_number;
              }
            }
          }
        }
        asio::post(io_, [this, id, result] {
          auto it = jobs_.find(id);
          if (it == jobs_.end()) return;
          for (auto& a : it->second.anchors) {
            if (a.round != result.round || !move(a, result.phase)) continue;
            a = result;
          }
          add_job_event(id, result.phase == AnchorPhase::kAnchored
                                ? "deployment anchored: commitment " + result.commitment + " in tx " + result.tx + " (block " +
                                      std::to_string(result.block) + ")"
                            : result.phase == AnchorPhase::kFailed ? "anchoring failed: " + result.error
                                                                    : "anchor sent; its event is not seen yet");
          save(it->second);
        });
      });
    }
  }
}

// ---- failures and stops -----------------------------------------------------------------------

void Daemon::Impl::reschedule_lost(const std::string& peer, const std::string& why) {
  for (auto& [id, job] : jobs_) {
    const std::vector<std::uint32_t> lost = mark_lost(job, peer);
    if (lost.empty()) continue;
    add_job_event(id, std::to_string(lost.size()) + " replica(s) lost: node " + peer + " is " + why + "; rescheduling");
    metrics_.counter("veil_replicas_rescheduled_total", "Replicas rescheduled after their node died or drained.").with({}).inc(
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

Status Daemon::Impl::stop_job(JobState& job) {
  if (job.phase == JobPhase::kStopped) return {};
  for (const StopOrder& order : apply_stop(job)) {
    Assignment stop;
    stop.job_id = job.id;
    stop.round = job.round;  // the node's fence refuses this round's assignment should it come later
    stop.replica = order.slot;
    stop.stop = true;
    if (order.node == self_text_) {
      executor_->handle_assignment(self_text_, encode(stop), [](Bytes) {});
    } else {
      request(order.node, kAssignProtocol, encode(stop), [](Result<Bytes>) {});
    }
  }
  progress_.erase(job.id);
  add_job_event(job.id, "stopped by the operator");
  save(job);
  return {};
}

void Daemon::Impl::save(JobState& job, std::function<void(bool)> replicated, const std::vector<std::string>& also) {
  if (job.coordinator.empty()) job.coordinator = self_text_;  // stored before replication existed
  ++job.version;
  if (auto st = store_->put(kJobDoc, hash_hex(job.id), to_json(job)); !st.ok()) {
    logger()->error("state: cannot save job {}: {}", short_id(job.id), st.to_string());
  }
  replicate(job.id, also, std::move(replicated));
}

JobState* Daemon::Impl::job_in_round(const Hash32& id, std::uint32_t round) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.phase == JobPhase::kStopped || it->second.round != round || it->second.rounds.empty())
    return nullptr;
  return &it->second;
}

std::chrono::seconds Daemon::Impl::next_retry_delay(const Hash32& id) {
  const int retries = retry_count_[id]++;
  return std::min(kMaxRetry, kFirstRetry * (1 << std::min(retries, 4)));
}

JobState* Daemon::Impl::find_job(const std::string& id_or_name, bool held) {
  JobState* match = nullptr;
  for (auto* jobs : {&jobs_, &held_}) {
    if (jobs == &held_ && !held) break;
    for (auto& [id, job] : *jobs) {
      const JobMatch how = match_job(id_or_name, id, job.spec.name);
      if (how == JobMatch::kExact) return &job;
      if (match == nullptr && how == JobMatch::kPrefix) match = &job;
    }
  }
  return match;
}

}  // namespace veil::node
