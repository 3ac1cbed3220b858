// The contract every container driver fulfils (after Nomad's task drivers): pull, create,
// start, stop, kill, remove, inspect, logs, wait, list by label and lifecycle events.
//
// Errors are Status values; codes mean the same for every driver:
//   kNotFound           no such container or image ("unknown image")
//   kAlreadyExists      a container with that name exists
//   kUnavailable        the engine or the registry cannot be reached (retry may help)
//   kPermissionDenied   the engine socket or the registry refused us
//   kDataLoss           an image's digest is not the one expected
//   kFailedPrecondition the container is in the wrong state for the call
//   kInvalidArgument    the spec or reference is malformed
//
// Thread safety: a Driver may be used from several threads at once; each call is
// independent. Callbacks (LogSink, EventCallback) run on a thread of the driver's choosing.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "veil/common/status.h"
#include "veil/runtime/container.h"

namespace veil::runtime {

// Keeps an event subscription alive; destroying it stops delivery and joins the thread
// that delivers, so the callback is never called after the destructor returns.
class EventSubscription {
 public:
  virtual ~EventSubscription() = default;
  // Non-ok once delivery stopped because of an error (engine went away).
  virtual Status status() const = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // "docker" or "process".
  virtual std::string name() const = 0;
  // One line for operators: engine version / state directory and why it was chosen.
  virtual std::string describe() const = 0;

  // Fetches an image and checks that the registry served the expected digest. A
  // mismatch is kDataLoss and the image is not left tagged for use.
  virtual Result<PulledImage> pull(const PullRequest& request) = 0;

  // Creates a container (not started). Returns its id. The spec's labels are stored and
  // reported back by inspect/list.
  virtual Result<std::string> create(const ContainerSpec& spec) = 0;
  // Starts a created or exited container. Starting a running one is ok.
  virtual Status start(const std::string& id) = 0;
  // Sends SIGTERM, waits up to `grace`, then SIGKILL. Stopping a stopped container is ok.
  virtual Status stop(const std::string& id, std::chrono::seconds grace) = 0;
  // Sends `signal` (e.g. SIGKILL) to the container's processes.
  virtual Status kill(const std::string& id, int signal) = 0;
  // Removes a container; `force` kills it first when running, otherwise a running
  // container is kFailedPrecondition.
  virtual Status remove(const std::string& id, bool force) = 0;

  virtual Result<ContainerInfo> inspect(const std::string& id) = 0;
  // Containers carrying every label of `selector`; `all` includes stopped ones.
  virtual Result<std::vector<ContainerInfo>> list(const LabelSelector& selector, bool all) = 0;

  // Delivers the container's output to `sink`, stdout and stderr kept apart. With
  // options.follow it returns once the container stopped and its output was drained, or
  // when the sink returns false.
  virtual Status logs(const std::string& id, const LogOptions& options, const LogSink& sink) = 0;

  // Blocks until the container is not running; returns its exit status. With a timeout,
  // kDeadlineExceeded when it is still running after it.
  virtual Result<ExitStatus> wait(const std::string& id,
                                  std::optional<std::chrono::milliseconds> timeout) = 0;

  // Runs `command` (argv, no shell) inside the running container `id` — Docker: the exec
  // API; process driver: a child process with the container's environment and working
  // directory — and returns its exit code. kDeadlineExceeded when it has not finished after
  // `timeout` (the process driver kills it; Docker's exec API cannot, so it runs on),
  // kFailedPrecondition when the container is not running. Health checks use it.
  virtual Result<int> exec(const std::string& id, const std::vector<std::string>& command,
                           std::chrono::milliseconds timeout) = 0;

  // Calls `callback` for each container event whose container carries every label of
  // `selector`, from now on, until the returned subscription is destroyed.
  virtual Result<std::unique_ptr<EventSubscription>> subscribe(const LabelSelector& selector,
                                                               EventCallback callback) = 0;
};

// Which driver to open.
enum class DriverKind { kAuto, kDocker, kProcess };
Result<DriverKind> parse_driver_kind(std::string_view text);  // "auto", "docker", "process"

struct DriverSelection {
  std::unique_ptr<Driver> driver;
  std::string reason;  // why this one, e.g. "docker socket /x did not answer: ...; using process"
};

struct DriverOptions {
  DriverKind kind = DriverKind::kAuto;
  std::string docker_socket;      // empty: $VEIL_DOCKER_SOCKET, else /var/run/docker.sock
  std::string process_state_dir;  // empty: $VEIL_PROCESS_STATE_DIR, else a default (see docs)
};

// Opens the requested driver. kAuto tries Docker first and falls back to the process
// driver when the engine does not answer, saying why in `reason`. Explicit kinds fail
// with the driver's error instead of falling back.
Result<DriverSelection> open_driver(const DriverOptions& options);

}  // namespace veil::runtime
