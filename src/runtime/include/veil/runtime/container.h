// What a driver is asked to run and what it reports back: plain values shared by every
// driver (Docker Engine API, plain processes) and by the reconciler.
//
// Thread safety: plain values; distinct objects may be used from distinct threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil::runtime {

// Labels every container started by Veil carries; the reconciler finds its own by them.
inline constexpr std::string_view kLabelJob = "veil.job";
inline constexpr std::string_view kLabelReplica = "veil.replica";
inline constexpr std::string_view kLabelCluster = "veil.cluster";
// Hash of the desired spec the container was created from; a change means "replace".
inline constexpr std::string_view kLabelSpecHash = "veil.spec-hash";

// One published port. The Docker driver maps host_ip:host_port to container_port inside
// the container's network namespace. The process driver cannot translate ports: it tells
// the process which host port to bind through the environment (VEIL_PORT_<container_port>).
struct PortBinding {
  std::string host_ip = "127.0.0.1";
  std::uint16_t host_port = 0;
  std::uint16_t container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
};

// An optional health probe, run inside the container by the engine.
struct HealthCheck {
  std::vector<std::string> command;  // run without a shell (Docker "CMD" form)
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  int retries = 3;
};

// A host directory bind-mounted into the container (Docker "Mounts" of type bind). The process
// driver cannot mount and refuses a spec with mounts.
struct BindMount {
  std::string host_path;       // absolute, existing directory on the node
  std::string container_path;  // absolute path inside the container
  bool read_only = false;
};

struct ContainerSpec {
  std::string name;   // unique per engine; empty lets the driver choose
  std::string image;  // image reference (Docker) or executable path (process driver)
  std::vector<std::string> command;  // argv; empty means the image's default command
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  std::vector<PortBinding> ports;
  std::int64_t nano_cpus = 0;      // 1e9 = one CPU; 0 = unlimited
  std::int64_t memory_bytes = 0;   // hard limit incl. swap; 0 = unlimited
  std::string working_dir;         // empty = image default (Docker) or the container dir
  std::optional<HealthCheck> health;
  std::vector<BindMount> mounts;
};

enum class ContainerState { kCreated, kRunning, kPaused, kRestarting, kExited, kDead, kRemoving, kUnknown };
std::string_view container_state_name(ContainerState state);  // "running", "exited", ...
ContainerState parse_container_state(std::string_view name);  // unknown text -> kUnknown

enum class HealthStatus { kNone, kStarting, kHealthy, kUnhealthy };
std::string_view health_status_name(HealthStatus status);  // "none", "starting", ...

struct ContainerInfo {
  std::string id;
  std::string name;
  std::string image;         // as requested
  std::string image_id;      // engine's image id (Docker) or sha256 of the executable
  ContainerState state = ContainerState::kUnknown;
  int exit_code = 0;         // meaningful once exited; 128+N when killed by signal N
  bool oom_killed = false;   // the kernel's OOM killer ended it (memory limit exceeded)
  HealthStatus health = HealthStatus::kNone;
  int pid = 0;               // main process on the host, 0 when not running
  std::string error;         // engine's error text for a failed start, if any
  std::string started_at;    // RFC 3339 as reported by the engine, may be empty
  std::string finished_at;
  std::map<std::string, std::string> labels;
  std::vector<PortBinding> ports;
  std::int64_t nano_cpus = 0;
  std::int64_t memory_bytes = 0;

  bool running() const { return state == ContainerState::kRunning || state == ContainerState::kRestarting; }
};

// Label equality filter: a container matches when it carries every pair.
using LabelSelector = std::map<std::string, std::string>;

enum class LogStream { kStdout, kStderr };

struct LogOptions {
  bool follow = false;       // keep streaming until the container exits or the sink stops
  bool stdout_stream = true;
  bool stderr_stream = true;
  int tail = -1;             // last N lines only; -1 = all
};

// Receives log bytes in order of arrival. Returning false stops the stream early.
using LogSink = std::function<bool(LogStream stream, std::string_view bytes)>;

struct ExitStatus {
  int exit_code = 0;
  bool oom_killed = false;
};

// A container lifecycle event: action is the engine's word ("create", "start", "die",
// "oom", "kill", "stop", "destroy", "health_status: healthy", ...).
struct Event {
  std::string action;
  std::string container_id;
  std::string name;
  std::map<std::string, std::string> attributes;  // labels, exitCode, image, ...
  std::int64_t time_nanos = 0;
};

using EventCallback = std::function<void(const Event&)>;

struct RegistryAuth {
  std::string username;
  std::string password;
  std::string server_address;  // e.g. "127.0.0.1:5000"
  std::string identity_token;  // used instead of username/password when set
};

// How far a pull has come, summed over the image's layers as the engine reports them.
struct PullProgress {
  std::size_t layers = 0;       // layers the engine has named so far
  std::size_t layers_done = 0;  // pulled, or already present
  std::uint64_t bytes_done = 0;   // downloaded bytes of the layers whose size is known
  std::uint64_t bytes_total = 0;  // their sizes (grows as the engine learns more layers)
};

struct PullRequest {
  std::string reference;             // "host:port/repo:tag" or "host:port/repo@sha256:..."
  std::string expected_digest;       // "sha256:<64 hex>"; empty = no check (not recommended)
  std::optional<RegistryAuth> auth;
  // Called on the pulling thread after each progress message that changed the sums.
  std::function<void(const PullProgress&)> on_progress;
};

struct PulledImage {
  std::string reference;  // what was pulled
  std::string digest;     // "sha256:..." content digest the registry served (RepoDigest)
  std::string image_id;   // local image id
};

// Parses a memory size such as "128M", "1g", "512k", "1048576" (binary multiples).
Result<std::int64_t> parse_memory_size(std::string_view text);
// Parses a CPU amount such as "0.5" or "2" into nano-CPUs.
Result<std::int64_t> parse_cpus(std::string_view text);
// Parses "HOSTPORT:CONTAINERPORT", "IP:HOSTPORT:CONTAINERPORT", optionally "/udp".
Result<PortBinding> parse_port_binding(std::string_view text);

// A stable hash of the fields of a spec that matter for "is this the same container"
// (image, command, env, ports, limits, labels other than the spec hash itself), hex.
std::string spec_hash(const ContainerSpec& spec);

}  // namespace veil::runtime
