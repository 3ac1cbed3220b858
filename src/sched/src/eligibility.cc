#include "veil/sched/eligibility.h"

#include <algorithm>

namespace veil::sched {
namespace {

std::string describe(const Constraint& c) {
  std::string values;
  for (const auto& v : c.values) values += (values.empty() ? "" : ",") + v;
  return "constraint " + c.attribute + " " + std::string(constraint_operator_name(c.op)) + " " + values;
}

bool holds(const Constraint& c, const std::string* value) {
  switch (c.op) {
    case Constraint::Operator::kEqual: return value != nullptr && *value == c.values.front();
    case Constraint::Operator::kNotEqual: return value == nullptr || *value != c.values.front();
    case Constraint::Operator::kIn:
      return value != nullptr && std::find(c.values.begin(), c.values.end(), *value) != c.values.end();
    case Constraint::Operator::kRegexp: return value != nullptr && label_matches_regexp(c.values.front(), *value);
  }
  return false;
}

}  // namespace

Status validate_node_attributes(const NodeAttributes& attributes) {
  if (attributes.labels.size() > kMaxNodeLabels) {
    return invalid_argument("a node may declare at most " + std::to_string(kMaxNodeLabels) + " labels");
  }
  for (const auto& [name, value] : attributes.labels) {
    if (!is_label_name(name)) return invalid_argument("label name '" + name + "' must be 1..63 printable characters");
    if (value.size() > kMaxLabelValueBytes) {
      return invalid_argument("label " + name + ": values are at most " + std::to_string(kMaxLabelValueBytes) + " bytes");
    }
  }
  if (attributes.volumes.size() > kMaxNodeVolumes) {
    return invalid_argument("a node may offer at most " + std::to_string(kMaxNodeVolumes) + " host volumes");
  }
  for (const auto& name : attributes.volumes) {
    if (!is_volume_name(name)) return invalid_argument("host volume name '" + name + "' must be 1..63 of a-z, 0-9, '-', '_'");
  }
  return {};
}

Status check_eligible(const JobSpec& spec, const NodeAttributes& attributes) {
  for (const auto& c : spec.constraints) {
    auto it = attributes.labels.find(c.attribute);
    const std::string* value = it == attributes.labels.end() ? nullptr : &it->second;
    if (!holds(c, value)) {
      return failed_precondition(describe(c) + ": the node's " + c.attribute + " is " +
                                 (value == nullptr ? std::string("not set") : "'" + *value + "'"));
    }
  }
  for (const auto& v : spec.volumes) {
    if (attributes.volumes.count(v.source) == 0) return failed_precondition("volume " + v.source + " is not offered");
  }
  return {};
}

std::string spread_value(const JobSpec& spec, const NodeAttributes& attributes) {
  if (spec.spread_over.empty()) return "";
  auto it = attributes.labels.find(spec.spread_over);
  return it == attributes.labels.end() ? "" : it->second;
}

}  // namespace veil::sched
