// Health checks and restart policy of the replicas a node runs (private to veil_node): the
// `health` and `restart` blocks of a job spec (docs/jobspec.md), applied by the executor.
//
// run_health_check() performs one check and blocks for at most the check's timeout; the
// executor calls it on its blocking worker. HealthTracker and RestartTracker are pure state
// machines over a clock the caller passes in (milliseconds), so tests drive them without
// waiting.
//
// Thread safety: plain values; run_health_check may be called from any thread (the driver
// is thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "veil/common/status.h"
#include "veil/runtime/driver.h"
#include "veil/sched/job_spec.h"

namespace veil::node {

// Where a check goes: http and tcp checks connect to host:port (the replica's host port on
// this node); exec checks run inside `container_id` through `driver`.
struct HealthTarget {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string container_id;
  runtime::Driver* driver = nullptr;
};

// One check. Ok when it passed; otherwise unavailable (nothing listens, the connection
// broke), deadline_exceeded (no answer within the check's timeout), failed_precondition (an
// HTTP status outside 200-399, an exec exit code other than 0) or invalid_argument (a target
// without a port, or an exec check without a driver), each message saying what was seen.
Status run_health_check(const sched::HealthCheckSpec& check, const HealthTarget& target);

// Kubernetes probe semantics: `failures` consecutive failures, not counting those within
// `grace` of the last (re)start, make the replica unhealthy; one pass makes it healthy.
class HealthTracker {
 public:
  enum class Verdict { kStarting, kHealthy, kUnhealthy };

  explicit HealthTracker(sched::HealthCheckSpec check) : check_(std::move(check)) {}

  // The replica's container (re)started at `now_ms`: back to kStarting, grace begins.
  void restarted(std::int64_t now_ms);
  // Whether a check is due at `now_ms` (one `interval` after the last one began).
  bool due(std::int64_t now_ms) const;
  // A check that began at `now_ms` ended with `result`.
  void record(std::int64_t now_ms, const Status& result);

  Verdict verdict() const { return verdict_; }
  std::uint32_t consecutive_failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }  // empty after a pass
  const sched::HealthCheckSpec& check() const { return check_; }

 private:
  sched::HealthCheckSpec check_;
  Verdict verdict_ = Verdict::kStarting;
  std::int64_t started_ms_ = 0;
  std::int64_t last_check_ms_ = -1;
  std::uint32_t failures_ = 0;
  std::string last_error_;
};

// Nomad's restart block: at most `attempts` restarts within any `interval`, each `delay`
// after the failure; then mode fail gives the replica up, mode delay waits for the window.
class RestartTracker {
 public:
  explicit RestartTracker(sched::RestartPolicy policy) : policy_(policy) {}

  struct Plan {
    bool give_up = false;
    std::int64_t restart_at_ms = 0;  // when !give_up
    std::uint32_t attempt = 0;       // this restart's number within the window (1-based)
  };
  // The replica exited or turned unhealthy at `now_ms`: restart it (when), or give it up.
  // A planned restart counts against the window from the moment it is planned.
  Plan on_failure(std::int64_t now_ms);

  const sched::RestartPolicy& policy() const { return policy_; }

 private:
  sched::RestartPolicy policy_;
  std::vector<std::int64_t> restarts_ms_;  // when each restart in the window will run or ran
};

}  // namespace veil::node
