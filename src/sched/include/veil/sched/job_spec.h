// Job specifications: what an operator asks the cluster to run, parsed from YAML.
//
// The format (docs/jobspec.md) is close to a Nomad job or a Kubernetes Deployment so that
// users recognise it. Parsing validates everything a node would otherwise trip over later,
// and every error names the field and its line: `job.yaml:7:12: resources.cpu: ...`.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

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

struct JobSpec {
  std::string name;  // DNS-1123 label: lower-case letters, digits, '-', at most 63
  ImageRef image;
  std::uint32_t replicas = 1;  // 1..kMaxReplicas, each on a distinct node
  ResourceRequest resources;
  PlacementPolicy policy;
  std::int32_t priority = 50;  // 0..100, higher runs first
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::vector<PortMapping> ports;
  std::map<std::string, std::string> labels;
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

// Canonical YAML for a parsed spec (stable key order): what is hashed into the job id.
std::string to_canonical_yaml(const JobSpec& spec);

}  // namespace veil::sched
