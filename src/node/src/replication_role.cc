// Replicated job state and coordinator fail-over (job_replication.h, docs/node.md "Fail-over"):
// the coordinator pushes each job's record to its holders; a holder stores the record of the
// highest epoch; the first live successor takes a job over when SWIM declares its coordinator
// dead; a coordinator that learns of a higher epoch steps down.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon_impl.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

// How long `job status|ls` on a node that holds no copy waits for the other members' answers.
constexpr auto kAskMembersTimeout = std::chrono::milliseconds(3000);
constexpr auto kAskForLogsTimeout = std::chrono::milliseconds(5000);

auto logger() { return log::get("replication"); }

std::string short_id(const Hash32& id) { return hash_hex(id).substr(0, 12); }

constexpr std::chrono::seconds kReplicationInterval{10};
// A push that has not reached a majority of holders by then counts as not replicated (a
// partitioned holder's stream may hang until TCP gives up).
constexpr std::chrono::seconds kReplicationDeadline{10};

}  // namespace

void Daemon::Impl::replicate(const Hash32& id, const std::vector<std::string>& also, std::function<void(bool)> done) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    if (done) done(false);
    return;
  }
  const JobState& job = it->second;
  const Bytes bytes = encode(JobStateRequest{JobStateKind::kPush, id, to_json(job).dump()});
  std::set<std::string> targets(job.holders.begin(), job.holders.end());
  targets.insert(also.begin(), also.end());
  targets.erase(self_text_);

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
    tally->deadline = std::make_unique<asio::steady_timer>(io_, kReplicationDeadline);
    tally->deadline->async_wait([tally](const boost::system::error_code& ec) {
      if (!ec) tally->finish(false);
    });
  }
  const std::uint64_t term = job.term;
  for (const auto& target : targets) {
    request(target, kJobStateProtocol, bytes, [this, tally, id, term, target](Result<Bytes> reply) {
      --tally->waiting;
      auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
      if (answer.ok() && answer->superseded && !answer->records.empty()) {
        auto newer = parse_record(answer->records.front());
        auto mine = jobs_.find(id);
        if (newer.ok() && newer->id == id && mine != jobs_.end() && mine->second.term == term &&
            epoch_of(*newer) > epoch_of(mine->second)) {
          logger()->warn("job {}: holder {} holds term {} of {}; this node (term {}) steps down", short_id(id), target,
                         newer->term, newer->coordinator, term);
          step_down(std::move(*newer));
          tally->finish(false);
          return;
        }
      }
      if (answer.ok() && answer->error.empty() && tally->holders.count(target) > 0 && ++tally->acks >= tally->needed) {
        tally->finish(true);
      } else if (answer.ok() && !answer->error.empty()) {
        logger()->info("job {}: holder {} did not store the record: {}", short_id(id), target, answer->error);
      }
      if (tally->waiting == 0) tally->finish(tally->acks >= tally->needed);
    });
  }
}

void Daemon::Impl::handle_job_state(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
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
          for (const auto& [key, replica] : executor_->replicas()) {
            if (key.first == id && !is_dead(replica.coordinator)) believed = false;
          }
        }
        if (believed) executor_->adopt_coordinator(id, peer);
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
  const bool mine_live = mine != nullptr && mine->coordinator != self_text_ && !is_dead(mine->coordinator);
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

void Daemon::Impl::ask_live_coordinator(const Hash32& id, const std::string& coordinator) {
  const Bytes get = encode(JobStateRequest{JobStateKind::kGet, id, ""});
  request(coordinator, kJobStateProtocol, get, [this, id, coordinator](Result<Bytes> reply) {
    auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
    auto held = held_.find(id);
    if (!answer.ok() || !answer->error.empty() || answer->records.empty() || held == held_.end()) return;
    auto theirs = parse_record(answer->records.front());
    if (!theirs.ok() || theirs->id != id || epoch_of(*theirs) <= epoch_of(held->second)) return;
    logger()->info("job {}: {} stepped down; its copy names {} (term {})", short_id(id), coordinator,
                   theirs->coordinator, theirs->term);
    hold(std::move(*theirs));
  });
}

void Daemon::Impl::hold(JobState record) {
  const Hash32 id = record.id;
  if (auto st = store_->put(kHeldJobDoc, hash_hex(id), to_json(record)); !st.ok()) {
    logger()->error("state: cannot store the record of job {}: {}", short_id(id), st.to_string());
  }
  held_[id] = std::move(record);
}

void Daemon::Impl::step_down(JobState newer) {
  const Hash32 id = newer.id;
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return hold(std::move(newer));
  const std::string why = "superseded: " + newer.coordinator + " coordinates this job since term " + std::to_string(newer.term);
  add_job_event(id, why + "; this node keeps a copy of its record");
  progress_.erase(id);
  jobs_.erase(it);
  (void)store_->erase(kJobDoc, hash_hex(id));
  // Replicas here that the newer record does not place here were replaced while this node was
  // away: stop them now, as their coordinator (this node) would have.
  std::vector<Assignment> stops;
  for (const auto& [key, replica] : executor_->replicas()) {
    if (key.first != id || replica.coordinator != self_text_) continue;
    const bool kept = key.second < newer.replicas.size() && newer.replicas[key.second].node == self_text_ &&
                      replica_active(newer.replicas[key.second]);
    if (kept) continue;
    Assignment stop;
    stop.job_id = id;
    stop.round = replica.round;
    stop.replica = key.second;
    stop.stop = true;
    stops.push_back(std::move(stop));
  }
  for (const Assignment& stop : stops) {
    add_job_event(id, "replica " + std::to_string(stop.replica) + " here was replaced while this node was away; stopping it");
    executor_->handle_assignment(self_text_, encode(stop), [](Bytes) {});
  }
  executor_->adopt_coordinator(id, newer.coordinator);
  hold(std::move(newer));
}

std::optional<ReportOutcome> Daemon::Impl::judge_report_for_held(const Hash32& job, const std::string& peer,
                                                                const ReplicaReport& report) {
  auto it = held_.find(job);
  if (it == held_.end()) return std::nullopt;
  auto phase = parse_replica_phase(report.state);
  if (!phase.ok()) return ReportOutcome{phase.status().message()};
  JobState copy = it->second;  // judged, not changed: the coordinator owns the record
  return apply_report(copy, peer, report.replica, *phase, report.endpoint, report.detail);
}

void Daemon::Impl::tell_replica_nodes(const JobState& job) {
  if (job.coordinator != self_text_) return;
  std::set<std::string> nodes;
  for (const auto& slot : job.replicas) {
    if (replica_active(slot)) nodes.insert(slot.node);
  }
  const Bytes bytes = encode(JobStateRequest{JobStateKind::kHandover, job.id, ""});
  for (const auto& node : nodes) {
    if (node == self_text_) {
      executor_->adopt_coordinator(job.id, self_text_);
      continue;
    }
    request(node, kJobStateProtocol, bytes, [](Result<Bytes>) {});
  }
}

bool Daemon::Impl::is_dead(const std::string& peer) const {
  for (const auto& m : members_->members()) {
    if (m.peer.to_string() == peer) return m.state == swim::MemberState::kDead || m.state == swim::MemberState::kLeft;
  }
  return false;  // never seen since this node started: not known to be dead
}

void Daemon::Impl::take_over_orphaned_jobs() {
  std::vector<Hash32> orphans;
  for (const auto& [id, job] : held_) {
    if (job.phase == JobPhase::kStopped || !is_dead(job.coordinator) || taking_over_.count(id) > 0) continue;
    auto next = successor(job, [this](const std::string& p) { return p == self_text_ || is_live(p); });
    if (next && *next == self_text_) orphans.push_back(id);
  }
  for (const Hash32& id : orphans) {
    const JobState& job = held_.at(id);
    // This node's copy may be older than another holder's (it was away, a push was lost):
    // ask the other live holders for theirs first, and go on from the newest.
    std::vector<std::string> others;
    for (const auto& h : job.holders) {
      if (h != self_text_ && h != job.coordinator && is_live(h)) others.push_back(h);
    }
    taking_over_.insert(id);
    struct Gather {
      std::size_t waiting = 0;
      bool finished = false;
      std::unique_ptr<asio::steady_timer> deadline;
    };
    auto gather = std::make_shared<Gather>();
    gather->waiting = others.size();
    const Hash32 job_id = id;
    auto finish = [this, gather, job_id] {
      if (gather->finished) return;
      gather->finished = true;
      if (gather->deadline) gather->deadline->cancel();
      taking_over_.erase(job_id);
      finish_take_over(job_id);
    };
    if (others.empty()) {
      finish();
      continue;
    }
    gather->deadline = std::make_unique<asio::steady_timer>(io_, std::chrono::seconds(3));
    gather->deadline->async_wait([finish](const boost::system::error_code& ec) {
      if (!ec) finish();
    });
    const Bytes get = encode(JobStateRequest{JobStateKind::kGet, id, ""});
    for (const auto& holder : others) {
      request(holder, kJobStateProtocol, get, [this, gather, job_id, finish](Result<Bytes> reply) {
        auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
        auto held = held_.find(job_id);
        if (answer.ok() && answer->error.empty() && !answer->records.empty() && held != held_.end() && !gather->finished) {
          auto theirs = parse_record(answer->records.front());
          if (theirs.ok() && theirs->id == job_id && judge_push(&held->second, *theirs, false) == PushVerdict::kStore) {
            hold(std::move(*theirs));
          }
        }
        if (--gather->waiting == 0) finish();
      });
    }
  }
}

void Daemon::Impl::finish_take_over(const Hash32& id) {
  auto it = held_.find(id);
  // The newest copy may name another coordinator (one took over already), alive or not.
  if (it == held_.end() || it->second.phase == JobPhase::kStopped || !is_dead(it->second.coordinator)) return;
  auto next = successor(it->second, [this](const std::string& p) { return p == self_text_ || is_live(p); });
  if (!next || *next != self_text_) return;
  JobState job = it->second;
  const std::string from = job.coordinator;
  auto result = take_over(job, self_text_, live_members(), settings_.job_holders, static_cast<std::uint64_t>(now_ms()), "dead");
  if (!result.ok()) {
    logger()->warn("job {}: cannot take it over: {}", short_id(id), result.status().to_string());
    return;
  }
  held_.erase(it);
  (void)store_->erase(kHeldJobDoc, hash_hex(id));
  auto& taken = jobs_[id] = std::move(job);
  logger()->warn("job {}: coordinator {} is dead; this node takes it over (term {})", short_id(id), from, taken.term);
  add_job_event(id, "took over from " + from + " (dead) in term " + std::to_string(taken.term) + "; " +
                        std::to_string(result->lost.size()) + " replica(s) lost with dead nodes");
  metrics_.counter("veil_jobs_taken_over_total", "Jobs this node took over from a dead coordinator.").with({}).inc();
  save(taken);
  replicate(id, result->old_holders, {});
  tell_replica_nodes(taken);
  start_round(taken, active_replica_nodes(taken));
  resume_anchors();
}

void Daemon::Impl::start_replication_timer() {
  replication_timer_ = std::make_unique<asio::steady_timer>(io_, kReplicationInterval);
  replication_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    take_over_orphaned_jobs();
    std::vector<Hash32> ids;
    for (const auto& [id, job] : jobs_) ids.push_back(id);
    for (const Hash32& id : ids) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;  // stepped down meanwhile
      JobState& job = it->second;
      if (job.coordinator.empty()) job.coordinator = self_text_;  // stored before replication existed
      auto holders = refresh_holders(job, live_members(), settings_.job_holders);
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

asio::awaitable<std::map<std::string, Result<Bytes>>> Daemon::Impl::ask_peers(const std::set<std::string>& peers,
                                                                             std::string_view protocol, Bytes message,
                                                                             std::chrono::milliseconds timeout) {
  struct Gathered {
    explicit Gathered(asio::io_context& io) : all_answered(io) {}
    std::map<std::string, Result<Bytes>> answers;
    std::size_t waiting = 0;
    asio::steady_timer all_answered;  // expires at the deadline, cancelled by the last answer
  };
  auto gathered = std::make_shared<Gathered>(io_);
  const std::string unanswered = timeout.count() % 1000 == 0
                                     ? "no answer within " + std::to_string(timeout.count() / 1000) + " s"
                                     : "no answer within " + std::to_string(timeout.count()) + " ms";
  for (const auto& peer : peers) gathered->answers.emplace(peer, deadline_exceeded(unanswered));
  gathered->waiting = peers.size();
  gathered->all_answered.expires_after(timeout);
  for (const auto& peer : peers) {
    request(peer, protocol, message, [gathered, peer](Result<Bytes> reply) {
      gathered->answers.insert_or_assign(peer, std::move(reply));
      if (--gathered->waiting == 0) gathered->all_answered.cancel();
    });
  }
  if (!peers.empty()) {
    boost::system::error_code ec;
    co_await gathered->all_answered.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  // Answers after the deadline land in the shared state and are dropped with it.
  co_return std::map<std::string, Result<Bytes>>(gathered->answers);
}

asio::awaitable<std::vector<std::pair<std::string, JobState>>> Daemon::Impl::ask_members_for_jobs(const Hash32& id) {
  std::set<std::string> peers;
  for (const auto& peer : live_members()) {
    if (peer != self_text_) peers.insert(peer);
  }
  const bool one = id != Hash32{};
  const Bytes ask = encode(JobStateRequest{one ? JobStateKind::kGet : JobStateKind::kList, id, ""});
  std::map<Hash32, std::pair<std::string, JobState>> newest;
  for (const auto& [peer, reply] : co_await ask_peers(peers, kJobStateProtocol, ask, kAskMembersTimeout)) {
    auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
    if (!answer.ok() || !answer->error.empty()) continue;
    for (const auto& text : answer->records) {
      auto record = parse_record(text);
      if (!record.ok()) continue;
      auto [it, fresh] = newest.try_emplace(record->id, peer, *record);
      const JobState& known = it->second.second;
      if (!fresh && std::tie(record->term, record->version) > std::tie(known.term, known.version)) {
        it->second = {peer, std::move(*record)};
      }
    }
  }
  std::vector<std::pair<std::string, JobState>> out;
  for (auto& [_, entry] : newest) out.push_back(std::move(entry));
  co_return out;
}

asio::awaitable<std::vector<std::pair<std::string, Result<LogsReply>>>> Daemon::Impl::ask_nodes_for_logs(
    const Hash32& id, const std::set<std::string>& nodes, std::uint32_t tail) {
  std::vector<std::pair<std::string, Result<LogsReply>>> out;
  for (auto& [node, reply] : co_await ask_peers(nodes, kLogsProtocol, encode(LogsRequest{id, tail}), kAskForLogsTimeout)) {
    auto answer = reply.ok() ? decode_logs_reply(*reply) : Result<LogsReply>(reply.status());
    if (answer.ok() && !answer->error.empty()) answer = failed_precondition(answer->error);
    out.emplace_back(node, std::move(answer));
  }
  co_return out;
}

}  // namespace veil::node
