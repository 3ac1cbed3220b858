// The node's side of stake and slashing (docs/chain.md, "Stake" and "Slashing for
// equivocation"): announcements signed with the operator key and checked against the operator
// the registry binds each node to, the equivocation evidence this node submits, and the gating
// of nodes whose operator is below the cluster's minimum stake (this node's own included).
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

StakeView Daemon::Impl::read_stake_view(const Result<std::vector<chain::VeilRegistry::NodeInfo>>& nodes) {
  StakeView view;
  auto params = registry_->stake_params();
  if (!params.ok()) {
    view.error = params.status().to_string();
    return view;
  }
  view.min_stake = params->min_stake_wei;
  if (view.min_stake == chain::U256(0) || !nodes.ok()) {
    view.read = nodes.ok();
    return view;
  }
  std::set<std::string> operators;
  for (const auto& n : *nodes) {
    if (n.active) operators.insert(n.operator_address.to_checksum());
  }
  if (!operator_address_.empty()) operators.insert(operator_address_);
  for (const auto& op : operators) {
    auto address = chain::Address::parse(op);
    auto staked = address.ok() ? registry_->is_operator_staked(*address) : Result<bool>(address.status());
    if (!staked.ok()) {
      view.error = "isOperatorStaked(" + op + "): " + staked.status().to_string();
      return view;
    }
    if (!*staked) view.unstaked_operators.insert(op);
  }
  view.read = true;
  return view;
}

void Daemon::Impl::apply_stake_view(const StakeView& stake, std::map<chain::Hash32, std::string>& active) {
  if (stake.read) {
    for (const auto& op : stake.unstaked_operators) {
      if (unstaked_operators_.count(op) == 0) {
        logger()->warn("operator {} has less than the cluster's minimum stake ({} wei) bonded: its nodes are refused", op,
                       stake.min_stake.to_dec());
      }
    }
    for (const auto& op : unstaked_operators_) {
      if (stake.unstaked_operators.count(op) == 0) logger()->info("operator {} is staked again: its nodes are admitted", op);
    }
    min_stake_ = stake.min_stake;
    unstaked_operators_ = stake.unstaked_operators;
  } else if (!stake.error.empty()) {
    logger()->warn("chain: cannot read stake ({}); keeping the last view", stake.error);
  }
  // Nodes of unstaked operators are not registered as far as this node is concerned: the
  // gater refuses them, they are not scheduled and their announcements are not counted.
  std::map<chain::Hash32, std::string> refused;
  for (auto it = active.begin(); it != active.end();) {
    if (unstaked_operators_.count(it->second) > 0) {
      refused.insert(*it);
      it = active.erase(it);
    } else {
      ++it;
    }
  }
  if (host_ && members_) {
    for (const auto& m : members_->members()) {
      const auto hash = chain::peer_id_hash(m.peer.to_string());
      if (refused.count(hash) > 0 && unstaked_nodes_.count(hash) == 0 && m.peer.to_string() != self_text_) {
        logger()->warn("closing the connections of {}: its operator is below the minimum stake", m.peer.to_string());
        host_->disconnect(m.peer);
      }
    }
  }
  unstaked_nodes_ = std::move(refused);

  self_unstaked_ = unstaked_operators_.count(operator_address_) > 0;
  // Acted on once the executor runs (the periodic refresh after start-up), and on each change.
  if (!executor_ || !chain_timer_ || self_unstaked_ == drained_for_stake_) return;
  drained_for_stake_ = self_unstaked_;
  if (self_unstaked_) {
    const std::string reason = "unstaked: this node's operator " + operator_address_ +
                               " has less than the cluster's minimum stake (" + min_stake_.to_dec() +
                               " wei) bonded (veil stake deposit)";
    logger()->error("{}; draining {} replica(s) and refusing assignments", reason, executor_->replica_count());
    executor_->refuse_assignments(reason);
    executor_->drain([] {}, "operator unstaked");
  } else {
    logger()->info("this node's operator is staked again: accepting assignments");
    executor_->refuse_assignments("");
  }
}

std::string Daemon::Impl::stake_state() const {
  if (min_stake_ == chain::U256(0)) return "no minimum";
  return self_unstaked_ ? "unstaked" : "staked";
}

}  // namespace veil::node
