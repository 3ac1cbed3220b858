#include "veil/sched/placement.h"

namespace veil::sched {

ScorePlan score_plan(const PlacementPolicy& policy) {
  ScorePlan plan;
  plan.kind = policy.kind;
  const PolicyWeights& w = policy.weights;
  const std::array<std::uint32_t, kResourceCount> weights = {w.cpu, w.memory, w.disk, w.gpu};
  for (std::size_t r = 0; r < kResourceCount; ++r) plan.resource_coefficient[r] = weights[r] * kResourceScale[r];
  switch (policy.kind) {
    case PolicyKind::kSpread:
      plan.maximise = true;
      break;
    case PolicyKind::kBinpack:
      plan.maximise = false;
      break;
    case PolicyKind::kLatency:
      plan.maximise = false;
      plan.complement_free = true;
      plan.latency_coefficient = w.latency * kLatencyScale;
      break;
    case PolicyKind::kPriorityRoundRobin:
      plan.maximise = true;
      plan.resource_coefficient = {};
      break;
  }
  return plan;
}

bool fits(const QuantizedTelemetry& node, const QuantizedRequest& request) {
  for (std::size_t r = 0; r < kResourceCount; ++r) {
    if (placement_value(node, r) < request.amount[r]) return false;
  }
  return true;
}

std::uint32_t score(const ScorePlan& plan, const QuantizedTelemetry& node, std::size_t index, std::size_t node_count,
                    std::uint32_t round_robin_offset) {
  if (plan.kind == PolicyKind::kPriorityRoundRobin) {
    const std::size_t rank = (index + node_count - round_robin_offset % node_count) % node_count;
    return static_cast<std::uint32_t>(node_count - rank);
  }
  auto bits = [](std::uint32_t value, unsigned shift, unsigned width) { return (value >> shift) & ((1u << width) - 1); };
  std::uint32_t total = plan.latency_coefficient * bits(node.latency, kLatencyShift, kLatencyScoreBits);
  for (std::size_t r = 0; r < kResourceCount; ++r) {
    const std::uint32_t value = plan.complement_free ? 0xffffu - placement_value(node, r) : placement_value(node, r);
    total += plan.resource_coefficient[r] * bits(value, kScoreShift[r], kScoreBits[r]);
  }
  return total;
}

Placement place_plaintext(const PlacementInput& input) {
  const ScorePlan plan = score_plan(input.policy);
  const std::size_t n = input.nodes.size();
  std::vector<bool> chosen(n, false);
  Placement placement;
  for (std::uint32_t replica = 0; replica < input.replicas; ++replica) {
    std::optional<std::uint32_t> best;
    std::uint32_t best_score = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (chosen[i] || !fits(input.nodes[i], input.request)) continue;
      const std::uint32_t s = score(plan, input.nodes[i], i, n, input.round_robin_offset);
      // Strict comparison keeps the lowest index among equal scores.
      if (!best || (plan.maximise ? s > best_score : s < best_score)) {
        best = static_cast<std::uint32_t>(i);
        best_score = s;
      }
    }
    if (best) chosen[*best] = true;
    placement.replicas.push_back(best);
  }
  return placement;
}

std::vector<QuantizedTelemetry> reserve(const std::vector<QuantizedTelemetry>& nodes, const QuantizedRequest& request,
                                        const Placement& placement) {
  std::vector<QuantizedTelemetry> after = nodes;
  for (auto& node : after) node.free[kGpu] = placement_value(node, kGpu);
  for (const auto& replica : placement.replicas) {
    if (!replica) continue;
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      after[*replica].free[r] = static_cast<std::uint16_t>(after[*replica].free[r] - request.amount[r]);
    }
  }
  return after;
}

}  // namespace veil::sched
