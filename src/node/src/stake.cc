// The node's side of stake and slashing (docs/chain.md, "Stake" and "Slashing for
// equivocation"): announcements signed with the operator key and checked against the operator
// the registry binds each node to, and the equivocation evidence this node submits.
#include <utility>  // Boost 1.74 asio needs std::exchange declared first

#include "daemon_impl.h"
#include "veil/chain/keys.h"

namespace veil::node {
namespace {

auto logger() { return log::get("stake"); }

}  // namespace

std::optional<chain::Address> Daemon::Impl::operator_of(const std::string& peer) const {
  auto it = registered_by_hash_.find(chain::peer_id_hash(peer));
  if (it == registered_by_hash_.end()) return std::nullopt;
  auto address = chain::Address::parse(it->second);
  if (!address.ok()) return std::nullopt;
  return *address;
}

Bytes Daemon::Impl::sign_as_operator(const Hash32& digest) const {
  if (!eth_key_) return {};
  return chain::signature_bytes(eth_key_->sign(digest));
}

void Daemon::Impl::report_equivocation(const std::string& scheduler, const chain::Evidence& evidence,
                                       const chain::Address& signer) {
  const chain::Hash32 id = evidence.id(signer);
  if (!evidence_reported_.insert(id).second) return;
  const std::string job = hash_hex(evidence.job_id);
  if (!sender_) {
    logger()->warn("job {}: evidence that {} equivocated not submitted: no eth.key_file on this node ({})",
                   job.substr(0, 12), scheduler, evidence.to_json());
    return;
  }
  blocking_->post([this, scheduler, evidence, signer, id, job] {
    // Another node may have been quicker: reading is free, a refused transaction is not.
    auto used = registry_->is_evidence_used(id);
    if (used.ok() && *used) {
      post([job, scheduler] {
        logger()->info("job {}: the equivocation of {} was already reported by another node", job.substr(0, 12), scheduler);
      });
      return;
    }
    auto slash = registry_->submit_evidence(evidence);
    post([this, job, scheduler, signer, slash = std::move(slash)] {
      if (!slash.ok()) {
        logger()->warn("job {}: submitting the evidence that {} equivocated failed: {}", job.substr(0, 12), scheduler,
                       slash.status().to_string());
        return;
      }
      const std::string message = "scheduler " + scheduler + " slashed: " + slash->slashed.to_dec() + " wei of operator " +
                                  signer.to_checksum() + " for equivocating (evidence " +
                                  chain::hash_hex(slash->evidence_id).substr(0, 18) + "; " + slash->reward.to_dec() +
                                  " wei to this node's operator)";
      logger()->warn("job {}: {}", job.substr(0, 12), message);
      (void)store_->add_event(job, now_ms(), message);
      metrics_.counter("veil_slashes_reported_total", "Equivocations this node proved on chain, by scheduler.", {"scheduler"})
          .with({scheduler})
          .inc();
    });
  });
}

}  // namespace veil::node
