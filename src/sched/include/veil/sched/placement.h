// Placement policies as a plaintext reference.
//
// Every policy is filter → score → argmax with a deterministic tie-break, then repeated for
// each replica with the nodes already chosen excluded (anti-affinity). The FHE circuits in
// this library compute exactly the same integers on ciphertexts; both read the policy's
// coefficients from one place, score_plan(), so they cannot drift apart.
//
//   filter    node fits   ⇔ free[r] ≥ request[r] for every resource r        (full resolution;
//             GPUs: free[gpu] mod 256, see kFieldBits)
//   spread    maximise  Σ_r w_r·m_r·(free[r] >> s_r)         (least allocated, as Kubernetes)
//   binpack   minimise  Σ_r w_r·m_r·(free[r] >> s_r)         (most allocated, as Nomad)
//             (GPUs: free[gpu] mod 256, see kFieldBits)
//   latency   minimise  w_lat·m_lat·(latency >> s_lat) + Σ_r w_r·m_r·((65535 − free[r]) >> s_r)
//   priority-round-robin  maximise  N − ((i − offset) mod N): nodes take turns in a fixed
//             rotation starting at `offset`; the first node in rotation order that fits wins
//
// Scores rank nodes at a coarser resolution than the filter checks them: the low s_r bits of
// each value are dropped first (4 bits: 0.16 cores, 256 MiB of memory, 4 GiB of disk, 1.6 ms;
// GPUs are counted whole). That is the resolution Kubernetes' own scores have (integer
// percentages of a node's capacity: 0.16 cores of a 16-core node), and it is what makes the
// encrypted score cheap: dropping whole 2-bit blocks costs no bootstrap and leaves fewer
// blocks to add, compare and select (docs/sched.md has the counts). Whether a node fits is
// still decided on the exact values.
//
// m_r scales each resource's score unit so that its reference capacity (resources.h) is worth
// about 2^12 points; they are powers of four, so under encryption a multiplication by one
// moves whole blocks and costs no bootstrap. Every score fits in 32 bits. Ties go to the lowest node index (nodes are
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
// term, where term[r] is the kScoreBits[r] bits of free[r] (or of its complement 65535 − free[r]
// when `complement_free`) above the lowest kScoreShift[r], and the latency term is
// latency_coefficient times the kLatencyScoreBits bits of latency above the lowest kLatencyShift.
struct ScorePlan {
  PolicyKind kind = PolicyKind::kSpread;
  std::array<std::uint32_t, kResourceCount> resource_coefficient{};
  std::uint32_t latency_coefficient = 0;
  bool complement_free = false;
  bool maximise = true;  // false: the best node has the lowest score
};

// Bits of each resource's 16-bit field that placement reads: GPU counts are 8-bit quantities
// (an honest record holds 0–64, resources.h) carried in the record's 16-bit field, and the
// top byte is ignored — by the filter, the score and the reservation alike, here and in the
// circuit, which then knows the top four blocks are zero: a GPU comparison and a GPU
// reservation cost half the bootstraps. Placement outputs carry every node's GPU field so
// read (top byte cleared).
inline constexpr std::array<unsigned, kResourceCount> kFieldBits = {16, 16, 16, 8};
// The value of resource r that placement reads from a record.
inline std::uint16_t placement_value(const QuantizedTelemetry& node, std::size_t r) {
  return static_cast<std::uint16_t>(node.free[r] & ((1u << kFieldBits[r]) - 1));
}

// Bits dropped from each value before scoring (s_r, s_lat), how many of the bits above them
// the score reads, and the multipliers m_r, m_lat of the values so shifted (see above): cpu,
// memory, disk, gpu (GPUs: the 8 bits of kFieldBits).
inline constexpr std::array<unsigned, kResourceCount> kScoreShift = {4, 4, 4, 0};
inline constexpr std::array<unsigned, kResourceCount> kScoreBits = {
    kFieldBits[0] - kScoreShift[0], kFieldBits[1] - kScoreShift[1], kFieldBits[2] - kScoreShift[2],
    kFieldBits[3] - kScoreShift[3]};
inline constexpr unsigned kLatencyShift = 4;
inline constexpr unsigned kLatencyScoreBits = 16 - kLatencyShift;
inline constexpr std::array<std::uint32_t, kResourceCount> kResourceScale = {16, 4, 4, 64};
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
// as the homomorphic reservation does with the encrypted one-hot decision; every node's GPU
// field comes back as placement reads it (kFieldBits).
std::vector<QuantizedTelemetry> reserve(const std::vector<QuantizedTelemetry>& nodes, const QuantizedRequest& request,
                                        const Placement& placement);

}  // namespace veil::sched
