// Signed, versioned records of a node's encrypted telemetry, as published on GossipSub.
//
// Wire format (all integers big-endian):
//   "VTEL" | u16 version (1) | u8 FHE parameter-set id | u16 node-id length | node id (PeerId text)
//   | u64 sequence | u64 timestamp (ms since the Unix epoch)
//   | 5 × (u32 length | FheUint16 bytes)       free cpu, memory, disk, gpu, then latency
//   | attributes (version 2 only, in the clear):
//       u16 label count | count × (u8 name length | name | u16 value length | value), names ascending
//       | u16 volume count | count × (u8 length | host volume name), ascending
//   | 32-byte Ed25519 public key | 64-byte Ed25519 signature over every byte before it
//
// Nodes write version 2; version 1 (no attributes) still parses, as a node without labels.
// The attributes are the node's public labels and host volume names (eligibility.h): inside the
// signed record, so the telemetry hash a round names binds the attributes its filter used.
//
// A record is accepted only if it parses within the size limit, its ciphertexts are of the
// cluster's parameter set, its signature verifies under the key registered for the node, its
// timestamp is fresh, and its sequence number is larger than any seen from that node.
//
// Thread safety: parse/sign functions are reentrant; TelemetryValidator is not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/fhe.h"
#include "veil/sched/eligibility.h"
#include "veil/sched/encrypted_placement.h"

namespace veil::sched {

inline constexpr std::uint16_t kTelemetryRecordVersion = 2;
inline constexpr std::size_t kMaxTelemetryRecordBytes = 4 << 20;

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519SecretKey = std::array<std::uint8_t, 64>;  // libsodium's seed||public form

struct TelemetryRecord {
  std::string node_id;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ms = 0;
  EncryptedTelemetry telemetry;
  Ed25519PublicKey signer{};
  NodeAttributes attributes;
};

// Serializes and signs a record with the node's Ed25519 key (the signer is its public half).
// `params` is the parameter set the telemetry was encrypted under; `attributes` must pass
// validate_node_attributes (the node checks its config at start-up).
Bytes sign_telemetry_record(const std::string& node_id, std::uint64_t sequence, std::uint64_t timestamp_ms,
                            const EncryptedTelemetry& telemetry, const fhe::Parameters& params,
                            const Ed25519SecretKey& secret_key, const NodeAttributes& attributes = {});

// Parses a record and checks its signature against the public key it carries; does not decide
// whether that key belongs to the node (the validator does). Errors: data_loss for truncated
// or corrupted bytes, out_of_range beyond `size_limit`, invalid_argument for a bad signature,
// a ciphertext of another parameter set or attributes validate_node_attributes refuses.
Result<TelemetryRecord> parse_telemetry_record(ByteView bytes, const fhe::Parameters& expected_params,
                                               std::size_t size_limit = kMaxTelemetryRecordBytes);

// Accepts each node's records in order: rejects unknown nodes, keys other than the registered
// one, stale or future timestamps, and replays (a sequence not above the last accepted).
class TelemetryValidator {
 public:
  TelemetryValidator(const fhe::Parameters& params, std::uint64_t max_age_ms) : params_(&params), max_age_ms_(max_age_ms) {}

  void register_node(const std::string& node_id, const Ed25519PublicKey& key) { keys_[node_id] = key; }

  Result<TelemetryRecord> accept(ByteView bytes, std::uint64_t now_ms);

 private:
  const fhe::Parameters* params_;
  std::uint64_t max_age_ms_;
  std::map<std::string, Ed25519PublicKey> keys_;
  std::map<std::string, std::uint64_t> last_sequence_;
};

}  // namespace veil::sched
