// The lifecycle checks every driver must pass, written once and run against the Docker
// driver (integration) and the process driver (unit). A Profile says how to express the
// same workload for each driver: an image, and commands for an HTTP server, a program
// that writes to both streams and exits, a memory hog and a sleeper.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>

#include "test_support.h"
#include "veil/runtime/driver.h"
#include "veil/runtime/reconciler.h"

namespace veil::runtime::testing {

struct Profile {
  std::string image;
  std::function<ContainerSpec(std::uint16_t host_port)> http_server;  // serves /index.html
  std::function<ContainerSpec()> talker;   // stdout "out-line", stderr "err-line", exit 3
  std::function<ContainerSpec()> memory_hog;  // allocates 64 MiB under a 16 MiB limit
  std::function<ContainerSpec()> sleeper;     // runs until stopped
  bool expect_oom_kill = true;  // false where memory is limited without an OOM killer
};

inline std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "-" + std::to_string(n++);
}

inline std::string collect_logs(Driver& d, const std::string& id, LogStream which) {
  std::string out;
  auto s = d.logs(id, {}, [&](LogStream stream, std::string_view bytes) {
    if (stream == which) out.append(bytes);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

inline void wait_for(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Runs an HTTP server on a bound port, checks it with a real request, reads its logs,
// lists it by label, stops and removes it.
inline void check_http_lifecycle(Driver& d, const Profile& profile) {
  std::uint16_t port = free_port();
  ContainerSpec spec = profile.http_server(port);
  std::string job = "web-" + unique_suffix();
  spec.name = "veil-test-" + job;
  spec.labels = {{"veil.job", job}, {"veil.replica", "0"}, {"veil.cluster", "test"}};
  spec.nano_cpus = 500000000;
  spec.memory_bytes = 64LL << 20;
  spec.env["GREETING"] = "hi";
  auto id = d.create(spec);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto dup = d.create(spec);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().to_string();
  ASSERT_TRUE(d.start(*id).ok());

  auto reply = http_get_until_ok(port, "/index.html", std::chrono::seconds(10));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello from veil\n");

  auto info = d.inspect(*id);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, ContainerState::kRunning);
  EXPECT_GT(info->pid, 0);
  EXPECT_EQ(info->name, spec.name);
  EXPECT_EQ(info->labels.at("veil.job"), job);
  EXPECT_EQ(info->memory_bytes, 64LL << 20);
  EXPECT_EQ(info->nano_cpus, 500000000);
  ASSERT_EQ(info->ports.size(), 1u);
  EXPECT_EQ(info->ports[0].host_port, port);

  auto listed = d.list({{"veil.job", job}}, false);
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, *id);
  auto other = d.list({{"veil.job", job}, {"veil.replica", "1"}}, true);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());

  // busybox httpd -v logs each request; it may log on either stream.
  std::string logs;
  wait_for([&] {
    logs = collect_logs(d, *id, LogStream::kStdout) + collect_logs(d, *id, LogStream::kStderr);
    return logs.find("response:200") != std::string::npos;
  }, std::chrono::seconds(5));
  EXPECT_NE(logs.find("response:200"), std::string::npos) << logs;

  ASSERT_TRUE(d.stop(*id, std::chrono::seconds(5)).ok());
  info = d.inspect(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->running());
  EXPECT_EQ(http_get(port, "/index.html").status, 0) << "server still answers after stop";
  EXPECT_TRUE(d.stop(*id, std::chrono::seconds(1)).ok()) << "stopping a stopped container is ok";

  ASSERT_TRUE(d.remove(*id, false).ok());
  EXPECT_EQ(d.inspect(*id).status().code(), StatusCode::kNotFound);
  auto gone = d.list({{"veil.job", job}}, true);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
}

// Exit code, stdout/stderr kept apart, wait, follow, tail.
// exec in a running container: its exit code, a timeout, and a refusal once it stopped (what
// the node's exec health checks rely on).
inline void check_exec(Driver& d, const Profile& profile) {
  ContainerSpec spec = profile.sleeper();
  spec.name = "veil-exec-" + unique_suffix();
  spec.env["MARK"] = "inside";
  auto id = d.create(spec);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(d.exec(*id, {"true"}, std::chrono::seconds(10)).status().code(), StatusCode::kFailedPrecondition)
      << "exec in a container that never started";
  ASSERT_TRUE(d.start(*id).ok());
  auto ok = d.exec(*id, {"sh", "-c", "test \"$MARK\" = inside"}, std::chrono::seconds(10));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, 0) << "the command sees the container's environment";
  auto three = d.exec(*id, {"sh", "-c", "exit 3"}, std::chrono::seconds(10));
  ASSERT_TRUE(three.ok()) << three.status().to_string();
  EXPECT_EQ(*three, 3);
  EXPECT_EQ(d.exec(*id, {"sleep", "30"}, std::chrono::milliseconds(300)).status().code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(d.stop(*id, std::chrono::seconds(1)).ok());
  EXPECT_EQ(d.exec(*id, {"true"}, std::chrono::seconds(10)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(d.remove(*id, true).ok());
}

inline void check_exit_and_streams(Driver& d, const Profile& profile) {
  ContainerSpec spec = profile.talker();
  spec.name = "veil-talker-" + unique_suffix();
  auto id = d.create(spec);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  ASSERT_TRUE(d.start(*id).ok());
  auto exit = d.wait(*id, std::chrono::seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status().to_string();
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_EQ(collect_logs(d, *id, LogStream::kStdout), "out-line\nsecond\n");
  EXPECT_EQ(collect_logs(d, *id, LogStream::kStderr), "err-line\n");
  std::string tail;
  ASSERT_TRUE(d.logs(*id, {.stderr_stream = false, .tail = 1}, [&](LogStream, std::string_view b) {
                 tail.append(b);
                 return true;
               }).ok());
  EXPECT_EQ(tail, "second\n");
  auto info = d.inspect(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ContainerState::kExited);
  EXPECT_EQ(info->exit_code, 3);
  EXPECT_TRUE(d.remove(*id, false).ok());
}

// A container exceeding its memory limit is OOM-killed and reported as such.
inline void check_oom(Driver& d, const Profile& profile) {
  ContainerSpec spec = profile.memory_hog();
  spec.name = "veil-hog-" + unique_suffix();
  spec.memory_bytes = 16LL << 20;
  auto id = d.create(spec);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  ASSERT_TRUE(d.start(*id).ok());
  auto exit = d.wait(*id, std::chrono::seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status().to_string();
  auto info = d.inspect(*id);
  ASSERT_TRUE(info.ok());
  if (profile.expect_oom_kill) {
    EXPECT_TRUE(exit->oom_killed);
    EXPECT_TRUE(info->oom_killed);
    EXPECT_EQ(info->exit_code, 137);
  } else {
    EXPECT_NE(info->exit_code, 0);
  }
  EXPECT_TRUE(d.remove(*id, true).ok());
}

// kill, wait with a timeout, and events for start and die.
inline void check_kill_wait_events(Driver& d, const Profile& profile) {
  std::string job = "ev-" + unique_suffix();
  std::mutex mu;
  std::vector<Event> events;
  auto sub = d.subscribe({{"veil.job", job}}, [&](const Event& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  ContainerSpec spec = profile.sleeper();
  spec.name = "veil-sleeper-" + job;
  spec.labels = {{"veil.job", job}};
  auto id = d.create(spec);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  ASSERT_TRUE(d.start(*id).ok());
  EXPECT_TRUE(d.start(*id).ok()) << "starting a running container is ok";
  auto still = d.wait(*id, std::chrono::milliseconds(300));
  EXPECT_EQ(still.status().code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(d.kill(*id, SIGKILL).ok());
  auto exit = d.wait(*id, std::chrono::seconds(20));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_EQ(d.kill(*id, SIGKILL).code(), StatusCode::kFailedPrecondition);
  auto seen = [&](const std::string& action) {
    std::lock_guard lock(mu);
    return std::any_of(events.begin(), events.end(),
                       [&](const Event& e) { return e.action == action && e.container_id == *id; });
  };
  wait_for([&] { return seen("start") && seen("die"); }, std::chrono::seconds(5));
  EXPECT_TRUE(seen("start"));
  EXPECT_TRUE(seen("die"));
  {
    std::lock_guard lock(mu);
    for (const auto& e : events) {
      if (e.action == "die") {
        EXPECT_EQ(e.attributes.at("exitCode"), "137");
        EXPECT_EQ(e.attributes.at("veil.job"), job);
      }
    }
  }
  sub->reset();
  EXPECT_TRUE(d.remove(*id, true).ok());
}

// The reconciler: starts what is missing, restarts a container killed from outside
// (with back-off), and a fresh driver + reconciler ("restarted node") adopts instead of
// duplicating; unwanted and duplicate containers are removed.
inline void check_reconciler(const std::function<std::unique_ptr<Driver>()>& open, const Profile& profile,
                             const std::function<void(const ContainerInfo&)>& kill_from_outside,
                             ReconcilerOptions options) {
  options.cluster = "rc-" + unique_suffix();
  options.backoff_initial = std::chrono::milliseconds(100);
  options.backoff_max = std::chrono::milliseconds(400);
  options.stop_grace = std::chrono::seconds(2);
  ContainerSpec spec = profile.sleeper();
  spec.labels = {{"veil.job", "api"}, {"veil.replica", "0"}};
  auto count = [&](Driver& d) {
    auto all = d.list({{"veil.cluster", options.cluster}}, true);
    EXPECT_TRUE(all.ok()) << all.status().to_string();
    return all.ok() ? all->size() : 0;
  };

  auto driver = open();
  ASSERT_TRUE(driver);
  std::string first_id;
  {
    Reconciler r(*driver, options);
    ASSERT_TRUE(r.set_desired({{spec}}).ok());
    auto pass = r.reconcile();
    ASSERT_TRUE(pass.ok()) << pass.status().to_string();
    ASSERT_EQ(pass->created.size(), 1u) << (pass->errors.empty() ? "" : pass->errors.front().to_string());
    first_id = pass->created.front();
    auto info = driver->inspect(first_id);
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->running());
    EXPECT_EQ(info->name, Reconciler::container_name(options.cluster, "api", "0"));
    EXPECT_EQ(info->labels.at("veil.cluster"), options.cluster);

    // Killed from outside: the next passes start it again.
    kill_from_outside(*info);
    wait_for([&] { auto i = driver->inspect(first_id); return i.ok() && !i->running(); }, std::chrono::seconds(10));
    bool restarted = false;
    for (int i = 0; i < 40 && !restarted; ++i) {
      auto p = r.reconcile();
      ASSERT_TRUE(p.ok());
      restarted = !p->restarted.empty();
      if (!restarted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(restarted);
    info = driver->inspect(first_id);
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->running());
    EXPECT_EQ(count(*driver), 1u);
  }

  // Node restart: new driver instance, new reconciler, same desired set.
  driver.reset();
  auto fresh = open();
  ASSERT_TRUE(fresh);
  Reconciler again(*fresh, options);
  ASSERT_TRUE(again.set_desired({{spec}}).ok());
  auto adopt = again.reconcile();
  ASSERT_TRUE(adopt.ok());
  EXPECT_TRUE(adopt->created.empty());
  ASSERT_EQ(adopt->adopted.size(), 1u);
  EXPECT_EQ(adopt->adopted.front(), first_id);
  EXPECT_EQ(count(*fresh), 1u);
  auto quiet = again.reconcile();
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->created.empty() && quiet->removed.empty() && quiet->restarted.empty() && quiet->adopted.empty());

  // A duplicate for the same key (e.g. left by a crashed older version) is removed.
  ContainerSpec dup = spec;
  dup.name = "veil-dup-" + unique_suffix();
  dup.labels["veil.cluster"] = options.cluster;
  auto dup_id = fresh->create(dup);
  ASSERT_TRUE(dup_id.ok()) << dup_id.status().to_string();
  auto dedupe = again.reconcile();
  ASSERT_TRUE(dedupe.ok());
  EXPECT_EQ(dedupe->removed, std::vector<std::string>{*dup_id});
  EXPECT_EQ(count(*fresh), 1u);

  // No longer desired: stopped and removed.
  ASSERT_TRUE(again.set_desired({}).ok());
  auto drain = again.reconcile();
  ASSERT_TRUE(drain.ok());
  EXPECT_EQ(drain->removed, std::vector<std::string>{first_id});
  EXPECT_EQ(count(*fresh), 0u);
}

}  // namespace veil::runtime::testing
