#include "committee_role.h"

#include <chrono>
#include <utility>

#include "veil/common/log.h"

namespace veil::node {
namespace {

auto logger() { return log::get("committee"); }

}  // namespace

void CommitteeRole::handle(const std::string& peer, Bytes message, NodeContext::Reply reply) {
  auto refuse = [reply](const std::string& why) {
    DecryptResponse r;
    r.error = why;
    reply(encode(r));
  };
  if (!node_.keys().share) return refuse("this node holds no key share");
  auto request = decode_decrypt_request(message);
  if (!request.ok()) return refuse(request.status().message());
  const DecryptRequest r = *request;
  node_.when_decision_agreed(peer, r.job_id, r.round, r.record, [this, alive = alive_, peer, request = r, reply, refuse](
                                                                    const Result<std::string>& agreed,
                                                                    const ScheduleRequest* round) {
    if (!*alive) return;
    const std::string job_short = hash_hex(request.job_id).substr(0, 12);
    if (!agreed.ok()) {
      logger()->warn("refused to decrypt job {} round {} for {}: {}", job_short, request.round, peer, agreed.status().message());
      node_.metrics().counter("veil_committee_refusals_total", "Decryption requests this member refused.").with({}).inc();
      return refuse(agreed.status().message());
    }
    node_.post_fhe_first([&keys = node_.keys(), request, replicas = round->replicas, reply, refuse, peer, job_short,
                    decision = *agreed, asked = std::chrono::steady_clock::now()] {
      const auto started = std::chrono::steady_clock::now();
      auto response = partial_decrypt(keys, request, replicas);
      if (!response.ok()) return refuse(response.status().message());
      using Ms = std::chrono::milliseconds;
      const auto done = std::chrono::steady_clock::now();
      // The wait shows a member whose FHE worker was busy; the work, what its squash costs.
      logger()->info("gave {} decryption shares for decision {} of job {} to {} ({} ms: {} waiting for the FHE worker, {} working)",
                     response->shares.size(), decision.substr(0, 12), job_short, peer,
                     std::chrono::duration_cast<Ms>(done - asked).count(), std::chrono::duration_cast<Ms>(started - asked).count(),
                     std::chrono::duration_cast<Ms>(done - started).count());
      reply(encode(*response));
    });
  });
}

Result<DecryptResponse> CommitteeRole::partial_decrypt(const ClusterKeys& keys, const DecryptRequest& request,
                                                       std::uint32_t replicas) {
  if (!keys.share || !keys.member_key) return failed_precondition("this node holds no key share");
  VEIL_ASSIGN_OR_RETURN(auto values, decision_values(request.record, replicas, keys.public_key.params()));
  // Every replica's values squashed in one batch: their 128-bit bootstraps share the cores.
  std::vector<fhe::threshold::DecryptionRequest> requests;
  for (std::size_t i = 0; i < values.size(); ++i) requests.push_back(decision_request(request.job_id, request.round, i, values[i]));
  VEIL_ASSIGN_OR_RETURN(auto shares, fhe::threshold::partial_decrypt(*keys.share, *keys.member_key, requests, values));
  DecryptResponse response;
  for (const auto& share : shares) response.shares.push_back(share.serialize());
  return response;
}

}  // namespace veil::node
