#include "veil/chain/veil_registry.h"

#include <cstdlib>
#include <iostream>

#include "veil/chain/keccak.h"

namespace veil::chain {
namespace {

AbiValue h32(const Hash32& h) { return AbiValue(h); }
AbiValue u(std::uint64_t v) { return AbiValue(U256(v)); }

std::uint64_t as_u64(const AbiValue& v) { return v.as_uint().low_u64(); }

Bytes encode(const char* types, const std::vector<AbiValue>& values) {
  // Types here are literals of this file and values are built to match, so failure is a bug.
  auto out = abi_encode(parse_abi_types(types).value(), values);
  if (!out.ok()) {
    std::cerr << "veil_registry: internal ABI encoding error: " << out.status().message() << "\n";
    std::abort();
  }
  return std::move(out).value();
}

std::vector<AbiValue> hash_list(const std::vector<Hash32>& hs) {
  std::vector<AbiValue> out;
  for (const auto& h : hs) out.emplace_back(h);
  return out;
}

std::vector<Hash32> to_hashes(const AbiValue& v) {
  std::vector<Hash32> out;
  for (const auto& item : v.as_list()) out.push_back(item.as_bytes32());
  return out;
}

}  // namespace

const ContractAbi& VeilRegistry::abi() {
  static const ContractAbi parsed = [] {
    auto a = ContractAbi::from_json(abi_json());
    if (!a.ok()) {
      std::cerr << "veil_registry: embedded ABI is corrupt: " << a.status().message() << "\n";
      std::abort();
    }
    return std::move(a).value();
  }();
  return parsed;
}

std::string VeilRegistry::decode_revert(ByteView data) { return abi().decode_revert(data); }

Result<VeilRegistry> VeilRegistry::deploy(Transactor& sender, const DeployParams& p) {
  std::vector<AbiValue> ops;
  for (const auto& a : p.operators) ops.emplace_back(a);
  VEIL_ASSIGN_OR_RETURN(
      Bytes args, abi().encode_constructor({AbiValue(p.cluster_name), AbiValue(std::move(ops)), u(p.quorum),
                                            u(p.execution_delay_s), u(p.dispute_window_s)}));
  VEIL_ASSIGN_OR_RETURN(Bytes code, from_hex(creation_bytecode_hex()));
  code.insert(code.end(), args.begin(), args.end());
  TxCall call{std::nullopt, std::move(code), U256(0), std::nullopt};
  VEIL_ASSIGN_OR_RETURN(Receipt receipt, sender.send_and_wait(call, &VeilRegistry::decode_revert));
  if (!receipt.contract_address) return data_loss("deployment receipt has no contract address");
  return VeilRegistry(sender.client(), *receipt.contract_address, &sender);
}

Result<std::vector<AbiValue>> VeilRegistry::view(std::string_view function,
                                                 const std::vector<AbiValue>& args) {
  VEIL_ASSIGN_OR_RETURN(Bytes data, abi().encode_call(function, args));
  VEIL_ASSIGN_OR_RETURN(CallOutcome out,
                        client_->call(CallRequest{std::nullopt, address_, std::move(data), U256(0)}));
  if (out.reverted) {
    return failed_precondition("VeilRegistry." + std::string(function) + " " +
                               describe_revert(out.data, &VeilRegistry::decode_revert));
  }
  if (out.data.empty())
    return failed_precondition("no VeilRegistry contract at " + address_.to_checksum() +
                               " (empty answer to " + std::string(function) + ")");
  return abi().decode_output(function, out.data);
}

Result<Receipt> VeilRegistry::transact(std::string_view function, const std::vector<AbiValue>& args, const U256& value) {
  if (sender_ == nullptr)
    return failed_precondition("VeilRegistry." + std::string(function) + " needs a signing key");
  VEIL_ASSIGN_OR_RETURN(Bytes data, abi().encode_call(function, args));
  TxCall call{address_, std::move(data), value, std::nullopt};
  auto receipt = sender_->send_and_wait(call, &VeilRegistry::decode_revert);
  if (!receipt.ok()) return receipt.status().with_context("VeilRegistry." + std::string(function));
  return receipt;
}

Result<DecodedEvent> VeilRegistry::find_event(const Receipt& receipt, std::string_view event_name) {
  for (const auto& log : receipt.logs) {
    if (log.address != address_) continue;
    auto decoded = abi().decode_log(log);
    if (decoded.ok() && decoded->event->name == event_name) return decoded;
  }
  return data_loss("receipt " + hash_hex(receipt.transaction_hash) + " lacks a " + std::string(event_name) +
                   " event");
}

// ---------------------------------------------------------------- writes

Result<Receipt> VeilRegistry::register_node(const Hash32& peer_id, const Address& op) {
  return transact("registerNode", {h32(peer_id), AbiValue(op)});
}
Result<Receipt> VeilRegistry::deactivate_node(const Hash32& peer_id) {
  return transact("deactivateNode", {h32(peer_id)});
}
Result<Receipt> VeilRegistry::reactivate_node(const Hash32& peer_id) {
  return transact("reactivateNode", {h32(peer_id)});
}
Result<Receipt> VeilRegistry::exit_node(const Hash32& peer_id) {
  return transact("exitNode", {h32(peer_id)});
}
Result<Receipt> VeilRegistry::set_operator_image_acl(const Hash32& digest, bool denied) {
  return transact("setOperatorImageAcl", {h32(digest), AbiValue(denied)});
}

Result<std::uint64_t> VeilRegistry::propose(ProposalKind kind, const Bytes& data) {
  VEIL_ASSIGN_OR_RETURN(Receipt r, transact("propose", {u(static_cast<std::uint8_t>(kind)), AbiValue(data)}));
  VEIL_ASSIGN_OR_RETURN(DecodedEvent e, find_event(r, "ProposalCreated"));
  VEIL_ASSIGN_OR_RETURN(AbiValue id, e.get("id"));
  return as_u64(id);
}

Result<Receipt> VeilRegistry::vote(std::uint64_t id, bool support) {
  return transact("vote", {u(id), AbiValue(support)});
}
Result<Receipt> VeilRegistry::execute(std::uint64_t id) { return transact("execute", {u(id)}); }
Result<Receipt> VeilRegistry::anchor_deployment(const Hash32& h) {
  return transact("anchorDeployment", {h32(h)});
}

Result<Hash32> VeilRegistry::anchor_commitment(const Commitment& c) {
  VEIL_ASSIGN_OR_RETURN(Receipt r,
                        transact("anchorCommitment", {h32(c.job_id), u(c.round), h32(c.decision_hash),
                                                      h32(c.inputs_root), AbiValue(hash_list(c.schedulers))}));
  VEIL_ASSIGN_OR_RETURN(DecodedEvent e, find_event(r, "DeploymentAnchored"));
  VEIL_ASSIGN_OR_RETURN(AbiValue h, e.get("assignmentHash"));
  return h.as_bytes32();
}

Result<Receipt> VeilRegistry::stake(const U256& wei) { return transact("stake", {}, wei); }
Result<Receipt> VeilRegistry::request_unstake(const U256& wei) { return transact("requestUnstake", {AbiValue(wei)}); }
Result<Receipt> VeilRegistry::withdraw() { return transact("withdraw", {}); }
Result<Receipt> VeilRegistry::withdraw_rewards() { return transact("withdrawRewards", {}); }

Result<VeilRegistry::Slash> VeilRegistry::submit_evidence(const Evidence& e) {
  const AbiValue a(std::vector<AbiValue>{h32(e.decision_a), h32(e.inputs_root_a), AbiValue(e.signature_a)});
  const AbiValue b(std::vector<AbiValue>{h32(e.decision_b), h32(e.inputs_root_b), AbiValue(e.signature_b)});
  VEIL_ASSIGN_OR_RETURN(Receipt r, transact("submitEvidence", {h32(e.job_id), u(e.round), h32(e.peer_id), a, b}));
  return slash_of(r);
}

Result<VeilRegistry::Slash> VeilRegistry::submit_contradiction(const Contradiction& c) {
  const AbiValue anchored(std::vector<AbiValue>{h32(c.job_id), u(c.round), h32(c.agreed_decision), h32(c.inputs_root),
                                                AbiValue(hash_list(c.schedulers))});
  const AbiValue announcement(
      std::vector<AbiValue>{h32(c.announced_decision), h32(c.inputs_root), AbiValue(c.signature)});
  VEIL_ASSIGN_OR_RETURN(Receipt r, transact("submitContradiction", {anchored, h32(c.batch_root),
                                                                    AbiValue(hash_list(c.proof)), h32(c.peer_id),
                                                                    announcement}));
  return slash_of(r);
}

Result<VeilRegistry::Slash> VeilRegistry::slash_of(const Receipt& r) {
  VEIL_ASSIGN_OR_RETURN(DecodedEvent ev, find_event(r, "Slashed"));
  Slash s;
  VEIL_ASSIGN_OR_RETURN(AbiValue op, ev.get("operator"));
  VEIL_ASSIGN_OR_RETURN(AbiValue reporter, ev.get("reporter"));
  VEIL_ASSIGN_OR_RETURN(AbiValue id, ev.get("evidenceId"));
  VEIL_ASSIGN_OR_RETURN(AbiValue slashed, ev.get("slashed"));
  VEIL_ASSIGN_OR_RETURN(AbiValue reward, ev.get("reward"));
  s.operator_address = op.as_address();
  s.reporter = reporter.as_address();
  s.evidence_id = id.as_bytes32();
  s.slashed = slashed.as_uint();
  s.reward = reward.as_uint();
  return s;
}

Result<Receipt> VeilRegistry::anchor_batch(const Hash32& root, std::uint32_t count) {
  return transact("anchorBatch", {h32(root), u(count)});
}

Result<std::uint64_t> VeilRegistry::open_dispute(const Hash32& assignment_hash, const Hash32& evidence_hash) {
  VEIL_ASSIGN_OR_RETURN(Receipt r, transact("openDispute", {h32(assignment_hash), h32(evidence_hash)}));
  VEIL_ASSIGN_OR_RETURN(DecodedEvent e, find_event(r, "DisputeOpened"));
  VEIL_ASSIGN_OR_RETURN(AbiValue id, e.get("disputeId"));
  return as_u64(id);
}

// ---------------------------------------------------------------- payloads

Bytes VeilRegistry::operator_payload(const Address& op) { return encode("address", {AbiValue(op)}); }
Bytes VeilRegistry::image_payload(const Hash32& digest) { return encode("bytes32", {h32(digest)}); }
Bytes VeilRegistry::policy_payload(const Hash32& policy_id, const Bytes& params) {
  return encode("bytes32,bytes", {h32(policy_id), AbiValue(params)});
}
Bytes VeilRegistry::committee_payload(const Committee& c) {
  std::vector<AbiValue> members;
  for (const auto& m : c.members) members.emplace_back(m);
  return encode("address[],bytes32[],uint8",
                {AbiValue(std::move(members)), AbiValue(hash_list(c.x25519_keys)), u(c.threshold)});
}
Bytes VeilRegistry::cluster_keys_payload(const Hash32& pk, const Hash32& sk) {
  return encode("bytes32,bytes32", {h32(pk), h32(sk)});
}
Bytes VeilRegistry::governance_payload(std::uint64_t q, std::uint64_t d, std::uint64_t w) {
  return encode("uint64,uint64,uint64", {u(q), u(d), u(w)});
}
Bytes VeilRegistry::resolve_dispute_payload(std::uint64_t id, bool upheld) {
  return encode("uint256,bool", {u(id), AbiValue(upheld)});
}
Bytes VeilRegistry::stake_params_payload(const StakeParams& p) {
  return encode("uint256,uint64,uint16,uint16",
                {AbiValue(p.min_stake_wei), u(p.unbonding_delay_s), u(p.slash_bps), u(p.reporter_bps)});
}

// ---------------------------------------------------------------- reads

Result<std::string> VeilRegistry::cluster_name() {
  VEIL_ASSIGN_OR_RETURN(auto v, view("clusterName", {}));
  return v[0].as_string();
}

Result<std::vector<Address>> VeilRegistry::operators() {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getOperators", {}));
  std::vector<Address> out;
  for (const auto& a : v[0].as_list()) out.push_back(a.as_address());
  return out;
}

Result<bool> VeilRegistry::is_operator(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("isOperator", {AbiValue(account)}));
  return v[0].as_bool();
}

Result<VeilRegistry::NodeInfo> VeilRegistry::node(const Hash32& peer_id) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getNode", {h32(peer_id)}));
  return NodeInfo{peer_id, v[0].as_address(), v[1].as_bool(), as_u64(v[2])};
}

Result<std::vector<VeilRegistry::NodeInfo>> VeilRegistry::nodes() {
  VEIL_ASSIGN_OR_RETURN(auto ids, view("getNodeIds", {}));
  std::vector<NodeInfo> out;
  for (const auto& id : to_hashes(ids[0])) {
    VEIL_ASSIGN_OR_RETURN(NodeInfo n, node(id));
    out.push_back(n);
  }
  return out;
}

Result<std::vector<Hash32>> VeilRegistry::allowed_images() {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getAllowedImages", {}));
  return to_hashes(v[0]);
}

Result<bool> VeilRegistry::is_image_allowed(const Hash32& digest) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("isImageAllowed", {h32(digest)}));
  return v[0].as_bool();
}

Result<bool> VeilRegistry::is_image_allowed_for(const Hash32& digest, const Address& op) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("isImageAllowedFor", {h32(digest), AbiValue(op)}));
  return v[0].as_bool();
}

Result<Bytes> VeilRegistry::cluster_policy() {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getClusterPolicy", {}));
  return v[0].as_bytes();
}

Result<std::pair<Hash32, Hash32>> VeilRegistry::cluster_keys() {
  VEIL_ASSIGN_OR_RETURN(auto pk, view("fheCompactPublicKeyHash", {}));
  VEIL_ASSIGN_OR_RETURN(auto sk, view("fheServerKeyHash", {}));
  return std::make_pair(pk[0].as_bytes32(), sk[0].as_bytes32());
}

Result<VeilRegistry::Committee> VeilRegistry::committee() {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getCommittee", {}));
  Committee c;
  for (const auto& m : v[0].as_list()) c.members.push_back(m.as_address());
  c.x25519_keys = to_hashes(v[1]);
  c.threshold = static_cast<std::uint8_t>(as_u64(v[2]));
  return c;
}

Result<VeilRegistry::Governance> VeilRegistry::governance() {
  Governance g;
  const std::pair<const char*, std::uint64_t*> fields[] = {{"quorum", &g.quorum},
                                                           {"executionDelay", &g.execution_delay_s},
                                                           {"disputeWindow", &g.dispute_window_s},
                                                           {"operatorEpoch", &g.operator_epoch},
                                                           {"proposalCount", &g.proposal_count}};
  for (const auto& [name, field] : fields) {
    VEIL_ASSIGN_OR_RETURN(auto v, view(name, {}));
    *field = as_u64(v[0]);
  }
  return g;
}

Result<VeilRegistry::StakeParams> VeilRegistry::stake_params() {
  StakeParams p;
  VEIL_ASSIGN_OR_RETURN(auto min_stake, view("minStake", {}));
  VEIL_ASSIGN_OR_RETURN(auto delay, view("unbondingDelay", {}));
  VEIL_ASSIGN_OR_RETURN(auto slash, view("slashBps", {}));
  VEIL_ASSIGN_OR_RETURN(auto reporter, view("reporterBps", {}));
  p.min_stake_wei = min_stake[0].as_uint();
  p.unbonding_delay_s = as_u64(delay[0]);
  p.slash_bps = static_cast<std::uint16_t>(as_u64(slash[0]));
  p.reporter_bps = static_cast<std::uint16_t>(as_u64(reporter[0]));
  return p;
}

Result<U256> VeilRegistry::stake_of(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("stakeOf", {AbiValue(account)}));
  return v[0].as_uint();
}

Result<bool> VeilRegistry::is_operator_staked(const Address& op) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("isOperatorStaked", {AbiValue(op)}));
  return v[0].as_bool();
}

Result<VeilRegistry::Unbonding> VeilRegistry::unbonding_of(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("unbondingOf", {AbiValue(account)}));
  return Unbonding{v[0].as_uint(), as_u64(v[1])};
}

Result<U256> VeilRegistry::rewards_of(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("rewardsOf", {AbiValue(account)}));
  return v[0].as_uint();
}

Result<bool> VeilRegistry::is_evidence_used(const Hash32& evidence_id) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("isEvidenceUsed", {h32(evidence_id)}));
  return v[0].as_bool();
}

Result<Hash32> VeilRegistry::announcement_digest_on_chain(const Announcement& a) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("announcementDigest", {h32(a.job_id), u(a.round), h32(a.decision_hash), h32(a.peer_id),
                                                         h32(a.inputs_root)}));
  return v[0].as_bytes32();
}

Result<RegistryDomain> VeilRegistry::domain() {
  VEIL_ASSIGN_OR_RETURN(std::uint64_t chain_id, client_->chain_id());
  return RegistryDomain{chain_id, address_};
}

Result<VeilRegistry::BatchInfo> VeilRegistry::batch(const Hash32& root) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getBatch", {h32(root)}));
  return BatchInfo{v[0].as_address(), as_u64(v[1]), static_cast<std::uint32_t>(as_u64(v[2]))};
}

Result<bool> VeilRegistry::verify_inclusion(const Hash32& root, const Hash32& commitment, const std::vector<Hash32>& proof) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("verifyInclusion", {h32(root), h32(commitment), AbiValue(hash_list(proof))}));
  return v[0].as_bool();
}

Result<VeilRegistry::ProposalInfo> VeilRegistry::proposal(std::uint64_t id) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getProposal", {u(id)}));
  ProposalInfo p;
  p.id = id;
  p.kind = static_cast<ProposalKind>(as_u64(v[0]));
  p.proposer = v[1].as_address();
  p.epoch = as_u64(v[2]);
  p.created_at = as_u64(v[3]);
  p.yes_votes = as_u64(v[4]);
  p.no_votes = as_u64(v[5]);
  p.executed = v[6].as_bool();
  p.data = v[7].as_bytes();
  return p;
}

Result<VeilRegistry::DeploymentInfo> VeilRegistry::deployment(const Hash32& h) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getDeployment", {h32(h)}));
  return DeploymentInfo{static_cast<DeploymentStatus>(as_u64(v[0])), v[1].as_address(), as_u64(v[2]),
                        v[3].as_bytes32()};
}

Result<VeilRegistry::DisputeInfo> VeilRegistry::dispute(std::uint64_t id) {
  VEIL_ASSIGN_OR_RETURN(auto v, view("getDispute", {u(id)}));
  return DisputeInfo{id,           v[0].as_bytes32(), v[1].as_bytes32(), v[2].as_address(),
                     as_u64(v[3]), v[4].as_bool(),    v[5].as_bool()};
}

Result<Hash32> VeilRegistry::commitment_on_chain(const Commitment& c) {
  VEIL_ASSIGN_OR_RETURN(auto v,
                        view("deploymentCommitment", {h32(c.job_id), u(c.round), h32(c.decision_hash),
                                                      h32(c.inputs_root), AbiValue(hash_list(c.schedulers))}));
  return v[0].as_bytes32();
}

Hash32 VeilRegistry::commitment_hash(const Commitment& c) {
  return keccak256(
      encode("bytes32,uint32,bytes32,bytes32,bytes32[]",
             {h32(c.job_id), u(c.round), h32(c.decision_hash), h32(c.inputs_root), AbiValue(hash_list(c.schedulers))}));
}

Result<std::vector<VeilRegistry::AnchoredEvent>> VeilRegistry::anchored_events(std::uint64_t from_block,
                                                                               std::uint64_t to_block,
                                                                               std::optional<Hash32> job_id) {
  VEIL_ASSIGN_OR_RETURN(const AbiEvent* ev, abi().event("DeploymentAnchored"));
  if (to_block == 0) {
    VEIL_ASSIGN_OR_RETURN(to_block, client_->block_number());
  }
  LogFilter filter;
  filter.address = address_;
  filter.topics.push_back({ev->topic});
  if (job_id) {
    filter.topics.push_back({});
    filter.topics.push_back({*job_id});
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<Log> logs, client_->logs(filter, from_block, to_block));
  std::vector<AnchoredEvent> out;
  for (const auto& log : logs) {
    VEIL_ASSIGN_OR_RETURN(DecodedEvent e, abi().decode_log(log));
    AnchoredEvent a;
    a.assignment_hash = e.get("assignmentHash")->as_bytes32();
    a.anchored_by = e.get("anchoredBy")->as_address();
    a.commitment.job_id = e.get("jobId")->as_bytes32();
    a.commitment.round = static_cast<std::uint32_t>(as_u64(*e.get("round")));
    a.commitment.decision_hash = e.get("decisionHash")->as_bytes32();
    a.commitment.inputs_root = e.get("inputsRoot")->as_bytes32();
    a.commitment.schedulers = to_hashes(*e.get("schedulers"));
    a.block_number = log.block_number;
    a.transaction_hash = log.transaction_hash;
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<VeilRegistry::SlashedEvent>> VeilRegistry::slashed_events(std::uint64_t from_block,
                                                                             std::uint64_t to_block) {
  VEIL_ASSIGN_OR_RETURN(const AbiEvent* ev, abi().event("Slashed"));
  if (to_block == 0) {
    VEIL_ASSIGN_OR_RETURN(to_block, client_->block_number());
  }
  LogFilter filter;
  filter.address = address_;
  filter.topics.push_back({ev->topic});
  VEIL_ASSIGN_OR_RETURN(std::vector<Log> logs, client_->logs(filter, from_block, to_block));
  std::vector<SlashedEvent> out;
  for (const auto& log : logs) {
    VEIL_ASSIGN_OR_RETURN(DecodedEvent e, abi().decode_log(log));
    SlashedEvent s;
    s.operator_address = e.get("operator")->as_address();
    s.reporter = e.get("reporter")->as_address();
    s.evidence_id = e.get("evidenceId")->as_bytes32();
    s.job_id = e.get("jobId")->as_bytes32();
    s.round = static_cast<std::uint32_t>(as_u64(*e.get("round")));
    s.slashed = e.get("slashed")->as_uint();
    s.reward = e.get("reward")->as_uint();
    s.block_number = log.block_number;
    s.transaction_hash = log.transaction_hash;
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::optional<VeilRegistry::BatchAnchoredEvent>> VeilRegistry::batch_anchored_event(const Hash32& root,
                                                                                           std::uint64_t from_block) {
  VEIL_ASSIGN_OR_RETURN(const AbiEvent* ev, abi().event("BatchAnchored"));
  VEIL_ASSIGN_OR_RETURN(std::uint64_t head, client_->block_number());
  LogFilter filter;
  filter.address = address_;
  filter.topics.push_back({ev->topic});
  filter.topics.push_back({root});
  VEIL_ASSIGN_OR_RETURN(std::vector<Log> logs, client_->logs(filter, from_block, head));
  if (logs.empty()) return std::optional<BatchAnchoredEvent>();
  VEIL_ASSIGN_OR_RETURN(DecodedEvent e, abi().decode_log(logs.front()));
  BatchAnchoredEvent out;
  out.root = e.get("root")->as_bytes32();
  out.anchored_by = e.get("anchoredBy")->as_address();
  out.count = static_cast<std::uint32_t>(as_u64(*e.get("count")));
  out.block_number = logs.front().block_number;
  out.transaction_hash = logs.front().transaction_hash;
  return std::optional<BatchAnchoredEvent>(out);
}

// ---------------------------------------------------------------- names

Result<Hash32> parse_image_digest(std::string_view text) {
  if (!text.starts_with("sha256:"))
    return invalid_argument("image digest must look like sha256:<64 hex digits>, got '" + std::string(text) +
                            "'");
  auto h = fixed_from_hex<32>(text.substr(7));
  if (!h.ok()) return invalid_argument("image digest '" + std::string(text) + "': " + h.status().message());
  return *h;
}

Hash32 peer_id_hash(std::string_view peer_id_text) { return keccak256(as_bytes(peer_id_text)); }

std::string format_image_digest(const Hash32& digest) { return "sha256:" + to_hex(digest); }

namespace {
constexpr std::string_view kKindNames[] = {"add-operator",     "remove-operator", "set-policy",
                                           "allow-image",      "revoke-image",    "set-committee",
                                           "set-cluster-keys", "set-governance",  "resolve-dispute",
                                           "set-stake-params"};
constexpr std::string_view kStatusNames[] = {"none", "anchored", "disputed", "upheld", "cleared"};
}  // namespace

std::string_view proposal_kind_name(VeilRegistry::ProposalKind kind) {
  auto i = static_cast<std::size_t>(kind);
  return i < std::size(kKindNames) ? kKindNames[i] : "unknown";
}

Result<VeilRegistry::ProposalKind> parse_proposal_kind(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kKindNames); ++i) {
    if (kKindNames[i] == name) return static_cast<VeilRegistry::ProposalKind>(i);
  }
  return invalid_argument("unknown proposal kind '" + std::string(name) + "'");
}

std::string_view deployment_status_name(VeilRegistry::DeploymentStatus status) {
  auto i = static_cast<std::size_t>(status);
  return i < std::size(kStatusNames) ? kStatusNames[i] : "unknown";
}

}  // namespace veil::chain
