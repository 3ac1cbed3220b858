// The scheduler role: evaluate the placement circuit for the rounds whose rendezvous set holds
// this node, announce the decision hash, hand the record to the coordinator; and the check
// every committee member and executor applies before acting on a decision.
#include <boost/asio/steady_timer.hpp>

#include "daemon_impl.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
constexpr int kTelemetryWaitAttempts = 40;  // x 250 ms
constexpr std::size_t kRoundsRemembered = 512;

auto logger() { return log::get("sched"); }

std::string policy_of(const ScheduleRequest& request, const sched::JobSpec& spec) {
  return sched::policy_descriptor(spec.policy, request.replicas, round_robin_offset(request.job_id, request.nodes.size()));
}

}  // namespace

void Daemon::Impl::on_schedule_request(const p2p::PubsubMessage& message) {
  auto request = decode_schedule_request(message.data);
  if (!request.ok()) {
    logger()->warn("schedule request from {} refused: {}", message.from.to_string(), request.status().to_string());
    return;
  }
  if (request->coordinator != message.from.to_string()) {
    logger()->warn("schedule request names coordinator {} but was sent by {}", request->coordinator, message.from.to_string());
    return;
  }
  const auto key = std::make_pair(request->job_id, request->round);
  rounds_seen_[key] = *request;
  while (rounds_seen_.size() > kRoundsRemembered) {
    auto oldest = std::min_element(rounds_seen_.begin(), rounds_seen_.end(),
                                   [](const auto& a, const auto& b) { return a.second.created_ms < b.second.created_ms; });
    announcements_.erase(oldest->first);
    rounds_seen_.erase(oldest);
  }
  const auto& schedulers = request->schedulers;
  if (std::find(schedulers.begin(), schedulers.end(), self_text_) != schedulers.end() && evaluated_.insert(key).second) {
    evaluate(*request, 0);
  }
}

void Daemon::Impl::evaluate(const ScheduleRequest& request, int attempt) {
  const std::string job_short = hash_hex(request.job_id).substr(0, 12);
  auto announce = [this, request](const Hash32& hash, const std::string& error) {
    DecisionAnnouncement a{request.job_id, request.round, self_text_, hash, error};
    const Bytes bytes = encode(a);
    publish(topics_.decisions, bytes);
    announcements_[{request.job_id, request.round}][self_text_] = a;
    if (request.coordinator == self_text_) consider_round(request.job_id);
  };
  auto spec = sched::parse_job_spec(request.spec_yaml, "job " + job_short);
  if (!spec.ok() || sched::job_id(*spec) != request.job_id) {
    return announce({}, spec.ok() ? "the spec does not hash to the job id" : spec.status().message());
  }
  auto quantised = sched::quantize_request(spec->resources);
  if (!quantised.ok()) return announce({}, quantised.status().message());

  // The round names each node's exact record; wait a little for gossip to bring it.
  std::vector<std::shared_ptr<const sched::EncryptedTelemetry>> inputs;
  std::string missing;
  for (const auto& node : request.nodes) {
    auto t = telemetry_->find(node.peer, node.telemetry_hash);
    if (!t) {
      missing = node.peer;
      break;
    }
    inputs.push_back(t->telemetry);
  }
  if (!missing.empty()) {
    if (attempt >= kTelemetryWaitAttempts) return announce({}, "no telemetry record " + missing + " was named with");
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(250));
    timer->async_wait([this, timer, request, attempt](const boost::system::error_code& ec) {
      if (!ec && !stopping_) evaluate(request, attempt + 1);
    });
    return;
  }
  logger()->info("evaluating job {} round {} over {} nodes", job_short, request.round, request.nodes.size());
  const auto started = std::chrono::steady_clock::now();
  fhe_->post([this, request, spec = *spec, quantised = *quantised, inputs = std::move(inputs), announce, started] {
    sched::EncryptedPlacementInput input;
    for (const auto& t : inputs) input.nodes.push_back(*t);
    input.request = quantised;
    input.policy = spec.policy;
    input.replicas = request.replicas;
    input.round_robin_offset = round_robin_offset(request.job_id, request.nodes.size());
    const auto placement = sched::place_encrypted(input, keys_.server_key);
    sched::DecisionRecord record = sched::make_decision_record(request.job_id, input, placement);
    if (settings_.tamper_decisions) {
      // A dishonest scheduler: it claims a decision nobody else computed.
      record.outputs.back() ^= 0x01;
    }
    const Hash32 hash = sched::decision_hash(record);
    // A slow scheduler, for tests of what happens while a round is in flight.
    if (settings_.evaluation_delay.count() > 0) std::this_thread::sleep_for(settings_.evaluation_delay);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    asio::post(io_, [this, request, record = std::move(record), hash, announce, seconds] {
      metrics_.histogram("veil_sched_evaluation_seconds", "Time to evaluate one placement on ciphertexts.").with({}).observe(seconds);
      logger()->info("job {} round {}: decision {} in {:.1f} s", hash_hex(request.job_id).substr(0, 12), request.round,
                     hash_hex(hash).substr(0, 12), seconds);
      announce(hash, "");
      DecisionSubmission submission{request.job_id, request.round, record};
      if (request.coordinator == self_text_) {
        // As handle_decision_submission does for other schedulers: only the current round of a
        // job that is not stopped keeps a record.
        if (job_in_round(request.job_id, request.round) == nullptr) return;
        progress_[request.job_id].records[hash_hex(hash)] = record;
        consider_round(request.job_id);
        return;
      }
      this->request(request.coordinator, kDecisionProtocol, encode(submission), [job = request.job_id](Result<Bytes> reply) {
        if (!reply.ok()) logger()->warn("decision for job {} not delivered: {}", hash_hex(job).substr(0, 12), reply.status().to_string());
      });
    });
  });
}

void Daemon::Impl::on_decision_announcement(const p2p::PubsubMessage& message) {
  auto a = decode_decision_announcement(message.data);
  if (!a.ok() || a->scheduler != message.from.to_string()) {
    logger()->warn("decision announcement from {} refused", message.from.to_string());
    return;
  }
  announcements_[{a->job_id, a->round}][a->scheduler] = *a;
  if (jobs_.count(a->job_id) > 0) consider_round(a->job_id);
}

void Daemon::Impl::await_agreed_decision(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                                        sched::DecisionRecord record, AgreedCallback then, int attempt) {
  auto seen = rounds_seen_.find({job, round});
  Result<std::string> agreed = failed_precondition("this node has not seen the round");
  if (seen != rounds_seen_.end()) {
    agreed = seen->second.coordinator == coordinator
                 ? check_agreed_decision(seen->second, record)
                 : Result<std::string>(permission_denied(coordinator + " is not the coordinator of this round"));
  }
  // Gossip may bring the round and the announcements a moment after the request: wait ~10 s.
  if (!agreed.ok() && agreed.status().code() == StatusCode::kFailedPrecondition && attempt < 40) {
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(250));
    timer->async_wait([this, timer, coordinator, job, round, record = std::move(record), then = std::move(then),
                       attempt](const boost::system::error_code& ec) mutable {
      if (!ec && !stopping_) await_agreed_decision(coordinator, job, round, std::move(record), std::move(then), attempt + 1);
    });
    return;
  }
  then(agreed, agreed.ok() ? &seen->second : nullptr);
}

Result<std::string> Daemon::Impl::check_agreed_decision(const ScheduleRequest& request,
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
  const std::string policy_name(sched::policy_name(spec.policy.kind));
  if (!allowed_policies_.empty() &&
      std::find(allowed_policies_.begin(), allowed_policies_.end(), policy_name) == allowed_policies_.end()) {
    return permission_denied("policy '" + policy_name + "' is not one the chain allows");
  }
  for (const auto& c : request.candidates) {
    if (registered_by_hash_.count(chain::peer_id_hash(c)) == 0) return permission_denied(c + " is not a registered node");
  }
  if (select_schedulers(request.job_id, request.round, request.candidates, request.schedulers.size()) != request.schedulers) {
    return permission_denied("the round's schedulers are not the rendezvous choice among its candidates");
  }
  const Hash32 hash = sched::decision_hash(record);
  std::size_t agreeing = 0;
  auto it = announcements_.find({request.job_id, request.round});
  if (it != announcements_.end()) {
    for (const auto& scheduler : request.schedulers) {
      auto a = it->second.find(scheduler);
      if (a != it->second.end() && a->second.error.empty() && a->second.decision_hash == hash) ++agreeing;
    }
  }
  const std::size_t quorum = agreement_quorum(request.schedulers.size());
  if (agreeing < quorum) {
    return failed_precondition(std::to_string(agreeing) + " of the round's " + std::to_string(request.schedulers.size()) +
                               " schedulers announced this decision; " + std::to_string(quorum) + " must agree");
  }
  return hash_hex(hash);
}

}  // namespace veil::node
