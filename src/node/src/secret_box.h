// Job secrets in transit and at rest (private to veil_node; docs/jobspec.md, "Secrets"): each
// value is a libsodium sealed box to the X25519 key derived from a node's Ed25519 identity,
// the key its PeerId already names, so no new key has to be distributed or bound on chain.
//
// The coordinator keeps a job's secrets sealed to itself in its database and seals each one
// again to the node a replica is placed on, after placement; that node keeps them sealed to
// itself and opens them only to start the container.
//
// Thread safety: seal_to_peer is reentrant; a SecretOpener is immutable after construction.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/sched/telemetry_record.h"

namespace veil::node {

// Sealed secrets as stored (a JSON object of name -> hex box) and back; data_loss for a
// malformed object.
nlohmann::json sealed_secrets_json(const std::map<std::string, Bytes>& sealed);
Result<std::map<std::string, Bytes>> sealed_secrets_from_json(const nlohmann::json& j);

// A sealed box of `plaintext` to the node whose PeerId text is `peer` (an Ed25519 PeerId).
Result<Bytes> seal_to_peer(const std::string& peer, std::string_view plaintext);

// Opens boxes sealed to one node, holding only the X25519 half derived from its identity.
class SecretOpener {
 public:
  SecretOpener() = default;  // opens nothing
  explicit SecretOpener(const sched::Ed25519SecretKey& identity);
  ~SecretOpener();
  SecretOpener(const SecretOpener&) = default;
  SecretOpener& operator=(const SecretOpener&) = default;

  // invalid_argument when `sealed` was not sealed to this node or was altered.
  Result<std::string> open(ByteView sealed) const;
  // Every value of `sealed` (name -> box), opened; the first failure names its secret.
  Result<std::map<std::string, std::string>> open_all(const std::map<std::string, Bytes>& sealed) const;

 private:
  bool ready_ = false;
  std::array<std::uint8_t, 32> public_{};
  std::array<std::uint8_t, 32> secret_{};
};

}  // namespace veil::node
