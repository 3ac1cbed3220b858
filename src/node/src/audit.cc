#include "veil/node/audit.h"

#include <string>

#include "veil/chain/merkle_batch.h"
#include "veil/node/protocol.h"

namespace veil::node {

using chain::VeilRegistry;
using nlohmann::json;

namespace {

// One batched anchor of the job's record: a commitment, the root it was anchored under and its
// inclusion proof (docs/chain.md, "Batched anchoring").
struct BatchedAnchor {
  std::uint32_t round = 0;
  chain::Hash32 commitment{}, root{};
  std::uint32_t index = 0, size = 0;
  std::vector<chain::Hash32> proof;
};

Result<std::vector<BatchedAnchor>> batched_anchors(const json& record) {
  std::vector<BatchedAnchor> out;
  try {
    for (const auto& a : record.value("anchors", json::array())) {
      if (a.value("batch_root", "").empty()) continue;
      BatchedAnchor b;
      b.round = a.value("round", 0u);
      VEIL_ASSIGN_OR_RETURN(b.commitment, parse_hash_hex(a.at("commitment").get<std::string>()));
      VEIL_ASSIGN_OR_RETURN(b.root, parse_hash_hex(a.at("batch_root").get<std::string>()));
      b.index = a.value("batch_index", 0u);
      b.size = a.value("batch_size", 0u);
      for (const auto& h : a.at("proof")) {
        VEIL_ASSIGN_OR_RETURN(auto step, parse_hash_hex(h.get<std::string>()));
        b.proof.push_back(step);
      }
      out.push_back(std::move(b));
    }
  } catch (const json::exception& e) {
    return invalid_argument(std::string("an anchor of the job's record is malformed: ") + e.what());
  }
  return out;
}

// Checks one batched anchor locally (the proof leads from the commitment to the root) and on
// chain (the root was anchored; verifyInclusion agrees).
json audit_batched(VeilRegistry& registry, const BatchedAnchor& b, bool matches, bool have_expected) {
  const bool local = chain::batch_proof_leads_to(b.root, b.commitment, b.proof);
  auto event = registry.batch_anchored_event(b.root);
  auto included = registry.verify_inclusion(b.root, b.commitment, b.proof);
  const bool anchored = event.ok() && event->has_value();
  const bool on_chain = included.ok() && *included;
  json d = {{"round", b.round},
            {"commitment", chain::hash_hex(b.commitment)},
            {"matches_expected", have_expected ? json(matches) : json(nullptr)},
            {"batch_root", chain::hash_hex(b.root)},
            {"batch_index", b.index},
            {"batch_size", b.size},
            {"proof_length", b.proof.size()},
            {"proof_leads_to_root", local},
            {"root_anchored", anchored},
            {"verify_inclusion", on_chain},
            {"ok", local && anchored && on_chain && matches}};
  if (anchored) {
    d["anchored_by"] = (*event)->anchored_by.to_checksum();
    d["count_on_chain"] = (*event)->count;
    d["block"] = (*event)->block_number;
    d["transaction"] = chain::hash_hex((*event)->transaction_hash);
  }
  if (!event.ok() || !included.ok()) d["error"] = (event.ok() ? included.status() : event.status()).message();
  return d;
}

}  // namespace

Result<std::pair<chain::Hash32, std::vector<VeilRegistry::Commitment>>> commitments_of_job(const json& record) {
  try {
    VEIL_ASSIGN_OR_RETURN(chain::Hash32 id, parse_hash_hex(record.at("id").get<std::string>()));
    std::vector<VeilRegistry::Commitment> out;
    for (const auto& round : record.value("rounds", json::array())) {
      if (round.value("agreed", "").empty()) continue;
      VeilRegistry::Commitment c;
      c.job_id = id;
      c.round = round.value("round", 0u);
      VEIL_ASSIGN_OR_RETURN(c.decision_hash, parse_hash_hex(round["agreed"].get<std::string>()));
      std::vector<Hash32> inputs;
      for (const auto& n : round["nodes"]) {
        VEIL_ASSIGN_OR_RETURN(auto h, parse_hash_hex(n["telemetry_hash"].get<std::string>()));
        inputs.push_back(h);
      }
      c.inputs_root = inputs_root(round.value("decision_format", 1u), inputs);
      for (const auto& s : round["agreeing"]) c.schedulers.push_back(chain::peer_id_hash(s.get<std::string>()));
      out.push_back(c);
    }
    return std::make_pair(id, out);
  } catch (const json::exception& e) {
    return invalid_argument(std::string("the job's record is not what `veil job status -o json` prints: ") + e.what());
  }
}

Result<json> audit_job(VeilRegistry& registry, const AuditRequest& request) {
  chain::Hash32 job = request.job_id;
  std::vector<VeilRegistry::Commitment> expected_list;
  std::vector<BatchedAnchor> batched;
  if (request.record) {
    VEIL_ASSIGN_OR_RETURN(auto recomputed, commitments_of_job(*request.record));
    job = recomputed.first;
    expected_list = std::move(recomputed.second);
    VEIL_ASSIGN_OR_RETURN(batched, batched_anchors(*request.record));
  }
  VEIL_ASSIGN_OR_RETURN(auto events, registry.anchored_events(request.from_block, 0, job));
  const bool have_expected = request.expected.has_value() || request.record.has_value();
  auto matches_expected = [&](const chain::Hash32& commitment) {
    if (request.expected && VeilRegistry::commitment_hash(*request.expected) != commitment) return false;
    if (!request.record) return true;
    for (const auto& c : expected_list) {
      if (VeilRegistry::commitment_hash(c) == commitment) return true;
    }
    return false;
  };
  json report = {{"job_id", chain::hash_hex(job)}, {"deployments", json::array()}, {"batched", json::array()}};
  bool all_ok = !events.empty() || !batched.empty();
  for (const auto& ev : events) {
    const chain::Hash32 recomputed = VeilRegistry::commitment_hash(ev.commitment);
    const bool consistent = recomputed == ev.assignment_hash;
    const bool matches = matches_expected(ev.assignment_hash);
    auto d = registry.deployment(ev.assignment_hash);
    const std::string status = d.ok() ? std::string(chain::deployment_status_name(d->status)) : "unknown";
    const bool ok = consistent && matches && d.ok() && d->status != VeilRegistry::DeploymentStatus::kUpheld;
    all_ok = all_ok && ok;
    report["deployments"].push_back({{"assignment_hash", chain::hash_hex(ev.assignment_hash)},
                                     {"recomputed", chain::hash_hex(recomputed)},
                                     {"commitment_consistent", consistent},
                                     {"matches_expected", have_expected ? json(matches) : json(nullptr)},
                                     {"status", status},
                                     {"anchored_by", ev.anchored_by.to_checksum()},
                                     {"block", ev.block_number},
                                     {"transaction", chain::hash_hex(ev.transaction_hash)},
                                     {"ok", ok}});
  }
  for (const auto& b : batched) {
    json d = audit_batched(registry, b, matches_expected(b.commitment), have_expected);
    all_ok = all_ok && d["ok"].get<bool>();
    report["batched"].push_back(std::move(d));
  }
  report["ok"] = all_ok;
  return report;
}

}  // namespace veil::node
