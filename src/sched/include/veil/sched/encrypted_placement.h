// Placement on ciphertexts: the policies of placement.h evaluated as FHE circuits.
//
// A scheduler holds only the server (evaluation) key. It receives every node's telemetry
// encrypted under the cluster's compact public key and computes, without decrypting
// anything, for each replica an encrypted node index and an encrypted "found" flag:
//
//   fits_i   = AND_r ( free_{r,i} >= request_r )            fhe::all_at_least, all nodes at once
//   score_i  = Σ_r c_r·free_{r,i} (+ latency term)          fhe::dot_products, score_plan() coefficients
//   choice   = first argmax/argmin of the keys (fits_i, score_i) over the nodes: a node that
//              does not fit never beats one that does; found = fits of the winner
//              (fhe::pick_extremes, a tournament whose comparison bits also give the one-hot
//              chosen_i of every node)
//   replicas: the chosen node is excluded and the tournament repeated
//   reservation (only when asked for): free_{r,i} -= (chosen_i ? request_r : 0)   fhe::sub_where
//
// The integers are exactly those of place_plaintext(), so the decrypted decision equals the
// plaintext reference on the same inputs (ties to the lowest index included). Evaluation is
// deterministic: the same inputs and server key give bit-identical outputs on any machine, which
// is what lets k schedulers agree on a decision hash.
//
// Thread safety: functions are reentrant; bootstraps run on veil::ThreadPool::shared().
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/fhe/fhe.h"
#include "veil/sched/placement.h"

namespace veil::sched {

// One node's telemetry as the scheduler sees it.
struct EncryptedTelemetry {
  std::array<fhe::FheUint16, kResourceCount> free;
  fhe::FheUint16 latency;
};

// Encrypts quantised telemetry with the cluster's compact public key (what a node does).
EncryptedTelemetry encrypt_telemetry(const QuantizedTelemetry& telemetry, const fhe::CompactPublicKey& key);
// The same with the secret key, for tests and benchmarks only.
EncryptedTelemetry encrypt_telemetry(const QuantizedTelemetry& telemetry, const fhe::ClientKey& key);

struct EncryptedReplicaChoice {
  fhe::FheUint16 node_index;  // meaningful only when `found` decrypts to true
  fhe::FheBool found;
};

struct EncryptedPlacement {
  std::vector<EncryptedReplicaChoice> replicas;
  // With EncryptedPlacementInput::reserve, every node's free capacity after the reservation of
  // this job's replicas; empty otherwise.
  std::vector<EncryptedTelemetry> nodes_after;
};

struct EncryptedPlacementInput {
  std::vector<EncryptedTelemetry> nodes;  // in PeerId order
  QuantizedRequest request;
  PlacementPolicy policy;
  std::uint32_t replicas = 1;
  std::uint32_t round_robin_offset = 0;
  // Also compute nodes_after, the encrypted capacities less this job's request where it was
  // placed, for a caller that places several jobs over one set of records. A node's round does
  // not: each round reads fresh records, in which every node has already subtracted the
  // replicas it runs (docs/sched.md), and the reservation is about a fifth of a decision's
  // bootstraps.
  bool reserve = false;
};

// Evaluates the policy on ciphertexts. `nodes` must be non-empty and at most 65535.
EncryptedPlacement place_encrypted(const EncryptedPlacementInput& input, const fhe::ServerKey& key);

// What the committee reveals: the plaintext placement (for tests, the CLI and the committee).
Placement decrypt_placement(const EncryptedPlacement& placement, const fhe::ClientKey& key);
std::vector<QuantizedTelemetry> decrypt_telemetry(const std::vector<EncryptedTelemetry>& nodes,
                                                  const fhe::ClientKey& key);

// SHA-256 of a node's telemetry ciphertexts: the "input ciphertext hash" of decision records.
std::array<std::uint8_t, 32> telemetry_hash(const EncryptedTelemetry& telemetry);

// The serialized outputs of a placement (replica choices, then nodes_after), in a fixed order.
Bytes serialize_placement_outputs(const EncryptedPlacement& placement);

}  // namespace veil::sched
