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
  submit_lie(scheduler, evidence.job_id, evidence.id(signer), signer, "equivocating", evidence.to_json(),
             [evidence](chain::VeilRegistry& registry) { return registry.submit_evidence(evidence); });
}

void Daemon::Impl::report_contradiction(const std::string& scheduler, const chain::Contradiction& contradiction,
                                        const chain::Address& signer) {
  submit_lie(scheduler, contradiction.job_id, contradiction.id(signer), signer, "contradicting the anchored decision",
             contradiction.to_json(),
             [contradiction](chain::VeilRegistry& registry) { return registry.submit_contradiction(contradiction); });
}

void Daemon::Impl::submit_lie(const std::string& scheduler, const Hash32& job_id, const chain::Hash32& id,
                              const chain::Address& signer, std::string kind, std::string evidence_json,
                              std::function<Result<chain::VeilRegistry::Slash>(chain::VeilRegistry&)> submit) {
  if (!evidence_reported_.insert(id).second) return;
  const std::string job = hash_hex(job_id);
  if (!sender_) {
    logger()->warn("job {}: evidence that {} lied ({}) not submitted: no eth.key_file on this node ({})", job.substr(0, 12),
                   scheduler, kind, evidence_json);
    return;
  }
  blocking_->post([this, scheduler, signer, id, job, kind = std::move(kind), submit = std::move(submit)] {
    // Another node may have been quicker: reading is free, a refused transaction is not.
    auto used = registry_->is_evidence_used(id);
    if (used.ok() && *used) {
      post([job, scheduler, kind] {
        logger()->info("job {}: {} ({}) was already reported by another node", job.substr(0, 12), scheduler, kind);
      });
      return;
    }
    auto slash = submit(*registry_);
    post([this, job, scheduler, signer, kind, slash = std::move(slash)] {
      if (!slash.ok()) {
        logger()->warn("job {}: submitting the evidence that {} lied ({}) failed: {}", job.substr(0, 12), scheduler, kind,
                       slash.status().to_string());
        return;
      }
      const std::string message = "scheduler " + scheduler + " slashed: " + slash->slashed.to_dec() + " wei of operator " +
                                  signer.to_checksum() + " for " + kind + " (evidence " +
                                  chain::hash_hex(slash->evidence_id).substr(0, 18) + "; " + slash->reward.to_dec() +
                                  " wei to this node's operator)";
      logger()->warn("job {}: {}", job.substr(0, 12), message);
      (void)store_->add_event(job, now_ms(), message);
      metrics_.counter("veil_slashes_reported_total", "Lies this node proved on chain, by scheduler.", {"scheduler"})
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
  read_new_slashes(view);
  if (!nodes.ok()) return view;
  std::set<std::string> operators;
  for (const auto& n : *nodes) {
    if (n.active) operators.insert(n.operator_address.to_checksum());
  }
  if (!operator_address_.empty()) operators.insert(operator_address_);
  // One read per operator serves both the gate (isOperatorStaked is bonded >= minStake) and
  // the amounts the dashboard shows.
  for (const auto& op : operators) {
    auto address = chain::Address::parse(op);
    auto bonded = address.ok() ? registry_->stake_of(*address) : Result<chain::U256>(address.status());
    if (!bonded.ok()) {
      view.error = "stakeOf(" + op + "): " + bonded.status().to_string();
      return view;
    }
    view.bonded[op] = *bonded;
    if (view.min_stake != chain::U256(0) && *bonded < view.min_stake) view.unstaked_operators.insert(op);
  }
  view.read = true;
  return view;
}

void Daemon::Impl::read_new_slashes(StakeView& view) {
  auto head = eth_->block_number();
  if (!head.ok()) {
    view.slashes_error = head.status().to_string();
    return;
  }
  if (*head < slashes_read_to_) return;  // a chain that went back (a restarted dev chain): nothing new yet
  auto events = registry_->slashed_events(slashes_read_to_, *head);
  if (!events.ok()) {
    view.slashes_error = events.status().to_string();
    return;
  }
  view.new_slashes = std::move(*events);
  slashes_read_to_ = *head + 1;
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
    bonded_ = stake.bonded;
  } else if (!stake.error.empty()) {
    logger()->warn("chain: cannot read stake ({}); keeping the last view", stake.error);
  }
  for (const auto& slash : stake.new_slashes) {
    slashes_.push_back(slash);
    if (slashes_.size() > kSlashesKept) slashes_.pop_front();
  }
  if (!stake.slashes_error.empty()) logger()->debug("chain: cannot read Slashed events: {}", stake.slashes_error);
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

std::string Daemon::Impl::bonded_of(const std::string& operator_address) const {
  auto it = bonded_.find(operator_address);
  return it == bonded_.end() ? std::string() : it->second.to_dec();
}

std::string Daemon::Impl::stake_state() const {
  if (min_stake_ == chain::U256(0)) return "no minimum";
  return self_unstaked_ ? "unstaked" : "staked";
}

}  // namespace veil::node
