// Rolling updates (docs/jobspec.md, "Rolling updates"): a new version whose spec has an update
// block replaces the running version a few replicas at a time. The new version's first
// `admitted` slots may be placed (slots_needing_placement); each one that has run healthy for
// min_healthy_time is counted, and for each counted replica one replica of the old version
// stops; then the next slots are admitted, max_parallel in flight at most. Replicas in flight
// not all counted within healthy_deadline fail the update: with auto_revert the old version
// runs again, whole, as the name's next version; without, the update stops where it is, and
// `veil job revert` to the old version does that roll-back by hand.
// The state lives in the new version's record (JobState::rollout), so a successor that takes
// the job over goes on from where the coordinator was.
#include <boost/asio/steady_timer.hpp>

#include "veil/common/log.h"

#include "coordinator_role.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

auto logger() { return log::get("coordinator"); }

constexpr std::chrono::seconds kRolloutTick{1};

std::string slots_text(std::uint32_t first, std::uint32_t end) {
  return end - first == 1 ? "replica " + std::to_string(first)
                          : "replicas " + std::to_string(first) + ".." + std::to_string(end - 1);
}

}  // namespace

void CoordinatorRole::start_rollout_timer() {
  rollout_timer_ = std::make_unique<asio::steady_timer>(node_.io(), kRolloutTick);
  rollout_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || node_.stopping()) return;
    const auto now = static_cast<std::uint64_t>(node_.now_ms());
    std::vector<Hash32> rolling;
    for (const auto& [id, job] : jobs_) {
      if (job.rollout && !job.rollout->failed && job.phase != JobPhase::kStopped && job.spec.update) rolling.push_back(id);
    }
    for (const Hash32& id : rolling) {
      auto it = jobs_.find(id);
      if (it != jobs_.end()) advance_rollout(it->second, now);
    }
    start_rollout_timer();
  });
}

void CoordinatorRole::advance_rollout(JobState& job, std::uint64_t now) {
  Rollout& r = *job.rollout;
  const sched::UpdatePolicy& update = *job.spec.update;
  const auto replicas = static_cast<std::uint32_t>(job.replicas.size());
  auto old = jobs_.find(r.from);
  JobState* from = old != jobs_.end() && old->second.phase != JobPhase::kStopped ? &old->second : nullptr;
  bool changed = false;

  // Counted: admitted replicas that have run (healthy, for a service with a check) long enough.
  std::uint32_t counted = 0;
  for (std::uint32_t slot = 0; slot < std::min(r.admitted, replicas); ++slot) {
    if (job.replicas[slot].phase != ReplicaPhase::kRunning) {
      changed = r.healthy_since_ms.erase(slot) > 0 || changed;
      continue;
    }
    auto [since, fresh] = r.healthy_since_ms.emplace(slot, now);
    changed = fresh || changed;
    if (now - since->second >= static_cast<std::uint64_t>(update.min_healthy_time.count())) ++counted;
  }
  // One old replica stops for each new one counted.
  while (r.replaced < counted) {
    if (from == nullptr || !stop_one_replica(*from)) {
      r.replaced = counted;  // nothing left to stop
      break;
    }
    ++r.replaced;
    changed = true;
    add_job_event(job.id, "rolling: " + std::to_string(r.replaced) + " of " + std::to_string(replicas) +
                              " replicas replaced (a replica of version " + std::to_string(from->job_version) + " stopped)");
  }
  if (counted == replicas) {
    if (from != nullptr) (void)stop_job(*from, "replaced by version " + std::to_string(job.job_version));
    job.rollout.reset();
    add_job_event(job.id, "rolling update complete: every replica of version " + std::to_string(job.job_version) +
                              " ran healthy for " + sched::format_duration(update.min_healthy_time));
    save(job);
    return;
  }
  // The next slots, while fewer than max_parallel are in flight.
  const std::uint32_t first = r.admitted;
  while (r.admitted < replicas && r.admitted - counted < update.max_parallel) ++r.admitted;
  if (r.admitted > first) {
    r.step_started_ms = now;
    add_job_event(job.id, "rolling: " + slots_text(first, r.admitted) + " of version " + std::to_string(job.job_version) +
                              " admitted (" + std::to_string(counted) + " of " + std::to_string(replicas) + " healthy)");
    save(job);
    start_round(job, active_replica_nodes(job));
    return;
  }
  if (now - r.step_started_ms > static_cast<std::uint64_t>(update.healthy_deadline.count())) {
    r.failed = true;
    add_job_event(job.id, "rolling update failed: " + std::to_string(r.admitted - counted) + " replica(s) in flight not healthy for " +
                              sched::format_duration(update.min_healthy_time) + " within the healthy deadline of " +
                              sched::format_duration(update.healthy_deadline));
    if (update.auto_revert && from != nullptr) {
      roll_back(job, *from, "auto revert to version " + std::to_string(from->job_version));
      return;
    }
    add_job_event(job.id, "the update stops here: `veil job revert " + job.spec.name + " N` goes back to version N");
    save(job);
    return;
  }
  if (changed) save(job);
}

bool CoordinatorRole::stop_one_replica(JobState& job) {
  for (std::uint32_t slot = static_cast<std::uint32_t>(job.replicas.size()); slot-- > 0;) {
    ReplicaSlot& replica = job.replicas[slot];
    if (!replica_active(replica)) continue;
    const StopOrder order{slot, replica.node};
    if (!move(replica, ReplicaPhase::kStopped)) continue;
    send_stop(job, order);
    add_job_event(job.id, "replica " + std::to_string(slot) + " on " + order.node + " stopped: replaced by the rolling update");
    save(job);
    return true;
  }
  return false;
}

void CoordinatorRole::roll_back(JobState& failed, JobState& from, const std::string& cause) {
  const std::uint32_t was = from.job_version;
  const std::uint32_t next = failed.job_version + 1;
  const auto now = static_cast<std::uint64_t>(node_.now_ms());
  from.job_version = next;
  from.history = failed.history;
  from.history.push_back({next, from.id, now, cause});
  // The replicas the update stopped are placed anew.
  for (auto& slot : from.replicas) {
    if (slot.phase == ReplicaPhase::kStopped) slot = ReplicaSlot{};
  }
  (void)stop_job(failed, "rolled back: version " + std::to_string(was) + " runs again as version " + std::to_string(next));
  add_job_event(from.id, "version " + std::to_string(next) + ": " + cause + ", rolling back version " +
                             std::to_string(failed.job_version));
  logger()->warn("job {}: rolling update to version {} rolled back to version {} ({})", failed.spec.name, failed.job_version,
                 was, cause);
  save(from);
  start_round(from, active_replica_nodes(from));
}

}  // namespace veil::node
