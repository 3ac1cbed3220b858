#include "veil/sched/decision.h"

#include <sodium.h>

namespace veil::sched {
namespace {

class Sha256 {
 public:
  Sha256() { crypto_hash_sha256_init(&state_); }
  Sha256& update(ByteView bytes) {
    crypto_hash_sha256_update(&state_, bytes.data(), bytes.size());
    return *this;
  }
  Sha256& update_u64(std::uint64_t value) {
    Bytes b;
    append_u64_be(b, value);
    return update(b);
  }
  Hash256 finish() {
    Hash256 out{};
    crypto_hash_sha256_final(&state_, out.data());
    return out;
  }

 private:
  crypto_hash_sha256_state state_;
};

}  // namespace

Hash256 telemetry_hash(const EncryptedTelemetry& telemetry) {
  Sha256 h;
  auto add = [&](const fhe::FheUint16& value) {
    const Bytes ct = value.serialize();
    Bytes length;
    append_u32_be(length, static_cast<std::uint32_t>(ct.size()));
    h.update(length).update(ct);
  };
  for (const auto& free : telemetry.free) add(free);
  add(telemetry.latency);
  return h.finish();
}

Hash256 job_id(const JobSpec& spec) { return Sha256().update(as_bytes(to_canonical_yaml(spec))).finish(); }

std::string policy_descriptor(const PlacementPolicy& policy, std::uint32_t replicas, std::uint32_t round_robin_offset,
                              bool reserve) {
  const PolicyWeights& w = policy.weights;
  return std::string(policy_name(policy.kind)) + ";w=" + std::to_string(w.cpu) + "," + std::to_string(w.memory) + "," +
         std::to_string(w.disk) + "," + std::to_string(w.gpu) + "," + std::to_string(w.latency) +
         ";replicas=" + std::to_string(replicas) + ";offset=" + std::to_string(round_robin_offset) +
         (reserve ? ";reserve" : "");
}

Hash256 decision_hash(const DecisionRecord& record) {
  Sha256 h;
  h.update(as_bytes("veil-decision-v1")).update(record.job);
  h.update_u64(record.policy.size()).update(as_bytes(record.policy));
  h.update_u64(record.inputs.size());
  for (const auto& input : record.inputs) h.update(input);
  h.update_u64(record.outputs.size()).update(record.outputs);
  return h.finish();
}

DecisionRecord make_decision_record(const Hash256& job, const EncryptedPlacementInput& input,
                                    const EncryptedPlacement& placement) {
  DecisionRecord record;
  record.job = job;
  record.policy = policy_descriptor(input.policy, input.replicas, input.round_robin_offset, input.reserve);
  for (const auto& node : input.nodes) record.inputs.push_back(telemetry_hash(node));
  record.outputs = serialize_placement_outputs(placement);
  return record;
}

Status verify_decision(const DecisionRecord& claimed, const Hash256& job, const EncryptedPlacementInput& input,
                       const fhe::ServerKey& key) {
  if (claimed.job != job) return invalid_argument("decision is for another job");
  const std::string policy = policy_descriptor(input.policy, input.replicas, input.round_robin_offset, input.reserve);
  if (claimed.policy != policy) return invalid_argument("decision used policy '" + claimed.policy + "', expected '" + policy + "'");
  if (claimed.inputs.size() != input.nodes.size()) return invalid_argument("decision covers a different set of nodes");
  for (std::size_t i = 0; i < input.nodes.size(); ++i) {
    if (claimed.inputs[i] != telemetry_hash(input.nodes[i])) {
      return invalid_argument("decision used different telemetry for node " + std::to_string(i));
    }
  }
  if (serialize_placement_outputs(place_encrypted(input, key)) != claimed.outputs) {
    return invalid_argument("decision outputs differ from a re-evaluation of the same inputs");
  }
  return {};
}

}  // namespace veil::sched
