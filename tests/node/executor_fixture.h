// The executor role driven through a NodeContext of the test's own (fake_node_context.h) and a
// real driver (the process driver here; Docker in executor_docker_test.cc). No network or
// chain: the peers' requests and answers are what the test records and gives. Included by the
// two executor tests only.
#pragma once

#include "executor.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fake_node_context.h"
#include "veil/runtime/process_driver.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;

const std::string kCoordinator = "12D3KooWCoordinator";
const std::string kOther = "12D3KooWOtherPeer";

// A TCP port on 127.0.0.1 that was free a moment ago.
[[maybe_unused]] std::uint16_t runtime_test_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/veil-executor-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ctx_ = std::make_unique<FakeContext>(dir_);
    auto driver = open_driver();
    ASSERT_TRUE(driver.ok()) << driver.status().to_string();
    driver_ = driver->get();
    runtime::ReconcilerOptions options;
    options.cluster = "test-" + std::to_string(::getpid());
    options.stop_grace = std::chrono::seconds(1);
    configure(options);
    executor_ = std::make_unique<Executor>(*ctx_, std::move(driver).value(), "the test's choice", options);
  }

  // The driver the executor runs, and what the Docker variant adds to the reconciler's options.
  virtual Result<std::unique_ptr<runtime::Driver>> open_driver() {
    return runtime::open_process_driver({.state_dir = (dir_ / "processes").string(), .cgroup_parent = ""});
  }
  virtual void configure(runtime::ReconcilerOptions&) {}
  // The spec's image: any digest for the process driver (the command names the executable).
  virtual std::string image() const { return "x@sha256:" + std::string(64, 'a'); }

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

  // Runs the io thread's work until `done` holds, moving the node's clock `step_ms` on each
  // turn, and answering every report with an acknowledgement (the coordinator accepts them).
  template <typename Pred>
  bool run_acknowledged_until(Pred done, std::int64_t step_ms = 1'000) {
    return run_until([&] {
      ctx_->clock_ms += step_ms;
      acknowledge_reports();
      return done();
    });
  }

  void acknowledge_reports() {
    for (std::size_t i = 0; i < ctx_->sent.size(); ++i) {
      if (ctx_->sent[i].protocol != kReportProtocol || !ctx_->sent[i].on_reply) continue;
      auto reply = std::move(ctx_->sent[i].on_reply);
      ctx_->sent[i].on_reply = nullptr;
      reply(encode(AssignmentAck{}));
    }
  }

  // The states reported to `peer`, in order, each repetition dropped.
  std::vector<std::string> states_reported(const std::string& peer) const {
    std::vector<std::string> states;
    for (const auto& r : ctx_->reports_to(peer)) {
      if (states.empty() || states.back() != r.state) states.push_back(r.state);
    }
    return states;
  }

  // Every container of `job`, exited ones too.
  std::vector<runtime::ContainerInfo> containers(const Hash32& job) {
    auto list = driver_->list({{std::string(runtime::kLabelJob), hash_hex(job).substr(0, 32)}}, true);
    return list.ok() ? *list : std::vector<runtime::ContainerInfo>{};
  }

  // Lines in `path` (how many times a replica ran, when its command appends one per run).
  static std::size_t lines_in(const fs::path& path) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  // The spec of the job store_replica() stores: `command` with `extra` spec lines.
  std::string replica_spec_yaml(const std::string& extra = "", const std::string& command = "[/bin/sleep, '300']") const {
    return "name: sleeper\nimage: " + image() + "\nresources: {cpu: 1, memory: 16}\ncommand: " + command + "\n" + extra;
  }

  // Stores a replica of a job running `command` (default /bin/sleep) with `extra` spec lines,
  // coordinated by `coordinator`, as an earlier run of the node would have; returns the job id.
  Hash32 store_replica(const std::string& coordinator, std::uint32_t round, const std::string& extra = "",
                       const std::string& command = "[/bin/sleep, '300']", const std::string& owner = "",
                       const nlohmann::json& sealed_secrets = nlohmann::json::object()) {
    const std::string yaml = replica_spec_yaml(extra, command);
    auto spec = sched::parse_job_spec(yaml, "test");
    EXPECT_TRUE(spec.ok()) << spec.status().to_string();
    const Hash32 job = sched::job_id(*spec);
    nlohmann::json doc = {{"job", hash_hex(job)},       {"replica", 0}, {"round", round},
                          {"coordinator", coordinator}, {"spec", yaml},
                          {"host_port", spec->ports.empty() ? 0 : spec->ports.front().host_port},  // as accept() keeps it
                          {"owner", owner}, {"sealed_secrets", sealed_secrets}};
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

}  // namespace
}  // namespace veil::node
