// Decision records: what a scheduler publishes after evaluating a job, and how anyone holding
// the same inputs checks it.
//
// decision hash = SHA-256( "veil-decision-v1" | job id | policy descriptor | node count |
//                          each input telemetry hash | outputs length | outputs )
// where the outputs are serialize_placement_outputs(). Because FHE evaluation is
// deterministic, honest schedulers publish the same hash; the committee decrypts only a
// decision whose hash k schedulers agree on.
//
// Thread safety: reentrant.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "veil/common/status.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/job_spec.h"

namespace veil::sched {

using Hash256 = std::array<std::uint8_t, 32>;

// What this release's evaluation computes, as a number. Any change to a decision's bytes (the
// circuits, the engine's kernels or key switch, what the outputs hold) bumps it, because
// releases of different formats disagree on every decision. A round names the format its
// coordinator computes, a scheduler of another format refuses it instead of announcing a hash,
// and the format is part of the inputs root a scheduler signs, so an announcement of another
// format is never evidence against an anchored decision (docs/operations.md, "Upgrading a
// cluster").
//   1  releases before the format was named
//   2  key switching on Z/2^32 in every bootstrap; the outputs hold the replica choices only
inline constexpr std::uint32_t kDecisionFormat = 2;

// SHA-256 of the job's canonical YAML (to_canonical_yaml).
Hash256 job_id(const JobSpec& spec);

// "spread;w=2,1,0,0,1;replicas=2;offset=0": everything about the policy that changes a decision;
// ";reserve" at the end when the outputs include the reservation (EncryptedPlacementInput).
std::string policy_descriptor(const PlacementPolicy& policy, std::uint32_t replicas, std::uint32_t round_robin_offset,
                              bool reserve = false);

struct DecisionRecord {
  Hash256 job{};
  std::string policy;
  std::vector<Hash256> inputs;  // telemetry_hash of each node, in node order
  Bytes outputs;                // serialize_placement_outputs
};

Hash256 decision_hash(const DecisionRecord& record);

// Builds the record of a placement this process evaluated.
DecisionRecord make_decision_record(const Hash256& job, const EncryptedPlacementInput& input,
                                    const EncryptedPlacement& placement);

// Re-evaluates `input` and checks that `claimed` describes exactly that evaluation. Returns
// invalid_argument naming the first field that differs (inputs, policy or outputs).
Status verify_decision(const DecisionRecord& claimed, const Hash256& job, const EncryptedPlacementInput& input,
                       const fhe::ServerKey& key);

}  // namespace veil::sched
