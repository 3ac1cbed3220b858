// `veil dispute check|submit --evidence FILE`: evidence of a scheduler's lie (evidence.h), checked
// here against the registry's EIP-712 domain and, with `submit`, sent to the contract, which
// slashes the signer (docs/chain.md, "Slashing"). Two kinds:
//   equivocation   two announcements one operator signed for the same job, round and node with
//                  different decisions (submitEvidence);
//   contradiction  one signed announcement that differs from the quorum decision anchored for the
//                  same job, round and inputs (submitContradiction).
//
// Both verbs run the same checks, so whatever `check` accepts `submit` sends and nothing it refuses
// costs a transaction: the JSON and the signatures (including the contract's low-s rule), that a
// contradicted decision is anchored (alone and undisputed, or in an anchored batch with a proof
// that leads to it), that this lie was not slashed before, and that its signer has stake to take.
#include <iostream>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

#include "chain_cli.h"
#include "cli_io.h"
#include "veil/chain/ether_amount.h"
#include "veil/chain/evidence.h"
#include "veil/common/read_file.h"

namespace veil::cli {
namespace {

using chain::Address;
using chain::format_ether;
using chain::U256;
using chain::VeilRegistry;

// Two announcements are under 1 KiB of JSON; the limit only keeps a wrong path from being read whole.
constexpr FileLimit kEvidenceFile{"evidence file", 64 * kKiB};
constexpr std::uint32_t kBps = 10'000;

struct DisputeArgs {
  ChainOptions chain;
  std::string evidence_file;
};

// What the chain would do with the evidence, learned without sending it.
struct CheckedEvidence {
  std::variant<chain::Evidence, chain::Contradiction> evidence;
  std::string anchored_problem;  // a contradiction: why its decision is not a settled anchor; empty when it is
  chain::RegistryDomain domain;
  Address signer;
  chain::Hash32 id{};  // evidenceId(signer, peerId, jobId, round)
  bool already_slashed = false;
  bool signer_is_operator = false;
  U256 bonded, unbonding;
  U256 slash, reward;  // what a submission takes and credits now (VeilRegistry._slash/_punish)
};

// `wei * bps / 10,000` rounded down, as Solidity computes it.
U256 share(const U256& wei, std::uint16_t bps) {
  std::uint32_t remainder = 0;
  return (wei * U256(bps)).divmod_small(kBps, remainder);
}

const chain::Hash32& job_of(const CheckedEvidence& c) {
  return std::visit([](const auto& e) -> const chain::Hash32& { return e.job_id; }, c.evidence);
}
std::uint32_t round_of(const CheckedEvidence& c) {
  return std::visit([](const auto& e) { return e.round; }, c.evidence);
}
bool is_contradiction(const CheckedEvidence& c) { return std::holds_alternative<chain::Contradiction>(c.evidence); }

Result<std::variant<chain::Evidence, chain::Contradiction>> load_evidence(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string text, read_file(path, kEvidenceFile));
  auto kind = chain::evidence_kind(text);
  if (!kind.ok()) return kind.status().with_context("evidence file " + path);
  if (*kind == "contradiction") {
    auto c = chain::Contradiction::from_json(text);
    if (!c.ok()) return c.status().with_context("evidence file " + path);
    return std::variant<chain::Evidence, chain::Contradiction>(std::move(*c));
  }
  auto e = chain::Evidence::from_json(text);
  if (!e.ok()) return e.status().with_context("evidence file " + path);
  return std::variant<chain::Evidence, chain::Contradiction>(std::move(*e));
}

// Empty when the contradicted decision is anchored as submitContradiction requires.
Result<std::string> anchored_problem(VeilRegistry& reg, const chain::Contradiction& e) {
  VeilRegistry::Commitment agreed{e.job_id, e.round, e.agreed_decision, e.inputs_root, e.schedulers};
  const chain::Hash32 commitment = VeilRegistry::commitment_hash(agreed);
  if (e.batch_root != chain::Hash32{}) {
    VEIL_ASSIGN_OR_RETURN(bool included, reg.verify_inclusion(e.batch_root, commitment, e.proof));
    if (included) return std::string();
    return "the commitment " + chain::hash_hex(commitment) + " is not proven to be in an anchored batch " +
           chain::hash_hex(e.batch_root);
  }
  VEIL_ASSIGN_OR_RETURN(VeilRegistry::DeploymentInfo d, reg.deployment(commitment));
  if (d.status == VeilRegistry::DeploymentStatus::kAnchored || d.status == VeilRegistry::DeploymentStatus::kCleared) return std::string();
  if (d.status == VeilRegistry::DeploymentStatus::kNone) return "the commitment " + chain::hash_hex(commitment) + " is not anchored";
  return "the commitment " + chain::hash_hex(commitment) + " is disputed or was judged wrong; it is not a settled decision";
}

Result<CheckedEvidence> check_evidence(ChainSession& session, const std::string& path) {
  VeilRegistry& reg = *session.registry;
  CheckedEvidence c;
  VEIL_ASSIGN_OR_RETURN(c.evidence, load_evidence(path));
  VEIL_ASSIGN_OR_RETURN(c.domain, reg.domain());
  auto signer = std::visit([&](const auto& e) { return e.signer(c.domain); }, c.evidence);
  if (!signer.ok()) {
    return signer.status().with_context(
        "evidence file " + path + " does not prove " + (is_contradiction(c) ? "a contradiction" : "an equivocation") +
        " in the registry " + reg.address().to_checksum() + " on chain " + std::to_string(c.domain.chain_id));
  }
  c.signer = *signer;
  c.id = std::visit([&](const auto& e) { return e.id(c.signer); }, c.evidence);
  if (const auto* contradiction = std::get_if<chain::Contradiction>(&c.evidence)) {
    VEIL_ASSIGN_OR_RETURN(c.anchored_problem, anchored_problem(reg, *contradiction));
  }
  VEIL_ASSIGN_OR_RETURN(c.already_slashed, reg.is_evidence_used(c.id));
  VEIL_ASSIGN_OR_RETURN(c.signer_is_operator, reg.is_operator(c.signer));
  VEIL_ASSIGN_OR_RETURN(c.bonded, reg.stake_of(c.signer));
  VEIL_ASSIGN_OR_RETURN(VeilRegistry::Unbonding unbonding, reg.unbonding_of(c.signer));
  c.unbonding = unbonding.amount;
  VEIL_ASSIGN_OR_RETURN(VeilRegistry::StakeParams params, reg.stake_params());
  c.slash = share(c.bonded, params.slash_bps) + share(c.unbonding, params.slash_bps);
  c.reward = share(c.slash, params.reporter_bps);
  return c;
}

// Why the contract would refuse checked evidence; empty when it would slash.
std::string refusal(const CheckedEvidence& c) {
  if (!c.anchored_problem.empty()) return c.anchored_problem;
  if (c.already_slashed) {
    return "this lie (evidence id " + chain::hash_hex(c.id) +
           ") was already slashed; each (signer, node, job, round) is slashed once";
  }
  if (c.slash.is_zero()) {
    return c.signer.to_checksum() +
           " has no bonded or unbonding stake to slash (the evidence stays usable "
           "if it bonds again)";
  }
  return {};
}

// The two decisions the evidence sets against each other: (A, B) of an equivocation, (agreed,
// announced) of a contradiction.
std::pair<chain::Hash32, chain::Hash32> decisions_of(const CheckedEvidence& c) {
  if (const auto* e = std::get_if<chain::Evidence>(&c.evidence)) return {e->decision_a, e->decision_b};
  const auto& k = std::get<chain::Contradiction>(c.evidence);
  return {k.agreed_decision, k.announced_decision};
}

nlohmann::json check_json(const CheckedEvidence& c) {
  const std::string why_not = refusal(c);
  const auto [a, b] = decisions_of(c);
  const auto peer = std::visit([](const auto& e) { return e.peer_id; }, c.evidence);
  return {{"kind", is_contradiction(c) ? "contradiction" : "equivocation"},
          {"job_id", chain::hash_hex(job_of(c))},
          {"round", round_of(c)},
          {"peer_id", chain::hash_hex(peer)},
          {"decision_a", chain::hash_hex(a)},
          {"decision_b", chain::hash_hex(b)},
          {"signer", c.signer.to_checksum()},
          {"signer_is_operator", c.signer_is_operator},
          {"chain_id", c.domain.chain_id},
          {"contract", c.domain.contract.to_checksum()},
          {"evidence_id", chain::hash_hex(c.id)},
          {"already_slashed", c.already_slashed},
          {"bonded_wei", c.bonded.to_dec()},
          {"unbonding_wei", c.unbonding.to_dec()},
          {"slash_wei", c.slash.to_dec()},
          {"reward_wei", c.reward.to_dec()},
          {"submittable", why_not.empty()},
          {"refusal", why_not.empty() ? nlohmann::json(nullptr) : nlohmann::json(why_not)}};
}

int run_check(const GlobalOptions& global, const DisputeArgs& a) {
  auto session = open_chain_session(global, a.chain, /*need_key=*/false, /*need_contract=*/true);
  if (!session.ok()) return fail(session.status());
  auto checked = check_evidence(**session, a.evidence_file);
  if (!checked.ok()) return fail(checked.status());
  const nlohmann::json j = check_json(*checked);
  if (structured_output(global.output)) {
    print_data(j, global.output);
  } else {
    const bool contradiction = is_contradiction(*checked);
    std::cout << "Kind         " << j["kind"].get<std::string>() << "\n"
              << "Job          " << j["job_id"].get<std::string>() << ", round " << round_of(*checked) << "\n"
              << "Node         " << j["peer_id"].get<std::string>() << "\n"
              << (contradiction ? "Anchored     " : "Decision A   ") << j["decision_a"].get<std::string>() << "\n"
              << (contradiction ? "Announced    " : "Decision B   ") << j["decision_b"].get<std::string>() << "\n"
              << "Signer       " << j["signer"].get<std::string>()
              << (checked->signer_is_operator ? " (operator)" : " (not an operator)")
              << (contradiction ? ": the signature recovers to it in the domain of "
                                : ": both signatures recover to it in the domain of ") << j["contract"].get<std::string>()
              << " on chain " << checked->domain.chain_id << "\n"
              << "Evidence id  " << j["evidence_id"].get<std::string>() << "\n"
              << "Stake        " << format_ether(checked->bonded) << " bonded, "
              << format_ether(checked->unbonding) << " unbonding: a submission takes "
              << format_ether(checked->slash) << ", " << format_ether(checked->reward)
              << " of it to the reporter\n";
  }
  const std::string why_not = refusal(*checked);
  if (!why_not.empty())
    return fail("the signatures hold, but the contract would refuse the evidence: " + why_not);
  if (!structured_output(global.output)) std::cout << "valid: 'veil dispute submit' would slash the signer\n";
  return kExitOk;
}

int run_submit(const GlobalOptions& global, const DisputeArgs& a) {
  auto session = open_chain_session(global, a.chain, /*need_key=*/true, /*need_contract=*/true);
  if (!session.ok()) return fail(session.status());
  VeilRegistry& reg = *(*session)->registry;
  auto checked = check_evidence(**session, a.evidence_file);
  if (!checked.ok()) return fail(checked.status().with_context("not sent"));
  if (const std::string why_not = refusal(*checked); !why_not.empty()) return fail("not sent: " + why_not);

  auto slash = std::visit(
      [&](const auto& e) {
        if constexpr (std::is_same_v<std::decay_t<decltype(e)>, chain::Evidence>) return reg.submit_evidence(e);
        else return reg.submit_contradiction(e);
      },
      checked->evidence);
  if (reverted_with(slash.status(), "EvidenceAlreadyUsed")) {
    return fail("refused by the contract: this lie (evidence id " + chain::hash_hex(checked->id) +
                ") was slashed meanwhile");
  }
  if (!slash.ok()) return fail(slash.status().with_context("submitting evidence"));
  auto bonded_after = reg.stake_of(slash->operator_address);
  auto staked_after = reg.is_operator_staked(slash->operator_address);
  nlohmann::json j = {
      {"operator", slash->operator_address.to_checksum()},
      {"reporter", slash->reporter.to_checksum()},
      {"evidence_id", chain::hash_hex(slash->evidence_id)},
      {"slashed_wei", slash->slashed.to_dec()},
      {"reward_wei", slash->reward.to_dec()},
      {"operator_bonded_wei",
       bonded_after.ok() ? nlohmann::json(bonded_after->to_dec()) : nlohmann::json(nullptr)},
      {"operator_staked", staked_after.ok() ? nlohmann::json(*staked_after) : nlohmann::json(nullptr)}};
  if (structured_output(global.output)) {
    print_data(j, global.output);
    return kExitOk;
  }
  std::cout << "Slashed " << slash->operator_address.to_checksum() << " by " << format_ether(slash->slashed)
            << " (" << slash->slashed.to_dec() << " wei) for job "
            << chain::hash_hex(job_of(*checked)) << ", round " << round_of(*checked) << "\n"
            << "Reporter " << slash->reporter.to_checksum() << " is owed " << format_ether(slash->reward)
            << " (" << slash->reward.to_dec() << " wei): 'veil stake withdraw-rewards' pays it\n";
  if (bonded_after.ok() && staked_after.ok()) {
    std::cout << "The operator now has " << format_ether(*bonded_after) << " bonded"
              << (*staked_after ? "" : ", below the cluster's minimum: gaters refuse its nodes") << "\n";
  }
  return kExitOk;
}

}  // namespace

void register_dispute_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* noun = app.add_subcommand(
      "dispute",
      "Evidence that a scheduler lied (equivocation or contradiction): check it, or submit it to have its operator "
      "slashed");
  noun->require_subcommand(1);

  using Runner = int (*)(const GlobalOptions&, const DisputeArgs&);
  const auto verb = [&](const char* name, const char* help, bool with_key, Runner run) {
    auto args = std::make_shared<DisputeArgs>();
    auto* cmd = noun->add_subcommand(name, help);
    add_chain_options(cmd, args->chain, with_key, /*with_contract=*/true);
    cmd->add_option("--evidence", args->evidence_file, "Evidence JSON (docs/chain.md, Slashing)")
        ->required()
        ->check(CLI::ExistingFile);
    add_output_option(cmd, global.output);
    cmd->callback(
        [&global, &action, args, run] { action = [&global, args, run] { return run(global, *args); }; });
  };
  verb("check",
       "Recover the signer of an evidence file and say whether the contract would slash it, without sending "
       "anything; exit 1 when it would not",
       /*with_key=*/false, &run_check);
  verb("submit",
       "Check an evidence file as 'dispute check' does, then submit it (submitEvidence or submitContradiction): the signer is "
       "slashed and the key's address credited the reporter reward",
       /*with_key=*/true, &run_submit);
}

}  // namespace veil::cli
