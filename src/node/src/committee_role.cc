// The committee role: answer a coordinator's decryption request with signed shares, but only
// for the values of a decision that a quorum of the round's schedulers announced, under a
// policy the chain allows. Nothing else (telemetry, capacity left) is ever decrypted.
#include "daemon_impl.h"

namespace veil::node {
namespace {

auto logger() { return log::get("committee"); }

}  // namespace

void Daemon::Impl::handle_decrypt_request(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto refuse = [reply](const std::string& why) {
    DecryptResponse r;
    r.error = why;
    reply(encode(r));
  };
  if (!keys_.share) return refuse("this node holds no key share");
  auto request = decode_decrypt_request(message);
  if (!request.ok()) return refuse(request.status().message());
  const DecryptRequest r = *request;
  when_decision_agreed(peer, r.job_id, r.round, r.record, [this, peer, request = r, reply, refuse](
                                                               const Result<std::string>& agreed, const ScheduleRequest* round) {
    const std::string job_short = hash_hex(request.job_id).substr(0, 12);
    if (!agreed.ok()) {
      logger()->warn("refused to decrypt job {} round {} for {}: {}", job_short, request.round, peer, agreed.status().message());
      metrics_.counter("veil_committee_refusals_total", "Decryption requests this member refused.").with({}).inc();
      return refuse(agreed.status().message());
    }
    const std::uint32_t replicas = round->replicas;
    fhe_->post([this, request, replicas, reply, refuse, peer, job_short, decision = *agreed] {
      auto response = partial_decrypt_decision(request, replicas);
      if (!response.ok()) return refuse(response.status().message());
      logger()->info("gave {} decryption shares for decision {} of job {} to {}", response->shares.size(),
                     decision.substr(0, 12), job_short, peer);
      reply(encode(*response));
    });
  });
}

Result<DecryptResponse> Daemon::Impl::partial_decrypt_decision(const DecryptRequest& request, std::uint32_t replicas) {
  VEIL_ASSIGN_OR_RETURN(auto values, decision_values(request.record, replicas, keys_.public_key.params()));
  DecryptResponse response;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto r = decision_request(request.job_id, request.round, i, values[i]);
    VEIL_ASSIGN_OR_RETURN(auto share, fhe::threshold::partial_decrypt(*keys_.share, *keys_.member_key, r, values[i]));
    response.shares.push_back(share.serialize());
  }
  return response;
}

}  // namespace veil::node
