// Job specifications: what an operator asks the cluster to run, parsed from YAML.
//
// The format (docs/jobspec.md) is close to a Nomad job or a Kubernetes Deployment so that
// users recognise it. Parsing validates everything a node would otherwise trip over later,
// and every error names the field and its line: `job.yaml:7:12: resources.cpu: ...`.
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"
#include "veil/sched/sampling.h"

namespace veil::sched {

// "registry.example:5000/team/app:1.2@sha256:<64 hex>": the digest is required, since nodes
// run only digests allowed on chain, never a mutable tag.
struct ImageRef {
  std::string repository;  // "127.0.0.1:5000/web"
  std::string tag;         // "1.0", may be empty
  std::string digest;      // "sha256:<64 lower-case hex>"

  std::string to_string() const;  // repository[:tag]@digest
};

Result<ImageRef> parse_image_ref(std::string_view text);

// Parsed by veil::parse_quantity with kCpuMillicores, kSizeMib and kGpuCount.
struct ResourceRequest {
  std::uint32_t cpu_millicores = 0;  // 1000 = one core, at most 1'000'000
  std::uint32_t memory_mib = 0;
  std::uint32_t disk_mib = 0;
  std::uint32_t gpus = 0;  // at most 64
};

enum class PolicyKind { kSpread, kBinpack, kPriorityRoundRobin, kLatency };

std::string_view policy_name(PolicyKind kind);
Result<PolicyKind> parse_policy_name(std::string_view name);

// Per-resource weights (0..15) used by the scoring of every policy, and the weight of
// measured latency in `latency`. All zero weights is rejected for the scoring policies.
struct PolicyWeights {
  std::uint32_t cpu = 1;
  std::uint32_t memory = 1;
  std::uint32_t disk = 0;
  std::uint32_t gpu = 0;
  std::uint32_t latency = 1;  // only used by PolicyKind::kLatency
};

struct PlacementPolicy {
  PolicyKind kind = PolicyKind::kSpread;
  PolicyWeights weights;
};

struct PortMapping {
  std::uint16_t container_port = 0;
  std::uint16_t host_port = 0;  // 0 = let the node pick
  std::string protocol = "tcp";  // tcp or udp
};

// `service` runs until stopped (a replica that exits is restarted); `batch` runs to
// completion: a replica that exits 0 has succeeded, one that exits otherwise is restarted and
// rescheduled as its policies allow and then has failed with its exit code.
enum class JobType { kService, kBatch };
std::string_view job_type_name(JobType type);  // "service", "batch"

// Durations as Nomad writes them: one or more <digits><unit> with units h, m, s, ms
// ("10s", "2m", "1m30s", "250ms"); at most kMaxDuration. invalid_argument otherwise.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest such text for `d` ("90s" -> "1m30s", 0 -> "0s"); parse_duration reads it back.
std::string format_duration(std::chrono::milliseconds d);
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 365);

// A replica's health check (Kubernetes liveness probe, Nomad service check). The node runs
// it every `interval`; a check that does not pass within `timeout` fails. Failures during the
// first `grace` after the replica (re)starts do not count; `failures` consecutive failures
// make the replica unhealthy, and its node restarts it under the restart policy. A replica
// with a check counts as healthy only while the check passes (before its first pass it is
// still starting).
struct HealthCheckSpec {
  enum class Kind { kHttp, kTcp, kExec };
  Kind kind = Kind::kTcp;
  std::string path = "/";          // http: GET this path; 200-399 passes
  std::uint16_t port = 0;          // http, tcp: a container port listed in `ports` (tcp)
  std::vector<std::string> command;  // exec: run inside the replica; exit 0 passes
  std::chrono::milliseconds interval{std::chrono::seconds(10)};
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds grace{std::chrono::seconds(1)};
  std::uint32_t failures = 3;  // 1..100
};
std::string_view health_kind_name(HealthCheckSpec::Kind kind);  // "http", "tcp", "exec"

// Nomad's restart block, applied by the node that runs the replica: at most `attempts`
// restarts within any `interval`, each `delay` after the exit (or the failed check). When
// they are used up, mode `fail` gives the replica up (the coordinator reschedules it) and
// mode `delay` waits until the interval allows another restart.
struct RestartPolicy {
  enum class Mode { kFail, kDelay };
  std::uint32_t attempts = 2;  // 0..100
  std::chrono::milliseconds interval{std::chrono::minutes(30)};
  std::chrono::milliseconds delay{std::chrono::seconds(15)};
  Mode mode = Mode::kFail;

  bool operator==(const RestartPolicy&) const = default;
};

// Nomad's reschedule block, applied by the job's coordinator: a replica its node gave up is
// placed again by a new encrypted round, avoiding the nodes where it failed unless no other
// fits, at most `attempts` times within any `interval`; after that it is dead.
// update: how a new version of a running job replaces it (docs/jobspec.md, "Rolling updates"),
// after Nomad's update block: `max_parallel` new replicas in flight at a time, each counted
// once it has run healthy for `min_healthy_time`, when one old replica stops; a version whose
// replicas in flight are not all counted within `healthy_deadline` fails, and is rolled back
// to the version it replaces when `auto_revert` is set.
struct UpdatePolicy {
  std::uint32_t max_parallel = 1;  // 1..100
  std::chrono::milliseconds min_healthy_time{std::chrono::seconds(10)};
  std::chrono::milliseconds healthy_deadline{std::chrono::minutes(5)};
  bool auto_revert = false;

  bool operator==(const UpdatePolicy&) const = default;
};

struct ReschedulePolicy {
  std::uint32_t attempts = 2;  // 0..100; 0 = never reschedule
  std::chrono::milliseconds interval{std::chrono::hours(1)};

  bool operator==(const ReschedulePolicy&) const = default;
};

// The defaults of each job type (docs/jobspec.md): a service restarts twice in 30 minutes
// and is rescheduled twice an hour; a batch job restarts three times a day and is
// rescheduled once.
RestartPolicy default_restart(JobType type);
ReschedulePolicy default_reschedule(JobType type);

// A filter on a node's public labels (docs/jobspec.md, "Constraints"), applied before the
// encrypted round: nodes that do not match are never inputs. A node without the label matches
// only `!=`. `regexp` is a POSIX extended regular expression matched against the whole value
// (anchored), without back-references, so matching takes time linear in the value.
struct Constraint {
  enum class Operator { kEqual, kNotEqual, kIn, kRegexp };
  std::string attribute;            // a label name, 1..63 characters
  Operator op = Operator::kEqual;
  std::vector<std::string> values;  // one value, except `in` (one or more)

  bool operator==(const Constraint&) const = default;
};
std::string_view constraint_operator_name(Constraint::Operator op);  // "=", "!=", "in", "regexp"
inline constexpr std::size_t kMaxLabelValueBytes = 255;
// Ok when `pattern` is a constraint's valid regexp; invalid_argument saying why otherwise.
Status check_label_regexp(std::string_view pattern);
// Whether `value` as a whole matches `pattern` (false for an invalid pattern).
bool label_matches_regexp(std::string_view pattern, std::string_view value);

// Names a node's config and a job spec share: a label name is 1..63 printable ASCII characters
// without spaces; a host volume name 1..63 of a-z, 0-9, '-', '_'.
bool is_label_name(std::string_view s);
bool is_volume_name(std::string_view s);

// A host directory the node's operator offers under a name (`node.host_volumes` in the node's
// config), mounted into the replica at `path`. A node that does not offer `source` is never an
// input of the job's rounds.
struct VolumeMount {
  std::string source;  // the host volume's name
  std::string path;    // absolute path inside the container
  bool read_only = false;

  bool operator==(const VolumeMount&) const = default;
};

// A secret the replicas receive as an environment variable of the same name. Its value is
// read on the submitting machine (`veil job run`) from a file or an environment variable and
// travels only sealed to the one node that runs each replica (docs/jobspec.md, "Secrets"); the
// spec (hashed, gossiped, anchored) holds only where it came from.
struct SecretSource {
  enum class Kind { kFile, kEnv };
  Kind kind = Kind::kEnv;
  std::string from;  // a file path or an environment variable name

  bool operator==(const SecretSource&) const = default;
};
inline constexpr std::size_t kMaxSecrets = 32;
inline constexpr std::size_t kMaxSecretBytes = 64 << 10;

struct JobSpec {
  std::string name;  // DNS-1123 label: lower-case letters, digits, '-', at most 63
  JobType type = JobType::kService;
  ImageRef image;
  std::uint32_t replicas = 1;  // 1..kMaxReplicas, each on a distinct node
  ResourceRequest resources;
  PlacementPolicy policy;
  std::int32_t priority = 50;  // 0..100, higher runs first
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::vector<PortMapping> ports;
  std::map<std::string, std::string> labels;
  std::optional<HealthCheckSpec> health;
  RestartPolicy restart;        // default_restart(type) for the fields the spec leaves out
  ReschedulePolicy reschedule;  // default_reschedule(type) likewise
  std::optional<UpdatePolicy> update;  // unset: a new version replaces this one all at once
  std::vector<Constraint> constraints;
  std::string spread_over;  // a label name: replicas go to nodes of distinct values when possible
  std::vector<VolumeMount> volumes;
  // placement.candidates: how many nodes a round evaluates (sampling.h); unset takes the
  // cluster's sched.candidates.
  std::optional<CandidateCount> candidates;
  std::map<std::string, SecretSource> secrets;  // env var name -> where its value comes from
};

inline constexpr std::uint32_t kMaxReplicas = 64;
inline constexpr std::uint32_t kMaxWeight = 15;

// Parses and validates a job spec. `source_name` (a file name) prefixes error locations.
// The text must be UTF-8 and at most kJobSpecFile.max_bytes (1 MiB, veil/common/read_file.h);
// resource quantities follow veil/common/quantity.h. Errors are invalid_argument (out_of_range
// for an oversized text), located as "name:LINE:COL: field: problem", with every byte the
// user wrote shown through printable().
Result<JobSpec> parse_job_spec(std::string_view yaml_text, std::string_view source_name = "<job>");

// Reads (through veil::read_file, so at most 1 MiB of a regular file) and parses a job spec.
Result<JobSpec> load_job_spec(const std::string& path);

// "source:LINE:COL: field: message" with the spec's line quoted under it, as parse errors are
// written, for `field` ("volumes[1].source", "constraints[0]") of a spec that parsed; located at
// the nearest enclosing field found when the exact one is not in the text.
std::string describe_spec_field(std::string_view yaml_text, std::string_view source_name, std::string_view field,
                                std::string_view message);

// Canonical YAML for a parsed spec (stable key order): what is hashed into the job id.
std::string to_canonical_yaml(const JobSpec& spec);

}  // namespace veil::sched
