// The Docker driver against a real dockerd and registry that this test starts on a private
// socket, data root, exec root and bridge (label integration). When dockerd cannot run
// here the tests are skipped with the reason; with VEIL_REQUIRE_DOCKER=1 (CI) that is a
// failure instead.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "lifecycle_cases.h"
#include "test_support.h"
#include "veil/runtime/docker_driver.h"

namespace veil::runtime {
namespace {

using namespace testing;

class DockerDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<DockerEnvironment>();
    std::string why = env_->start();
    if (!why.empty()) {
      const char* require = std::getenv("VEIL_REQUIRE_DOCKER");
      if (require && std::string(require) == "1") FAIL() << "dockerd required but cannot run: " << why;
      GTEST_SKIP() << "dockerd cannot run here: " << why;
    }
    driver_ = open();
    ASSERT_TRUE(driver_);
  }

  void TearDown() override {
    driver_.reset();
    env_.reset();  // stops dockerd and the registry, deletes the bridge, also after failures
  }

  std::unique_ptr<Driver> open() {
    auto d = open_docker_driver({.socket_path = env_->socket()});
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  std::string image() const { return env_->repository() + "@" + env_->digest(); }

  void pull() {
    auto pulled = driver_->pull({.reference = image(), .expected_digest = env_->digest()});
    ASSERT_TRUE(pulled.ok()) << pulled.status().to_string();
    EXPECT_EQ(pulled->digest, env_->digest());
  }

  Profile profile() {
    Profile p;
    std::string img = image();
    p.image = img;
    p.http_server = [img](std::uint16_t port) {
      return ContainerSpec{.image = img,
                           .command = {"httpd", "-f", "-v", "-p", "80", "-h", "/www"},
                           .ports = {{.host_ip = "127.0.0.1", .host_port = port, .container_port = 80}}};
    };
    p.talker = [img] {
      return ContainerSpec{.image = img, .command = {"sh", "-c", "echo out-line; echo err-line >&2; sleep 0.2; echo second; exit 3"}};
    };
    p.memory_hog = [img] {
      return ContainerSpec{.image = img, .command = {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}};
    };
    p.sleeper = [img] { return ContainerSpec{.image = img, .command = {"sleep", "1000"}}; };
    return p;
  }

  std::unique_ptr<DockerEnvironment> env_;
  std::unique_ptr<Driver> driver_;
};

TEST_F(DockerDriverTest, PullByDigestThenServeHttpLogsStopRemove) {
  RecordProperty("engine", driver_->describe());
  EXPECT_NE(driver_->describe().find("API v1."), std::string::npos) << driver_->describe();
  // Not pulled yet: create says so.
  auto early = driver_->create({.image = image()});
  EXPECT_EQ(early.status().code(), StatusCode::kNotFound) << early.status().to_string();
  // The first pull reports its layers as the engine streams them, ending with all of them done.
  std::vector<PullProgress> seen;
  auto pulled = driver_->pull({.reference = image(),
                               .expected_digest = env_->digest(),
                               .on_progress = [&seen](const PullProgress& p) { seen.push_back(p); }});
  ASSERT_TRUE(pulled.ok()) << pulled.status().to_string();
  ASSERT_FALSE(seen.empty()) << "no progress reported for a first pull";
  EXPECT_GE(seen.back().layers, 1u);
  EXPECT_EQ(seen.back().layers_done, seen.back().layers);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].layers_done, seen[i - 1].layers_done);
  check_http_lifecycle(*driver_, profile());
}

TEST_F(DockerDriverTest, ExitCodeStreamsOomKillEvents) {
  pull();
  check_exit_and_streams(*driver_, profile());
  check_oom(*driver_, profile());
  check_kill_wait_events(*driver_, profile());
}

TEST_F(DockerDriverTest, ExecRunsInTheContainer) {
  pull();
  check_exec(*driver_, profile());
}

TEST_F(DockerDriverTest, PullErrorsAreClassified) {
  std::string by_tag = env_->repository() + ":1";
  auto mismatch = driver_->pull({.reference = by_tag, .expected_digest = "sha256:" + std::string(64, '0')});
  EXPECT_EQ(mismatch.status().code(), StatusCode::kDataLoss) << mismatch.status().to_string();
  EXPECT_NE(mismatch.status().message().find("digest mismatch"), std::string::npos);
  EXPECT_NE(env_->docker("image inspect " + by_tag).exit_code, 0) << "a mismatching image stayed tagged";

  auto unknown = driver_->pull({.reference = env_->repository() + ":no-such-tag"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound) << unknown.status().to_string();
  auto unknown_digest = driver_->pull({.reference = env_->repository() + "@sha256:" + std::string(64, '1')});
  EXPECT_EQ(unknown_digest.status().code(), StatusCode::kNotFound) << unknown_digest.status().to_string();

  std::uint16_t closed = free_port();
  auto unreachable = driver_->pull({.reference = "127.0.0.1:" + std::to_string(closed) + "/veil-busybox:1"});
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable) << unreachable.status().to_string();
  EXPECT_NE(unreachable.status().message().find("unreachable"), std::string::npos);

  auto malformed = driver_->pull({.reference = "Not A Reference"});
  EXPECT_EQ(malformed.status().code(), StatusCode::kInvalidArgument);

  // The tag pulled with the right digest verifies.
  auto good = driver_->pull({.reference = by_tag, .expected_digest = env_->digest()});
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->digest, env_->digest());
}

TEST_F(DockerDriverTest, PrivateRegistryNeedsAuth) {
  std::string why;
  std::uint16_t port = env_->start_auth_registry(&why);
  if (port == 0) GTEST_SKIP() << "no authenticated registry: " << why;
  std::string ref = "127.0.0.1:" + std::to_string(port) + "/veil-busybox@" + env_->digest();
  auto anonymous = driver_->pull({.reference = ref});
  EXPECT_EQ(anonymous.status().code(), StatusCode::kPermissionDenied) << anonymous.status().to_string();
  auto wrong = driver_->pull({.reference = ref, .auth = RegistryAuth{.username = "veil", .password = "nope"}});
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied) << wrong.status().to_string();
  auto good = driver_->pull({.reference = ref,
                             .expected_digest = env_->digest(),
                             .auth = RegistryAuth{.username = "veil", .password = "secret",
                                                  .server_address = "127.0.0.1:" + std::to_string(port)}});
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->digest, env_->digest());
}

TEST_F(DockerDriverTest, ReconcilerRestartsAndAdopts) {
  ReconcilerOptions options;
  options.pull_missing_images = true;  // exercises pull-by-digest on the reconciler's path
  options.image_digests[image()] = env_->digest();
  DockerEnvironment* env = env_.get();
  check_reconciler([this] { return open(); }, profile(),
                   [env](const ContainerInfo& c) {
                     // From outside: the docker CLI, not our driver.
                     auto r = env->docker("kill " + c.id);
                     ASSERT_EQ(r.exit_code, 0) << r.output;
                   },
                   options);
  // The docker CLI agrees that nothing of ours is left.
  EXPECT_EQ(env_->docker("ps -aq --filter label=veil.job=api").output, "");
}

// `veil runtime` against the private engine: run (pulls the missing image by itself; the
// runtime's flags after the verb) an HTTP server on a port, ps --output json, logs, stop, rm.
TEST_F(DockerDriverTest, CliRunPsLogsStopRm) {
  // The veil binary sits beside this test binary (CMAKE_RUNTIME_OUTPUT_DIRECTORY).
  std::string veil = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "veil").string();
  if (::access(veil.c_str(), X_OK) != 0) GTEST_SKIP() << veil << " is not built";
  std::string r = veil + " runtime --driver docker --docker-socket " + env_->socket() + " ";
  std::uint16_t port = free_port();
  // The parent's flags after the verb, as a kubectl or nomad user types them (issue 20).
  auto run = run_shell(veil + " runtime run --driver docker --docker-socket " + env_->socket() + " --image " + image() +
                       " --digest " + env_->digest() + " --name cli-web --memory 64M " +
                       "--cpu 0.5 --port " + std::to_string(port) + ":80 -l veil.job=cli -- httpd -f -v -p 80 -h /www 2>" + (env_->dir() / "cli-run.err").string());
  if (run.exit_code != 0) run.output += run_shell("cat " + (env_->dir() / "cli-run.err").string()).output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string id = run.output.substr(0, run.output.find('\n'));
  ASSERT_EQ(id.size(), 64u) << run.output;
  // Its stderr is a file, not a terminal: the pull's progress is one plain done line.
  const std::string err = run_shell("cat " + (env_->dir() / "cli-run.err").string()).output;
  EXPECT_NE(err.find("[pull] 1/1 pulling " + image()), std::string::npos) << err;
  EXPECT_NE(err.find(" layers"), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "no redrawing in a file: " << err;
  auto reply = http_get_until_ok(port, "/index.html", std::chrono::seconds(10));
  EXPECT_EQ(reply.body, "hello from veil\n");
  auto ps = run_shell(r + "ps -o json -l veil.job=cli 2>/dev/null");
  ASSERT_EQ(ps.exit_code, 0) << ps.output;
  EXPECT_NE(ps.output.find("\"id\": \"" + id + "\""), std::string::npos) << ps.output;
  EXPECT_NE(ps.output.find("\"state\": \"running\""), std::string::npos) << ps.output;
  EXPECT_NE(ps.output.find("\"host_port\": " + std::to_string(port)), std::string::npos) << ps.output;
  std::string logs;
  wait_for([&] {
    logs = run_shell(r + "logs " + id + " 2>&1").output;
    return logs.find("response:200") != std::string::npos;
  }, std::chrono::seconds(5));
  EXPECT_NE(logs.find("response:200"), std::string::npos) << logs;
  EXPECT_EQ(run_shell(r + "stop -t 2 " + id + " >/dev/null 2>&1").exit_code, 0);
  EXPECT_EQ(run_shell(r + "rm " + id + " >/dev/null 2>&1").exit_code, 0);
  EXPECT_EQ(run_shell(r + "rm " + id + " >/dev/null 2>&1").exit_code, 1) << "removing twice must fail";
  EXPECT_EQ(env_->docker("ps -aq").output, "");
}

}  // namespace
}  // namespace veil::runtime
