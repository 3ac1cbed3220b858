#include "scheduler_role.h"

#include <utility>  // Boost 1.74 asio needs std::exchange declared first
#include <algorithm>
#include <thread>
#include <vector>

#include "veil/chain/keys.h"
#include "veil/chain/types.h"
#include "veil/chain/veil_registry.h"
#include "veil/common/log.h"
#include "veil/fhe/diagnostics.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/sampling.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

auto logger() { return log::get("sched"); }

std::string short_id(const Hash32& id) { return hash_hex(id).substr(0, 12); }

std::string policy_of(const ScheduleRequest& request, const sched::JobSpec& spec) {
  return sched::policy_descriptor(spec.policy, request.replicas, round_robin_offset(request.job_id, request.nodes.size()));
}

}  // namespace

SchedulerRole::SchedulerRole(NodeContext& node, Options options, FindTelemetry find_telemetry,
                             CoordinatorHooks coordinator)
    : node_(node),
      options_(std::move(options)),
      find_telemetry_(std::move(find_telemetry)),
      coordinator_(std::move(coordinator)) {}

SchedulerRole::~SchedulerRole() { *alive_ = false; }

void SchedulerRole::later(std::function<void()> then) {
  auto timer = std::make_shared<asio::steady_timer>(node_.io(), kPoll);
  timer->async_wait([this, timer, alive = alive_, then = std::move(then)](const boost::system::error_code& ec) {
    if (!ec && *alive && !node_.stopping()) then();
  });
}

void SchedulerRole::on_round(const std::string& from, ByteView data) {
  auto request = decode_schedule_request(data);
  if (!request.ok()) {
    logger()->warn("schedule request from {} refused: {}", from, request.status().to_string());
    return;
  }
  if (request->coordinator != from) {
    logger()->warn("schedule request names coordinator {} but was sent by {}", request->coordinator, from);
    return;
  }
  const RoundKey key{request->job_id, request->round};
  rounds_seen_[key] = *request;
  while (rounds_seen_.size() > kRoundsRemembered) {
    auto oldest = std::min_element(rounds_seen_.begin(), rounds_seen_.end(),
                                   [](const auto& a, const auto& b) { return a.second.created_ms < b.second.created_ms; });
    announcements_.erase(oldest->first);
    announced_elsewhere_.erase(oldest->first);
    evaluated_.erase(oldest->first);
    rounds_seen_.erase(oldest);
  }
  const auto& schedulers = request->schedulers;
  if (std::find(schedulers.begin(), schedulers.end(), node_.self()) != schedulers.end() && evaluated_.insert(key).second) {
    evaluate(*request, std::chrono::steady_clock::now() + options_.telemetry_wait);
  }
}

void SchedulerRole::announce(const ScheduleRequest& request, const Hash32& hash, const std::string& error, bool remember) {
  DecisionAnnouncement a{request.job_id, request.round, node_.self(), hash, error, {}, round_inputs_root(request)};
  if (auto domain = node_.announcement_domain()) {
    a.signature = node_.sign_as_operator(chain::announcement_digest(*domain, announcement_content(a)));
  }
  node_.publish(options_.decisions_topic, encode(a));
  if (!remember) return;
  announcements_[{request.job_id, request.round}][node_.self()] = a;
  if (request.coordinator == node_.self() && coordinator_.on_announcement) coordinator_.on_announcement(request.job_id);
}

Status SchedulerRole::check_signature(const DecisionAnnouncement& a) const {
  const auto domain = node_.announcement_domain();
  if (!domain) return {};  // no chain view (a unit test's node): nothing to check against
  const auto operator_address = node_.operator_of(a.scheduler);
  if (!operator_address) return permission_denied("the chain lists no staked operator for " + a.scheduler);
  if (a.signature.empty()) return permission_denied("it is not signed");
  VEIL_ASSIGN_OR_RETURN(auto signature, chain::parse_signature_bytes(a.signature));
  auto signer = chain::recover_address(chain::announcement_digest(*domain, announcement_content(a)), signature);
  if (!signer.ok()) return permission_denied("its signature is invalid: " + signer.status().message());
  if (*signer != *operator_address) {
    return permission_denied("it is signed by " + signer->to_checksum() + ", not by its operator " +
                             operator_address->to_checksum());
  }
  return {};
}

void SchedulerRole::evaluate(const ScheduleRequest& request, std::chrono::steady_clock::time_point give_up) {
  const std::string job_short = short_id(request.job_id);
  if (std::string mismatch = decision_format_mismatch(request.decision_format); !mismatch.empty()) {
    return announce(request, {}, mismatch);
  }
  auto spec = sched::parse_job_spec(request.spec_yaml, "job " + job_short);
  if (!spec.ok() || sched::job_id(*spec) != request.job_id) {
    return announce(request, {}, spec.ok() ? "the spec does not hash to the job id" : spec.status().message());
  }
  auto quantised = sched::quantize_request(spec->resources);
  if (!quantised.ok()) return announce(request, {}, quantised.status().message());

  // The round names each node's exact record; gossip may bring it a moment later.
  std::vector<std::shared_ptr<const sched::EncryptedTelemetry>> inputs;
  for (const auto& node : request.nodes) {
    auto t = find_telemetry_ ? find_telemetry_(node.peer, node.telemetry_hash) : nullptr;
    if (!t) {
      if (std::chrono::steady_clock::now() >= give_up) {
        return announce(request, {}, "no telemetry record " + node.peer + " was named with");
      }
      return later([this, request, give_up] { evaluate(request, give_up); });
    }
    inputs.push_back(std::move(t));
  }
  if (auto refused = check_public_filter(request, *spec); !refused.ok()) return announce(request, {}, refused.message());
  logger()->info("evaluating job {} round {} over {} nodes", job_short, request.round, request.nodes.size());
  const auto started = std::chrono::steady_clock::now();
  // Everything the FHE worker needs is captured by value but the node, which outlives the role.
  node_.post_fhe([&node = node_, alive = alive_, this, request, spec = *spec, quantised = *quantised,
                  inputs = std::move(inputs), started, tamper = options_.tamper_decisions,
                  equivocate = options_.equivocate_decisions, delay = options_.evaluation_delay] {
    sched::EncryptedPlacementInput input;
    for (const auto& t : inputs) input.nodes.push_back(*t);
    input.request = quantised;
    input.policy = spec.policy;
    input.replicas = request.replicas;
    input.round_robin_offset = round_robin_offset(request.job_id, request.nodes.size());
    // Exact per evaluation: every bootstrap of this process runs on the FHE worker, one job at a time.
    const std::uint64_t bootstraps_before = fhe::bootstrap_count();
    const auto placement = sched::place_encrypted(input, node.keys().server_key);
    const std::uint64_t bootstraps = fhe::bootstrap_count() - bootstraps_before;
    sched::DecisionRecord record = sched::make_decision_record(request.job_id, input, placement);
    if (tamper) record.outputs.back() ^= 0x01;  // a dishonest scheduler: a decision nobody else computed
    const Hash32 hash = sched::decision_hash(record);
    std::optional<Hash32> second;  // an equivocating scheduler's other decision
    if (equivocate) {
      sched::DecisionRecord other = record;
      other.outputs.back() ^= 0x01;
      second = sched::decision_hash(other);
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);  // a slow scheduler, for tests of rounds in flight
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    node.post([alive, this, request, record = std::move(record), hash, second, seconds, bootstraps]() mutable {
      if (!*alive) return;
      node_.metrics()
          .histogram("veil_sched_evaluation_seconds", "Time to evaluate one placement on ciphertexts.")
          .with({})
          .observe(seconds);
      node_.metrics()
          .counter("veil_sched_bootstraps_total", "Programmable bootstraps run by this node's placement evaluations.")
          .with({})
          .inc(static_cast<double>(bootstraps));
      logger()->info("job {} round {}: decision {} in {:.1f} s", short_id(request.job_id), request.round,
                     hash_hex(hash).substr(0, 12), seconds);
      announce(request, hash, "");
      if (second) {
        logger()->warn("job {} round {}: equivocating (debug.equivocate_decisions): also announcing {}",
                       short_id(request.job_id), request.round, hash_hex(*second).substr(0, 12));
        announce(request, *second, "", /*remember=*/false);
      }
      if (request.coordinator == node_.self()) {
        if (coordinator_.on_own_decision) coordinator_.on_own_decision(request, hash, std::move(record));
        return;
      }
      DecisionSubmission submission{request.job_id, request.round, std::move(record)};
      node_.request(request.coordinator, kDecisionProtocol, encode(submission), [job = request.job_id](Result<Bytes> reply) {
        if (!reply.ok()) logger()->warn("decision for job {} not delivered: {}", short_id(job), reply.status().to_string());
      });
    });
  });
}

void SchedulerRole::forget_oldest_unseen_round(const RoundKey& arriving) {
  announced_before_seen_.push_back(arriving);
  if (announced_before_seen_.size() <= kRoundsRemembered) return;
  const RoundKey oldest = announced_before_seen_.front();
  announced_before_seen_.pop_front();
  // A round whose request arrived since is forgotten with the rounds seen.
  if (!rounds_seen_.contains(oldest)) announcements_.erase(oldest);
}

void SchedulerRole::on_announcement(const std::string& from, ByteView data) {
  auto a = decode_decision_announcement(data);
  if (!a.ok() || a->scheduler != from) {
    logger()->warn("decision announcement from {} refused: {}", from,
                   a.ok() ? "it names another scheduler" : a.status().message());
    return;
  }
  if (auto checked = check_signature(*a); !checked.ok()) {
    logger()->warn("decision announcement of {} for job {} round {} not counted: {}", from, short_id(a->job_id), a->round,
                   checked.message());
    return;
  }
  // A decision over other inputs than the round's is not a vote in this round (and could not be
  // proven a lie); the round may not have arrived yet, in which case the coordinator's count decides.
  if (auto seen = rounds_seen_.find({a->job_id, a->round});
      seen != rounds_seen_.end() && a->error.empty() && a->inputs_root != round_inputs_root(seen->second)) {
    logger()->warn("decision announcement of {} for job {} round {} not counted: it was computed from other inputs",
                   from, short_id(a->job_id), a->round);
    announced_elsewhere_[{a->job_id, a->round}].insert(a->scheduler);
    if (coordinator_.on_announcement) coordinator_.on_announcement(a->job_id);
    return;
  }
  const RoundKey key{a->job_id, a->round};
  if (!announcements_.contains(key) && !rounds_seen_.contains(key)) forget_oldest_unseen_round(key);
  auto& kept = announcements_[key];
  auto earlier = kept.find(a->scheduler);
  if (earlier != kept.end()) {
    if (earlier->second.error.starts_with(kEquivocated)) return;  // proven already; its vote stays void
    auto evidence = equivocation_evidence(earlier->second, *a);
    const auto domain = node_.announcement_domain();
    if (evidence && domain) {
      auto signer = evidence->signer(*domain);
      if (signer.ok()) {
        logger()->error("job {} round {}: scheduler {} equivocated: it announced {} and {}, both signed by {}",
                        short_id(a->job_id), a->round, from, hash_hex(evidence->decision_a).substr(0, 12),
                        hash_hex(evidence->decision_b).substr(0, 12), signer->to_checksum());
        earlier->second.error = std::string(kEquivocated) + ": announced " + hash_hex(evidence->decision_a).substr(0, 16) +
                                " and " + hash_hex(evidence->decision_b).substr(0, 16);
        node_.report_equivocation(from, *evidence, *signer);
        if (coordinator_.on_announcement) coordinator_.on_announcement(a->job_id);
        return;
      }
      logger()->warn("job {} round {}: conflicting announcements of {} do not prove an equivocation: {}",
                     short_id(a->job_id), a->round, from, signer.status().message());
    }
  }
  kept[a->scheduler] = *a;
  if (coordinator_.on_announcement) coordinator_.on_announcement(a->job_id);
}

chain::Announcement announcement_content(const DecisionAnnouncement& a) {
  return chain::Announcement{a.job_id, a.round, a.decision_hash, chain::peer_id_hash(a.scheduler), a.inputs_root};
}

std::optional<chain::Evidence> equivocation_evidence(const DecisionAnnouncement& first, const DecisionAnnouncement& second) {
  if (first.job_id != second.job_id || first.round != second.round || first.scheduler != second.scheduler) return std::nullopt;
  if (!first.error.empty() || !second.error.empty() || first.decision_hash == second.decision_hash) return std::nullopt;
  if (first.decision_hash == Hash32{} || second.decision_hash == Hash32{}) return std::nullopt;
  if (first.signature.empty() || second.signature.empty()) return std::nullopt;
  chain::Evidence e;
  e.job_id = first.job_id;
  e.round = first.round;
  e.peer_id = chain::peer_id_hash(first.scheduler);
  e.decision_a = first.decision_hash;
  e.inputs_root_a = first.inputs_root;
  e.signature_a = first.signature;
  e.decision_b = second.decision_hash;
  e.inputs_root_b = second.inputs_root;
  e.signature_b = second.signature;
  return e;
}

std::vector<std::pair<std::string, chain::Contradiction>> contradiction_evidence(
    const chain::VeilRegistry::Commitment& agreed, const AnchorInfo& anchor,
    const std::map<std::string, DecisionAnnouncement>& announced) {
  chain::Contradiction base;
  base.job_id = agreed.job_id;
  base.round = agreed.round;
  base.agreed_decision = agreed.decision_hash;
  base.inputs_root = agreed.inputs_root;
  base.schedulers = agreed.schedulers;
  if (!anchor.batch_root.empty()) {
    auto root = parse_hash_hex(anchor.batch_root);
    if (!root.ok()) return {};
    base.batch_root = *root;
    for (const auto& step : anchor.proof) {
      auto h = parse_hash_hex(step);
      if (!h.ok()) return {};
      base.proof.push_back(*h);
    }
  }
  std::vector<std::pair<std::string, chain::Contradiction>> out;
  for (const auto& [scheduler, a] : announced) {
    if (a.job_id != agreed.job_id || a.round != agreed.round || !a.error.empty() || a.signature.empty()) continue;
    if (a.decision_hash == Hash32{} || a.decision_hash == agreed.decision_hash || a.inputs_root != agreed.inputs_root) continue;
    chain::Contradiction c = base;
    c.peer_id = chain::peer_id_hash(scheduler);
    c.announced_decision = a.decision_hash;
    c.signature = a.signature;
    out.emplace_back(scheduler, std::move(c));
  }
  return out;
}

const std::map<std::string, DecisionAnnouncement>& SchedulerRole::announced(const Hash32& job, std::uint32_t round) const {
  static const std::map<std::string, DecisionAnnouncement> kNone;
  auto it = announcements_.find({job, round});
  return it == announcements_.end() ? kNone : it->second;
}

bool SchedulerRole::round_seen(const Hash32& job, std::uint32_t round) const {
  return rounds_seen_.count({job, round}) > 0 || announcements_.count({job, round}) > 0;
}

std::set<std::string> SchedulerRole::announced_elsewhere(const Hash32& job, std::uint32_t round) const {
  auto it = announced_elsewhere_.find({job, round});
  return it == announced_elsewhere_.end() ? std::set<std::string>{} : it->second;
}

void SchedulerRole::when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                                         sched::DecisionRecord record, NodeContext::AgreedCallback then) {
  await_agreed(coordinator, job, round, std::move(record), std::move(then),
               std::chrono::steady_clock::now() + options_.agreement_wait);
}

void SchedulerRole::await_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                                 sched::DecisionRecord record, NodeContext::AgreedCallback then,
                                 std::chrono::steady_clock::time_point give_up) {
  auto seen = rounds_seen_.find({job, round});
  Result<std::string> agreed = failed_precondition("this node has not seen the round");
  if (seen != rounds_seen_.end()) {
    agreed = seen->second.coordinator == coordinator
                 ? check_agreed_decision(seen->second, record)
                 : Result<std::string>(permission_denied(coordinator + " is not the coordinator of this round"));
  }
  // Gossip may bring the round and the announcements a moment after the request.
  if (!agreed.ok() && agreed.status().code() == StatusCode::kFailedPrecondition &&
      std::chrono::steady_clock::now() < give_up) {
    return later([this, coordinator, job, round, record = std::move(record), then = std::move(then), give_up]() mutable {
      await_agreed(coordinator, job, round, std::move(record), std::move(then), give_up);
    });
  }
  then(agreed, agreed.ok() ? &seen->second : nullptr);
}

Status SchedulerRole::check_public_filter(const ScheduleRequest& request, const sched::JobSpec& spec) const {
  if (!request.sample_pool.empty()) {
    // A sampled round: its inputs must be the rendezvous sample of its pool, of at least the
    // floor every count gives (2 x replicas), drawn from registered nodes only.
    for (const auto& peer : request.sample_pool) {
      if (!node_.is_registered(peer)) return permission_denied(peer + " in the round's sample pool is not a registered node");
    }
    const std::size_t floor = std::min<std::size_t>(request.sample_pool.size(), 2 * std::size_t{request.replicas});
    if (request.sample_size < floor) {
      return permission_denied("the round samples " + std::to_string(request.sample_size) + " candidates, fewer than " +
                               std::to_string(floor));
    }
    const auto sample = sched::sample_candidates(request.job_id, request.round, request.sample_pool, request.sample_size);
    std::vector<std::string> inputs;
    for (const auto& n : request.nodes) inputs.push_back(n.peer);
    if (inputs != sample) return permission_denied("the round's inputs are not the rendezvous sample of its pool");
  }
  if (!options_.find_attributes || (spec.constraints.empty() && spec.volumes.empty())) return {};
  for (const auto& node : request.nodes) {
    auto attributes = options_.find_attributes(node.peer, node.telemetry_hash);
    if (!attributes) return failed_precondition("no telemetry record " + node.peer + " was named with");
    if (auto eligible = sched::check_eligible(spec, *attributes); !eligible.ok()) {
      return permission_denied("the round includes " + node.peer + ", which the job excludes: " + eligible.message());
    }
  }
  return {};
}

Result<std::string> SchedulerRole::check_agreed_decision(const ScheduleRequest& request,
                                                         const sched::DecisionRecord& record) const {
  if (record.job != request.job_id) return invalid_argument("the decision is for another job");
  if (record.inputs.size() != request.nodes.size()) return invalid_argument("the decision covers other nodes than the round");
  for (std::size_t i = 0; i < record.inputs.size(); ++i) {
    if (record.inputs[i] != request.nodes[i].telemetry_hash) {
      return invalid_argument("the decision used other telemetry than the round named for " + request.nodes[i].peer);
    }
  }
  VEIL_ASSIGN_OR_RETURN(auto spec, sched::parse_job_spec(request.spec_yaml, "job"));
  if (sched::job_id(spec) != request.job_id) return invalid_argument("the round's spec does not hash to its job id");
  if (record.policy != policy_of(request, spec)) {
    return invalid_argument("the decision used policy '" + record.policy + "', the job asks for '" + policy_of(request, spec) + "'");
  }
  VEIL_RETURN_IF_ERROR(check_public_filter(request, spec));
  const std::string policy_name(sched::policy_name(spec.policy.kind));
  if (!node_.policy_allowed(policy_name)) return permission_denied("policy '" + policy_name + "' is not one the chain allows");
  for (const auto& c : request.candidates) {
    if (!node_.is_registered(c)) return permission_denied(c + " is not a registered node");
  }
  if (select_schedulers(request.job_id, request.round, request.candidates, request.schedulers.size()) != request.schedulers) {
    return permission_denied("the round's schedulers are not the rendezvous choice among its candidates");
  }
  const Hash32 hash = sched::decision_hash(record);
  std::size_t agreeing = 0;
  const auto& announced_here = announced(request.job_id, request.round);
  for (const auto& scheduler : request.schedulers) {
    auto a = announced_here.find(scheduler);
    if (a != announced_here.end() && a->second.error.empty() && a->second.decision_hash == hash) ++agreeing;
  }
  const std::size_t quorum = agreement_quorum(request.schedulers.size());
  if (agreeing < quorum) {
    return failed_precondition(std::to_string(agreeing) + " of the round's " + std::to_string(request.schedulers.size()) +
                               " schedulers announced this decision; " + std::to_string(quorum) + " must agree");
  }
  return hash_hex(hash);
}

}  // namespace veil::node
