// `veil gov propose|vote|execute|show`, `veil image allow|revoke`, `veil node register` and
// `veil audit JOB`: the governance, image, node and audit verbs that act on VeilRegistry.
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_io.h"
#include "chain_cli.h"
#include "veil/common/read_file.h"
#include "veil/node/audit.h"
#include "veil/node/protocol.h"

namespace veil::cli {
namespace {

using chain::Hash32;
using chain::VeilRegistry;
using Kind = VeilRegistry::ProposalKind;

Result<std::uint64_t> parse_u64(const std::string& s, const char* what) {
  auto v = chain::U256::parse(s);
  if (!v.ok() || !v->fits_u64())
    return invalid_argument(std::string(what) + " must be a non-negative integer, got '" + s + "'");
  return v->low_u64();
}

Status want_args(const std::vector<std::string>& args, std::size_t n, const char* usage) {
  if (args.size() != n) return invalid_argument(std::string("expected: ") + usage);
  return {};
}

// Builds a proposal payload from the command-line words that follow its kind.
Result<Bytes> build_payload(Kind kind, const std::vector<std::string>& args) {
  switch (kind) {
    case Kind::kAddOperator:
    case Kind::kRemoveOperator: {
      VEIL_RETURN_IF_ERROR(want_args(args, 1, "ADDRESS"));
      VEIL_ASSIGN_OR_RETURN(chain::Address a, chain::Address::parse(args[0]));
      return VeilRegistry::operator_payload(a);
    }
    case Kind::kAllowImage:
    case Kind::kRevokeImage: {
      VEIL_RETURN_IF_ERROR(want_args(args, 1, "sha256:DIGEST"));
      VEIL_ASSIGN_OR_RETURN(Hash32 d, chain::parse_image_digest(args[0]));
      return VeilRegistry::image_payload(d);
    }
    case Kind::kSetPolicy: {
      if (args.empty() || args.size() > 2) return invalid_argument("expected: POLICY_ID [PARAMS_HEX]");
      Bytes params;
      if (args.size() == 2) {
        VEIL_ASSIGN_OR_RETURN(params, from_hex(args[1]));
      }
      return VeilRegistry::policy_payload(hash_arg(args[0]), params);
    }
    case Kind::kSetClusterKeys: {
      VEIL_RETURN_IF_ERROR(want_args(args, 2, "PUBLIC_KEY_HASH SERVER_KEY_HASH"));
      VEIL_ASSIGN_OR_RETURN(Hash32 pk, chain::parse_hash(args[0]));
      VEIL_ASSIGN_OR_RETURN(Hash32 sk, chain::parse_hash(args[1]));
      return VeilRegistry::cluster_keys_payload(pk, sk);
    }
    case Kind::kSetGovernance: {
      VEIL_RETURN_IF_ERROR(want_args(args, 3, "QUORUM EXECUTION_DELAY_S DISPUTE_WINDOW_S"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t q, parse_u64(args[0], "quorum"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t d, parse_u64(args[1], "delay"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t w, parse_u64(args[2], "window"));
      return VeilRegistry::governance_payload(q, d, w);
    }
    case Kind::kResolveDispute: {
      VEIL_RETURN_IF_ERROR(want_args(args, 2, "DISPUTE_ID upheld|rejected"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t id, parse_u64(args[0], "dispute id"));
      if (args[1] != "upheld" && args[1] != "rejected")
        return invalid_argument("verdict must be 'upheld' or 'rejected'");
      return VeilRegistry::resolve_dispute_payload(id, args[1] == "upheld");
    }
    case Kind::kSetStakeParams: {
      VEIL_RETURN_IF_ERROR(want_args(args, 4, "MIN_STAKE_WEI UNBONDING_DELAY_S SLASH_BPS REPORTER_BPS"));
      VeilRegistry::StakeParams p;
      VEIL_ASSIGN_OR_RETURN(p.min_stake_wei, chain::U256::parse(args[0]));
      VEIL_ASSIGN_OR_RETURN(p.unbonding_delay_s, parse_u64(args[1], "unbonding delay"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t slash, parse_u64(args[2], "slash basis points"));
      VEIL_ASSIGN_OR_RETURN(std::uint64_t reporter, parse_u64(args[3], "reporter basis points"));
      if (slash > 10'000 || reporter > 10'000) return invalid_argument("basis points are at most 10000 (100 %)");
      p.slash_bps = static_cast<std::uint16_t>(slash);
      p.reporter_bps = static_cast<std::uint16_t>(reporter);
      return VeilRegistry::stake_params_payload(p);
    }
    case Kind::kSetCommittee: {
      if (args.size() < 2) return invalid_argument("expected: THRESHOLD ADDRESS=X25519_KEY_HEX...");
      VeilRegistry::Committee c;
      VEIL_ASSIGN_OR_RETURN(std::uint64_t t, parse_u64(args[0], "threshold"));
      if (t > 255) return invalid_argument("threshold must be at most 255");
      c.threshold = static_cast<std::uint8_t>(t);
      for (std::size_t i = 1; i < args.size(); ++i) {
        auto eq = args[i].find('=');
        if (eq == std::string::npos)
          return invalid_argument("committee member '" + args[i] + "' must be ADDRESS=X25519_KEY_HEX");
        VEIL_ASSIGN_OR_RETURN(chain::Address a, chain::Address::parse(args[i].substr(0, eq)));
        VEIL_ASSIGN_OR_RETURN(Hash32 k, chain::parse_hash(args[i].substr(eq + 1)));
        c.members.push_back(a);
        c.x25519_keys.push_back(k);
      }
      return VeilRegistry::committee_payload(c);
    }
  }
  return invalid_argument("unknown proposal kind");
}

// Proposes, votes yes as the proposer and, when that reaches the quorum with no delay,
// executes: a single-operator cluster changes in one command; others see the proposal id.
int propose_flow(VeilRegistry& reg, Kind kind, const Bytes& payload, bool vote_yes, bool execute) {
  auto id = reg.propose(kind, payload);
  if (!id.ok()) return fail(id.status());
  std::cerr << "proposal " << *id << " (" << chain::proposal_kind_name(kind) << ") created\n";
  if (vote_yes) {
    auto v = reg.vote(*id, true);
    if (!v.ok()) return fail(v.status());
    auto g = reg.governance();
    auto p = reg.proposal(*id);
    if (execute && g.ok() && p.ok() && p->yes_votes >= g->quorum && g->execution_delay_s == 0) {
      auto e = reg.execute(*id);
      if (!e.ok()) return fail(e.status());
      std::cerr << "proposal " << *id << " executed\n";
    } else if (g.ok() && p.ok()) {
      std::cerr << "proposal " << *id << " has " << p->yes_votes << "/" << g->quorum
                << " yes votes; others vote with 'veil gov vote " << *id << " yes'\n";
    }
  }
  std::cout << *id << "\n";
  return kExitOk;
}

Result<std::unique_ptr<ChainSession>> writer(const GlobalOptions& g, const ChainOptions& o) {
  return open_chain_session(g, o, /*need_key=*/true, /*need_contract=*/true);
}

struct GovArgs {
  ChainOptions chain;
  std::string kind;
  std::vector<std::string> values;
  std::uint64_t id = 0;
  std::string choice;
  bool no_vote = false;
};

struct AuditArgs {
  ChainOptions chain;
  std::string job;
  std::string decision_hash, inputs_root;
  std::uint32_t round = 1;
  std::vector<std::string> schedulers;
  std::uint64_t from_block = 0;
  bool from_node = false;  // expected commitments (and batched anchors) from the node's records
  std::string record_file;  // the same, from a file (`veil job status JOB -o json`)
  std::string api, token;
};

// The job's record, from its node (--from-node) or a file (--record); nothing when neither.
Result<std::optional<nlohmann::json>> audit_record(const GlobalOptions& global, const AuditArgs& a) {
  if (a.from_node) {
    VEIL_ASSIGN_OR_RETURN(auto j, job_from_node(global, a.job, a.api, a.token));
    return std::optional<nlohmann::json>(std::move(j));
  }
  if (a.record_file.empty()) return std::optional<nlohmann::json>();
  VEIL_ASSIGN_OR_RETURN(std::string text, read_file(a.record_file, kJobRecordFile));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument(a.record_file + " is not a JSON object (`veil job status JOB -o json`)");
  return std::optional<nlohmann::json>(std::move(j));
}

void print_audit(const AuditArgs& a, const nlohmann::json& report, bool have_expected) {
  if (report["deployments"].empty() && report["batched"].empty()) {
    std::cout << "job " << a.job << ": no anchored deployment found on chain\n";
  }
  for (const auto& d : report["deployments"]) {
    std::cout << "job " << a.job << "  commitment " << d["assignment_hash"].get<std::string>() << "  block "
              << d["block"] << "  status " << d["status"].get<std::string>() << "\n"
              << "  recomputed from the event: "
              << (d["commitment_consistent"].get<bool>() ? "match" : "MISMATCH") << "\n";
    if (have_expected)
      std::cout << "  expected decision/inputs/schedulers: "
                << (d["matches_expected"].get<bool>() ? "match" : "MISMATCH") << "\n";
  }
  auto yes = [](const nlohmann::json& v, const char* good, const char* bad) { return v.get<bool>() ? good : bad; };
  for (const auto& d : report["batched"]) {
    std::cout << "job " << a.job << "  commitment " << d["commitment"].get<std::string>() << "  round " << d["round"]
              << "\n  batch root " << d["batch_root"].get<std::string>() << "  leaf " << d["batch_index"] << " of "
              << d["batch_size"] << ", proof of " << d["proof_length"] << " hashes\n";
    if (have_expected)
      std::cout << "  recomputed from the job's decision/inputs/schedulers: " << yes(d["matches_expected"], "match", "MISMATCH") << "\n";
    std::cout << "  proof leads from the commitment to the root (local): " << yes(d["proof_leads_to_root"], "yes", "NO") << "\n"
              << "  root anchored on chain: "
              << (d["root_anchored"].get<bool>() ? "yes, block " + d["block"].dump() + " tx " + d["transaction"].get<std::string>() +
                                                       " (" + d["count_on_chain"].dump() + " commitments)"
                                                 : std::string("NO"))
              << "\n  verifyInclusion on chain: " << yes(d["verify_inclusion"], "true", "FALSE") << "\n";
    if (d.contains("error")) std::cout << "  error: " << d["error"].get<std::string>() << "\n";
  }
  std::cout << (report["ok"].get<bool>() ? "audit OK" : "audit FAILED") << "\n";
}

int run_audit(const GlobalOptions& global, const AuditArgs& a) {
  auto session = open_chain_session(global, a.chain, false, true);
  if (!session.ok()) return fail(session.status());
  node::AuditRequest request;
  request.job_id = hash_arg(a.job);
  request.from_block = a.from_block;
  // What the auditor expects, when given; otherwise only the chain's internal consistency.
  auto record = audit_record(global, a);
  if (!record.ok()) return fail(record.status());
  request.record = std::move(*record);
  if (!a.decision_hash.empty() || !a.inputs_root.empty() || !a.schedulers.empty()) {
    if (a.decision_hash.empty() || a.inputs_root.empty()) {
      return usage("an expected commitment needs --decision-hash and --inputs-root (and its --scheduler list)");
    }
    VeilRegistry::Commitment c;
    c.job_id = request.job_id;
    c.round = a.round;
    c.decision_hash = hash_arg(a.decision_hash);
    c.inputs_root = hash_arg(a.inputs_root);
    for (const auto& s : a.schedulers) c.schedulers.push_back(hash_arg(s));
    request.expected = c;
  }
  const bool have_expected = request.expected || request.record;
  auto report = node::audit_job(*(*session)->registry, request);
  if (!report.ok()) return fail(report.status());
  if (structured_output(global.output)) print_data(*report, global.output);
  else print_audit(a, *report, have_expected);
  return (*report)["ok"].get<bool>() ? kExitOk : kExitFailure;
}

}  // namespace

void register_governance_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  // ---- veil gov
  auto* gov = app.add_subcommand("gov", "Governance of the cluster: proposals, votes, execution");
  gov->require_subcommand(1);
  auto pa = std::make_shared<GovArgs>();
  auto* propose = gov->add_subcommand(
      "propose",
      "Create a proposal and vote yes on it (executed at once when that meets the quorum and there is no "
      "delay). KIND: "
      "add-operator ADDRESS | remove-operator ADDRESS | allow-image sha256:DIGEST | revoke-image "
      "sha256:DIGEST | set-policy "
      "POLICY_ID [PARAMS_HEX] | set-cluster-keys PK_HASH SK_HASH | set-governance QUORUM DELAY_S WINDOW_S | "
      "set-committee "
      "THRESHOLD ADDRESS=X25519_HEX... | resolve-dispute ID upheld|rejected | set-stake-params MIN_STAKE_WEI "
      "UNBONDING_DELAY_S SLASH_BPS REPORTER_BPS. Prints the proposal id.");
  add_chain_options(propose, pa->chain, true, true);
  propose->add_option("kind", pa->kind, "Proposal kind")->required();
  propose->add_option("values", pa->values, "The kind's arguments");
  propose->add_flag("--no-vote", pa->no_vote, "Only create the proposal");
  propose->callback([&global, &action, pa] {
    action = [&global, pa] {
      auto kind = chain::parse_proposal_kind(pa->kind);
      if (!kind.ok()) return usage(kind.status().message() + "; see 'veil gov propose --help'");
      auto payload = build_payload(*kind, pa->values);
      if (!payload.ok()) return usage(payload.status().with_context(pa->kind));
      auto s = writer(global, pa->chain);
      if (!s.ok()) return fail(s.status());
      return propose_flow(*(*s)->registry, *kind, *payload, !pa->no_vote, true);
    };
  });

  auto va = std::make_shared<GovArgs>();
  auto* vote = gov->add_subcommand("vote", "Vote on a proposal");
  add_chain_options(vote, va->chain, true, true);
  vote->add_option("id", va->id, "Proposal id")->required();
  vote->add_option("choice", va->choice, "yes or no")->required()->check(CLI::IsMember({"yes", "no"}));
  vote->callback([&global, &action, va] {
    action = [&global, va] {
      auto s = writer(global, va->chain);
      if (!s.ok()) return fail(s.status());
      auto r = (*s)->registry->vote(va->id, va->choice == "yes");
      if (!r.ok()) return fail(r.status());
      auto p = (*s)->registry->proposal(va->id);
      if (p.ok())
        std::cout << "proposal " << va->id << ": " << p->yes_votes << " yes, " << p->no_votes << " no\n";
      return static_cast<int>(kExitOk);
    };
  });

  auto ea = std::make_shared<GovArgs>();
  auto* exec =
      gov->add_subcommand("execute", "Execute a proposal that reached the quorum and waited its delay");
  add_chain_options(exec, ea->chain, true, true);
  exec->add_option("id", ea->id, "Proposal id")->required();
  exec->callback([&global, &action, ea] {
    action = [&global, ea] {
      auto s = writer(global, ea->chain);
      if (!s.ok()) return fail(s.status());
      auto r = (*s)->registry->execute(ea->id);
      if (!r.ok()) return fail(r.status());
      std::cout << "proposal " << ea->id << " executed in block " << r->block_number << "\n";
      return static_cast<int>(kExitOk);
    };
  });

  auto sa = std::make_shared<GovArgs>();
  auto* show = gov->add_subcommand("show", "Show a proposal");
  add_chain_options(show, sa->chain, false, true);
  show->add_option("id", sa->id, "Proposal id")->required();
  add_output_option(show, global.output);
  show->callback([&global, &action, sa] {
    action = [&global, sa] {
      auto s = open_chain_session(global, sa->chain, false, true);
      if (!s.ok()) return fail(s.status());
      auto p = (*s)->registry->proposal(sa->id);
      if (!p.ok()) return fail(p.status());
      nlohmann::json j = {{"id", p->id},
                          {"kind", chain::proposal_kind_name(p->kind)},
                          {"proposer", p->proposer.to_checksum()},
                          {"yes", p->yes_votes},
                          {"no", p->no_votes},
                          {"executed", p->executed},
                          {"created_at", p->created_at},
                          {"epoch", p->epoch},
                          {"data", to_hex_prefixed(p->data)}};
      if (structured_output(global.output)) {
        print_data(j, global.output);
      } else {
        for (auto it = j.begin(); it != j.end(); ++it) std::cout << it.key() << ": " << it.value() << "\n";
      }
      return static_cast<int>(kExitOk);
    };
  });

  // ---- veil image allow|revoke
  auto* image =
      app.add_subcommand("image", "The cluster's allowed-image list (by sha256 digest, through governance)");
  image->require_subcommand(1);
  for (const auto& [verb, kind, help] :
       {std::tuple{"allow", Kind::kAllowImage,
                   "Propose allowing an image digest (and vote yes; executes when that meets the quorum)"},
        std::tuple{"revoke", Kind::kRevokeImage,
                   "Propose revoking an image digest (and vote yes; executes when that meets the quorum)"}}) {
    auto ia = std::make_shared<GovArgs>();
    auto* cmd = image->add_subcommand(verb, help);
    add_chain_options(cmd, ia->chain, true, true);
    cmd->add_option("digest", ia->kind, "sha256:<64 hex digits>")->required();
    Kind k = kind;
    cmd->callback([&global, &action, ia, k] {
      action = [&global, ia, k] {
        auto digest = chain::parse_image_digest(ia->kind);
        if (!digest.ok()) return usage(digest.status());
        auto s = writer(global, ia->chain);
        if (!s.ok()) return fail(s.status());
        return propose_flow(*(*s)->registry, k, VeilRegistry::image_payload(*digest), true, true);
      };
    });
  }

  // ---- veil node register (the node noun may also carry other parts' verbs)
  auto* node = get_or_add_subcommand(app, "node", "Cluster nodes");
  auto na = std::make_shared<GovArgs>();
  auto* reg = node->add_subcommand("register", "Bind a node (its libp2p PeerId) to this operator on chain");
  add_chain_options(reg, na->chain, true, true);
  reg->add_option("peer_id", na->kind, "The node's libp2p PeerId (12D3Koo...), or its 0x-hash")->required();
  reg->callback([&global, &action, na] {
    action = [&global, na] {
      auto s = writer(global, na->chain);
      if (!s.ok()) return fail(s.status());
      Hash32 peer = na->kind.starts_with("0x") && na->kind.size() == 66 ? hash_arg(na->kind)
                                                                        : chain::peer_id_hash(na->kind);
      auto r = (*s)->registry->register_node(peer, (*s)->key->address());
      if (!r.ok()) return fail(explain_insufficient_stake(r.status(), *(*s)->registry, (*s)->key->address()));
      std::cout << "node " << na->kind << " (" << chain::hash_hex(peer) << ") registered to "
                << (*s)->key->address().to_checksum() << " in block " << r->block_number << "\n";
      return static_cast<int>(kExitOk);
    };
  });

  // ---- veil audit JOB
  auto aa = std::make_shared<AuditArgs>();
  auto* audit =
      app.add_subcommand("audit", "Recompute a job's deployment commitment and compare it with the chain");
  add_chain_options(audit, aa->chain, false, true);
  audit->add_option("job", aa->job, "Job id (0x + 64 hex, or text that is hashed with keccak256)")
      ->required();
  audit->add_option("--decision-hash", aa->decision_hash, "Expected decision hash");
  audit->add_option("--inputs-root", aa->inputs_root, "Expected root of the input-ciphertext hashes");
  audit->add_option("--round", aa->round, "Round of the expected decision")->capture_default_str();
  audit->add_option("--scheduler", aa->schedulers, "Expected scheduler (repeat, in order)");
  audit->add_option("--from-block", aa->from_block, "First block to search (default 0)");
  audit->add_option("--record", aa->record_file,
                    "The job's record as `veil job status JOB -o json` prints it: recompute its commitments and check "
                    "its batched anchors' inclusion proofs (instead of --from-node)")
      ->check(CLI::ExistingFile);
  audit->add_flag("--from-node", aa->from_node,
                  "Recompute the expected commitments from the coordinating node's records (its API: --api/--token)");
  audit->add_option("--api", aa->api, "With --from-node: the node's API HOST:PORT (env VEIL_API_ADDR, config api.listen)");
  audit->add_option("--token", aa->token, "With --from-node: API token (env VEIL_API_TOKEN, else <node.data_dir>/api.token)");
  add_output_option(audit, global.output);
  audit->callback([&global, &action, aa] { action = [&global, aa] { return run_audit(global, *aa); }; });
}

}  // namespace veil::cli
