// Batched anchoring without a chain (anchor_batcher.h, coordinator_role.h): the pool's size and
// age triggers, one batch in flight, the retry wait after a failure, a root sent before and not
// confirmed is offered again as the same batch (or, incomplete, only checked), and a coordinator
// restarted on its state database rebuilds the pending batch from its job records, anchors it
// once, and keeps each job's root, index and proof in the record. The chain's side (the
// contract's anchorBatch, verifyInclusion) is node.anchor_batch's, on anvil.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "anchor_batcher.h"
#include "coordinator_role.h"
#include "fake_node_context.h"
#include "veil/chain/keccak.h"
#include "veil/chain/merkle_batch.h"
#include "veil/chain/veil_registry.h"
#include "veil/sched/job_spec.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Outcome = AnchorBatcher::Outcome;

Hash32 filled(std::uint8_t b) {
  Hash32 h{};
  h.fill(b);
  return h;
}

AnchorBatcher::Key key(std::uint8_t job, std::uint32_t round = 1) { return {filled(job), round}; }

std::vector<Hash32> leaves_of(const AnchorBatcher::Batch& batch) {
  std::vector<Hash32> out;
  for (const auto& [k, commitment] : batch.members) out.push_back(commitment);
  return out;
}

// Every member's proof leads from its commitment to the batch's root, at its index.
void expect_proofs_lead_to_root(const AnchorBatcher::Batch& batch) {
  ASSERT_EQ(batch.members.size(), batch.placements.size());
  EXPECT_EQ(*chain::batch_root(leaves_of(batch)), batch.root);
  for (std::size_t i = 0; i < batch.members.size(); ++i) {
    EXPECT_EQ(batch.placements[i].root, batch.root);
    EXPECT_EQ(batch.placements[i].index, i);
    EXPECT_EQ(batch.placements[i].size, batch.size);
    EXPECT_TRUE(chain::batch_proof_leads_to(batch.root, batch.members[i].second, batch.placements[i].proof)) << i;
  }
}

AnchorBatcher::Options options(std::size_t size) { return {.batch_size = size, .max_age = 10s, .retry = 5s}; }

TEST(AnchorBatcher, ABatchGoesWhenItReachesItsSizeAndOneIsInFlightAtATime) {
  AnchorBatcher b(options(4));
  for (std::uint8_t j = 1; j <= 3; ++j) b.add(key(j), filled(0x10 + j), 0);
  EXPECT_FALSE(b.take_due(0));
  EXPECT_EQ(b.next_due_ms(0), 10'000);
  b.add(key(3), filled(0x99), 5);  // a key already pooled is not added again
  b.add(key(4), filled(0x14), 5);
  EXPECT_EQ(b.next_due_ms(5), 5);
  auto batch = b.take_due(5);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->size, 4u);
  EXPECT_TRUE(batch->complete);
  EXPECT_FALSE(batch->resent);
  EXPECT_EQ(batch->members[2].second, filled(0x13));
  expect_proofs_lead_to_root(*batch);
  b.add(key(5), filled(0x15), 6);
  EXPECT_FALSE(b.take_due(100'000)) << "a second batch while one is in flight";
  EXPECT_FALSE(b.next_due_ms(6));
  b.finish(*batch, Outcome::kAnchored, 7);
  EXPECT_EQ(b.pending(), 1u);
  EXPECT_FALSE(b.contains(key(1)));
  EXPECT_TRUE(b.contains(key(5)));
}

TEST(AnchorBatcher, ABatchGoesWhenItsOldestCommitmentReachesTheMaxAgeAndTakesTheOldestFirst) {
  AnchorBatcher b(options(4));
  b.add(key(1), filled(0x11), 1'000);
  b.add(key(2), filled(0x12), 4'000);
  EXPECT_FALSE(b.take_due(10'999));
  EXPECT_EQ(b.next_due_ms(10'999), 11'000);
  auto batch = b.take_due(11'000);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->size, 2u);
  expect_proofs_lead_to_root(*batch);
  b.finish(*batch, Outcome::kAnchored, 11'001);
  EXPECT_EQ(b.pending(), 0u);
  EXPECT_FALSE(b.next_due_ms(11'001));

  // Six at once: the four oldest go; the other two wait for their age.
  for (std::uint8_t j = 6; j >= 1; --j) b.add(key(j), filled(0x20 + j), 20'000 + j);
  batch = b.take_due(20'010);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->members.size(), 4u);
  EXPECT_EQ(batch->members[0].first, key(1));
  EXPECT_EQ(batch->members[3].first, key(4));
  b.finish(*batch, Outcome::kAnchored, 20'011);
  EXPECT_FALSE(b.take_due(20'012));
  EXPECT_EQ(b.next_due_ms(20'012), 30'005);
}

TEST(AnchorBatcher, AFailedBatchKeepsItsCommitmentsPendingAndIsRetriedAfterTheRetryWait) {
  AnchorBatcher b(options(2));
  b.add(key(1), filled(0x11), 0);
  b.add(key(2), filled(0x12), 0);
  auto first = b.take_due(0);
  ASSERT_TRUE(first);
  b.finish(*first, Outcome::kFailed, 1'000);
  EXPECT_EQ(b.pending(), 2u);
  EXPECT_FALSE(b.take_due(5'999));
  EXPECT_EQ(b.next_due_ms(1'000), 6'000);
  auto again = b.take_due(6'000);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->resent) << "a failed root was not anchored: it is built anew";
  EXPECT_EQ(again->root, first->root);
  b.finish(*again, Outcome::kAnchored, 6'001);
  EXPECT_EQ(b.pending(), 0u);
}

TEST(AnchorBatcher, AnUnconfirmedRootIsOfferedAgainAsTheSameBatchAndAnIncompleteOneOnlyChecked) {
  AnchorBatcher b(options(3));
  for (std::uint8_t j = 1; j <= 3; ++j) b.add(key(j), filled(0x10 + j), 0);
  auto sent = b.take_due(0);
  ASSERT_TRUE(sent);
  b.add(key(4), filled(0x14), 1);
  b.finish(*sent, Outcome::kUnconfirmed, 100);
  EXPECT_FALSE(b.take_due(5'099));
  auto resent = b.take_due(5'100);
  ASSERT_TRUE(resent);
  EXPECT_TRUE(resent->resent);
  EXPECT_TRUE(resent->complete);
  EXPECT_EQ(resent->root, sent->root);
  EXPECT_EQ(resent->members, sent->members);
  expect_proofs_lead_to_root(*resent);
  b.finish(*resent, Outcome::kUnconfirmed, 5'200);

  // One job of the batch moved to another coordinator: the rest cannot make the root again.
  b.remove_job(filled(2));
  auto partial = b.take_due(10'200);
  ASSERT_TRUE(partial);
  EXPECT_TRUE(partial->resent);
  EXPECT_FALSE(partial->complete);
  EXPECT_EQ(partial->root, sent->root);
  EXPECT_EQ(partial->members.size(), 2u);
  b.finish(*partial, Outcome::kNotAnchored, 10'201);
  // Not anchored: the two join key 4 as new commitments, a full batch of 3 with a new root.
  auto fresh = b.take_due(10'201);
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->resent);
  EXPECT_EQ(fresh->members.size(), 3u);
  EXPECT_NE(fresh->root, sent->root);
  expect_proofs_lead_to_root(*fresh);
}

// ---- through the coordinator, on its state database --------------------------------------------

const std::string kSelf = "12D3KooWThisNode";

// A job whose round 1 was placed and agreed by schedulers S1 and S2, with its anchor pending.
JobState placed_job(const std::string& name) {
  const std::string yaml = "name: " + name + "\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 1, memory: 64}\n";
  JobState job;
  job.spec = *sched::parse_job_spec(yaml, "test");
  job.spec_yaml = sched::to_canonical_yaml(job.spec);
  job.id = sched::job_id(job.spec);
  job.phase = JobPhase::kRunning;
  job.coordinator = kSelf;
  job.holders = {kSelf};
  job.round = 1;
  job.replicas.resize(1);
  job.replicas[0].node = kSelf;
  job.replicas[0].phase = ReplicaPhase::kRunning;
  job.replicas[0].round = 1;
  RoundRecord rr;
  rr.round = 1;
  rr.slots = {0};
  rr.schedulers = {"12D3KooWS1", "12D3KooWS2"};
  rr.nodes = {TelemetryRef{kSelf, filled(0x77)}};
  rr.agreed = hash_hex(chain::keccak256(as_bytes(name)));
  rr.announced = {{"12D3KooWS1", rr.agreed}, {"12D3KooWS2", rr.agreed}};
  rr.outcome = "placed";
  job.rounds.push_back(rr);
  AnchorInfo anchor;
  anchor.round = 1;
  job.anchors.push_back(anchor);
  return job;
}

class BatchedCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veil-anchor-batcher-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ctx_ = std::make_unique<FakeContext>(dir_);
    ctx_->self_id = kSelf;
    ctx_->live = {kSelf};
  }
  void TearDown() override {
    ctx_->blocking.reset();
    role_.reset();
    ctx_.reset();
    fs::remove_all(dir_);
  }

  // A coordinator on the state database, its chain answering with `answers` in turn (the
  // last one again once they are used up).
  void start(std::size_t batch_size, std::vector<AnchorInfo> answers) {
    answers_ = std::move(answers);
    CoordinatorRole::Options options;
    options.jobs_topic = "veil/test/jobs";
    options.job_holders = 1;
    options.anchoring = {.batch_size = batch_size, .max_age = 60s, .retry = 100ms};
    CoordinatorRole::LocalRoles roles;
    roles.replicas_of = [](const Hash32&) { return std::vector<LocalReplica>{}; };
    roles.adopt_coordinator = [](const Hash32&, const std::string&) {};
    roles.anchor = [](const chain::VeilRegistry::Commitment&) -> AnchorInfo {
      ADD_FAILURE() << "a commitment anchored alone while batching";
      return {};
    };
    roles.anchor_batch = [this](const Hash32& root, std::uint32_t size, bool may_send) {
      std::lock_guard lock(mutex_);
      calls_.push_back({root, size, may_send});
      return answers_[std::min(calls_.size(), answers_.size()) - 1];
    };
    role_ = std::make_unique<CoordinatorRole>(*ctx_, options, std::move(roles));
    ASSERT_TRUE(role_->restore().ok());
    role_->start();  // pending anchors resume 3 s later
  }

  template <typename Done>
  bool run_until(Done done, std::chrono::seconds bound = 20s) {
    const auto give_up = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      ctx_->io_context.poll();
      ctx_->io_context.restart();
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }

  std::size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }

  // The job's record as the state database holds it now.
  JobState stored(const Hash32& id) {
    auto doc = ctx_->store().get(kJobDoc, hash_hex(id));
    EXPECT_TRUE(doc.ok());
    return *job_from_json(*doc);
  }

  struct Call {
    Hash32 root;
    std::uint32_t size;
    bool may_send;
  };
  fs::path dir_;
  std::unique_ptr<FakeContext> ctx_;
  std::unique_ptr<CoordinatorRole> role_;
  std::mutex mutex_;
  std::vector<Call> calls_;
  std::vector<AnchorInfo> answers_;
};

AnchorInfo answer(AnchorPhase phase, std::string error = "") {
  AnchorInfo a;
  a.phase = phase;
  a.error = std::move(error);
  if (phase == AnchorPhase::kAnchored) {
    a.tx = "0x" + std::string(64, 'b');
    a.block = 42;
  }
  return a;
}

TEST_F(BatchedCoordinatorTest, ARestartedCoordinatorRebuildsThePendingBatchFromItsJobRecordsAndRetriesAFailure) {
  // Three jobs left pending by a stopped node (one was being sent when it stopped: kSending is
  // read back as pending).
  std::vector<JobState> jobs = {placed_job("a"), placed_job("b"), placed_job("c")};
  jobs[1].anchors[0].phase = AnchorPhase::kSending;
  std::vector<Hash32> commitments;
  for (const auto& job : jobs) {
    ASSERT_TRUE(ctx_->store().put(kJobDoc, hash_hex(job.id), to_json(job)).ok());
    commitments.push_back(chain::VeilRegistry::commitment_hash(*round_commitment(job, 1)));
  }
  start(3, {answer(AnchorPhase::kFailed, "reverted: NotOperator"), answer(AnchorPhase::kAnchored)});

  ASSERT_TRUE(run_until([&] { return calls() >= 1; })) << "the restored batch was never sent";
  EXPECT_EQ(calls_[0].size, 3u);
  EXPECT_TRUE(calls_[0].may_send);
  // Failed: every commitment is pending again, without a root, and is sent again after the wait.
  ASSERT_TRUE(run_until([&] { return stored(jobs[0].id).anchors[0].error == "reverted: NotOperator"; }));
  for (const auto& job : jobs) {
    EXPECT_EQ(stored(job.id).anchors[0].phase, AnchorPhase::kPending);
    EXPECT_TRUE(stored(job.id).anchors[0].batch_root.empty());
  }
  ctx_->clock_ms += 100;
  ASSERT_TRUE(run_until([&] { return calls() >= 2; })) << "the failed batch was not retried";
  EXPECT_EQ(calls_[1].root, calls_[0].root);

  ASSERT_TRUE(run_until([&] { return stored(jobs[2].id).anchors[0].phase == AnchorPhase::kAnchored; }));
  std::set<std::uint32_t> indexes;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const AnchorInfo a = stored(jobs[i].id).anchors[0];
    EXPECT_EQ(a.phase, AnchorPhase::kAnchored);
    EXPECT_EQ(a.batch_root, to_hex_prefixed(calls_[1].root));
    EXPECT_EQ(a.batch_size, 3u);
    EXPECT_EQ(a.tx, "0x" + std::string(64, 'b'));
    EXPECT_EQ(a.block, 42u);
    EXPECT_EQ(a.commitment, to_hex_prefixed(commitments[i]));
    auto placement = placement_of(a);
    ASSERT_TRUE(placement);
    EXPECT_TRUE(chain::batch_proof_leads_to(calls_[1].root, commitments[i], placement->proof));
    indexes.insert(a.batch_index);
  }
  EXPECT_EQ(indexes, (std::set<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(calls(), 2u);
}

TEST_F(BatchedCoordinatorTest, ARootSentBeforeTheRestartIsAskedAboutAgainNotRebuilt) {
  // Two jobs sent under one root whose confirmation the node did not see before it stopped.
  std::vector<JobState> jobs = {placed_job("a"), placed_job("b")};
  std::vector<Hash32> leaves;
  for (const auto& job : jobs) leaves.push_back(chain::VeilRegistry::commitment_hash(*round_commitment(job, 1)));
  const Hash32 root = *chain::batch_root(leaves);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    set_placement(jobs[i].anchors[0], {root, static_cast<std::uint32_t>(i), 2, *chain::batch_proof(leaves, i)});
    jobs[i].anchors[0].phase = AnchorPhase::kSending;
    ASSERT_TRUE(ctx_->store().put(kJobDoc, hash_hex(jobs[i].id), to_json(jobs[i])).ok());
  }
  // A third job pending on its own: it waits for the 60 s age (batch size 4), not with the root.
  JobState third = placed_job("c");
  ASSERT_TRUE(ctx_->store().put(kJobDoc, hash_hex(third.id), to_json(third)).ok());
  start(4, {answer(AnchorPhase::kAnchored)});

  ASSERT_TRUE(run_until([&] { return stored(jobs[1].id).anchors[0].phase == AnchorPhase::kAnchored; }));
  ASSERT_EQ(calls(), 1u);
  EXPECT_EQ(calls_[0].root, root);
  EXPECT_EQ(calls_[0].size, 2u);
  EXPECT_TRUE(calls_[0].may_send) << "complete: the chain is asked first, and it may be sent";
  EXPECT_EQ(stored(jobs[0].id).anchors[0].batch_root, to_hex_prefixed(root));
  EXPECT_EQ(stored(third.id).anchors[0].phase, AnchorPhase::kPending);
  EXPECT_TRUE(stored(third.id).anchors[0].batch_root.empty());
}

}  // namespace
}  // namespace veil::node
