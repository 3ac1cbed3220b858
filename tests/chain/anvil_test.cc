// The chain client against a real anvil started by the test: the VeilRegistry lifecycle
// (deploy, three operators' nodes, a governance round, anchoring read back from its event, a
// dispute opened and resolved), reverts decoded by name, RPC failures, nonce-manager
// consistency, confirmation depth and reorg-safe log reading.
#include "anvil.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "veil/chain/keccak.h"
#include "veil/chain/log_cursor.h"
#include "veil/chain/merkle_batch.h"
#include "veil/chain/veil_registry.h"

namespace veil::chain {
namespace {

using testing::Anvil;
using testing::kAnvilKeys;

Hash32 h(std::string_view s) { return keccak256(as_bytes(s)); }

class AnvilTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No assertion here: gtest reports tests after a failed SetUpTestSuite as skipped, which
    // would hide a missing anvil. SetUp() fails each test instead.
    anvil_ = Anvil::start(start_error_).release();
  }
  static void TearDownTestSuite() {
    delete anvil_;
    anvil_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(anvil_, nullptr) << start_error_;
    auto c = EthClient::connect(anvil_->url());
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<EthClient>(std::move(c).value());
    for (const char* k : kAnvilKeys) keys_.push_back(std::move(PrivateKey::from_hex(k)).value());
    for (auto& k : keys_) {
      auto t = Transactor::create(*client_, k);
      ASSERT_TRUE(t.ok()) << t.status().message();
      senders_.push_back(std::move(t).value());
    }
  }

  VeilRegistry deploy(std::uint64_t quorum = 2) {
    VeilRegistry::DeployParams p;
    p.cluster_name = "anvil-cluster";
    p.operators = {keys_[0].address(), keys_[1].address(), keys_[2].address()};
    p.quorum = quorum;
    p.execution_delay_s = 0;
    p.dispute_window_s = 3600;
    auto reg = VeilRegistry::deploy(*senders_[0], p);
    EXPECT_TRUE(reg.ok()) << reg.status().message();
    return std::move(reg).value();
  }

  // The same registry as seen (and signed for) by operator i.
  VeilRegistry as(const VeilRegistry& reg, int i) {
    return VeilRegistry(*client_, reg.address(), senders_[i].get());
  }

  static Anvil* anvil_;
  static std::string start_error_;
  std::unique_ptr<EthClient> client_;
  std::vector<PrivateKey> keys_;
  std::vector<std::unique_ptr<Transactor>> senders_;
};

Anvil* AnvilTest::anvil_ = nullptr;
std::string AnvilTest::start_error_;

TEST_F(AnvilTest, RegistryLifecycle) {
  VeilRegistry reg = deploy();
  EXPECT_EQ(*reg.cluster_name(), "anvil-cluster");
  EXPECT_EQ(reg.operators()->size(), 3u);

  // Three nodes registered by three operators.
  for (int i = 0; i < 3; ++i) {
    auto r = as(reg, i).register_node(h("peer-" + std::to_string(i)), keys_[i].address());
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  auto nodes = reg.nodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto n = reg.node(h("peer-" + std::to_string(i)));
    EXPECT_EQ(n->operator_address, keys_[i].address());
    EXPECT_TRUE(n->active);
  }

  // A governance round that allows an image.
  Hash32 image = *parse_image_digest("sha256:" + to_hex(h("busybox:1.36")));
  auto id = as(reg, 0).propose(VeilRegistry::ProposalKind::kAllowImage, VeilRegistry::image_payload(image));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_FALSE(*reg.is_image_allowed(image));
  ASSERT_TRUE(as(reg, 0).vote(*id, true).ok());
  auto early = as(reg, 2).execute(*id);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.status().message().find("QuorumNotReached"), std::string::npos) << early.status().message();
  ASSERT_TRUE(as(reg, 1).vote(*id, true).ok());
  auto executed = as(reg, 2).execute(*id);
  ASSERT_TRUE(executed.ok()) << executed.status().message();
  EXPECT_TRUE(*reg.is_image_allowed(image));
  EXPECT_EQ(*reg.allowed_images(), std::vector<Hash32>{image});
  auto p = reg.proposal(*id);
  EXPECT_TRUE(p->executed);
  EXPECT_EQ(p->yes_votes, 2u);
  EXPECT_EQ(p->kind, VeilRegistry::ProposalKind::kAllowImage);

  // A policy change through governance, read back through the seed's getClusterPolicy().
  Bytes params = {1, 2, 3};
  auto pid = as(reg, 1).propose(VeilRegistry::ProposalKind::kSetPolicy,
                                VeilRegistry::policy_payload(h("binpack"), params));
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(as(reg, 1).vote(*pid, true).ok());
  ASSERT_TRUE(as(reg, 2).vote(*pid, true).ok());
  ASSERT_TRUE(as(reg, 0).execute(*pid).ok());
  EXPECT_EQ(*reg.cluster_policy(), VeilRegistry::policy_payload(h("binpack"), params));

  // An anchored deployment, read back from its event.
  std::uint64_t from = *client_->block_number();
  VeilRegistry::Commitment c{
      h("job-42"), 3, h("decision"), h("inputs-root"), {h("sched-a"), h("sched-b"), h("sched-c")}};
  auto anchored = as(reg, 1).anchor_commitment(c);
  ASSERT_TRUE(anchored.ok()) << anchored.status().message();
  EXPECT_EQ(*anchored, VeilRegistry::commitment_hash(c));
  EXPECT_EQ(*reg.commitment_on_chain(c), *anchored);
  auto events = reg.anchored_events(from, 0, h("job-42"));
  ASSERT_TRUE(events.ok()) << events.status().message();
  ASSERT_EQ(events->size(), 1u);
  const auto& ev = (*events)[0];
  EXPECT_EQ(ev.assignment_hash, *anchored);
  EXPECT_EQ(ev.anchored_by, keys_[1].address());
  EXPECT_EQ(ev.commitment.round, 3u);
  EXPECT_EQ(ev.commitment.decision_hash, c.decision_hash);
  EXPECT_EQ(ev.commitment.inputs_root, c.inputs_root);
  EXPECT_EQ(ev.commitment.schedulers, c.schedulers);
  EXPECT_EQ(VeilRegistry::commitment_hash(ev.commitment), ev.assignment_hash);
  EXPECT_TRUE(reg.anchored_events(from, 0, h("other-job"))->empty());
  EXPECT_EQ(reg.deployment(*anchored)->status, VeilRegistry::DeploymentStatus::kAnchored);

  // A dispute opened by another operator and upheld by governance.
  auto dispute = as(reg, 2).open_dispute(*anchored, h("evidence"));
  ASSERT_TRUE(dispute.ok()) << dispute.status().message();
  EXPECT_EQ(reg.deployment(*anchored)->status, VeilRegistry::DeploymentStatus::kDisputed);
  auto rid = as(reg, 2).propose(VeilRegistry::ProposalKind::kResolveDispute,
                                VeilRegistry::resolve_dispute_payload(*dispute, true));
  ASSERT_TRUE(rid.ok()) << rid.status().message();
  ASSERT_TRUE(as(reg, 0).vote(*rid, true).ok());
  ASSERT_TRUE(as(reg, 2).vote(*rid, true).ok());
  ASSERT_TRUE(as(reg, 1).execute(*rid).ok());
  auto d = reg.dispute(*dispute);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->resolved);
  EXPECT_TRUE(d->upheld);
  EXPECT_EQ(d->challenger, keys_[2].address());
  EXPECT_EQ(reg.deployment(*anchored)->status, VeilRegistry::DeploymentStatus::kUpheld);
}

// Every ProposalKind of the C++ mirror has the effect the contract gives that enum value.
TEST_F(AnvilTest, EveryProposalKindMatchesTheContractEnum) {
  VeilRegistry reg = deploy(/*quorum=*/1);
  VeilRegistry op = as(reg, 0);
  auto pass = [&](VeilRegistry::ProposalKind kind, const Bytes& payload) {
    auto id = op.propose(kind, payload);
    ASSERT_TRUE(id.ok()) << proposal_kind_name(kind) << ": " << id.status().message();
    ASSERT_TRUE(op.vote(*id, true).ok());
    auto r = op.execute(*id);
    ASSERT_TRUE(r.ok()) << proposal_kind_name(kind) << ": " << r.status().message();
    EXPECT_EQ(reg.proposal(*id)->kind, kind);
  };
  Address extra = keys_[3].address();
  pass(VeilRegistry::ProposalKind::kAddOperator, VeilRegistry::operator_payload(extra));
  EXPECT_TRUE(*reg.is_operator(extra));
  pass(VeilRegistry::ProposalKind::kRemoveOperator, VeilRegistry::operator_payload(extra));
  EXPECT_FALSE(*reg.is_operator(extra));
  pass(VeilRegistry::ProposalKind::kSetPolicy, VeilRegistry::policy_payload(h("p"), Bytes{9}));
  EXPECT_EQ(*reg.cluster_policy(), VeilRegistry::policy_payload(h("p"), Bytes{9}));
  pass(VeilRegistry::ProposalKind::kAllowImage, VeilRegistry::image_payload(h("img")));
  EXPECT_TRUE(*reg.is_image_allowed(h("img")));
  pass(VeilRegistry::ProposalKind::kRevokeImage, VeilRegistry::image_payload(h("img")));
  EXPECT_FALSE(*reg.is_image_allowed(h("img")));
  VeilRegistry::Committee committee{{keys_[0].address(), keys_[1].address()}, {h("x0"), h("x1")}, 2};
  pass(VeilRegistry::ProposalKind::kSetCommittee, VeilRegistry::committee_payload(committee));
  auto got = reg.committee();
  EXPECT_EQ(got->members, committee.members);
  EXPECT_EQ(got->x25519_keys, committee.x25519_keys);
  EXPECT_EQ(got->threshold, 2);
  pass(VeilRegistry::ProposalKind::kSetClusterKeys, VeilRegistry::cluster_keys_payload(h("pk"), h("sk")));
  EXPECT_EQ(*reg.cluster_keys(), std::make_pair(h("pk"), h("sk")));
  ASSERT_TRUE(op.anchor_deployment(h("d")).ok());
  auto dispute = as(reg, 1).open_dispute(h("d"), h("e"));
  ASSERT_TRUE(dispute.ok());
  pass(VeilRegistry::ProposalKind::kResolveDispute, VeilRegistry::resolve_dispute_payload(*dispute, false));
  EXPECT_EQ(reg.deployment(h("d"))->status, VeilRegistry::DeploymentStatus::kCleared);
  VeilRegistry::StakeParams stake{*U256::parse("32000000000000000000"), 86'400, 2'500, 500};  // 32 ETH
  pass(VeilRegistry::ProposalKind::kSetStakeParams, VeilRegistry::stake_params_payload(stake));
  auto stake_read = reg.stake_params();
  ASSERT_TRUE(stake_read.ok()) << stake_read.status().to_string();
  EXPECT_EQ(stake_read->min_stake_wei, stake.min_stake_wei);
  EXPECT_EQ(stake_read->unbonding_delay_s, 86'400u);
  EXPECT_EQ(stake_read->slash_bps, 2'500);
  EXPECT_EQ(stake_read->reporter_bps, 500);
  EXPECT_EQ(*reg.stake_of(keys_[0].address()), U256(0));
  EXPECT_FALSE(*reg.is_operator_staked(keys_[0].address()));  // nothing bonded, minimum now 32 ETH
  EXPECT_EQ(chain::proposal_kind_name(VeilRegistry::ProposalKind::kSetStakeParams), "set-stake-params");
  pass(VeilRegistry::ProposalKind::kSetGovernance, VeilRegistry::governance_payload(2, 5, 7));
  auto g = reg.governance();
  EXPECT_EQ(g->quorum, 2u);
  EXPECT_EQ(g->execution_delay_s, 5u);
  EXPECT_EQ(g->dispute_window_s, 7u);
}

TEST_F(AnvilTest, RevertsAreDecodedByName) {
  VeilRegistry reg = deploy();
  // Estimation catches it: no nonce is used.
  auto before = *client_->transaction_count(keys_[3].address());
  auto r = as(reg, 3).register_node(h("intruder"), keys_[3].address());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("NotOperator(caller=" + keys_[3].address().to_checksum() + ")"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(*client_->transaction_count(keys_[3].address()), before);

  // A reverted transaction that was mined (gas given, so no estimation): the receipt says
  // failure and the replay names the error.
  ASSERT_TRUE(as(reg, 0).anchor_deployment(h("once")).ok());
  auto data = VeilRegistry::abi().encode_call("anchorDeployment", {AbiValue(h("once"))});
  TxCall call{reg.address(), *data, U256(0), 200000};
  auto mined = senders_[1]->send_and_wait(call, &VeilRegistry::decode_revert);
  ASSERT_FALSE(mined.ok());
  EXPECT_NE(
      mined.status().message().find("AlreadyAnchored(assignmentHash=" + to_hex_prefixed(h("once")) + ")"),
      std::string::npos)
      << mined.status().message();

  // Views revert by name too.
  auto missing = reg.proposal(99);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("UnknownProposal(id=99)"), std::string::npos)
      << missing.status().message();
}

TEST_F(AnvilTest, RpcErrorsAreClear) {
  auto unknown = client_->rpc().call("eth_noSuchMethod", nlohmann::json::array());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(unknown.status().message().find("eth_noSuchMethod"), std::string::npos);

  int port = testing::free_port();
  auto dead = EthClient::connect("http://127.0.0.1:" + std::to_string(port),
                                 RpcOptions{3, std::chrono::milliseconds(5), std::chrono::seconds(2)});
  ASSERT_TRUE(dead.ok());
  auto id = dead->chain_id();
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(id.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << id.status().message();
  EXPECT_NE(id.status().message().find("after 3 attempts"), std::string::npos) << id.status().message();

  EXPECT_EQ(EthClient::connect("ftp://x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EthClient::connect("https://x").status().code(), StatusCode::kUnimplemented);
  // A wrong contract address is an error, not garbage.
  VeilRegistry nowhere(*client_, keys_[3].address());
  EXPECT_FALSE(nowhere.cluster_name().ok());
}

TxCall transfer(std::uint64_t gas = 21000) {
  return TxCall{*Address::parse("0x000000000000000000000000000000000000dEaD"), {}, U256(1), gas};
}

TEST_F(AnvilTest, NonceManagerStaysInStepAfterFailedSends) {
  Transactor& s = *senders_[3];
  const Address me = s.address();
  ASSERT_TRUE(s.send_and_wait(transfer()).ok());
  std::uint64_t chain_nonce = *client_->transaction_count(me);
  EXPECT_EQ(s.nonces().cached_next(), chain_nonce);

  // The node refuses a transaction (gas below the intrinsic 21000): the nonce is not consumed.
  auto refused = s.send(transfer(1000));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(s.nonces().cached_next(), chain_nonce);
  ASSERT_TRUE(s.send_and_wait(transfer()).ok());
  EXPECT_EQ(*client_->transaction_count(me), chain_nonce + 1);

  // Someone else used the account's next nonce behind the manager's back: the next send is
  // refused ("nonce too low"), the manager resynchronises, and the one after succeeds.
  PrivateKey same = std::move(PrivateKey::from_hex(kAnvilKeys[3])).value();
  auto other = Transactor::create(*client_, same);
  ASSERT_TRUE((*other)->send_and_wait(transfer()).ok());
  auto stale = s.send(transfer());
  ASSERT_FALSE(stale.ok());
  EXPECT_FALSE(s.nonces().cached_next().has_value());
  ASSERT_TRUE(s.send_and_wait(transfer()).ok()) << "manager did not resynchronise";
  EXPECT_EQ(s.nonces().cached_next(), *client_->transaction_count(me));
}

TEST_F(AnvilTest, ConcurrentSendsGetDistinctConsecutiveNonces) {
  Transactor& s = *senders_[2];
  std::uint64_t start = *client_->transaction_count(s.address());
  constexpr int kThreads = 6, kEach = 4;
  std::mutex mu;
  std::set<std::string> hashes;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto hash = s.send(transfer());
        if (!hash.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        hashes.insert(hash_hex(*hash));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(hashes.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*client_->transaction_count(s.address(), "pending"), start + kThreads * kEach);
  std::set<std::uint64_t> nonces;
  for (const auto& hh : hashes) {
    auto r = client_->wait_for_receipt(*parse_hash(hh));
    ASSERT_TRUE(r.ok()) << r.status().message();
    auto tx = client_->rpc().call("eth_getTransactionByHash", nlohmann::json::array({hh}));
    nonces.insert(parse_quantity((*tx)["nonce"])->low_u64());
  }
  EXPECT_EQ(nonces.size(), hashes.size());
  EXPECT_EQ(*nonces.begin(), start);
  EXPECT_EQ(*nonces.rbegin(), start + kThreads * kEach - 1);
}

TEST_F(AnvilTest, LegacyEip155TransactionsAreMined) {
  TransactorOptions legacy;
  legacy.type = TxType::kLegacy;
  auto s = Transactor::create(*client_, keys_[1], legacy);
  ASSERT_TRUE(s.ok());
  auto r = (*s)->send_and_wait(transfer());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->success);
  auto tx =
      client_->rpc().call("eth_getTransactionByHash", nlohmann::json::array({hash_hex(r->transaction_hash)}));
  ASSERT_TRUE(tx.ok());
  EXPECT_EQ((*tx)["type"].get<std::string>(), "0x0");
  EXPECT_EQ(parse_quantity((*tx)["chainId"])->low_u64(), 31337u);
  EXPECT_EQ(Address::parse((*tx)["from"].get<std::string>()).value(), keys_[1].address());
}

TEST_F(AnvilTest, ReceiptWaitsForConfirmationDepth) {
  Transactor& s = *senders_[1];
  auto hash = s.send(transfer());
  ASSERT_TRUE(hash.ok());
  auto too_deep = client_->wait_for_receipt(*hash, 3, std::chrono::milliseconds(300));
  EXPECT_EQ(too_deep.status().code(), StatusCode::kDeadlineExceeded);
  std::thread miner([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)client_->rpc().call("anvil_mine", nlohmann::json::array({"0x2"}));
  });
  auto r = client_->wait_for_receipt(*hash, 3, std::chrono::seconds(10));
  miner.join();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GE(*client_->block_number() + 1, r->block_number + 3);
}

TEST_F(AnvilTest, LogCursorSurvivesReorg) {
  VeilRegistry reg = deploy();
  VeilRegistry op = as(reg, 0);
  LogFilter filter;
  filter.address = reg.address();
  filter.topics.push_back({(*VeilRegistry::abi().event("DeploymentAnchored"))->topic});
  LogCursor cursor(*client_, filter, *client_->block_number(), LogCursorOptions{3, 0, 256});

  ASSERT_TRUE(op.anchor_deployment(h("before-fork")).ok());
  auto first = cursor.poll();
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->added.size(), 1u);

  auto snapshot = client_->rpc().call("evm_snapshot", nlohmann::json::array());
  ASSERT_TRUE(snapshot.ok());
  ASSERT_TRUE(op.anchor_deployment(h("orphaned")).ok());
  auto second = cursor.poll();
  ASSERT_EQ(second->added.size(), 1u);
  Hash32 orphaned_block = second->added[0].block_hash;

  // Reorg: roll the chain back and build a different block at the same height. The nonce
  // manager must resynchronise too, since the reverted transaction's nonce is free again.
  ASSERT_TRUE(client_->rpc().call("evm_revert", nlohmann::json::array({*snapshot})).ok());
  senders_[0]->nonces().reset();
  ASSERT_TRUE(op.anchor_deployment(h("replacement")).ok());
  auto third = cursor.poll();
  ASSERT_TRUE(third.ok()) << third.status().message();
  ASSERT_EQ(third->removed.size(), 1u);
  EXPECT_TRUE(third->removed[0].removed);
  EXPECT_EQ(third->removed[0].block_hash, orphaned_block);
  EXPECT_EQ(third->removed[0].topics[1], h("orphaned"));
  ASSERT_EQ(third->added.size(), 1u);
  EXPECT_EQ(third->added[0].topics[1], h("replacement"));
  EXPECT_GE(third->reorg_depth, 1u);
  auto quiet = cursor.poll();
  EXPECT_TRUE(quiet->added.empty() && quiet->removed.empty());
}


// ---------------------------------------------------------------- stake, slashing, batches

// Governance sets the stake rules (quorum 2 of the three operators, no execution delay).
void set_stake_params(VeilRegistry& as0, VeilRegistry& as1, const VeilRegistry::StakeParams& p) {
  auto id = as0.propose(VeilRegistry::ProposalKind::kSetStakeParams, VeilRegistry::stake_params_payload(p));
  ASSERT_TRUE(id.ok()) << id.status().message();
  ASSERT_TRUE(as0.vote(*id, true).ok());
  ASSERT_TRUE(as1.vote(*id, true).ok());
  auto ex = as0.execute(*id);
  ASSERT_TRUE(ex.ok()) << ex.status().message();
}

TEST_F(AnvilTest, StakeUnstakeAndWithdrawMoveTheOperatorsEther) {
  auto reg = deploy();
  auto op0 = as(reg, 0), op1 = as(reg, 1);
  set_stake_params(op0, op1, {U256(1000), 0, 5000, 2000});
  const Address me = keys_[1].address();
  ASSERT_TRUE(op1.stake(U256(1500)).ok());
  EXPECT_EQ(op1.stake_of(me).value(), U256(1500));
  EXPECT_TRUE(op1.is_operator_staked(me).value());
  ASSERT_TRUE(op1.request_unstake(U256(600)).ok());
  EXPECT_EQ(op1.stake_of(me).value(), U256(900));
  EXPECT_FALSE(op1.is_operator_staked(me).value()) << "below the 1000 wei minimum";
  EXPECT_EQ(op1.unbonding_of(me).value().amount, U256(600));
  const U256 balance_before = client_->balance(reg.address()).value();
  auto w = op1.withdraw();
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(client_->balance(reg.address()).value() + U256(600), balance_before);
  // Nothing left to withdraw: a decoded revert, not a silent success.
  auto again = op1.withdraw();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("NothingToWithdraw"), std::string::npos) << again.status().message();
  auto too_much = op1.request_unstake(U256(901));
  ASSERT_FALSE(too_much.ok());
  EXPECT_NE(too_much.status().message().find("InsufficientBonded"), std::string::npos);
}

TEST_F(AnvilTest, EquivocationEvidenceSignedHereSlashesOnChain) {
  auto reg = deploy();
  auto op0 = as(reg, 0), op1 = as(reg, 1), reporter = as(reg, 2);
  set_stake_params(op0, op1, {U256(1000), 3600, 5000, 2000});  // slash 50 %, reporter gets 20 % of it
  ASSERT_TRUE(op1.stake(U256(10000)).ok());
  const RegistryDomain domain = reg.domain().value();
  Evidence e;
  e.job_id = h("job");
  e.round = 3;
  e.peer_id = peer_id_hash("12D3KooWLiar");
  e.decision_a = h("the agreed decision");
  e.decision_b = h("a tampered decision");
  e.inputs_root_a = e.inputs_root_b = h("inputs");
  for (const auto& [decision, sig] : {std::pair{e.decision_a, &e.signature_a}, std::pair{e.decision_b, &e.signature_b}}) {
    const Announcement a{e.job_id, e.round, decision, e.peer_id, e.inputs_root_a};
    ASSERT_EQ(announcement_digest(domain, a), reg.announcement_digest_on_chain(a).value()) << "EIP-712 digest differs from the contract's";
    *sig = signature_bytes(keys_[1].sign(announcement_digest(domain, a)));
  }
  ASSERT_EQ(e.signer(domain).value(), keys_[1].address());
  auto slash = reporter.submit_evidence(e);
  ASSERT_TRUE(slash.ok()) << slash.status().message();
  EXPECT_EQ(slash->operator_address, keys_[1].address());
  EXPECT_EQ(slash->reporter, keys_[2].address());
  EXPECT_EQ(slash->slashed, U256(5000));
  EXPECT_EQ(slash->reward, U256(1000));
  EXPECT_EQ(reg.stake_of(keys_[1].address()).value(), U256(5000));
  EXPECT_EQ(reg.rewards_of(keys_[2].address()).value(), U256(1000));
  EXPECT_TRUE(reg.is_evidence_used(slash->evidence_id).value());
  // The same equivocation slashes once.
  auto twice = reporter.submit_evidence(e);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("EvidenceAlreadyUsed"), std::string::npos) << twice.status().message();
  // A signature over another decision than the one claimed is refused by the contract.
  Evidence forged = e;
  forged.round = 4;
  forged.decision_b = h("something else");
  auto refused = reporter.submit_evidence(forged);
  ASSERT_FALSE(refused.ok());
  ASSERT_TRUE(reporter.withdraw_rewards().ok());
  EXPECT_EQ(reg.rewards_of(keys_[2].address()).value(), U256(0));
}

// A decision that differs from the anchored quorum decision over the same inputs, signed here,
// slashes its signer whether the decision was anchored alone or in a batch; the contract checks
// the commitment and the inclusion proof computed here.
TEST_F(AnvilTest, ContradictionEvidenceSignedHereSlashesOnChain) {
  auto reg = deploy();
  auto op0 = as(reg, 0), op1 = as(reg, 1), reporter = as(reg, 2);
  set_stake_params(op0, op1, {U256(1000), 3600, 5000, 2000});
  ASSERT_TRUE(op1.stake(U256(10000)).ok());
  const RegistryDomain domain = reg.domain().value();
  const auto liar = peer_id_hash("12D3KooWLiar");
  auto lie = [&](const VeilRegistry::Commitment& agreed) {
    Contradiction c;
    c.job_id = agreed.job_id;
    c.round = agreed.round;
    c.agreed_decision = agreed.decision_hash;
    c.inputs_root = agreed.inputs_root;
    c.schedulers = agreed.schedulers;
    c.peer_id = liar;
    c.announced_decision = h("a tampered decision");
    const Announcement a{c.job_id, c.round, c.announced_decision, c.peer_id, c.inputs_root};
    EXPECT_EQ(announcement_digest(domain, a), reg.announcement_digest_on_chain(a).value());
    c.signature = signature_bytes(keys_[1].sign(announcement_digest(domain, a)));
    return c;
  };
  // Anchored alone.
  const VeilRegistry::Commitment alone{h("job"), 1, h("agreed"), h("inputs"), {h("s1"), h("s2")}};
  Contradiction c = lie(alone);
  auto early = reporter.submit_contradiction(c);
  ASSERT_FALSE(early.ok()) << "nothing is anchored yet";
  EXPECT_NE(early.status().message().find("NotAnchoredDecision"), std::string::npos) << early.status().message();
  ASSERT_TRUE(op0.anchor_commitment(alone).ok());
  auto slash = reporter.submit_contradiction(c);
  ASSERT_TRUE(slash.ok()) << slash.status().message();
  EXPECT_EQ(slash->operator_address, keys_[1].address());
  EXPECT_EQ(slash->slashed, U256(5000));
  EXPECT_EQ(slash->evidence_id, c.id(keys_[1].address()));
  EXPECT_FALSE(reporter.submit_contradiction(c).ok()) << "one lie is slashed once";
  // Anchored in a batch of three, proven by the leaf's path.
  const VeilRegistry::Commitment batched{h("job"), 2, h("agreed 2"), h("inputs 2"), {h("s1"), h("s2")}};
  const std::vector<Hash32> leaves = {h("x"), VeilRegistry::commitment_hash(batched), h("y")};
  c = lie(batched);
  c.batch_root = batch_root(leaves).value();
  c.proof = batch_proof(leaves, 1).value();
  ASSERT_TRUE(op0.anchor_batch(c.batch_root, 3).ok());
  slash = reporter.submit_contradiction(c);
  ASSERT_TRUE(slash.ok()) << slash.status().message();
  EXPECT_EQ(slash->slashed, U256(2500));
  EXPECT_EQ(reg.stake_of(keys_[1].address()).value(), U256(2500));
  // Both slashes, as the dashboard lists them.
  auto events = reg.slashed_events(0);
  ASSERT_TRUE(events.ok()) << events.status().message();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].operator_address, keys_[1].address());
  EXPECT_EQ((*events)[0].reporter, keys_[2].address());
  EXPECT_EQ((*events)[0].round, 1u);
  EXPECT_EQ((*events)[0].slashed, U256(5000));
  EXPECT_EQ((*events)[1].round, 2u);
  EXPECT_EQ((*events)[1].reward, U256(500));
  EXPECT_EQ((*events)[1].job_id, h("job"));
}

TEST_F(AnvilTest, BatchRootsComputedHereVerifyOnChain) {
  auto reg = deploy();
  auto op0 = as(reg, 0);
  for (std::size_t n : {1u, 2u, 3u, 5u, 32u}) {
    std::vector<Hash32> batch;
    for (std::size_t i = 0; i < n; ++i) batch.push_back(h("batch " + std::to_string(n) + " commitment " + std::to_string(i)));
    const Hash32 root = batch_root(batch).value();
    auto r = op0.anchor_batch(root, static_cast<std::uint32_t>(n));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(reg.batch(root).value().count, n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(reg.verify_inclusion(root, batch[i], batch_proof(batch, i).value()).value()) << n << "/" << i;
    }
    EXPECT_FALSE(reg.verify_inclusion(root, h("not in it"), batch_proof(batch, 0).value()).value());
  }
  // An unanchored root proves nothing, however good the proof.
  const std::vector<Hash32> stray = {h("a"), h("b")};
  EXPECT_FALSE(reg.verify_inclusion(batch_root(stray).value(), stray[0], batch_proof(stray, 0).value()).value());
}

}  // namespace
}  // namespace veil::chain
