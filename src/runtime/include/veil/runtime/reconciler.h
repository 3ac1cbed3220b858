// Converges what runs on this node to what should run, through any Driver.
//
// A desired container is identified by its (veil.job, veil.replica) labels within one
// cluster (veil.cluster). Every pass lists the engine's containers carrying this cluster's
// label, so a reconciler created after a node restart adopts what an earlier one started
// instead of starting duplicates. Container names are deterministic
// ("veil-<cluster>-<job>-<replica>"), so even two racing reconcilers cannot both create one:
// the engine refuses the second name.
//
// One pass:
//   - missing desired container        -> create (pulling the image first if asked) + start
//   - exited/dead desired container    -> start again, after an exponential back-off
//                                         (unless restart_exited is false)
//   - running container, spec changed  -> remove and create anew (spec hash label)
//   - several containers for one key   -> keep one (running first), remove the others
//   - container not desired            -> stop (grace period) and remove
//
// Thread safety: one Reconciler is driven by one thread at a time (reconcile() and
// run_until() must not run concurrently on the same object).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "veil/common/status.h"
#include "veil/runtime/container.h"
#include "veil/runtime/driver.h"

namespace veil::runtime {

struct ReconcilerOptions {
  std::string cluster;  // value of veil.cluster on every container we own; required
  // Restart back-off: delay before the n-th consecutive restart is
  // min(backoff_initial * 2^(n-1), backoff_max); the count resets once a container has
  // been seen running for backoff_reset.
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds backoff_reset{30000};
  std::chrono::seconds stop_grace{10};
  // Pull a desired image when create() says it is not present (kNotFound).
  bool pull_missing_images = false;
  std::map<std::string, std::string> image_digests;  // image reference -> expected digest
  // Called on the reconciling thread while such a pull runs, after each progress message that
  // changed its sums: the container's veil.job and veil.replica labels, its image, the sums.
  std::function<void(const std::string& job, const std::string& replica, const std::string& image, const PullProgress&)>
      on_pull_progress;
};

// One desired container. spec.labels must hold veil.job and veil.replica; the reconciler
// adds veil.cluster, veil.spec-hash and the deterministic name.
struct DesiredContainer {
  ContainerSpec spec;
  // false: an exited or dead container is left as it is — its owner restarts it under a policy
  // of its own (the node's executor: Nomad's restart block) or keeps it finished (a batch job).
  bool restart_exited = true;
};

// A container the pass could not bring to its desired state (the pass goes on).
struct ReconcileError {
  std::string job, replica;  // its veil.job and veil.replica labels (empty when it has none)
  std::string action;        // "create", "restart", "stop" or "remove"
  std::string container;     // its id, when it exists
  Status status;
  // "create JOB/REPLICA: ..." or "restart ID: ...", as the log says it.
  std::string to_string() const;
};

struct ReconcileReport {
  std::vector<std::string> created;    // ids
  std::vector<std::string> restarted;  // ids started again after exiting
  std::vector<std::string> removed;    // ids of unwanted or duplicate containers
  std::vector<std::string> adopted;    // ids found running that this instance had not seen
  std::vector<std::string> backing_off;  // "job/replica" waiting for their restart delay
  std::vector<ReconcileError> errors;
};

// The delay before restart number `attempt` (1-based): min(initial * 2^(attempt-1), max).
std::chrono::milliseconds restart_backoff(const ReconcilerOptions& options, int attempt);

class Reconciler {
 public:
  using Clock = std::chrono::steady_clock;

  // `driver` must outlive the reconciler.
  Reconciler(Driver& driver, ReconcilerOptions options);

  // Replaces the desired set. invalid_argument when a spec lacks its job/replica label or
  // two specs share one key.
  Status set_desired(std::vector<DesiredContainer> desired);

  // One pass (see above). Fails only when the driver cannot list containers; individual
  // container failures are reported in the result's errors and retried next pass.
  Result<ReconcileReport> reconcile();

  // Runs passes every `interval` and immediately after a container event of this cluster,
  // until `stop` is requested. `on_pass` (optional) sees each pass's report.
  void run_until(std::stop_token stop, std::chrono::milliseconds interval,
                 const std::function<void(const Result<ReconcileReport>&)>& on_pass = {});

  // The deterministic container name for a job replica in `cluster`.
  static std::string container_name(std::string_view cluster, std::string_view job,
                                    std::string_view replica);


 private:
  struct KeyState {
    int restarts = 0;                 // consecutive restarts not yet followed by a stable run
    Clock::time_point next_restart{};
    Clock::time_point running_since{};
    bool seen_running = false;
  };

  Status create_and_start(const DesiredContainer& want, ReconcileReport& report);

  Driver& driver_;
  ReconcilerOptions options_;
  std::map<std::pair<std::string, std::string>, DesiredContainer> desired_;
  std::map<std::pair<std::string, std::string>, KeyState> state_;
  std::map<std::string, bool> known_ids_;  // ids this instance has seen (for "adopted")
};

}  // namespace veil::runtime
