// The scheduler and committee roles (scheduler_role.h, committee_role.h) through NodeContexts of
// the test's own, on the INSECURE test parameters: a scheduler evaluates a round on real
// ciphertexts, announces its decision and submits it to the coordinator; two committee members
// that saw the round and the announcement decrypt exactly the agreed choice, which combines to
// the node that fits. What makes a decision not agreed — too few schedulers, another job, other
// telemetry, another policy, an unregistered candidate, schedulers that are not the rendezvous
// choice, a round the coordinator did not send — is refused with its reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "committee_role.h"
#include "fake_node_context.h"
#include "scheduler_role.h"
#include "test_cluster_keys.h"
#include "veil/chain/evidence.h"
#include "veil/chain/keys.h"
#include "veil/chain/veil_registry.h"
#include "veil/fhe/threshold.h"
#include "veil/sched/decision.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;
namespace threshold = fhe::threshold;
using namespace std::chrono_literals;

const std::string kDecisions = "veil/test/decisions";
const std::string kCoordinator = "12D3KooWCoordinator";
const std::string kBigNode = "12D3KooWBigNode", kSmallNode = "12D3KooWSmallNode";

// Runs `ctx`'s io thread until `done` holds (or a minute passes: a bound for a failing test).
template <typename Done>
void run_until(FakeContext& ctx, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + 1min;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    ctx.io_context.run_for(10ms);
    ctx.io_context.restart();
  }
}

class DecisionRolesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = TestClusterKeys::generate().release();
    ASSERT_NE(keys_->ceremony, nullptr);
    client_ = &keys_->client;
    public_ = &keys_->public_key;
    server_ = &keys_->server_key;
    members_ = &keys_->members;
    ceremony_ = keys_->ceremony.get();
    big_ = new sched::EncryptedTelemetry(
        sched::encrypt_telemetry(sched::quantize_telemetry({8000, 16384, 100'000, 0, 2000}), *public_));
    small_ = new sched::EncryptedTelemetry(
        sched::encrypt_telemetry(sched::quantize_telemetry({500, 16384, 100'000, 0, 2000}), *public_));
  }
  static void TearDownTestSuite() {
    for (auto* p : {big_, small_}) delete p;
    delete keys_;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veil-decision-roles-" + std::to_string(::getpid()));
    spec_yaml_ = "name: web\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 2, memory: 64}\nreplicas: 1\n";
    spec_ = *sched::parse_job_spec(spec_yaml_, "test");
  }
  void TearDown() override {
    for (auto& ctx : contexts_) ctx->blocking.reset();  // finish queued FHE work while the roles exist
    committees_.clear();
    schedulers_.clear();
    contexts_.clear();
    fs::remove_all(dir_);
  }

  // A node named `self`: the cluster's public keys, and committee member `member` (1-based)'s
  // share when it is one. Its NodeContext's agreement question goes to its own scheduler role.
  FakeContext& node(const std::string& self, int member = 0) {
    fs::create_directories(dir_ / self);
    auto& ctx = *contexts_.emplace_back(std::make_unique<FakeContext>(dir_ / self));
    ctx.self_id = self;
    ctx.cluster_keys.public_key = *public_;
    ctx.cluster_keys.server_key = *server_;
    ctx.cluster_keys.committee = ceremony_->committee;
    if (member > 0) {
      ctx.cluster_keys.share = ceremony_->shares[member - 1];
      ctx.cluster_keys.member_key = (*members_)[member - 1];
    }
    ctx.registered = {kBigNode, kSmallNode, kCoordinator};
    return ctx;
  }

  SchedulerRole& scheduler_of(FakeContext& ctx, SchedulerRole::Options options = {}) {
    options.decisions_topic = kDecisions;
    auto find = [](const std::string& peer, const Hash32& hash) -> std::shared_ptr<const sched::EncryptedTelemetry> {
      for (const auto* t : {big_, small_}) {
        if (peer == (t == big_ ? kBigNode : kSmallNode) && sched::telemetry_hash(*t) == hash) {
          return std::make_shared<sched::EncryptedTelemetry>(*t);
        }
      }
      return nullptr;
    };
    auto& role = *schedulers_.emplace_back(std::make_unique<SchedulerRole>(ctx, options, find, SchedulerRole::CoordinatorHooks{}));
    ctx.agree = [&role](const std::string& coordinator, const Hash32& job, std::uint32_t round,
                        sched::DecisionRecord record, NodeContext::AgreedCallback then) {
      role.when_decision_agreed(coordinator, job, round, std::move(record), std::move(then));
    };
    return role;
  }

  // Round 1 of the job over the two nodes, scheduled by `schedulers` among `candidates`
  // (every candidate registered), coordinated by kCoordinator.
  ScheduleRequest round(std::vector<std::string> candidates, std::size_t schedulers) {
    ScheduleRequest r;
    r.job_id = sched::job_id(spec_);
    r.round = 1;
    r.coordinator = kCoordinator;
    r.spec_yaml = spec_yaml_;
    std::sort(candidates.begin(), candidates.end());
    r.candidates = candidates;
    r.schedulers = select_schedulers(r.job_id, r.round, r.candidates, schedulers);
    r.nodes = {{kBigNode, sched::telemetry_hash(*big_)}, {kSmallNode, sched::telemetry_hash(*small_)}};
    std::sort(r.nodes.begin(), r.nodes.end(), [](const auto& a, const auto& b) { return a.peer < b.peer; });
    r.replicas = 1;
    r.created_ms = 1'000;
    return r;
  }

  // A decision record for `r` as a scheduler would make it, without evaluating (the checks
  // under test look at its job, inputs, policy and hash only).
  sched::DecisionRecord record_for(const ScheduleRequest& r) const {
    sched::DecisionRecord record;
    record.job = r.job_id;
    for (const auto& n : r.nodes) record.inputs.push_back(n.telemetry_hash);
    record.policy = sched::policy_descriptor(spec_.policy, r.replicas, round_robin_offset(r.job_id, r.nodes.size()));
    return record;
  }

  // The EIP-712 domain of a registry (anvil's chain id and first contract address).
  static chain::RegistryDomain test_domain() {
    return {31337, chain::Address::parse("0x5FbDB2315678afecb367f032d93F642f64180aa3").value()};
  }

  static Bytes announcement(const ScheduleRequest& r, const std::string& scheduler, const sched::DecisionRecord& record,
                            const std::string& error = "") {
    return encode(
        DecisionAnnouncement{r.job_id, r.round, scheduler, sched::decision_hash(record), error, {}, round_inputs_root(r)});
  }

  static inline TestClusterKeys* keys_ = nullptr;
  static inline fhe::ClientKey* client_ = nullptr;
  static inline fhe::CompactPublicKey* public_ = nullptr;
  static inline fhe::ServerKey* server_ = nullptr;
  static inline std::vector<threshold::MemberSecretKey>* members_ = nullptr;
  static inline threshold::Ceremony* ceremony_ = nullptr;
  static inline sched::EncryptedTelemetry *big_ = nullptr, *small_ = nullptr;
  fs::path dir_;
  std::string spec_yaml_;
  sched::JobSpec spec_;
  std::vector<std::unique_ptr<FakeContext>> contexts_;
  std::vector<std::unique_ptr<SchedulerRole>> schedulers_;
  std::vector<std::unique_ptr<CommitteeRole>> committees_;
};

// A round of another release's decision format gets an error announcement naming both formats,
// not a decision that could never agree.
TEST_F(DecisionRolesTest, ASchedulerRefusesARoundOfAnotherDecisionFormat) {
  const std::string self = "12D3KooWScheduler";
  FakeContext& s = node(self);
  s.registered.insert(self);
  SchedulerRole& scheduler = scheduler_of(s);
  ScheduleRequest r = round({self}, 1);
  r.decision_format = sched::kDecisionFormat + 1;
  scheduler.on_round(kCoordinator, encode(r));
  run_until(s, [&] { return !s.published.empty(); });
  ASSERT_EQ(s.published.size(), 1u);
  auto announced = decode_decision_announcement(s.published[0].second);
  ASSERT_TRUE(announced.ok());
  EXPECT_EQ(announced->error, decision_format_mismatch(sched::kDecisionFormat + 1));
  EXPECT_NE(announced->error.find("decision format " + std::to_string(sched::kDecisionFormat + 1)), std::string::npos);
  EXPECT_EQ(announced->decision_hash, Hash32{});
  EXPECT_EQ(announced->inputs_root, round_inputs_root(r));
  EXPECT_TRUE(s.sent.empty()) << "no decision submitted";
  EXPECT_EQ(s.registry.histogram("veil_sched_evaluation_seconds", "").with({}).snapshot().cumulative.back(), 0u);
}

TEST_F(DecisionRolesTest, ASchedulerEvaluatesItsRoundAndTheCommitteeDecryptsOnlyTheAgreedChoice) {
  const std::string self = "12D3KooWScheduler";
  FakeContext& s = node(self);
  s.registered.insert(self);
  SchedulerRole& scheduler = scheduler_of(s);
  const ScheduleRequest r = round({self}, 1);
  ASSERT_EQ(r.schedulers, std::vector<std::string>{self});

  scheduler.on_round(kCoordinator, encode(r));
  run_until(s, [&] { return !s.sent.empty(); });
  ASSERT_EQ(s.sent.size(), 1u) << "no decision submitted";
  EXPECT_EQ(s.sent[0].peer, kCoordinator);
  EXPECT_EQ(s.sent[0].protocol, kDecisionProtocol);
  auto submission = decode_decision_submission(s.sent[0].message);
  ASSERT_TRUE(submission.ok()) << submission.status().to_string();
  ASSERT_EQ(s.published.size(), 1u);
  EXPECT_EQ(s.published[0].first, kDecisions);
  auto announced = decode_decision_announcement(s.published[0].second);
  ASSERT_TRUE(announced.ok());
  EXPECT_EQ(announced->scheduler, self);
  EXPECT_EQ(announced->error, "");
  EXPECT_EQ(announced->decision_hash, sched::decision_hash(submission->record));
  EXPECT_EQ(s.registry.histogram("veil_sched_evaluation_seconds", "").with({}).snapshot().cumulative.back(), 1u);
  // A second copy of the round (gossip duplicates) is not evaluated again.
  scheduler.on_round(kCoordinator, encode(r));
  s.io_context.run_for(50ms);
  EXPECT_EQ(s.published.size(), 1u);

  // Two committee members that saw the round and the announcement on gossip.
  std::vector<std::vector<threshold::DecryptionShare>> shares;
  for (int member : {1, 3}) {
    FakeContext& m = node("12D3KooWMember" + std::to_string(member), member);
    m.registered.insert(self);
    SchedulerRole& seen = scheduler_of(m);
    seen.on_round(kCoordinator, encode(r));
    seen.on_announcement(self, s.published[0].second);
    auto& committee = *committees_.emplace_back(std::make_unique<CommitteeRole>(m));
    std::optional<DecryptResponse> response;
    committee.handle(kCoordinator, encode(DecryptRequest{r.job_id, r.round, submission->record}),
                     [&](Bytes reply) { m.post([&, reply] { response = *decode_decrypt_response(reply); }); });
    run_until(m, [&] { return response.has_value(); });
    ASSERT_TRUE(response.has_value());
    ASSERT_EQ(response->error, "");
    ASSERT_EQ(response->shares.size(), 2u) << "one choice: its index and its found flag, nothing else";
    shares.resize(response->shares.size());
    for (std::size_t v = 0; v < response->shares.size(); ++v) {
      auto share = threshold::DecryptionShare::deserialize(response->shares[v]);
      ASSERT_TRUE(share.ok());
      shares[v].push_back(*share);
    }
  }
  auto values = decision_values(submission->record, r.replicas, public_->params());
  ASSERT_TRUE(values.ok());
  std::vector<std::uint64_t> plain;
  for (std::size_t v = 0; v < values->size(); ++v) {
    auto combined = threshold::combine(ceremony_->committee, decision_request(r.job_id, r.round, v, (*values)[v]), shares[v]);
    ASSERT_TRUE(combined.ok()) << combined.status().to_string();
    plain.push_back(combined->value);
  }
  const std::size_t big_index = r.nodes[0].peer == kBigNode ? 0 : 1;
  EXPECT_EQ(plain[0], big_index) << "only the big node fits 2 CPUs";
  EXPECT_EQ(plain[1], 1u) << "found";
}

TEST_F(DecisionRolesTest, ACommitteeMemberRefusesWhatIsNotAgreed) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole::Options quick;
  quick.agreement_wait = 300ms;
  SchedulerRole& seen = scheduler_of(m, quick);
  CommitteeRole committee(m);
  auto ask = [&](const std::string& from, Bytes message) {
    std::optional<DecryptResponse> response;
    committee.handle(from, std::move(message), [&](Bytes reply) { m.post([&, reply] { response = *decode_decrypt_response(reply); }); });
    run_until(m, [&] { return response.has_value(); });
    return response.value_or(DecryptResponse{});
  };
  const std::vector<std::string> three = {kBigNode, kSmallNode, kCoordinator};
  const ScheduleRequest r = round(three, 3);
  const auto record = record_for(r);
  const Bytes request = encode(DecryptRequest{r.job_id, r.round, record});

  EXPECT_EQ(ask(kCoordinator, {0x01, 0x02}).error.empty(), false) << "malformed";
  EXPECT_EQ(ask(kCoordinator, request).error, "this node has not seen the round");
  seen.on_round(kCoordinator, encode(r));
  seen.on_announcement(r.schedulers[0], announcement(r, r.schedulers[0], record));
  EXPECT_EQ(ask(kCoordinator, request).error, "1 of the round's 3 schedulers announced this decision; 2 must agree");
  EXPECT_EQ(ask(kSmallNode, request).error, kSmallNode + " is not the coordinator of this round");
  EXPECT_EQ(m.registry.counter("veil_committee_refusals_total", "").with({}).value(), 3.0);

  FakeContext& outsider = node("12D3KooWNotAMember");
  CommitteeRole no_share(outsider);
  std::optional<DecryptResponse> response;
  no_share.handle(kCoordinator, request, [&](Bytes reply) { response = *decode_decrypt_response(reply); });
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->error, "this node holds no key share");
}

TEST_F(DecisionRolesTest, AnAgreedDecisionNeedsAQuorumOfTheRightSchedulersForASoundRound) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole& seen = scheduler_of(m);
  const std::vector<std::string> three = {kBigNode, kSmallNode, kCoordinator};
  const ScheduleRequest r = round(three, 3);
  const auto record = record_for(r);
  seen.on_round(kCoordinator, encode(r));
  auto check = [&](ScheduleRequest req, const sched::DecisionRecord& rec) { return seen.check_agreed_decision(req, rec); };

  // An announcement counts only from the scheduler it names, and only without an error.
  seen.on_announcement(kCoordinator, announcement(r, r.schedulers[0], record));  // relayed: refused
  seen.on_announcement(r.schedulers[1], announcement(r, r.schedulers[1], record, "no telemetry"));
  EXPECT_EQ(check(r, record).status().code(), StatusCode::kFailedPrecondition);
  seen.on_announcement(r.schedulers[0], announcement(r, r.schedulers[0], record));
  EXPECT_EQ(check(r, record).status().message(), "1 of the round's 3 schedulers announced this decision; 2 must agree");
  seen.on_announcement(r.schedulers[2], announcement(r, r.schedulers[2], record));
  auto agreed = check(r, record);
  ASSERT_TRUE(agreed.ok()) << agreed.status().to_string();
  EXPECT_EQ(*agreed, hash_hex(sched::decision_hash(record)));
  EXPECT_EQ(seen.announced(r.job_id, r.round).size(), 3u);

  auto other_job = record;
  other_job.job[0] ^= 1;
  EXPECT_EQ(check(r, other_job).status().message(), "the decision is for another job");
  auto other_input = record;
  other_input.inputs[1][0] ^= 1;
  EXPECT_EQ(check(r, other_input).status().code(), StatusCode::kInvalidArgument);
  auto other_policy = record;
  other_policy.policy += "x";
  EXPECT_EQ(check(r, other_policy).status().code(), StatusCode::kInvalidArgument);

  m.allowed_policies = {"some-other-policy"};
  EXPECT_EQ(check(r, record).status().code(), StatusCode::kPermissionDenied);
  m.allowed_policies.clear();
  m.registered.erase(kSmallNode);
  EXPECT_EQ(check(r, record).status().message(), kSmallNode + " is not a registered node");
  m.registered.insert(kSmallNode);
  auto reordered = r;
  std::swap(reordered.schedulers[0], reordered.schedulers[1]);
  EXPECT_EQ(check(reordered, record).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(DecisionRolesTest, AnnouncementsOfRoundsWhoseRequestNeverArrivesAreForgottenOldestFirst) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole& seen = scheduler_of(m);
  const ScheduleRequest r = round({kBigNode, kSmallNode, kCoordinator}, 3);
  const auto record = record_for(r);
  seen.on_round(kCoordinator, encode(r));
  seen.on_announcement(r.schedulers[0], announcement(r, r.schedulers[0], record));
  // The request of round 2 arrives after its announcement; rounds 3, 4, ... never arrive here.
  ScheduleRequest late = r;
  late.round = 2;
  seen.on_announcement(late.schedulers[0], announcement(late, late.schedulers[0], record));
  seen.on_round(kCoordinator, encode(late));
  ScheduleRequest unseen = r;
  for (std::uint32_t k = 0; k < SchedulerRole::kRoundsRemembered; ++k) {
    unseen.round = 3 + k;
    seen.on_announcement(unseen.schedulers[0], announcement(unseen, unseen.schedulers[0], record));
  }
  EXPECT_TRUE(seen.round_seen(r.job_id, 3));
  unseen.round = 3 + SchedulerRole::kRoundsRemembered;  // one more unseen round than remembered
  seen.on_announcement(unseen.schedulers[0], announcement(unseen, unseen.schedulers[0], record));
  EXPECT_FALSE(seen.round_seen(r.job_id, 3)) << "the oldest unseen round is forgotten";
  EXPECT_TRUE(seen.announced(r.job_id, 3).empty());
  EXPECT_EQ(seen.announced(r.job_id, 4).size(), 1u);
  EXPECT_EQ(seen.announced(r.job_id, unseen.round).size(), 1u);
  // Rounds whose request arrived stay, whenever their announcements came.
  EXPECT_EQ(seen.announced(r.job_id, r.round).size(), 1u);
  EXPECT_EQ(seen.announced(r.job_id, late.round).size(), 1u);
}

TEST_F(DecisionRolesTest, TheAgreementCheckWaitsForGossipAndASchedulerWithoutTelemetrySaysSo) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole::Options quick;
  quick.agreement_wait = 5s;
  quick.telemetry_wait = 300ms;
  SchedulerRole& seen = scheduler_of(m, quick);
  const std::vector<std::string> three = {kBigNode, kSmallNode, kCoordinator};
  const ScheduleRequest r = round(three, 3);
  const auto record = record_for(r);

  std::optional<Result<std::string>> verdict;
  seen.when_decision_agreed(kCoordinator, r.job_id, r.round, record,
                            [&](const Result<std::string>& agreed, const ScheduleRequest* round) {
                              verdict = agreed;
                              if (agreed.ok()) {
                                EXPECT_EQ(round->job_id, r.job_id);
                              }
                            });
  m.io_context.run_for(100ms);
  m.io_context.restart();
  EXPECT_FALSE(verdict.has_value()) << "judged before gossip could bring the round";
  seen.on_round(kCoordinator, encode(r));
  for (std::size_t i : {0u, 1u}) seen.on_announcement(r.schedulers[i], announcement(r, r.schedulers[i], record));
  run_until(m, [&] { return verdict.has_value(); });
  ASSERT_TRUE(verdict.has_value());
  EXPECT_TRUE(verdict->ok()) << verdict->status().to_string();

  // A round sent by someone other than the coordinator it names is not kept.
  auto forged = r;
  forged.round = 2;
  forged.schedulers = select_schedulers(forged.job_id, forged.round, forged.candidates, 3);
  seen.on_round(kSmallNode, encode(forged));
  EXPECT_EQ(seen.check_agreed_decision(forged, record).status().code(), StatusCode::kFailedPrecondition);

  // This node is a scheduler of a round naming telemetry it never receives: it announces why,
  // signed with its operator key.
  FakeContext& s = node(kBigNode);
  s.domain = test_domain();
  s.operator_key.emplace(chain::PrivateKey::generate());
  SchedulerRole lonely(s, [&] {
    SchedulerRole::Options o;
    o.decisions_topic = kDecisions;
    o.telemetry_wait = 300ms;
    return o;
  }(), [](const std::string&, const Hash32&) { return nullptr; }, {});
  auto mine = round(three, 3);
  mine.round = 3;
  mine.schedulers = {kBigNode};
  lonely.on_round(kCoordinator, encode(mine));
  run_until(s, [&] { return !s.published.empty(); });
  ASSERT_EQ(s.published.size(), 1u);
  auto a = decode_decision_announcement(s.published[0].second);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->error, "no telemetry record " + mine.nodes[0].peer + " was named with");
  EXPECT_TRUE(s.sent.empty()) << "nothing is submitted for a round it could not evaluate";
  auto signature = chain::parse_signature_bytes(a->signature);
  ASSERT_TRUE(signature.ok()) << signature.status().to_string();
  auto signer = chain::recover_address(chain::announcement_digest(test_domain(), announcement_content(*a)), *signature);
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(*signer, s.operator_key->address());
}

TEST_F(DecisionRolesTest, TwoConflictingSignedAnnouncementsOfASchedulerAreEvidenceAgainstItsOperator) {
  FakeContext& m = node("12D3KooWMember1", 1);
  m.domain = test_domain();
  SchedulerRole& seen = scheduler_of(m);
  const ScheduleRequest r = round({kBigNode, kSmallNode, kCoordinator}, 3);
  const auto record = record_for(r);
  auto tampered = record;
  tampered.outputs.push_back(0x01);
  const Hash32 honest = sched::decision_hash(record), lie = sched::decision_hash(tampered);
  seen.on_round(kCoordinator, encode(r));
  std::vector<chain::PrivateKey> keys;
  for (const auto& scheduler : r.schedulers) {
    keys.push_back(chain::PrivateKey::generate());
    m.operators.emplace(scheduler, keys.back().address());
  }
  auto signed_by = [&](std::size_t i, const chain::PrivateKey& key, const Hash32& hash) {
    DecisionAnnouncement a{r.job_id, r.round, r.schedulers[i], hash, "", {}, round_inputs_root(r)};
    a.signature = chain::signature_bytes(key.sign(chain::announcement_digest(test_domain(), announcement_content(a))));
    return a;
  };
  const auto& announced = [&]() -> const std::map<std::string, DecisionAnnouncement>& { return seen.announced(r.job_id, r.round); };

  // Unsigned, signed by another operator, signed for another registry, or from a node the chain
  // does not list (unregistered, or its operator unstaked): not counted.
  seen.on_announcement(r.schedulers[0], encode(DecisionAnnouncement{r.job_id, r.round, r.schedulers[0], honest, "", {}}));
  seen.on_announcement(r.schedulers[0], encode(signed_by(0, keys[1], honest)));
  auto elsewhere = signed_by(0, keys[0], honest);
  elsewhere.signature = chain::signature_bytes(keys[0].sign(chain::announcement_digest(
      chain::RegistryDomain{test_domain().chain_id + 1, test_domain().contract}, announcement_content(elsewhere))));
  seen.on_announcement(r.schedulers[0], encode(elsewhere));
  m.operators.erase(r.schedulers[0]);
  seen.on_announcement(r.schedulers[0], encode(signed_by(0, keys[0], honest)));
  m.operators.emplace(r.schedulers[0], keys[0].address());
  // Signed, but computed from other inputs than the round's: not a vote in this round.
  DecisionAnnouncement other_inputs{r.job_id, r.round, r.schedulers[0], honest, "", {}, inputs_root(sched::kDecisionFormat, {})};
  other_inputs.signature =
      chain::signature_bytes(keys[0].sign(chain::announcement_digest(test_domain(), announcement_content(other_inputs))));
  seen.on_announcement(r.schedulers[0], encode(other_inputs));
  EXPECT_TRUE(announced().empty());

  // Two honest schedulers agree; the third announces the same decision, then another one.
  seen.on_announcement(r.schedulers[0], encode(signed_by(0, keys[0], honest)));
  seen.on_announcement(r.schedulers[1], encode(signed_by(1, keys[1], honest)));
  seen.on_announcement(r.schedulers[2], encode(signed_by(2, keys[2], honest)));
  EXPECT_EQ(announced().size(), 3u);
  EXPECT_TRUE(m.equivocations.empty());
  seen.on_announcement(r.schedulers[2], encode(signed_by(2, keys[2], lie)));
  ASSERT_EQ(m.equivocations.size(), 1u);
  const auto& reported = m.equivocations[0];
  EXPECT_EQ(reported.scheduler, r.schedulers[2]);
  EXPECT_EQ(reported.signer, keys[2].address());
  const chain::Evidence& e = reported.evidence;
  EXPECT_EQ(e.job_id, r.job_id);
  EXPECT_EQ(e.round, r.round);
  EXPECT_EQ(e.peer_id, chain::peer_id_hash(r.schedulers[2]));
  EXPECT_EQ(e.decision_a, honest);
  EXPECT_EQ(e.decision_b, lie);
  auto signer = e.signer(test_domain());
  ASSERT_TRUE(signer.ok()) << signer.status().to_string();
  EXPECT_EQ(*signer, keys[2].address());
  // What `veil dispute submit --evidence FILE` reads proves the same.
  auto parsed = chain::Evidence::from_json(e.to_json());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->signer(test_domain()).value(), keys[2].address());

  // The liar's vote no longer counts, and no later announcement of its revives it or is
  // reported again; the honest quorum still agrees.
  EXPECT_TRUE(announced().at(r.schedulers[2]).error.starts_with(SchedulerRole::kEquivocated));
  seen.on_announcement(r.schedulers[2], encode(signed_by(2, keys[2], honest)));
  EXPECT_TRUE(announced().at(r.schedulers[2]).error.starts_with(SchedulerRole::kEquivocated));
  EXPECT_EQ(m.equivocations.size(), 1u);
  auto agreed = seen.check_agreed_decision(r, record);
  ASSERT_TRUE(agreed.ok()) << agreed.status().to_string();

  // What is not an equivocation: the same decision twice, an error, another round, unsigned.
  const auto a = signed_by(0, keys[0], honest);
  EXPECT_FALSE(equivocation_evidence(a, a).has_value());
  auto with_error = signed_by(0, keys[0], lie);
  with_error.error = "no telemetry";
  EXPECT_FALSE(equivocation_evidence(a, with_error).has_value());
  auto other_round = signed_by(0, keys[0], lie);
  other_round.round += 1;
  EXPECT_FALSE(equivocation_evidence(a, other_round).has_value());
  auto unsigned_lie = signed_by(0, keys[0], lie);
  unsigned_lie.signature.clear();
  EXPECT_FALSE(equivocation_evidence(a, unsigned_lie).has_value());
  // Two different signers make evidence that does not check (signer() refuses it).
  auto two_signers = equivocation_evidence(a, signed_by(0, keys[1], lie));
  ASSERT_TRUE(two_signers.has_value());
  EXPECT_FALSE(two_signers->signer(test_domain()).ok());
}

// The coordinator, once a round's decision is anchored, turns every signed announcement that
// names another decision over the same inputs into contradiction evidence; nothing else is.
TEST_F(DecisionRolesTest, ASignedDecisionThatContradictsTheAnchoredOneIsEvidence) {
  const ScheduleRequest r = round({kBigNode, kSmallNode, kCoordinator}, 3);
  const auto record = record_for(r);
  auto tampered = record;
  tampered.outputs.push_back(0x01);
  const Hash32 honest = sched::decision_hash(record), lie = sched::decision_hash(tampered);
  std::vector<chain::PrivateKey> keys;
  std::map<std::string, DecisionAnnouncement> announced;
  auto announce = [&](const std::string& scheduler, const Hash32& hash, const Hash32& inputs, std::string error = "") {
    keys.push_back(chain::PrivateKey::generate());
    DecisionAnnouncement a{r.job_id, r.round, scheduler, hash, std::move(error), {}, inputs};
    a.signature = chain::signature_bytes(keys.back().sign(chain::announcement_digest(test_domain(), announcement_content(a))));
    announced[scheduler] = a;
  };
  announce(r.schedulers[0], honest, round_inputs_root(r));
  announce(r.schedulers[1], honest, round_inputs_root(r));
  announce(r.schedulers[2], lie, round_inputs_root(r));
  announce("12D3KooWCouldNotEvaluate", Hash32{}, round_inputs_root(r), "no telemetry record");
  announce("12D3KooWOtherRequest", lie, inputs_root(sched::kDecisionFormat, {}));  // evaluated other inputs: no lie
  std::vector<Hash32> same_hashes;
  for (const auto& n : r.nodes) same_hashes.push_back(n.telemetry_hash);
  announce("12D3KooWOlderRelease", lie, inputs_root(1, same_hashes));  // the same inputs in another format: no lie
  announce("12D3KooWUnsigned", lie, round_inputs_root(r));
  announced["12D3KooWUnsigned"].signature.clear();

  chain::VeilRegistry::Commitment agreed;
  agreed.job_id = r.job_id;
  agreed.round = r.round;
  agreed.decision_hash = honest;
  agreed.inputs_root = round_inputs_root(r);
  agreed.schedulers = {chain::peer_id_hash(r.schedulers[0]), chain::peer_id_hash(r.schedulers[1])};
  AnchorInfo anchor;
  anchor.round = r.round;
  anchor.phase = AnchorPhase::kAnchored;
  auto found = contradiction_evidence(agreed, anchor, announced);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, r.schedulers[2]);
  const chain::Contradiction& c = found[0].second;
  EXPECT_EQ(c.agreed_decision, honest);
  EXPECT_EQ(c.announced_decision, lie);
  EXPECT_EQ(c.schedulers, agreed.schedulers);
  EXPECT_EQ(c.batch_root, Hash32{}) << "anchored alone";
  EXPECT_EQ(c.signer(test_domain()).value(), keys[2].address());

  // Anchored in a batch: the evidence carries the root and the proof the anchor recorded.
  anchor.batch_root = hash_hex(lie);
  anchor.proof = {hash_hex(honest)};
  found = contradiction_evidence(agreed, anchor, announced);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].second.batch_root, lie);
  EXPECT_EQ(found[0].second.proof, std::vector<Hash32>{honest});
  anchor.proof = {"not a hash"};
  EXPECT_TRUE(contradiction_evidence(agreed, anchor, announced).empty()) << "a malformed record proves nothing";
}

}  // namespace
}  // namespace veil::node

namespace veil::node {
namespace {

TEST_F(DecisionRolesTest, ASampledRoundMustUseTheRendezvousSampleOfItsPool) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole& seen = scheduler_of(m);
  std::vector<std::string> pool;
  for (int i = 0; i < 6; ++i) pool.push_back("12D3KooWPool" + std::to_string(i));
  m.registered.insert(pool.begin(), pool.end());
  ScheduleRequest r = round({kBigNode, kSmallNode, kCoordinator}, 3);
  r.sample_pool = pool;
  r.sample_size = 3;
  r.replicas = 1;
  const auto sample = sched::sample_candidates(r.job_id, r.round, pool, 3);
  r.nodes.clear();
  for (const auto& peer : sample) r.nodes.push_back({peer, Hash32{}});
  EXPECT_TRUE(seen.check_public_filter(r, spec_).ok());

  // Another node of the pool in place of a sampled one: the coordinator chose, not the hash.
  auto swapped = r;
  for (const auto& peer : pool) {
    if (std::find(sample.begin(), sample.end(), peer) == sample.end()) {
      swapped.nodes[0].peer = peer;
      break;
    }
  }
  EXPECT_EQ(seen.check_public_filter(swapped, spec_).message(), "the round's inputs are not the rendezvous sample of its pool");
  // Fewer candidates than the floor every count gives, and a pool with an unregistered node.
  auto tiny = r;
  tiny.replicas = 2;  // the floor is 2 x replicas = 4 > 3
  EXPECT_EQ(seen.check_public_filter(tiny, spec_).code(), StatusCode::kPermissionDenied);
  m.registered.erase(pool[5]);
  EXPECT_EQ(seen.check_public_filter(r, spec_).message(), pool[5] + " in the round's sample pool is not a registered node");
}

TEST_F(DecisionRolesTest, ARoundWithANodeTheJobsConstraintsExcludeIsRefused) {
  FakeContext& m = node("12D3KooWMember1", 1);
  SchedulerRole::Options options;
  options.find_attributes = [](const std::string& peer, const Hash32&) -> std::optional<sched::NodeAttributes> {
    if (peer == kBigNode) return sched::NodeAttributes{{{"region", "eu"}}, {"data"}};
    if (peer == kSmallNode) return sched::NodeAttributes{{{"region", "us"}}, {}};
    return std::nullopt;
  };
  SchedulerRole& seen = scheduler_of(m, options);
  const ScheduleRequest r = round({kBigNode, kSmallNode, kCoordinator}, 3);
  auto spec = spec_;
  EXPECT_TRUE(seen.check_public_filter(r, spec).ok());
  spec.constraints = {{"region", sched::Constraint::Operator::kEqual, {"eu"}}};
  EXPECT_EQ(seen.check_public_filter(r, spec).message(),
            "the round includes " + kSmallNode + ", which the job excludes: constraint region = eu: the node's region is 'us'");
  auto only_big = r;
  std::erase_if(only_big.nodes, [](const TelemetryRef& n) { return n.peer != kBigNode; });
  EXPECT_TRUE(seen.check_public_filter(only_big, spec).ok());
  spec.constraints.clear();
  spec.volumes = {{"data", "/data", true}};
  EXPECT_EQ(seen.check_public_filter(r, spec).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(seen.check_public_filter(only_big, spec).ok());
}

}  // namespace
}  // namespace veil::node
