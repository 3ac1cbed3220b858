// The public half of placement: which nodes a job may be placed on at all, decided from what
// nodes publish in the clear (their labels and the host volumes they offer) before the
// encrypted round scores the rest. Labels are public by design (docs/threat-model.md);
// resource telemetry never enters this decision.
//
// Thread safety: plain functions over values.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "veil/common/status.h"
#include "veil/sched/job_spec.h"

namespace veil::sched {

// What a node publishes about itself in its signed telemetry record (telemetry_record.h).
struct NodeAttributes {
  std::map<std::string, std::string> labels;  // node.labels: {region: eu, zone: a}
  std::set<std::string> volumes;              // the names in node.host_volumes

  bool operator==(const NodeAttributes&) const = default;
};

inline constexpr std::size_t kMaxNodeLabels = 64;
inline constexpr std::size_t kMaxNodeVolumes = 64;

// Ok when `attributes` are well-formed: at most kMaxNodeLabels labels named as a job's
// constraint attributes are (1..63 printable characters) with values of at most
// kMaxLabelValueBytes, and at most kMaxNodeVolumes volume names as a job spec writes them.
// invalid_argument naming the offending entry otherwise.
Status validate_node_attributes(const NodeAttributes& attributes);

// Ok when a node with `attributes` may run `spec`: every constraint holds and every volume is
// offered. failed_precondition naming the first constraint or volume that does not otherwise
// ("constraint region = eu: the node's region is us", "volume data is not offered").
Status check_eligible(const JobSpec& spec, const NodeAttributes& attributes);

// The value of the `spread_over` label of a node ("" when the node has no such label, which
// counts as one more value).
std::string spread_value(const JobSpec& spec, const NodeAttributes& attributes);

}  // namespace veil::sched
