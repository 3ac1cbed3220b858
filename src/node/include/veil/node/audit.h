// Auditing a job's deployment anchors against the chain (docs/chain.md, "Auditing"): the
// commitments recomputed from the job's record (each agreed round's decision, the root of the
// telemetry hashes it used, the agreeing schedulers) are compared with what VeilRegistry holds,
// whether a commitment was anchored alone (`DeploymentAnchored`) or under a batch root with an
// inclusion proof (`BatchAnchored`, `verifyInclusion`). `veil audit` and the node's
// GET /v1/jobs/{id}/audit (the dashboard's audit view) print the same report.
//
// Chain reads block: call audit_job where blocking is allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "veil/chain/veil_registry.h"
#include "veil/common/status.h"

namespace veil::node {

// The job id and one commitment per agreed round, from a record as `GET /v1/jobs/{id}` (and
// `veil job status -o json`) prints it.
Result<std::pair<chain::Hash32, std::vector<chain::VeilRegistry::Commitment>>> commitments_of_job(
    const nlohmann::json& record);

struct AuditRequest {
  chain::Hash32 job_id{};
  std::optional<nlohmann::json> record;                    // expected commitments and batched anchors
  std::optional<chain::VeilRegistry::Commitment> expected;  // one expected commitment given by hand
  std::uint64_t from_block = 0;                             // first block searched for events
};

// The report: {"job_id", "deployments": [...], "batched": [...], "ok"}. `ok` is true when at
// least one anchor was found and every anchor checks out (consistent, as expected, not upheld
// in a dispute; a batch proof that leads to an anchored root that verifyInclusion accepts).
// An error only when the record is malformed or the chain cannot be read.
Result<nlohmann::json> audit_job(chain::VeilRegistry& registry, const AuditRequest& request);

}  // namespace veil::node
