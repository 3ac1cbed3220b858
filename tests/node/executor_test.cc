// The executor role driven through a NodeContext of the test's own: an io_context, a blocking
// worker, a temporary state database and the process driver running /bin/sleep. No network,
// chain or engine: the peers' requests and answers are what the test records and gives.
#include "executor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "daemon_impl.h"  // Worker
#include "node_context.h"
#include "veil/runtime/process_driver.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;

const std::string kCoordinator = "12D3KooWCoordinator";
const std::string kOther = "12D3KooWOtherPeer";

class FakeContext : public NodeContext {
 public:
  explicit FakeContext(const fs::path& dir) : blocking(std::make_unique<Worker>("blocking")) {
    auto opened = StateStore::open(dir / "state.db");
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    db = std::move(opened).value();
  }

  struct Sent {
    std::string peer, protocol;
    Bytes message;
    OnReply on_reply;
  };

  const std::string& self() const override { return self_id; }
  std::int64_t now_ms() const override { return 1'000; }
  bool stopping() const override { return false; }
  boost::asio::io_context& io() override { return io_context; }
  void post_blocking(std::function<void()> task) override {
    ++blocking_posts;  // one per convergence pass, in this test
    blocking->post(std::move(task));
  }
  void request(const std::string& peer, std::string_view protocol, Bytes message, OnReply on_reply) override {
    sent.push_back({peer, std::string(protocol), std::move(message), std::move(on_reply)});
  }
  StateStore& store() override { return *db; }
  MetricsRegistry& metrics() override { return registry; }
  const ClusterKeys& keys() const override { return cluster_keys; }
  void when_decision_agreed(const std::string&, const Hash32&, std::uint32_t, sched::DecisionRecord,
                            AgreedCallback then) override {
    ++agreement_asked;
    then(agreement, nullptr);
  }
  Result<bool> image_allowed(const chain::Hash32&) override { return true; }
  void report_to_local_coordinator(Bytes report, Reply reply) override {
    local_reports.push_back(std::move(report));
    reply(encode(AssignmentAck{}));
  }

  // The reports sent so far to `peer`, decoded.
  std::vector<ReplicaReport> reports_to(const std::string& peer) const {
    std::vector<ReplicaReport> out;
    for (const auto& s : sent) {
      if (s.peer != peer || s.protocol != kReportProtocol) continue;
      auto r = decode_replica_report(s.message);
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.push_back(*r);
    }
    return out;
  }

  std::string self_id = "12D3KooWThisNode";
  boost::asio::io_context io_context;
  std::unique_ptr<Worker> blocking;
  std::unique_ptr<StateStore> db;
  MetricsRegistry registry;
  ClusterKeys cluster_keys;
  Result<std::string> agreement = permission_denied("not agreed in this test");
  int agreement_asked = 0;
  int blocking_posts = 0;
  std::vector<Sent> sent;
  std::vector<Bytes> local_reports;
};

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/veil-executor-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ctx_ = std::make_unique<FakeContext>(dir_);
    auto driver =
        runtime::open_process_driver({.state_dir = (dir_ / "processes").string(), .cgroup_parent = ""});
    ASSERT_TRUE(driver.ok()) << driver.status().to_string();
    driver_ = driver->get();
    runtime::ReconcilerOptions options;
    options.cluster = "test-" + std::to_string(::getpid());
    options.stop_grace = std::chrono::seconds(1);
    executor_ = std::make_unique<Executor>(*ctx_, std::move(driver).value(), "the test's choice", options);
  }

  void TearDown() override {
    if (executor_) executor_->stop();
    if (driver_ != nullptr) {
      if (auto all = driver_->list({}, true); all.ok()) {
        for (const auto& c : *all) (void)driver_->remove(c.id, true);
      }
    }
    ctx_->blocking.reset();  // runs what is queued (it may use the executor), then joins
    executor_.reset();
    ctx_.reset();
    fs::remove_all(dir_);
  }

  // Runs the io thread's work until `done` holds; false if it does not within a minute (a
  // bound for a failing test, not a timing expectation).
  template <typename Pred>
  bool run_until(Pred done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      ctx_->io_context.run_for(std::chrono::milliseconds(20));
      ctx_->io_context.restart();
    }
    return true;
  }

  // handle_assignment's answer: the AssignmentAck's error ("" = accepted), or "(no answer)".
  std::string assign(const std::string& peer, const Assignment& a) {
    std::string error = "(no answer)";
    executor_->handle_assignment(peer, encode(a), [&error](Bytes reply) {
      auto ack = decode_assignment_ack(reply);
      error = ack.ok() ? ack->error : "(undecodable answer)";
    });
    return error;
  }

  static Assignment assignment(const Hash32& job, std::uint32_t round, std::uint32_t replica,
                               bool stop = false) {
    Assignment a;
    a.job_id = job;
    a.round = round;
    a.replica = replica;
    a.stop = stop;
    return a;
  }

  // Stores a replica of a job running /bin/sleep, coordinated by `coordinator`, as an earlier
  // run of the node would have; returns the job id.
  Hash32 store_replica(const std::string& coordinator, std::uint32_t round) {
    const std::string yaml = "name: sleeper\nimage: x@sha256:" + std::string(64, 'a') +
                             "\nresources: {cpu: 1, memory: 16}\ncommand: [/bin/sleep, '300']\n";
    auto spec = sched::parse_job_spec(yaml, "test");
    EXPECT_TRUE(spec.ok()) << spec.status().to_string();
    const Hash32 job = sched::job_id(*spec);
    nlohmann::json doc = {{"job", hash_hex(job)},       {"replica", 0}, {"round", round},
                          {"coordinator", coordinator}, {"spec", yaml}, {"host_port", 0}};
    EXPECT_TRUE(ctx_->db->put(kReplicaDoc, hash_hex(job) + "/0", doc).ok());
    return job;
  }

  std::size_t stored_replicas() {
    auto all = ctx_->db->all(kReplicaDoc);
    return all.ok() ? all->size() : 0;
  }

  // Containers of `job` the driver runs now.
  std::size_t running(const Hash32& job) {
    auto list = driver_->list({{std::string(runtime::kLabelJob), hash_hex(job).substr(0, 32)}}, false);
    return list.ok() ? list->size() : 0;
  }

  bool reported(const std::string& peer, const std::string& state) {
    for (const auto& r : ctx_->reports_to(peer)) {
      if (r.state == state) return true;
    }
    return false;
  }

  fs::path dir_;
  std::unique_ptr<FakeContext> ctx_;
  runtime::Driver* driver_ = nullptr;
  std::unique_ptr<Executor> executor_;
};

TEST_F(ExecutorTest, StopBeforeTheAssignmentFencesThatRoundAndEarlier) {
  const Hash32 job{1};
  // The stop overtakes the assignment: nothing runs here yet, and the stop is accepted.
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 0, /*stop=*/true)), "");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 0)), "the coordinator stopped this replica");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 2, 0)), "the coordinator stopped this replica");
  EXPECT_EQ(ctx_->agreement_asked, 0) << "the fence refuses before any check of the decision";
  // A later round of that coordinator, another replica, or another coordinator is not fenced:
  // it goes on to the decision check (which this test's context refuses).
  EXPECT_EQ(assign(kCoordinator, assignment(job, 4, 0)), "not agreed in this test");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 1)), "not agreed in this test");
  EXPECT_EQ(assign(kOther, assignment(job, 3, 0)), "not agreed in this test");
  EXPECT_EQ(ctx_->agreement_asked, 3);
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
}

TEST_F(ExecutorTest, AssignmentWithoutAnAgreedDecisionIsRefusedAndNotStored) {
  ctx_->agreement = permission_denied(kOther + " is not the coordinator of this round");
  EXPECT_EQ(assign(kOther, assignment(Hash32{2}, 1, 0)), kOther + " is not the coordinator of this round");
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
}

TEST_F(ExecutorTest, UndecodableAssignmentIsRefused) {
  std::string error;
  executor_->handle_assignment(kCoordinator, Bytes{0x01, 0x02},
                               [&error](Bytes reply) { error = decode_assignment_ack(reply)->error; });
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(ctx_->agreement_asked, 0);
}

TEST_F(ExecutorTest, RunsAStoredReplicaAndOnlyItsCoordinatorStopsIt) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_EQ(executor_->replica_count(), 1u);
  EXPECT_EQ(executor_->reserved_capacity().memory_mib, 16u);
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  EXPECT_EQ(running(job), 1u);

  EXPECT_EQ(assign(kOther, assignment(job, 1, 0, /*stop=*/true)), "only the job's coordinator may stop it");
  EXPECT_EQ(executor_->replica_count(), 1u);

  EXPECT_EQ(assign(kCoordinator, assignment(job, 1, 0, /*stop=*/true)), "");
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return running(job) == 0; })) << "the stopped replica's process still runs";
  // The stop fences the round: its assignment, should it arrive now, does not start again.
  EXPECT_EQ(assign(kCoordinator, assignment(job, 1, 0)), "the coordinator stopped this replica");
}

TEST_F(ExecutorTest, AReportTheCoordinatorRefusesRemovesTheReplica) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return !ctx_->reports_to(kCoordinator).empty(); }));
  // The coordinator stopped the job, or moved the replica, while this node was away.
  auto answer = ctx_->sent.front().on_reply;
  answer(encode(AssignmentAck{"unknown job or replica"}));
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return running(job) == 0; }));
}

TEST_F(ExecutorTest, AnUndeliveredReportIsSentAgainAndAnAcceptedOneIsKept) {
  store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  const std::size_t before = ctx_->reports_to(kCoordinator).size();
  ctx_->sent.back().on_reply(unavailable("the coordinator is unreachable"));
  const int passes_before = ctx_->blocking_posts;
  ASSERT_TRUE(run_until([&] { return ctx_->reports_to(kCoordinator).size() > before; }));
  EXPECT_LE(ctx_->blocking_posts - passes_before, 1)
      << "an undelivered report is sent again on the next pass, not only with the periodic re-report";
  ctx_->sent.back().on_reply(encode(AssignmentAck{}));
  EXPECT_EQ(executor_->replica_count(), 1u);
  EXPECT_EQ(stored_replicas(), 1u);
}

TEST_F(ExecutorTest, ReplicasOfItsOwnJobsReportToTheLocalCoordinator) {
  store_replica(ctx_->self_id, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return !ctx_->local_reports.empty(); }));
  EXPECT_TRUE(ctx_->sent.empty()) << "no request to itself over the network";
}

TEST_F(ExecutorTest, DrainStopsEveryReplicaAndReportsItDrained) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return running(job) == 1; }));
  bool done = false;
  executor_->drain([&done] { done = true; });
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "drained"); }));
  EXPECT_EQ(running(job), 0u);
  EXPECT_FALSE(done) << "done waits for the coordinator's answer";
  for (auto& s : ctx_->sent) {
    auto r = decode_replica_report(s.message);
    if (r.ok() && r->state == "drained") s.on_reply(encode(AssignmentAck{}));
  }
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace veil::node
