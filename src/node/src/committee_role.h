// The committee role (private to veil_node): answer a coordinator's decryption request with
// this member's signed partial decryptions, but only for the values of a decision that a
// quorum of the round's schedulers announced under a policy the chain allows. Nothing else
// (telemetry, capacity left) is ever decrypted (docs/fhe-threshold.md, docs/threat-model.md).
//
// It holds no state of its own beyond the node's key share (NodeContext::keys) and asks the
// scheduler role, through NodeContext::when_decision_agreed, whether a decision is agreed.
//
// Threading: handle() is called on the io thread; the partial decryption runs on the FHE
// worker, and `reply` is called there (or on the io thread for a refusal).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "node_context.h"
#include "veil/common/status.h"
#include "veil/node/protocol.h"

namespace veil::node {

class CommitteeRole {
 public:
  // `node` must outlive this.
  explicit CommitteeRole(NodeContext& node) : node_(node) {}
  ~CommitteeRole() { *alive_ = false; }
  CommitteeRole(const CommitteeRole&) = delete;
  CommitteeRole& operator=(const CommitteeRole&) = delete;

  // A DecryptRequest from `peer`, the coordinator of its round: `reply` gets the encoded
  // DecryptResponse, with the shares or with the reason for refusing.
  void handle(const std::string& peer, Bytes message, NodeContext::Reply reply);

  // This member's share of each value of `request`'s decision (`replicas` choices).
  static Result<DecryptResponse> partial_decrypt(const ClusterKeys& keys, const DecryptRequest& request,
                                                 std::uint32_t replicas);

 private:
  NodeContext& node_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace veil::node
