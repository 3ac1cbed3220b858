// Health checks (health_check.h) against real servers on loopback and real processes: an
// HTTP server of the test's own that answers each path with a chosen status or not at all,
// a listening and a closed TCP port, and exec checks through the process driver. The
// trackers are driven by a clock the test passes in.
#include "health_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "loopback_listener.h"
#include "veil/runtime/process_driver.h"

namespace veil::node {
namespace {

using namespace std::chrono_literals;
using Kind = sched::HealthCheckSpec::Kind;

using Listener = LoopbackListener;

// Serves GET /ok with 200, /moved with 302, /broken with 500, and never answers /hang.
class HttpServer {
 public:
  HttpServer() : thread_([this] { serve(); }) {}
  ~HttpServer() {
    stop_ = true;
    listener_.close();
    thread_.join();
    for (int fd : hung_) ::close(fd);
  }
  std::uint16_t port() const { return listener_.port; }

 private:
  void serve() {
    while (!stop_) {
      const int client = ::accept(listener_.fd, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buf[512];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      std::string status = "404 Not Found";
      if (request.rfind("GET /ok ", 0) == 0) status = "200 OK";
      if (request.rfind("GET /moved ", 0) == 0) status = "302 Found";
      if (request.rfind("GET /broken ", 0) == 0) status = "500 Internal Server Error";
      if (request.rfind("GET /hang ", 0) == 0) {
        hung_.push_back(client);  // answered never; closed when the server goes
        continue;
      }
      const std::string answer = "HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  Listener listener_;
  std::atomic<bool> stop_{false};
  std::vector<int> hung_;
  std::thread thread_;
};

sched::HealthCheckSpec http(const std::string& path, std::chrono::milliseconds timeout = 2s) {
  sched::HealthCheckSpec check;
  check.kind = Kind::kHttp;
  check.path = path;
  check.timeout = timeout;
  return check;
}

TEST(HealthCheck, HttpPassesOn2xxAnd3xxOnly) {
  HttpServer server;
  const HealthTarget target{.port = server.port()};
  EXPECT_TRUE(run_health_check(http("/ok"), target).ok());
  EXPECT_TRUE(run_health_check(http("/moved"), target).ok());
  const Status broken = run_health_check(http("/broken"), target);
  EXPECT_EQ(broken.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(broken.message().find("GET /broken answered 500"), std::string::npos) << broken.message();
  EXPECT_EQ(run_health_check(http("/missing"), target).code(), StatusCode::kFailedPrecondition);
}

TEST(HealthCheck, HttpWithoutAnAnswerFailsAtItsTimeout) {
  HttpServer server;
  const Status hung = run_health_check(http("/hang", 200ms), {.port = server.port()});
  EXPECT_EQ(hung.code(), StatusCode::kDeadlineExceeded) << hung.to_string();
}

TEST(HealthCheck, TcpPassesWhileSomethingListens) {
  sched::HealthCheckSpec tcp;
  tcp.kind = Kind::kTcp;
  Listener listener;
  const std::uint16_t port = listener.port;
  EXPECT_TRUE(run_health_check(tcp, {.port = port}).ok());
  listener.close();
  const Status closed = run_health_check(tcp, {.port = port});
  EXPECT_EQ(closed.code(), StatusCode::kUnavailable) << closed.to_string();
  EXPECT_NE(closed.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << closed.message();
  EXPECT_EQ(run_health_check(tcp, {.port = 0}).code(), StatusCode::kInvalidArgument);  // no host port here
}

TEST(HealthCheck, ExecRunsInTheReplicaThroughTheProcessDriver) {
  char tmpl[] = "/tmp/veil-health-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  {
    auto driver = runtime::open_process_driver({.state_dir = (dir / "processes").string(), .cgroup_parent = ""});
    ASSERT_TRUE(driver.ok()) << driver.status().to_string();
    runtime::ContainerSpec spec;
    spec.image = "/bin/sleep";
    spec.command = {"/bin/sleep", "300"};
    spec.env = {{"READY_FILE", (dir / "ready").string()}};
    auto id = (*driver)->create(spec);
    ASSERT_TRUE(id.ok()) << id.status().to_string();
    sched::HealthCheckSpec exec;
    exec.kind = Kind::kExec;
    exec.command = {"/bin/sh", "-c", "test -e \"$READY_FILE\""};  // the replica's environment
    exec.timeout = 5s;
    const HealthTarget target{.container_id = *id, .driver = driver->get()};
    EXPECT_EQ(run_health_check(exec, target).code(), StatusCode::kFailedPrecondition);  // not running
    ASSERT_TRUE((*driver)->start(*id).ok());
    const Status missing = run_health_check(exec, target);
    EXPECT_EQ(missing.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(missing.message().find("exited with code 1"), std::string::npos) << missing.message();
    { std::FILE* f = std::fopen((dir / "ready").c_str(), "w"); ASSERT_NE(f, nullptr); std::fclose(f); }
    EXPECT_TRUE(run_health_check(exec, target).ok());
    exec.command = {"/bin/sleep", "30"};
    exec.timeout = 200ms;
    EXPECT_EQ(run_health_check(exec, target).code(), StatusCode::kDeadlineExceeded);
    (void)(*driver)->remove(*id, true);
  }
  std::filesystem::remove_all(dir);
}

TEST(HealthTracker, FailuresCountOnlyAfterGraceAndInARow) {
  sched::HealthCheckSpec check;
  check.interval = 10s;
  check.grace = 30s;
  check.failures = 2;
  HealthTracker t(check);
  t.restarted(1'000);
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kStarting);
  EXPECT_TRUE(t.due(1'000));
  t.record(1'000, unavailable("refused"));
  t.record(11'000, unavailable("refused"));
  t.record(21'000, unavailable("refused"));
  EXPECT_EQ(t.consecutive_failures(), 0u);  // all within the 30 s of grace
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kStarting);
  EXPECT_FALSE(t.due(30'000));
  EXPECT_TRUE(t.due(31'000));
  t.record(31'000, unavailable("refused"));
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kStarting);
  t.record(41'000, Status{});  // one pass: healthy, and the count starts again
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kHealthy);
  t.record(51'000, unavailable("refused"));
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kHealthy);  // one failure is not two
  t.record(61'000, deadline_exceeded("slow"));
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kUnhealthy);
  EXPECT_EQ(t.last_error(), "slow");
  t.restarted(70'000);  // a restart gives it a new grace and a clean slate
  EXPECT_EQ(t.verdict(), HealthTracker::Verdict::kStarting);
  EXPECT_EQ(t.consecutive_failures(), 0u);
}

TEST(RestartTracker, AttemptsPerIntervalThenFailOrDelay) {
  sched::RestartPolicy policy{.attempts = 2, .interval = 60s, .delay = 5s, .mode = sched::RestartPolicy::Mode::kFail};
  RestartTracker fail(policy);
  auto first = fail.on_failure(0);
  EXPECT_FALSE(first.give_up);
  EXPECT_EQ(first.restart_at_ms, 5'000);
  EXPECT_EQ(first.attempt, 1u);
  EXPECT_EQ(fail.on_failure(10'000).attempt, 2u);
  EXPECT_TRUE(fail.on_failure(20'000).give_up);  // a third within the minute
  // A minute after the first restart, the window holds one: one more is allowed.
  RestartTracker later(policy);
  (void)later.on_failure(0);
  (void)later.on_failure(10'000);
  EXPECT_FALSE(later.on_failure(65'000).give_up);

  policy.mode = sched::RestartPolicy::Mode::kDelay;
  RestartTracker delay(policy);
  (void)delay.on_failure(0);       // restarts at 5 s
  (void)delay.on_failure(10'000);  // at 15 s
  auto waits = delay.on_failure(20'000);
  EXPECT_FALSE(waits.give_up);
  EXPECT_EQ(waits.restart_at_ms, 65'000);  // when the 5 s restart leaves the window

  RestartTracker never(sched::RestartPolicy{.attempts = 0});
  EXPECT_TRUE(never.on_failure(0).give_up);
}

}  // namespace
}  // namespace veil::node
