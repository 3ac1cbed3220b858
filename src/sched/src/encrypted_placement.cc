#include "veil/sched/encrypted_placement.h"

#include <cassert>
#include <limits>
#include <optional>

#include "veil/common/thread_pool.h"

namespace veil::sched {
namespace {

using fhe::FheBool;
using fhe::FheUint16;
using fhe::FheUint32;

constexpr std::uint64_t kMinimiseSentinel = std::numeric_limits<std::uint32_t>::max();

// fn(i) for i in [0, n) on the shared pool, collected in order. Ciphertext handles have no
// default value, hence the optional slots.
template <typename T, typename Fn>
std::vector<T> parallel_map(std::size_t n, Fn fn) {
  std::vector<std::optional<T>> slots(n);
  ThreadPool::shared().parallel_for(0, n, [&](std::size_t i) { slots[i].emplace(fn(i)); });
  std::vector<T> out;
  out.reserve(n);
  for (auto& slot : slots) out.push_back(std::move(*slot));
  return out;
}

template <typename Key>
EncryptedTelemetry encrypt_with(const QuantizedTelemetry& t, const Key& key) {
  auto enc = [&](std::uint16_t v) { return FheUint16::encrypt(v, key); };
  return {{enc(t.free[0]), enc(t.free[1]), enc(t.free[2]), enc(t.free[3])}, enc(t.latency)};
}

// fits_i for every node, each an AND of scalar comparisons; nodes run in parallel.
std::vector<FheBool> evaluate_fits(const std::vector<EncryptedTelemetry>& nodes, const QuantizedRequest& request,
                                   const fhe::ServerKey& key) {
  return parallel_map<FheBool>(nodes.size(), [&](std::size_t i) {
    std::optional<FheBool> all;
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      FheBool enough = nodes[i].free[r].ge(request.amount[r], key);
      all = all ? all->bit_and(enough, key) : enough;
    }
    return std::move(*all);
  });
}

// score_i of a resource policy (32 bits), from the same coefficients as the plaintext score().
std::vector<FheUint32> evaluate_scores(const std::vector<EncryptedTelemetry>& nodes, const ScorePlan& plan,
                                       const fhe::ServerKey& key) {
  return parallel_map<FheUint32>(nodes.size(), [&](std::size_t i) {
    std::optional<FheUint32> total;
    auto accumulate = [&](const FheUint16& value, std::uint32_t coefficient, bool complement) {
      if (coefficient == 0) return;
      FheUint16 term = complement ? value.bit_not(key) : value;
      FheUint32 scaled = fhe::cast<32>(term, key).mul(coefficient, key);
      total = total ? total->add(scaled, key) : scaled;
    };
    accumulate(nodes[i].latency, plan.latency_coefficient, false);
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      accumulate(nodes[i].free[r], plan.resource_coefficient[r], plan.complement_free);
    }
    return total ? std::move(*total) : FheUint32::trivial(0, key);
  });
}

// Public round-robin ranks as trivial ciphertexts: node_count − ((i − offset) mod node_count).
std::vector<FheUint32> round_robin_scores(std::size_t node_count, std::uint32_t offset, const ScorePlan& plan,
                                          const fhe::ServerKey& key) {
  std::vector<FheUint32> out;
  QuantizedTelemetry unused;
  for (std::size_t i = 0; i < node_count; ++i) out.push_back(FheUint32::trivial(score(plan, unused, i, node_count, offset), key));
  return out;
}

// One replica: masks the scores with the fit flags, takes the first best, and says whether a
// fitting node was found.
EncryptedReplicaChoice choose_one(const std::vector<FheUint32>& scores, const std::vector<FheBool>& fits,
                                  const ScorePlan& plan, const fhe::ServerKey& key) {
  const FheUint32 sentinel = FheUint32::trivial(plan.maximise ? 0 : kMinimiseSentinel, key);
  // Scores stay below 2^31 (placement_test checks the bound), so +1 cannot wrap and no real
  // score equals the minimising sentinel.
  std::vector<FheUint32> values = parallel_map<FheUint32>(scores.size(), [&](std::size_t i) {
    FheUint32 candidate = plan.maximise ? scores[i].add(1, key) : scores[i];
    return fits[i].select(candidate, sentinel, key);
  });
  auto [index, best] = plan.maximise ? fhe::argmax<32>(values, key) : fhe::argmin<32>(values, key);
  FheBool found = best.ne(plan.maximise ? 0 : kMinimiseSentinel, key);
  return {std::move(index), std::move(found)};
}

// chosen_i = (index == i) AND found, for every node.
std::vector<FheBool> one_hot(const EncryptedReplicaChoice& choice, std::size_t node_count, const fhe::ServerKey& key) {
  return parallel_map<FheBool>(node_count, [&](std::size_t i) {
    return choice.node_index.eq(i, key).bit_and(choice.found, key);
  });
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

  std::vector<FheBool> fits = evaluate_fits(input.nodes, input.request, key);
  std::vector<FheUint32> scores = plan.kind == PolicyKind::kPriorityRoundRobin
                                      ? round_robin_scores(n, input.round_robin_offset, plan, key)
                                      : evaluate_scores(input.nodes, plan, key);

  EncryptedPlacement placement;
  std::vector<std::optional<FheBool>> chosen(n);
  for (std::uint32_t replica = 0; replica < input.replicas; ++replica) {
    EncryptedReplicaChoice choice = choose_one(scores, fits, plan, key);
    std::vector<FheBool> hot = one_hot(choice, n, key);
    ThreadPool::shared().parallel_for(0, n, [&](std::size_t i) {
      fits[i] = fits[i].bit_and(hot[i].bit_not(key), key);
      chosen[i] = chosen[i] ? chosen[i]->bit_or(hot[i], key) : hot[i];
    });
    placement.replicas.push_back(std::move(choice));
  }

  // Homomorphic reservation: subtract the request from each chosen node's free capacity.
  placement.nodes_after = input.nodes;
  if (input.replicas > 0) {
    ThreadPool::shared().parallel_for(0, n * kResourceCount, [&](std::size_t job) {
      const std::size_t i = job / kResourceCount, r = job % kResourceCount;
      if (input.request.amount[r] == 0) return;
      const FheUint16& free = input.nodes[i].free[r];
      placement.nodes_after[i].free[r] = chosen[i]->select(free.sub(input.request.amount[r], key), free, key);
    });
  }
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
