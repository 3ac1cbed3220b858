// The executor role (private to veil_node): accepts an assignment only after checking, on its
// own, that the committee's shares decrypt the agreed decision to this node and that the chain
// allows the image; then converges the container driver to the replicas assigned here and
// reports their state to each job's coordinator (docs/node.md, "Job lifecycle").
//
// It owns the replicas this node runs (persisted as kReplicaDoc documents), the stop fence,
// the container driver and its reconciler, and reaches the rest of the node only through a
// NodeContext.
//
// Threading: every public method is called on the io thread. The driver and the reconciler
// are used on the executor's own runtime worker (logs() excepted, as the API always did); the
// chain's image check of a new assignment runs on the node's blocking worker, so a long image
// pull never holds it up.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "health_check.h"
#include "node_context.h"
#include "worker.h"
#include "veil/node/job_state.h"
#include "veil/runtime/driver.h"
#include "veil/runtime/reconciler.h"
#include "veil/sched/job_spec.h"

namespace veil::node {

// A replica this node runs (persisted as a kReplicaDoc document).
struct LocalReplica {
  Hash32 job{};
  std::uint32_t replica = 0;
  std::uint32_t round = 0;  // the round whose assignment this node accepted
  std::string coordinator;
  std::string owner;  // the job's operator (Assignment::owner): who may read its logs
  std::map<std::string, Bytes> sealed_secrets;  // sealed to this node; opened only into the container's env
  std::string spec_yaml;
  sched::JobSpec spec;
  std::uint16_t host_port = 0;  // chosen once, kept across restarts
  std::string last_reported;

  // Supervision: the job's health check and restart policy (not persisted: a restarted node
  // counts afresh). See Executor::supervise.
  std::optional<HealthTracker> health;
  RestartTracker restarts{sched::RestartPolicy{}};
  std::string container_id;
  bool was_running = false;         // seen running on the last pass; a start after it resets health
  std::int64_t restart_at_ms = -1;  // a planned restart (ctx.now_ms() clock), -1 when none
  bool stop_before_restart = false; // the planned restart is of a running, unhealthy container
  bool given_up = false;            // restarts used up: reported failed, removed once the coordinator knows
  bool finished = false;            // a batch replica that exited 0: kept for its logs, never run again
  bool settled = false;             // its final state was acknowledged: not reported again
  std::optional<int> exit_code;     // of its last exit
  std::string failure;              // why it was given up
  std::string start_error;          // why its container could not be created (a failed pull, say), until it is
  // Its image pull while one runs (not persisted): reported to the coordinator at most once a
  // second, and at its end.
  std::optional<ImagePull> pull;
  std::int64_t pull_reported_ms = -1;
};

class Executor {
 public:
  using ReplicaKey = std::pair<Hash32, std::uint32_t>;  // job, replica slot

  // `driver` runs the containers, `reason` says why this driver (shown by /v1/status);
  // `options` configure the reconciler that converges it. `context` must outlive this.
  Executor(NodeContext& context, std::unique_ptr<runtime::Driver> driver, std::string reason,
           runtime::ReconcilerOptions options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Loads the replicas an earlier run stored (skipping, with a log line, a malformed one),
  // converges the driver to them and then again every 2 s until stop() or shut-down.
  void start();
  // Cancels the periodic convergence.
  void stop();

  // /veil/assign/1.0.0 from `peer`. An assignment is accepted (an empty AssignmentAck error)
  // when the stop fence admits it, the decision is agreed, the shares decrypt it to this node
  // and the chain allows the image; it is then stored and run. A stop from the replica's
  // coordinator removes the replica and fences that coordinator's assignments of the stop's
  // round and earlier. Otherwise `reply` gets the reason. `reply` may be called later.
  void handle_assignment(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);

  // Fail-over (docs/node.md): `coordinator` took job `job` over; this node's replicas of it
  // report to it from now on, and only it may stop them. The caller has checked the claim;
  // `how` says how this node learnt it, for the log.
  void adopt_coordinator(const Hash32& job, const std::string& coordinator, std::string_view how = "took over");

  // Shut-down (and a node whose operator lost its stake): forgets every replica, stops the
  // containers, reports each replica "drained" to its coordinator with `why` as the detail,
  // and calls `done` once every report was answered or failed.
  void drain(std::function<void()> done, std::string why = "node leaving");
  // While `reason` is not empty every new assignment is refused with it (stops still apply):
  // this node's operator is below the cluster's minimum stake (docs/chain.md, "Stake").
  void refuse_assignments(std::string reason) { refusal_ = std::move(reason); }
  const std::string& refusal() const { return refusal_; }
  // node.host_volumes: the host directories replicas may mount, by name. Assignments of jobs
  // asking for another volume are refused.
  void offer_host_volumes(std::map<std::string, std::filesystem::path> volumes) { host_volumes_ = std::move(volumes); }

  // What the replicas here were promised (telemetry offers the measured capacity minus this).
  sched::FreeCapacity reserved_capacity() const;
  std::size_t replica_count() const { return local_.size(); }
  // Convergence passes whose results were reported so far.
  std::uint64_t reconcile_passes() const { return reconcile_passes_; }
  const std::map<ReplicaKey, LocalReplica>& replicas() const { return local_; }
  std::string driver_name() const { return driver_->name(); }
  const std::string& driver_reason() const { return driver_reason_; }

  // The last `tail` lines of output of each replica here whose job id, id prefix (6+ hex
  // digits) or name is `job`. Blocking: calls the driver on the calling thread.
  struct ReplicaLogs {
    Hash32 job{};
    std::uint32_t replica = 0;
    std::string text;
  };
  std::vector<ReplicaLogs> logs(const std::string& job, int tail);
  // /veil/logs/1.0.0 from `peer` (any registered node: the gater admits no other): the last
  // lines of this node's replicas of the job, each cut to its end so the reply stays within
  // the message limit — only when `peer`'s operator is the job's owner; any other operator's
  // node gets an error. Blocking, as logs() is.
  void handle_logs_request(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);

 private:
  void reconcile_now();
  void report_replicas(const std::vector<runtime::ContainerInfo>& containers);
  // Sends `report` on `replica` to its coordinator; `on_reply` gets the answer on the io thread.
  void send_report(const LocalReplica& replica, const ReplicaReport& report, std::function<void(Result<Bytes>)> on_reply);
  // `options` with on_pull_progress set to this executor's pull reports.
  runtime::ReconcilerOptions with_pull_reports(runtime::ReconcilerOptions options);
  // On the io thread: the reconciler's progress of the pull for the container labelled
  // `job_label`/`replica_text`; reported as the replica's "starting" state with the sums.
  void report_pull(const std::string& job_label, const std::string& replica_text, const std::string& image,
                   const runtime::PullProgress& progress);
  // The replica whose container carries these veil.job / veil.replica labels, or null.
  LocalReplica* replica_labelled(const std::string& job_label, const std::string& replica_text);
  // The engine could not bind replica `replica_text` of the job labelled `job_label` to its
  // host port: a port this node picked is picked again (the container is then replaced, its
  // spec having changed); a port the job's spec fixes stays, and the error with it.
  void move_off_taken_port(const std::string& job_label, const std::string& replica_text);
  void accept(const std::string& peer, const ReplicaKey& key, std::uint32_t round, const sched::JobSpec& spec,
              const std::string& spec_yaml, const std::string& owner, const std::map<std::string, Bytes>& sealed_secrets,
              std::function<void(const std::string&)> answer);
  runtime::ContainerSpec container_spec(const LocalReplica& replica) const;
  // Sets up `replica`'s health tracker and restart tracker from its spec.
  static void supervise(LocalReplica& replica);
  // The state to report for `replica` given its container (null when there is none yet);
  // applies the health verdict and plans restarts under the restart policy.
  ReplicaPhase observe(LocalReplica& replica, const runtime::ContainerInfo* container, std::string& detail);
  // Plans a restart of `replica` after a failure seen at `now_ms`, or gives it up.
  void plan_restart(LocalReplica& replica, std::int64_t now_ms, bool stop_first, const std::string& why);
  // Where `replica`'s health check connects (its host port on this node).
  HealthTarget health_target(const LocalReplica& replica) const;
  // How often to converge: 2 s, or the shortest health-check interval here when shorter.
  std::chrono::milliseconds pass_interval() const;
  // A report about `job` could not be delivered to `dead`, its coordinator, which SWIM declared
  // dead: a successor's handover reaches only the nodes its record places replicas on, so ask
  // the live members for their copies (at most every 30 s per job) and report to the live
  // coordinator of the highest epoch they name; it refuses a replica it replaced.
  void ask_who_coordinates(const Hash32& job, const std::string& dead);

  NodeContext& ctx_;
  std::unique_ptr<runtime::Driver> driver_;  // used on runtime_worker_ only (logs() aside)
  std::string driver_reason_;
  std::chrono::seconds stop_grace_;                   // for restarts of unhealthy containers
  // This node's containers only: the reconciler's cluster label, which names the node. Nodes
  // that share one engine (tests, or two nodes on one host) must not see each other's replicas
  // of the same job and replica index.
  runtime::LabelSelector own_containers_;
  std::unique_ptr<runtime::Reconciler> reconciler_;  // used on runtime_worker_ only

  std::map<ReplicaKey, LocalReplica> local_;
  StopFence stop_fence_;  // assignments of stopped replicas that must not start
  std::uint64_t reconcile_passes_ = 0;
  std::map<Hash32, std::int64_t> asked_who_coordinates_ms_;  // ask_who_coordinates, by job
  bool reconcile_running_ = false;
  std::string refusal_;  // refuse_assignments
  std::map<std::string, std::filesystem::path> host_volumes_;  // offer_host_volumes
  std::unique_ptr<boost::asio::steady_timer> reconcile_timer_;
  // Runs the reconcile passes (pulls, creates, health checks) and the drain's last pass: a pull
  // of a large image takes minutes and must not hold up the node's blocking worker, where the
  // chain is asked whether a new assignment's image is allowed. Last member: destroyed first,
  // it finishes its queue while the driver and the reconciler still exist.
  Worker runtime_worker_{"runtime"};
};

}  // namespace veil::node
