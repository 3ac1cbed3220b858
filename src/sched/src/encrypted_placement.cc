#include "veil/sched/encrypted_placement.h"

#include <cassert>
#include <utility>

namespace veil::sched {
namespace {

using fhe::FheBool;
using fhe::FheUint16;
using fhe::FheUint32;

template <typename Key>
EncryptedTelemetry encrypt_with(const QuantizedTelemetry& t, const Key& key) {
  auto enc = [&](std::uint16_t v) { return FheUint16::encrypt(v, key); };
  return {{enc(t.free[0]), enc(t.free[1]), enc(t.free[2]), enc(t.free[3])}, enc(t.latency)};
}

// The bits of a value that a score reads (placement.h): shifted right by `shift` and cut to
// `width` bits. With whole blocks (even counts of bits) both only move blocks or replace them
// with public zeros, so no bootstrap, and the dot product skips the public zero blocks.
FheUint16 score_bits(const FheUint16& value, unsigned shift, unsigned width, const fhe::ServerKey& key) {
  const FheUint16 shifted = value.shr(shift, key);
  return shift + width >= 16 ? shifted : shifted.bit_and((1u << width) - 1, key);
}

// The score of every node as a batched dot product with score_plan()'s coefficients:
// Σ c_r·term_r + c_lat·term_lat, term_r the score bits of free_r or of its complement
// 65535 − free_r (a bootstrap-free NOT). Scores stay below 2^31 (placement_test checks the
// bound).
std::vector<FheUint32> evaluate_scores(const std::vector<EncryptedTelemetry>& nodes, const ScorePlan& plan,
                                       const fhe::ServerKey& key) {
  std::vector<std::uint64_t> coefficients;
  std::vector<std::vector<FheUint16>> rows(nodes.size());
  for (std::size_t r = 0; r < kResourceCount; ++r) {
    if (plan.resource_coefficient[r] == 0) continue;
    coefficients.push_back(plan.resource_coefficient[r]);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const FheUint16 value = plan.complement_free ? nodes[i].free[r].bit_not(key) : nodes[i].free[r];
      rows[i].push_back(score_bits(value, kScoreShift[r], kScoreBits[r], key));
    }
  }
  if (plan.latency_coefficient != 0) {
    coefficients.push_back(plan.latency_coefficient);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      rows[i].push_back(score_bits(nodes[i].latency, kLatencyShift, kLatencyScoreBits, key));
    }
  }
  if (coefficients.empty()) return std::vector<FheUint32>(nodes.size(), FheUint32::trivial(0, key));
  return fhe::dot_products<32>(rows, coefficients, 0, key);
}

// Public round-robin ranks as trivial ciphertexts: node_count − ((i − offset) mod node_count).
std::vector<FheUint32> round_robin_scores(std::size_t node_count, std::uint32_t offset, const ScorePlan& plan,
                                          const fhe::ServerKey& key) {
  std::vector<FheUint32> out;
  QuantizedTelemetry unused;
  for (std::size_t i = 0; i < node_count; ++i) out.push_back(FheUint32::trivial(score(plan, unused, i, node_count, offset), key));
  return out;
}

// The records as placement reads them (placement.h, kFieldBits): a field of 8 bits keeps its
// low four blocks and gets public zeros above — no bootstrap, and every kernel skips them.
std::vector<EncryptedTelemetry> placement_view(const std::vector<EncryptedTelemetry>& records, const fhe::ServerKey& key) {
  std::vector<EncryptedTelemetry> out = records;
  for (auto& node : out) {
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      static_assert(kFieldBits[kGpu] == 8, "placement_view narrows 8-bit fields only");
      if (kFieldBits[r] == 8) node.free[r] = fhe::cast<16>(fhe::cast<8>(node.free[r], key), key);
    }
  }
  return out;
}

}  // namespace

EncryptedTelemetry encrypt_telemetry(const QuantizedTelemetry& telemetry, const fhe::CompactPublicKey& key) {
  return encrypt_with(telemetry, key);
}

EncryptedTelemetry encrypt_telemetry(const QuantizedTelemetry& telemetry, const fhe::ClientKey& key) {
  return encrypt_with(telemetry, key);
}

EncryptedPlacement place_encrypted(const EncryptedPlacementInput& input, const fhe::ServerKey& key) {
  assert(!input.nodes.empty() && input.nodes.size() <= 0xffff);
  const ScorePlan plan = score_plan(input.policy);
  const std::size_t n = input.nodes.size();
  const std::vector<EncryptedTelemetry> nodes = placement_view(input.nodes, key);

  // Filter: every node's requested resources compared at once.
  std::vector<std::vector<FheUint16>> free(n);
  for (std::size_t i = 0; i < n; ++i) free[i].assign(nodes[i].free.begin(), nodes[i].free.end());
  const std::vector<std::uint64_t> request(input.request.amount.begin(), input.request.amount.end());
  std::vector<FheBool> fits = fhe::all_at_least<16>(free, request, key);
  // Score, then choose: a tournament over (fits, score) keys that also yields each node's
  // one-hot "chosen" bit, repeated per replica with the chosen nodes excluded.
  std::vector<FheUint32> scores = plan.kind == PolicyKind::kPriorityRoundRobin
                                      ? round_robin_scores(n, input.round_robin_offset, plan, key)
                                      : evaluate_scores(nodes, plan, key);

  EncryptedPlacement placement;
  if (input.reserve) placement.nodes_after = nodes;
  if (input.replicas == 0) return placement;
  fhe::Picks picks = fhe::pick_extremes<32>(scores, fits, input.replicas, plan.maximise, key,
                                            input.reserve ? fhe::Chosen::kNeeded : fhe::Chosen::kNotNeeded);
  for (auto& pick : picks.picks) placement.replicas.push_back({std::move(pick.index), std::move(pick.found)});
  if (!input.reserve) return placement;

  // Homomorphic reservation: subtract the request from each chosen node's free capacity.
  std::vector<FheUint16> values;
  std::vector<FheBool> conds;
  std::vector<std::uint64_t> amounts;
  std::vector<std::pair<std::size_t, std::size_t>> where;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      if (input.request.amount[r] == 0) continue;
      values.push_back(nodes[i].free[r]);
      conds.push_back(picks.chosen[i]);
      amounts.push_back(input.request.amount[r]);
      where.emplace_back(i, r);
    }
  }
  // A node is chosen only if it fits, so no value goes below zero: the GPU fields' public zero
  // top blocks need no borrow ripple.
  std::vector<FheUint16> after = fhe::sub_where<16>(values, conds, amounts, key, fhe::SubWhere::kNoUnderflow);
  for (std::size_t k = 0; k < where.size(); ++k) placement.nodes_after[where[k].first].free[where[k].second] = std::move(after[k]);
  return placement;
}

Placement decrypt_placement(const EncryptedPlacement& placement, const fhe::ClientKey& key) {
  Placement out;
  for (const auto& choice : placement.replicas) {
    if (choice.found.decrypt(key)) {
      out.replicas.emplace_back(static_cast<std::uint32_t>(choice.node_index.decrypt(key)));
    } else {
      out.replicas.emplace_back(std::nullopt);
    }
  }
  return out;
}

std::vector<QuantizedTelemetry> decrypt_telemetry(const std::vector<EncryptedTelemetry>& nodes,
                                                  const fhe::ClientKey& key) {
  std::vector<QuantizedTelemetry> out;
  for (const auto& node : nodes) {
    QuantizedTelemetry t;
    for (std::size_t r = 0; r < kResourceCount; ++r) t.free[r] = static_cast<std::uint16_t>(node.free[r].decrypt(key));
    t.latency = static_cast<std::uint16_t>(node.latency.decrypt(key));
    out.push_back(t);
  }
  return out;
}

Bytes serialize_placement_outputs(const EncryptedPlacement& placement) {
  Bytes out;
  auto append = [&](const Bytes& item) {
    append_u64_be(out, item.size());
    out.insert(out.end(), item.begin(), item.end());
  };
  for (const auto& choice : placement.replicas) {
    append(choice.node_index.serialize());
    append(choice.found.serialize());
  }
  for (const auto& node : placement.nodes_after) {
    for (const auto& free : node.free) append(free.serialize());
    append(node.latency.serialize());
  }
  return out;
}

}  // namespace veil::sched
