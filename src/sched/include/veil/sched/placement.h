// Placement policies as a plaintext reference.
//
// Every policy is filter → score → argmax with a deterministic tie-break, then repeated for
// each replica with the nodes already chosen excluded (anti-affinity). The FHE circuits in
// this library compute exactly the same integers on ciphertexts; both read the policy's
// coefficients from one place, score_plan(), so they cannot drift apart.
//
//   filter    node fits   ⇔ free[r] ≥ request[r] for every resource r
//   spread    maximise  Σ_r w_r·m_r·free[r]                 (least allocated, as Kubernetes)
//   binpack   minimise  Σ_r w_r·m_r·free[r]                 (most allocated, as Nomad)
//   latency   minimise  w_lat·m_lat·latency + Σ_r w_r·m_r·(65535 − free[r])
//   priority-round-robin  maximise  N − ((i − offset) mod N): nodes take turns in a fixed
//             rotation starting at `offset`; the first node in rotation order that fits wins
//
// m_r scales each resource's unit so that its reference capacity (resources.h) is worth
// about 2^16 points; every score fits in 32 bits. Ties go to the lowest node index (nodes are
// ordered by PeerId, so every scheduler agrees). A replica with no fitting node left is
// "no fit" (std::nullopt), never a wrong placement.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::sched {

// The integer coefficients of a policy's score: score = Σ coefficient[r]·term[r] + latency
// term, where term[r] is free[r], or its complement 65535 − free[r] when `complement_free`.
struct ScorePlan {
  PolicyKind kind = PolicyKind::kSpread;
  std::array<std::uint32_t, kResourceCount> resource_coefficient{};
  std::uint32_t latency_coefficient = 0;
  bool complement_free = false;
  bool maximise = true;  // false: the best node has the lowest score
};

// Per-unit multipliers m_r and m_lat (see above).
inline constexpr std::array<std::uint32_t, kResourceCount> kResourceScale = {10, 4, 4, 1024};
inline constexpr std::uint32_t kLatencyScale = 16;

ScorePlan score_plan(const PlacementPolicy& policy);

bool fits(const QuantizedTelemetry& node, const QuantizedRequest& request);

// The score of node `index` of `node_count` (round robin needs both).
std::uint32_t score(const ScorePlan& plan, const QuantizedTelemetry& node, std::size_t index, std::size_t node_count,
                    std::uint32_t round_robin_offset);

struct PlacementInput {
  std::vector<QuantizedTelemetry> nodes;  // in PeerId order
  QuantizedRequest request;
  PlacementPolicy policy;
  std::uint32_t replicas = 1;
  std::uint32_t round_robin_offset = 0;  // public, derived from the job id
};

struct Placement {
  std::vector<std::optional<std::uint32_t>> replicas;  // node index per replica, or no fit

  friend bool operator==(const Placement&, const Placement&) = default;
};

Placement place_plaintext(const PlacementInput& input);

// Free capacity after a placement: the request is subtracted from each chosen node, exactly
// as the homomorphic reservation does with the encrypted one-hot decision.
std::vector<QuantizedTelemetry> reserve(const std::vector<QuantizedTelemetry>& nodes, const QuantizedRequest& request,
                                        const Placement& placement);

}  // namespace veil::sched
