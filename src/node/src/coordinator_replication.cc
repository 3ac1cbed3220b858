// The coordinator role's replicated job state and fail-over (job_replication.h, docs/node.md
// "Fail-over"): the coordinator pushes each job's record to its holders; a holder stores the
// record of the highest epoch; the first live successor takes a job over when SWIM declares its
// coordinator dead; a coordinator that learns of a higher epoch steps down.
#include <boost/asio/steady_timer.hpp>

#include "veil/common/log.h"

#include "coordinator_role.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

auto logger() { return log::get("replication"); }

std::string short_id(const Hash32& id) { return hash_hex(id).substr(0, 12); }

// A push that has not reached a majority of holders by then counts as not replicated (a
// partitioned holder's stream may hang until TCP gives up).
constexpr std::chrono::seconds kReplicationDeadline{10};

}  // namespace

void CoordinatorRole::replicate(const Hash32& id, const std::vector<std::string>& also, std::function<void(bool)> done) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    if (done) done(false);
    return;
  }
  const JobState& job = it->second;
  const Bytes bytes = encode(JobStateRequest{JobStateKind::kPush, id, to_json(job).dump()});
  std::set<std::string> targets(job.holders.begin(), job.holders.end());
  targets.insert(also.begin(), also.end());
  targets.erase(node_.self());

  struct Tally {
    std::size_t acks = 1;  // this node stored it
    std::size_t needed = 0;
    std::size_t waiting = 0;
    std::set<std::string> holders;
    std::function<void(bool)> done;
    std::unique_ptr<asio::steady_timer> deadline;
    void finish(bool ok) {
      if (!done) return;
      auto d = std::move(done);
      done = nullptr;
      if (deadline) deadline->cancel();
      d(ok);
    }
  };
  auto tally = std::make_shared<Tally>();
  tally->needed = holder_quorum(job.holders.size());
  tally->waiting = targets.size();
  tally->holders = {job.holders.begin(), job.holders.end()};
  tally->done = std::move(done);
  if (tally->acks >= tally->needed) tally->finish(true);
  else if (targets.empty()) tally->finish(false);
  if (tally->done) {
    tally->deadline = std::make_unique<asio::steady_timer>(node_.io(), kReplicationDeadline);
    tally->deadline->async_wait([tally](const boost::system::error_code& ec) {
      if (!ec) tally->finish(false);
    });
  }
  const std::uint64_t term = job.term;
  for (const auto& target : targets) {
    node_.request(target, kJobStateProtocol, bytes, [this, tally, id, term, target](Result<Bytes> reply) {
      --tally->waiting;
      auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
      if (answer.ok() && step_down_if_superseded(id, term, target, *answer)) {
        tally->finish(false);
        return;
      }
      if (answer.ok() && answer->error.empty() && tally->holders.count(target) > 0 && ++tally->acks >= tally->needed) {
        tally->finish(true);
      } else if (answer.ok() && !answer->error.empty()) {
        logger()->info("job {}: holder {} did not store the record: {}", short_id(id), target, answer->error);
        if (!answer->superseded && !answer->records.empty()) tell_rival(id, term, answer->records.front());
      }
      if (tally->waiting == 0) tally->finish(tally->acks >= tally->needed);
    });
  }
}

bool CoordinatorRole::step_down_if_superseded(const Hash32& id, std::uint64_t term, const std::string& from,
                                              const JobStateReply& answer) {
  if (!answer.superseded || answer.records.empty()) return false;
  auto newer = parse_record(answer.records.front());
  auto mine = jobs_.find(id);
  if (!newer.ok() || newer->id != id || mine == jobs_.end() || mine->second.term != term ||
      epoch_of(*newer) <= epoch_of(mine->second)) {
    return false;
  }
  logger()->warn("job {}: {} holds term {} of {}; this node (term {}) steps down", short_id(id), from, newer->term,
                 newer->coordinator, term);
  step_down(std::move(*newer));
  return true;
}

void CoordinatorRole::tell_rival(const Hash32& id, std::uint64_t term, const std::string& holders_copy) {
  // A holder refused this node's push because its copy names a coordinator it sees alive: that
  // one never took part in this node's take-over (it was away), and until it learns of this
  // node's higher epoch both coordinate the job and each keeps its own replicas. Holders ask
  // it for its record, which says nothing new; this node's push makes it step down.
  auto theirs = parse_record(holders_copy);
  auto mine = jobs_.find(id);
  if (!theirs.ok() || theirs->id != id || mine == jobs_.end() || mine->second.term != term ||
      theirs->coordinator == node_.self() || epoch_of(*theirs) >= epoch_of(mine->second)) {
    return;
  }
  const std::string rival = theirs->coordinator;
  logger()->info("job {}: a holder's copy names {} (term {}), alive there; pushing term {} to it", short_id(id), rival,
                 theirs->term, term);
  const Bytes bytes = encode(JobStateRequest{JobStateKind::kPush, id, to_json(mine->second).dump()});
  node_.request(rival, kJobStateProtocol, bytes, [this, id, term, rival](Result<Bytes> reply) {
    auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
    if (answer.ok()) (void)step_down_if_superseded(id, term, rival, *answer);
  });
}

void CoordinatorRole::handle_job_state(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto request = decode_job_state_request(message);
  JobStateReply answer;
  if (!request.ok()) {
    answer.error = request.status().message();
    return reply(encode(answer));
  }
  const Hash32 id = request->job_id;
  auto coordinated = jobs_.find(id);
  auto held = held_.find(id);
  const JobState* mine = coordinated != jobs_.end() ? &coordinated->second : held != held_.end() ? &held->second : nullptr;
  switch (request->kind) {
    case JobStateKind::kGet:
      if (mine != nullptr) answer.records.push_back(to_json(*mine).dump());
      else answer.error = "this node holds no job " + hash_hex(id);
      return reply(encode(answer));
    case JobStateKind::kList:
      for (const auto& [_, job] : jobs_) answer.records.push_back(to_json(job).dump());
      for (const auto& [_, job] : held_) answer.records.push_back(to_json(job).dump());
      return reply(encode(answer));
    case JobStateKind::kHandover:
      // Believed when this node's copy of the record names the sender, or when the replicas'
      // coordinator is dead here (this node holds no copy).
      if (mine != nullptr ? mine->coordinator == peer : true) {
        bool believed = mine != nullptr;
        if (!believed) {
          believed = true;
          for (const auto& replica : roles_.replicas_of(id)) {
            if (!node_.declared_dead(replica.coordinator)) believed = false;
          }
        }
        if (believed) roles_.adopt_coordinator(id, peer);
        else answer.error = "the job's coordinator is alive here";
      } else {
        answer.error = "this node's record names " + mine->coordinator + " as the coordinator";
      }
      return reply(encode(answer));
    case JobStateKind::kPush:
      break;
  }
  auto incoming = parse_record(request->record);
  if (!incoming.ok() || incoming->id != id || incoming->coordinator != peer) {
    answer.error = !incoming.ok() ? incoming.status().message() : "the record is not the sender's job " + hash_hex(id);
    return reply(encode(answer));
  }
  // This node's own record counts as dead for the rule: a successor took over while it was
  // away, and the higher epoch wins (it steps down below).
  const bool mine_live = mine != nullptr && mine->coordinator != node_.self() && !node_.declared_dead(mine->coordinator);
  switch (judge_push(mine, *incoming, mine_live)) {
    case PushVerdict::kKeep:
      break;
    case PushVerdict::kSuperseded:
      answer.superseded = true;
      answer.error = "superseded: term " + std::to_string(mine->term) + " of " + mine->coordinator;
      answer.records.push_back(to_json(*mine).dump());
      break;
    case PushVerdict::kRefused:
      answer.error = "coordinator " + mine->coordinator + " of job " + short_id(id) + " is alive here";
      answer.records.push_back(to_json(*mine).dump());  // the sender tells that coordinator
      // It may be alive but no longer the coordinator: it came back and stepped down while this
      // node was away. Ask it; its copy of the newer record lets the next push (10 s) through.
      ask_live_coordinator(id, mine->coordinator);
      break;
    case PushVerdict::kStore:
      if (coordinated != jobs_.end()) {
        logger()->warn("job {}: {} took it over (term {}); this node steps down", short_id(id), peer, incoming->term);
        step_down(std::move(*incoming));
      } else {
        hold(std::move(*incoming));
      }
      break;
  }
  reply(encode(answer));
}

void CoordinatorRole::ask_live_coordinator(const Hash32& id, const std::string& coordinator) {
  const Bytes get = encode(JobStateRequest{JobStateKind::kGet, id, ""});
  node_.request(coordinator, kJobStateProtocol, get, [this, id, coordinator](Result<Bytes> reply) {
    auto theirs = record_in_get_reply(reply, id);
    auto held = held_.find(id);
    // A newer version of the same epoch counts too: this node's copy may have stopped at the
    // push that dropped it from the holders.
    if (!theirs.ok() || held == held_.end() || judge_push(&held->second, *theirs, false) != PushVerdict::kStore) return;
    logger()->info("job {}: {} answered with a newer record: coordinator {} (term {}, version {})", short_id(id),
                   coordinator, theirs->coordinator, theirs->term, theirs->version);
    hold(std::move(*theirs));
  });
}

void CoordinatorRole::hold(JobState record) {
  const Hash32 id = record.id;
  if (auto st = node_.store().put(kHeldJobDoc, hash_hex(id), to_json(record)); !st.ok()) {
    logger()->error("state: cannot store the record of job {}: {}", short_id(id), st.to_string());
  }
  held_[id] = std::move(record);
}

void CoordinatorRole::step_down(JobState newer) {
  const Hash32 id = newer.id;
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return hold(std::move(newer));
  const std::string why = "superseded: " + newer.coordinator + " coordinates this job since term " + std::to_string(newer.term);
  add_job_event(id, why + "; this node keeps a copy of its record");
  progress_.erase(id);
  retry_count_.erase(id);
  batcher_.remove_job(id);  // its new coordinator anchors what is still pending
  jobs_.erase(it);
  (void)node_.store().erase(kJobDoc, hash_hex(id));
  // Replicas here that the newer record does not place here were replaced while this node was
  // away: stop them now, as their coordinator (this node) would have.
  std::vector<Assignment> stops;
  for (const auto& replica : roles_.replicas_of(id)) {
    if (replica.coordinator != node_.self()) continue;
    const std::uint32_t slot = replica.replica;
    const bool kept = slot < newer.replicas.size() && newer.replicas[slot].node == node_.self() &&
                      replica_active(newer.replicas[slot]);
    if (kept) continue;
    Assignment stop;
    stop.job_id = id;
    stop.round = replica.round;
    stop.replica = slot;
    stop.stop = true;
    stops.push_back(std::move(stop));
  }
  for (const Assignment& stop : stops) {
    add_job_event(id, "replica " + std::to_string(stop.replica) + " here was replaced while this node was away; stopping it");
    roles_.assign(encode(stop), [](Bytes) {});
  }
  roles_.adopt_coordinator(id, newer.coordinator);
  hold(std::move(newer));
}

std::optional<AssignmentAck> CoordinatorRole::answer_report_for_held(const Hash32& job, const std::string& peer,
                                                                     const ReplicaReport& report) {
  auto it = held_.find(job);
  if (it == held_.end()) return std::nullopt;
  auto phase = parse_replica_phase(report.state);
  if (!phase.ok()) return AssignmentAck{phase.status().message()};
  JobState copy = it->second;  // judged, not changed: the coordinator owns the record
  AssignmentAck ack{apply_report(copy, peer, report.replica, *phase, report.endpoint, report.detail).refusal};
  const std::string coordinator = it->second.coordinator;
  if (ack.error.empty() && coordinator != node_.self() && !node_.declared_dead(coordinator)) {
    // The copy stops at the last push that reached this node (a coordinator pushes to its
    // holders only): a replica it still places there may have been replaced since. The
    // coordinator it names judges; this node refreshes its copy meanwhile.
    ack.coordinator = coordinator;
    ask_live_coordinator(job, coordinator);
  }
  return ack;
}

void CoordinatorRole::tell_replica_nodes(const JobState& job) {
  if (job.coordinator != node_.self()) return;
  std::set<std::string> nodes;
  for (const auto& slot : job.replicas) {
    if (replica_active(slot)) nodes.insert(slot.node);
  }
  const Bytes bytes = encode(JobStateRequest{JobStateKind::kHandover, job.id, ""});
  for (const auto& node : nodes) {
    if (node == node_.self()) {
      roles_.adopt_coordinator(job.id, node_.self());
      continue;
    }
    node_.request(node, kJobStateProtocol, bytes, [](Result<Bytes>) {});
  }
}

bool CoordinatorRole::is_live(const std::string& peer) const {
  const auto live = node_.live_members();
  return std::find(live.begin(), live.end(), peer) != live.end();
}

void CoordinatorRole::take_over_orphaned_jobs() {
  // The minority side of a partition never takes jobs over: the majority side may have done so
  // already, and two coordinators in different terms would each keep their own replicas after
  // the partition heals (node.failover_netns saw a 2-node side take a job over in a higher term
  // than the 3-node side's, so neither stepped down and the job ran twice). A side that sees at
  // least half of the members it knows may (so a 4-node cluster survives losing 2).
  if (2 * node_.live_members().size() < node_.known_members()) return;
  // A wait for the other holders ends when the coordinator is seen alive again (or the copy goes).
  std::erase_if(unanswered_since_ms_, [this](const auto& entry) {
    auto held = held_.find(entry.first);
    return held == held_.end() || !node_.declared_dead(held->second.coordinator);
  });
  std::vector<Hash32> orphans;
  for (const auto& [id, job] : held_) {
    if (job.phase == JobPhase::kStopped || !node_.declared_dead(job.coordinator) || taking_over_.count(id) > 0) continue;
    auto next = successor(job, [this](const std::string& p) { return p == node_.self() || is_live(p); });
    if (next && *next == node_.self()) orphans.push_back(id);
  }
  for (const Hash32& id : orphans) {
    const JobState& job = held_.at(id);
    // This node's copy may be older than another holder's (it was away, a push was lost):
    // ask the other live holders for theirs first, and go on from the newest.
    std::vector<std::string> others;
    for (const auto& h : job.holders) {
      if (h != node_.self() && h != job.coordinator && is_live(h)) others.push_back(h);
    }
    taking_over_.insert(id);
    struct Gather {
      std::size_t waiting = 0;
      std::size_t answered = 0;  // holders whose stream answered at all (with a copy or without)
      bool finished = false;
      std::unique_ptr<asio::steady_timer> deadline;
    };
    auto gather = std::make_shared<Gather>();
    gather->waiting = others.size();
    const Hash32 job_id = id;
    const bool asked_anyone = !others.empty();
    auto finish = [this, gather, job_id, asked_anyone] {
      if (gather->finished) return;
      gather->finished = true;
      if (gather->deadline) gather->deadline->cancel();
      taking_over_.erase(job_id);
      if (asked_anyone && gather->answered == 0 && !waited_long_enough_for_holders(job_id)) return;
      unanswered_since_ms_.erase(job_id);
      finish_take_over(job_id);
    };
    if (others.empty()) {
      finish();
      continue;
    }
    gather->deadline = std::make_unique<asio::steady_timer>(node_.io(), std::chrono::seconds(3));
    gather->deadline->async_wait([finish](const boost::system::error_code& ec) {
      if (!ec) finish();
    });
    const Bytes get = encode(JobStateRequest{JobStateKind::kGet, id, ""});
    for (const auto& holder : others) {
      node_.request(holder, kJobStateProtocol, get, [this, gather, job_id, finish](Result<Bytes> reply) {
        if (reply.ok()) ++gather->answered;  // reachable, whatever it says
        auto theirs = record_in_get_reply(reply, job_id);
        auto held = held_.find(job_id);
        if (theirs.ok() && held != held_.end() && !gather->finished &&
            judge_push(&held->second, *theirs, false) == PushVerdict::kStore) {
          hold(std::move(*theirs));
        }
        if (--gather->waiting == 0) finish();
      });
    }
  }
}

bool CoordinatorRole::waited_long_enough_for_holders(const Hash32& id) {
  // No other holder answered: their streams fail (a dial back-off right after a partition
  // heals) while SWIM calls them live. This node's copy may be stale, and its verdict on the
  // coordinator too (node.chaos: a node back from a cut took five jobs over from stale copies a
  // few ms after its SWIM declared a restarted coordinator dead; their successors had already
  // taken them over in the same terms, and rounds of equal numbers collided). So it waits for an
  // answer at the next checks, and goes on alone only when none came for two replication
  // intervals (the holders may really be unreachable; the partition rule above still applies).
  const std::int64_t now = node_.now_ms();
  auto [since, first] = unanswered_since_ms_.try_emplace(id, now);
  const auto patience =
      2 * std::chrono::duration_cast<std::chrono::milliseconds>(options_.replication_interval).count();
  if (now - since->second >= patience) return true;
  if (auto held = held_.find(id); first && held != held_.end()) {
    logger()->info("job {}: coordinator {} looks dead, but no other holder answered; the take-over waits",
                   short_id(id), held->second.coordinator);
  }
  return false;
}

void CoordinatorRole::finish_take_over(const Hash32& id) {
  auto it = held_.find(id);
  // The newest copy may name another coordinator (one took over already), alive or not.
  if (it == held_.end() || it->second.phase == JobPhase::kStopped || !node_.declared_dead(it->second.coordinator)) return;
  auto next = successor(it->second, [this](const std::string& p) { return p == node_.self() || is_live(p); });
  if (!next || *next != node_.self()) return;
  JobState job = it->second;
  const std::string from = job.coordinator;
  auto result = take_over(job, node_.self(), node_.live_members(), options_.job_holders, static_cast<std::uint64_t>(node_.now_ms()), "dead");
  if (!result.ok()) {
    logger()->warn("job {}: cannot take it over: {}", short_id(id), result.status().to_string());
    return;
  }
  held_.erase(it);
  (void)node_.store().erase(kHeldJobDoc, hash_hex(id));
  auto& taken = jobs_[id] = std::move(job);
  logger()->warn("job {}: coordinator {} is dead; this node takes it over (term {})", short_id(id), from, taken.term);
  add_job_event(id, "took over from " + from + " (dead) in term " + std::to_string(taken.term) + "; " +
                        std::to_string(result->lost.size()) + " replica(s) lost with dead nodes");
  node_.metrics().counter("veil_jobs_taken_over_total", "Jobs this node took over from a dead coordinator.").with({}).inc();
  save(taken);
  replicate(id, result->old_holders, {});
  tell_replica_nodes(taken);
  start_round(taken, active_replica_nodes(taken));
  resume_anchors();
}

void CoordinatorRole::start_replication_timer() {
  replication_timer_ = std::make_unique<asio::steady_timer>(node_.io(), options_.replication_interval);
  replication_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || node_.stopping()) return;
    take_over_orphaned_jobs();
    std::vector<Hash32> ids;
    for (const auto& [id, job] : jobs_) ids.push_back(id);
    for (const Hash32& id : ids) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;  // stepped down meanwhile
      JobState& job = it->second;
      if (job.coordinator.empty()) job.coordinator = node_.self();  // stored before replication existed
      auto holders = refresh_holders(job, node_.live_members(), options_.job_holders);
      if (holders != job.holders) {
        std::vector<std::string> dropped;
        for (const auto& old : job.holders) {
          if (std::find(holders.begin(), holders.end(), old) == holders.end()) dropped.push_back(old);
        }
        job.holders = std::move(holders);
        save(job, {}, dropped);  // pushes, to the dropped holders too
      } else {
        replicate(id, {}, {});
      }
      if (!job.handovers.empty() && job.phase != JobPhase::kStopped) tell_replica_nodes(job);
    }
    start_replication_timer();
  });
}

}  // namespace veil::node
