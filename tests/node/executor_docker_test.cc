// The executor role on a real dockerd (executor_fixture.h with the Docker driver): the test
// starts a private dockerd and registry (tests/runtime/test_support.h) and runs busybox
// replicas pulled by digest — a batch job that exits 0 and one that exits 3, a replica whose
// exec health check (Docker's exec API) never passes, restarted and then given up, and a
// replica whose picked host port another process holds, moved to a free one; the pull of an
// image the engine lacks, reported to the coordinator as it goes, and one the registry lacks.
#include "executor_fixture.h"
#include "loopback_listener.h"
#include "test_support.h"
#include "veil/runtime/docker_driver.h"

namespace veil::node {
namespace {

class DockerExecutorTest : public ExecutorTest {
 protected:
  void SetUp() override {
    env_ = std::make_unique<runtime::testing::DockerEnvironment>();
    const std::string why = env_->start();
    if (!why.empty()) {
      const char* require = std::getenv("VEIL_REQUIRE_DOCKER");
      if (require && std::string(require) == "1") FAIL() << "dockerd required but cannot run: " << why;
      GTEST_SKIP() << "dockerd cannot run here: " << why;
    }
    ExecutorTest::SetUp();
  }
  void TearDown() override {
    if (env_ && ctx_) ExecutorTest::TearDown();
    env_.reset();
  }

  Result<std::unique_ptr<runtime::Driver>> open_driver() override {
    return runtime::open_docker_driver({.socket_path = env_->socket()});
  }
  void configure(runtime::ReconcilerOptions& options) override {
    options.pull_missing_images = true;
    options.image_digests[env_->repository() + "@" + env_->digest()] = env_->digest();
  }
  std::string image() const override { return other_image_.empty() ? env_->repository() + "@" + env_->digest() : other_image_; }

  std::unique_ptr<runtime::testing::DockerEnvironment> env_;
  std::string other_image_;  // the spec's image instead of the pushed busybox, when set
};

TEST_F(DockerExecutorTest, BatchJobsSucceedWithZeroAndFailWithTheirCode) {
  const Hash32 good = store_replica(kCoordinator, 1, "type: batch\n", "[sh, -c, 'exit 0']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return reported(kCoordinator, "succeeded"); }));
  EXPECT_EQ(ctx_->reports_to(kCoordinator).back().exit_code, 0);
  ASSERT_EQ(containers(good).size(), 1u) << "the finished container is kept for its logs";
  EXPECT_EQ(containers(good).front().state, runtime::ContainerState::kExited);
}

TEST_F(DockerExecutorTest, ABatchReplicaExitingThreeIsFailedWithCodeThree) {
  const Hash32 job = store_replica(kCoordinator, 1, "type: batch\nrestart: {attempts: 0}\n", "[sh, -c, 'exit 3']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return reported(kCoordinator, "failed"); }));
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(last.exit_code, 3);
  EXPECT_NE(last.detail.find("exited with code 3"), std::string::npos) << last.detail;
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->replica_count() == 0 && containers(job).empty(); }));
}

TEST_F(DockerExecutorTest, AFailingExecCheckRestartsTheContainerThenGivesItUp) {
  const Hash32 job = store_replica(kCoordinator, 1,
                                   "health: {exec: [sh, -c, 'test -e /ready'], interval: 100ms, timeout: 5s, grace: 0s, failures: 2}\n"
                                   "restart: {attempts: 1, delay: 0s}\n",
                                   "[sleep, '1000']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->replica_count() == 0; }));
  const std::vector<std::string> expected = {"starting", "unhealthy", "starting", "failed"};
  EXPECT_EQ(states_reported(kCoordinator), expected);
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_NE(last.detail.find("'sh' exited with code 1"), std::string::npos) << last.detail;
  ASSERT_TRUE(run_until([&] { return containers(job).empty(); })) << "a given-up replica's container is removed";
}

TEST_F(DockerExecutorTest, AReplicaWhoseImageTheEngineLacksReportsItsPullThenRuns) {
  const auto removed = env_->docker("image rm -f " + env_->repository() + ":1");
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  ASSERT_NE(env_->docker("image inspect " + image()).exit_code, 0) << "the image is still on the engine";
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return running(job) == 1 && reported(kCoordinator, "running"); }));

  std::vector<ReplicaReport> pulling;
  for (const auto& r : ctx_->reports_to(kCoordinator)) {
    if (r.pull) pulling.push_back(r);
  }
  ASSERT_FALSE(pulling.empty()) << "no report carried the pull";
  EXPECT_EQ(pulling.front().state, "starting");
  EXPECT_EQ(pulling.front().detail, "pulling image " + image());
  EXPECT_EQ(pulling.front().pull->image, image());
  const ImagePull& last = *pulling.back().pull;
  EXPECT_GT(last.layers, 0u);
  EXPECT_EQ(last.layers_done, last.layers) << "the pull's end is reported whatever the rate limit";
  const ReplicaReport after = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(after.state, "running");
  EXPECT_FALSE(after.pull.has_value()) << "reports after the pull carry none: the coordinator notes its end";
}

TEST_F(DockerExecutorTest, AnImageTheRegistryLacksIsTheStartingReplicasDetail) {
  other_image_ = env_->repository() + "@sha256:" + std::string(64, 'b');
  store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] {
    for (const auto& r : ctx_->reports_to(kCoordinator)) {
      if (r.state == "starting" && r.detail.find("pull") != std::string::npos) return true;
    }
    return false;
  })) << "no report said why the container cannot be created";
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(last.state, "starting");
  EXPECT_NE(last.detail.find(other_image_), std::string::npos) << last.detail;
}

TEST_F(DockerExecutorTest, AReplicaWhosePickedHostPortIsTakenMovesToAnotherPort) {
  // Another process holds the port the replica was given (nodes sharing a host, or anything
  // else that bound it after the pick): the engine cannot publish it, so the node picks again.
  LoopbackListener holder;
  const std::uint16_t taken = holder.port;

  const Hash32 job = store_replica(kCoordinator, 1, "ports: [{container: 8080}]\n");
  auto doc = ctx_->db->get(kReplicaDoc, hash_hex(job) + "/0");
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  nlohmann::json stored = *doc;
  stored["host_port"] = taken;
  ASSERT_TRUE(ctx_->db->put(kReplicaDoc, hash_hex(job) + "/0", stored).ok());

  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return running(job) == 1; })) << "the replica never ran on another port";
  const auto& replica = executor_->replicas().begin()->second;
  EXPECT_NE(replica.host_port, taken);
  EXPECT_NE(replica.host_port, 0);
  auto kept = ctx_->db->get(kReplicaDoc, hash_hex(job) + "/0");
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_EQ((*kept)["host_port"].get<int>(), replica.host_port) << "the new port is recorded for restarts";
  auto listed = driver_->list({{std::string(runtime::kLabelJob), hash_hex(job).substr(0, 32)}}, false);
  ASSERT_TRUE(listed.ok() && listed->size() == 1);
  bool published = false;
  for (const auto& p : listed->front().ports) published |= p.host_port == replica.host_port && p.container_port == 8080;
  EXPECT_TRUE(published) << "the container publishes the new port";
}

}  // namespace
}  // namespace veil::node
