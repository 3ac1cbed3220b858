// The node's HTTP/JSON API routes (docs/node-api.md is the contract the CLI and the dashboard
// rely on). Handlers run on the io thread and only read state, or start asynchronous work.
#include "daemon_impl.h"
#include "veil/node/audit.h"
#include "veil/common/version.h"

namespace veil::node {
namespace {

using nlohmann::json;

std::string state_name(swim::MemberState state) { return std::string(swim::member_state_name(state)); }

// ?local=1 (any value but 0): answer from this node alone, asking no other member.
bool wants_local(const ApiRequest& request) {
  auto local = request.query.find("local");
  return local != request.query.end() && local->second != "0";
}

// What `veil job status` shows as a replica's health: only a job with a check has one, and a
// replica is healthy only while its check passes (its node reports it running, not starting).
std::string health_of(const JobState& job, const ReplicaSlot& r) {
  if (!job.spec.health) return "none";
  switch (r.phase) {
    case ReplicaPhase::kRunning: return "healthy";
    case ReplicaPhase::kUnhealthy: return "unhealthy";
    case ReplicaPhase::kAssigned:
    case ReplicaPhase::kStarting: return "starting";
    default: return "-";
  }
}

}  // namespace

json Daemon::Impl::job_json(const JobState& job, bool detail) {
  json placement = json::array();
  for (std::size_t i = 0; i < job.replicas.size(); ++i) {
    const auto& r = job.replicas[i];
    placement.push_back({{"replica", i}, {"node", r.node}, {"state", phase_name(r.phase)}, {"endpoint", r.endpoint}, {"detail", r.detail},
                         {"round", r.round}, {"health", health_of(job, r)},
                         {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
                         {"reschedules", r.reschedules_ms.size()}});
    if (r.pull) {
      placement.back()["pull"] = image_pull_json(*r.pull);
      placement.back()["pull"]["started_at"] = r.pull_started_ms;
    }
  }
  json anchor = nullptr;
  for (const auto& a : job.anchors) {
    if (a.phase != AnchorPhase::kAnchored) continue;
    anchor = {{"tx", a.tx}, {"block", a.block}, {"commitment", a.commitment}, {"round", a.round}};
    if (!a.batch_root.empty()) {
      anchor["batch_root"] = a.batch_root;
      anchor["batch_index"] = a.batch_index;
      anchor["batch_size"] = a.batch_size;
      anchor["proof_length"] = a.proof.size();
    }
  }
  json j = {{"id", hash_hex(job.id)},
            {"name", job.spec.name},
            {"image", job.spec.image.to_string()},
            {"replicas", job.spec.replicas},
            {"state", phase_name(job.phase)},
            {"version", job.job_version},
            {"type", sched::job_type_name(job.spec.type)},
            {"submitted_at", job.submitted_ms},
            {"round", job.round},
            {"placement", placement},
            {"anchor", anchor},
            {"warnings", job.warnings},
            {"coordinator", job.coordinator.empty() ? self_text_ : job.coordinator},
            {"term", job.term},
            {"holders", job.holders}};
  if (!detail) return j;
  json decisions = json::array();
  json rounds = json::array();
  for (const auto& rr : job.rounds) {
    json nodes = json::array();
    for (const auto& n : rr.nodes) nodes.push_back({{"peer", n.peer}, {"telemetry_hash", hash_hex(n.telemetry_hash)}});
    json agreeing = json::array();  // in scheduler order: what the anchored commitment binds
    for (const auto& s : rr.schedulers) {
      auto it = rr.announced.find(s);
      if (!rr.agreed.empty() && it != rr.announced.end() && it->second == rr.agreed) agreeing.push_back(s);
    }
    rounds.push_back({{"round", rr.round},
                      {"slots", rr.slots},
                      {"schedulers", rr.schedulers},
                      {"nodes", nodes},
                      {"agreed", rr.agreed},
                      {"liars", rr.liars},
                      {"agreeing", agreeing},
                      {"outcome", rr.outcome},
                      {"decision_format", rr.decision_format}});
    if (&rr != &job.rounds.back()) continue;
    for (const auto& s : rr.schedulers) {
      auto it = rr.announced.find(s);
      const std::string hash = it == rr.announced.end() ? "" : it->second;
      decisions.push_back({{"scheduler", s}, {"hash", hash}, {"agreed", !rr.agreed.empty() && hash == rr.agreed}});
    }
  }
  json anchors = json::array();
  for (const auto& a : job.anchors) anchors.push_back(to_json(a));
  json events = json::array();
  if (auto stored = store_->events(hash_hex(job.id)); stored.ok()) {
    for (const auto& e : *stored) events.push_back({{"at", e.at_ms}, {"message", e.message}});
  }
  j["decisions"] = decisions;
  j["rounds"] = rounds;
  j["anchors"] = anchors;
  j["events"] = events;
  json handovers = json::array();
  for (const auto& h : job.handovers) {
    handovers.push_back({{"term", h.term}, {"coordinator", h.coordinator}, {"from", h.from}, {"at", h.at_ms}, {"why", h.why}});
  }
  j["spec"] = job.spec_yaml;
  j["handovers"] = handovers;
  json history = json::array();
  for (const auto& v : versions_of(job)) {
    history.push_back({{"version", v.version}, {"id", hash_hex(v.id)}, {"submitted_at", v.submitted_ms}, {"cause", v.cause}});
  }
  j["history"] = history;
  if (job.rollout) {
    j["rollout"] = {{"from", hash_hex(job.rollout->from)}, {"admitted", job.rollout->admitted}, {"replaced", job.rollout->replaced},
                    {"failed", job.rollout->failed}};
  }
  return j;
}

void Daemon::Impl::register_routes() {
  api_->route_public("GET", "/healthz", [](const ApiRequest&) { return ApiResponse::json({{"ok", true}}); });
  api_->route("GET", "/metrics", [this](const ApiRequest&) {
    ApiResponse r;
    r.content_type = std::string(MetricsRegistry::kContentType);
    r.body = metrics_.render();
    return r;
  });
  metrics_.on_collect([this] {
    auto& members = metrics_.gauge("veil_swim_members", "Members by SWIM state, as this node sees them.", {"state"});
    std::map<std::string, int> counts = {{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
    for (const auto& m : members_->members()) ++counts[state_name(m.state)];
    for (const auto& [state, n] : counts) members.with({state}).set(n);
    auto& jobs = metrics_.gauge("veil_jobs", "Jobs this node coordinates, by state.", {"state"});
    std::map<std::string_view, int> by_state;
    for (const auto& [id, job] : coordinator_->jobs()) ++by_state[phase_name(job.phase)];
    for (const auto& [state, n] : by_state) jobs.with({std::string(state)}).set(n);
    metrics_.gauge("veil_local_replicas", "Replicas assigned to this node.").with({}).set(static_cast<double>(executor_->replica_count()));
  });

  api_->route("GET", "/v1/status", [this](const ApiRequest&) {
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at_).count();
    json addrs = json::array();
    for (const auto& a : host_->listen_addrs()) addrs.push_back(a.to_string() + "/p2p/" + self_text_);
    return ApiResponse::json(
        {{"node",
          {{"peer_id", self_text_},
           {"operator", operator_address_},
           {"version", std::string(veil::version())},
           {"uptime_s", uptime},
           {"driver", executor_->driver_name()},
           {"driver_reason", executor_->driver_reason()},
           {"addrs", addrs},
           {"committee_member", keys_.share ? int(keys_.share->member) : 0},
           // "unstaked": the operator is below the cluster's minimum stake; the node drained
           // its replicas and refuses assignments (docs/chain.md, "Stake").
           {"stake",
            {{"state", stake_state()},
             {"min_stake_wei", min_stake_.to_dec()},
             {"bonded_wei", bonded_of(operator_address_)},
             {"refusing", executor_->refusal()}}}}},
         {"cluster",
          {{"contract", settings_.contract},
           {"chain_id", chain_id_},
           {"fhe_parameters", std::string(keys_.public_key.params().name)},
           {"allowed_policies", allowed_policies_},
           {"committee", {{"threshold", keys_.committee.threshold}, {"members", keys_.member_peers}}}}}});
  });

  api_->route("GET", "/v1/nodes", [this](const ApiRequest&) {
    json nodes = json::array();
    for (const auto& m : members_->members()) {
      const std::string id = m.peer.to_string();
      json addrs = json::array();
      for (const auto& a : m.addrs) addrs.push_back(a.to_string());
      auto op = registered_by_hash_.find(chain::peer_id_hash(id));
      auto unstaked = unstaked_nodes_.find(chain::peer_id_hash(id));
      auto t = telemetry_->latest(id);
      nodes.push_back({{"peer_id", id},
                       {"state", state_name(m.state)},
                       {"incarnation", m.incarnation},
                       {"registered", op != registered_by_hash_.end()},
                       // Registered on chain but refused here: "unstaked" (its operator is below
                       // the minimum stake), else empty.
                       {"refused", unstaked != unstaked_nodes_.end() ? "unstaked" : ""},
                       {"operator", op != registered_by_hash_.end()   ? op->second
                                    : unstaked != unstaked_nodes_.end() ? unstaked->second
                                                                        : ""},
                       // The operator's bonded stake in wei as of the last chain read; "" unknown.
                       {"stake_wei", bonded_of(op != registered_by_hash_.end()     ? op->second
                                               : unstaked != unstaked_nodes_.end() ? unstaked->second
                                                                                   : "")},
                       {"addrs", addrs},
                       {"self", id == self_text_},
                       {"telemetry_at", t ? t->timestamp_ms : 0},
                       // Public by design (docs/threat-model.md): what job constraints and
                       // volumes are matched against, from the node's latest signed record.
                       {"labels", t ? json(t->attributes.labels) : json::object()},
                       {"volumes", t ? json(t->attributes.volumes) : json::array()}});
    }
    return ApiResponse::json(nodes);
  });

  // Slashes the registry recorded (the newest 100 since this node started reading, oldest first).
  api_->route("GET", "/v1/slashings", [this](const ApiRequest&) {
    json out = json::array();
    for (const auto& s : slashes_) {
      out.push_back({{"operator", s.operator_address.to_checksum()},
                     {"reporter", s.reporter.to_checksum()},
                     {"job_id", hash_hex(s.job_id)},
                     {"round", s.round},
                     {"slashed_wei", s.slashed.to_dec()},
                     {"reward_wei", s.reward.to_dec()},
                     {"evidence_id", chain::hash_hex(s.evidence_id)},
                     {"block", s.block_number},
                     {"tx", chain::hash_hex(s.transaction_hash)}});
    }
    return ApiResponse::json(out);
  });

  // Every job of the cluster: those coordinated or held here, and (unless ?local=1) the newest
  // copy of every other one a live member holds, marked with the member that answered. A copy
  // held here for a job whose holders no longer include this node gives way to a newer one.
  api_->route("GET", "/v1/jobs", [this](const ApiRequest& request) {
    struct Listed {
      json view;
      std::uint64_t term = 0, version = 0;
    };
    std::map<Hash32, Listed> listed;
    for (const auto* copies : {&coordinator_->jobs(), &coordinator_->held()}) {
      for (const auto& [id, job] : *copies) listed[id] = {job_json(job, false), job.term, job.version};
    }
    auto as_array = [](const std::map<Hash32, Listed>& jobs) {
      json out = json::array();
      for (const auto& [_, j] : jobs) out.push_back(j.view);
      return out;
    };
    if (wants_local(request)) return ApiResponse::json(as_array(listed));
    ApiResponse later;
    later.deferred = [this, listed, as_array]() mutable -> boost::asio::awaitable<ApiResponse> {
      for (auto& [peer, job] : co_await ask_members_for_jobs(Hash32{})) {
        auto known = listed.find(job.id);
        if (known != listed.end() && std::tie(job.term, job.version) <= std::tie(known->second.term, known->second.version)) {
          continue;
        }
        json j = job_json(job, false);
        j["answered_by"] = peer;
        listed[job.id] = {std::move(j), job.term, job.version};
      }
      co_return ApiResponse::json(as_array(listed));
    };
    return later;
  });

  api_->route("POST", "/v1/jobs", [this](const ApiRequest& request) {
    auto body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("spec") || !body["spec"].is_string()) {
      return ApiResponse::error(400, "invalid_argument", "expected {\"spec\": \"<job spec YAML>\"}");
    }
    // The spec's secrets, as hex (any bytes): held here only until sealed to this node.
    std::map<std::string, std::string> secrets;
    if (auto given = body.find("secrets"); given != body.end()) {
      if (!given->is_object()) return ApiResponse::error(400, "invalid_argument", "secrets must map names to hex values");
      for (const auto& [name, hex] : given->items()) {
        auto value = hex.is_string() ? from_hex(hex.get<std::string>()) : Result<Bytes>(invalid_argument("not a string"));
        if (!value.ok()) return ApiResponse::error(400, "invalid_argument", "secret " + name + " is not hex: " + value.status().message());
        secrets[name] = std::string(value->begin(), value->end());
        secure_wipe(*value);
      }
    }
    auto job = coordinator_->submit_job(body["spec"].get<std::string>(), secrets);
    for (auto& [name, value] : secrets) secure_wipe(value.data(), value.size());
    if (!job.ok()) return ApiResponse::from_status(job.status());
    return ApiResponse::json(job_json(**job, false), 202);
  });

  // A job this node coordinates answers from its record. Any other node, a holder included (a
  // holder that missed a push, or was dropped from the holders while cut off, keeps an old
  // copy), asks the live members and answers with the newest copy, its own when no member's is
  // newer and naming the member otherwise. ?local=1 answers from this node's copy, asking nobody.
  // What a route knows of a job before it asks the members: this node's copy, if any, and the
  // id to ask for (zero when the name is not an id and this node has no copy).
  struct JobLookup {
    std::string wanted;
    Hash32 id{};
    std::optional<JobState> own;
  };
  auto look_up = [this](const std::string& wanted) {
    JobLookup found{wanted, {}, {}};
    if (JobState* mine = coordinator_->find_job(wanted, /*held=*/true)) {
      found.id = mine->id;
      found.own = *mine;
    } else if (auto exact = fixed_from_hex<32>(wanted); exact.ok()) {
      found.id = *exact;
    }
    return found;
  };

  api_->route("GET", "/v1/jobs/{id}", [this, look_up](const ApiRequest& request) {
    const std::string wanted = request.params.at("id");
    JobState* mine = coordinator_->find_job(wanted, /*held=*/true);
    const bool local_only = wants_local(request);
    if (mine != nullptr && (coordinator_->coordinates(mine->id) || local_only)) return ApiResponse::json(job_json(*mine, true));
    if (local_only) return ApiResponse::error(404, "not_found", "no job '" + wanted + "' on this node");
    ApiResponse later;
    later.deferred = [this, job = look_up(wanted)]() -> boost::asio::awaitable<ApiResponse> {
      auto record = co_await newest_job_json(job.wanted, job.id, job.own);
      if (!record) co_return ApiResponse::error(404, "not_found", "no job '" + job.wanted + "' on this node or any live member");
      co_return ApiResponse::json(*record);
    };
    return later;
  });

  // The job's anchors checked against the chain, as `veil audit --from-node` does (the
  // dashboard's audit view): the record is the newest copy this node or a live member holds;
  // the chain is this node's.
  api_->route("GET", "/v1/jobs/{id}/audit", [this, look_up](const ApiRequest& request) {
    if (!registry_) {
      return ApiResponse::error(409, "failed_precondition", "this node has no chain (chain.rpc, chain.contract): nothing to audit against");
    }
    ApiResponse later;
    later.deferred = [this, job = look_up(request.params.at("id"))]() -> boost::asio::awaitable<ApiResponse> {
      auto record = co_await newest_job_json(job.wanted, job.id, job.own);
      if (!record) co_return ApiResponse::error(404, "not_found", "no job '" + job.wanted + "' on this node or any live member");
      AuditRequest audit;
      audit.record = std::move(*record);
      const std::function<Result<json>()> check = [this, audit] { return audit_job(*registry_, audit); };
      auto report = co_await on_blocking_worker(check);
      if (!report.ok()) {
        // A record this node built that does not parse is its own fault; anything else is the chain's.
        const bool own_fault = report.status().code() == StatusCode::kInvalidArgument;
        co_return ApiResponse::error(own_fault ? 500 : 502, own_fault ? "internal" : "unavailable",
                                     (own_fault ? "" : "the chain could not be read: ") + report.status().message());
      }
      (*report)["answered_by"] = audit.record->value("answered_by", self_text_);
      co_return ApiResponse::json(*report);
    };
    return later;
  });

  // Submits again the spec of one of the job's earlier versions, as its next version.
  api_->route("POST", "/v1/jobs/{id}/revert", [this](const ApiRequest& request) {
    auto body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("version") || !body["version"].is_number_unsigned()) {
      return ApiResponse::error(400, "invalid_argument", "expected {\"version\": N}");
    }
    JobState* job = coordinator_->find_job(request.params.at("id"));
    if (job == nullptr) {
      if (JobState* held = coordinator_->find_job(request.params.at("id"), /*held=*/true)) {
        return ApiResponse::error(409, "failed_precondition",
                                  "job '" + request.params.at("id") + "' is coordinated by " + held->coordinator + "; revert it on that node");
      }
      return ApiResponse::error(404, "not_found", "no job '" + request.params.at("id") + "' on this node");
    }
    auto reverted = coordinator_->revert_job(*job, body["version"].get<std::uint32_t>());
    if (!reverted.ok()) return ApiResponse::from_status(reverted.status());
    return ApiResponse::json(job_json(**reverted, false), 202);
  });

  api_->route("DELETE", "/v1/jobs/{id}", [this](const ApiRequest& request) {
    JobState* job = coordinator_->find_job(request.params.at("id"));
    if (job == nullptr) {
      if (JobState* held = coordinator_->find_job(request.params.at("id"), /*held=*/true)) {
        return ApiResponse::error(409, "failed_precondition",
                                  "job '" + request.params.at("id") + "' is coordinated by " + held->coordinator +
                                      "; stop it on that node");
      }
      return ApiResponse::error(404, "not_found", "no job '" + request.params.at("id") + "' on this node");
    }
    (void)coordinator_->stop_job(*job);
    return ApiResponse::json(job_json(*job, false));
  });

  // This node's own telemetry in plaintext, for its operator (never sent anywhere else).
  api_->route("GET", "/v1/telemetry", [this](const ApiRequest&) {
    json records = json::array();
    for (const auto& r : telemetry_->own_records()) {
      records.push_back({{"hash", hash_hex(r.hash)},
                         {"timestamp_ms", r.timestamp_ms},
                         {"cpu", r.values.free[sched::kCpu]},
                         {"memory", r.values.free[sched::kMemory]},
                         {"disk", r.values.free[sched::kDisk]},
                         {"gpu", r.values.free[sched::kGpu]},
                         {"latency", r.values.latency}});
    }
    return ApiResponse::json(records);
  });

  // Logs of a job's replicas: those running here, and (unless ?local=1) those of every other
  // node its record places a replica on, asked over /veil/logs/1.0.0. The record is this
  // node's copy, or the newest a live member holds. A node that does not answer in time is
  // listed with an error instead of its logs.
  api_->route("GET", "/v1/jobs/{id}/logs", [this](const ApiRequest& request) {
    const std::string wanted = request.params.at("id");
    std::uint32_t tail = 200;
    if (auto t = request.query.find("tail"); t != request.query.end()) {
      tail = static_cast<std::uint32_t>(std::clamp<long>(std::atol(t->second.c_str()), 1, kMaxLogLines));
    }
    json here = json::array();
    for (const auto& r : executor_->logs(wanted, static_cast<int>(tail))) {
      here.push_back({{"job", hash_hex(r.job)}, {"replica", r.replica}, {"node", self_text_}, {"logs", r.text}});
    }
    if (wants_local(request)) return ApiResponse::json(here);
    std::optional<JobState> known;
    if (const JobState* mine = coordinator_->find_job(wanted, /*held=*/true)) known = *mine;
    ApiResponse later;
    later.deferred = [this, wanted, tail, here, known]() mutable -> boost::asio::awaitable<ApiResponse> {
      if (!known) {
        auto found = co_await ask_members_for_jobs(Hash32{});
        const auto* match = best_match(found, wanted, [](const auto& entry) -> const JobState& { return entry.second; });
        if (match != nullptr) known = match->second;
      }
      if (!known) {
        if (!here.empty()) co_return ApiResponse::json(here);
        co_return ApiResponse::error(404, "not_found", "no job '" + wanted + "' on this node or any live member");
      }
      std::set<std::string> nodes;
      for (const auto& r : known->replicas) {
        if (!r.node.empty() && r.node != self_text_) nodes.insert(r.node);
      }
      for (auto& [node, answer] : co_await ask_nodes_for_logs(known->id, nodes, tail)) {
        if (!answer.ok()) {
          here.push_back({{"job", hash_hex(known->id)}, {"node", node}, {"error", answer.status().message()}});
          continue;
        }
        for (auto& r : answer->replicas) {
          here.push_back({{"job", hash_hex(known->id)}, {"replica", r.replica}, {"node", node}, {"logs", std::move(r.text)}});
        }
      }
      co_return ApiResponse::json(here);
    };
    return later;
  });
}

}  // namespace veil::node
