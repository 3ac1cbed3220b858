// Test helpers for the runtime tests: temp dirs, free ports, a real HTTP GET, child
// processes that die with the test, and a private dockerd + registry environment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace veil::runtime::testing {

// A directory under /tmp removed (recursively, after unmounting anything below it) on
// destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "veil-rt");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Unmounts anything below `path` (deepest first), then deletes it.
  static void remove_tree(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

struct HttpResult {
  int status = 0;  // 0 when the connection failed
  std::string body;
};
// GET http://127.0.0.1:port/path with our own socket code (HTTP/1.0, read to close).
HttpResult http_get(std::uint16_t port, const std::string& path);
// Retries http_get until status 200 or the deadline.
HttpResult http_get_until_ok(std::uint16_t port, const std::string& path, std::chrono::milliseconds limit);

// Runs a shell command, returning exit status and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_shell(const std::string& command);

// A child process started with PR_SET_PDEATHSIG, so it is killed if the test dies; stopped
// (SIGTERM, then SIGKILL after `grace`) on destruction. Output goes to `log_file`.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  bool alive();
  void stop(std::chrono::seconds grace = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
};

// Where busybox-static's binary is, or empty.
std::string busybox_path();

// A private Docker engine for one test process: its own socket, data root, exec root,
// pid file and bridge (a fresh Linux bridge with a random 10.x.y.0/24 subnet, iptables off),
// plus a local registry on a free 127.0.0.1 port holding a busybox image built with
// `docker import`. Everything is torn down by the destructor, also when a test fails.
class DockerEnvironment {
 public:
  DockerEnvironment();
  ~DockerEnvironment();

  // Starts it all. Returns an empty string on success, else why Docker tests cannot run
  // here (the caller skips with that reason).
  std::string start();

  const std::string& socket() const { return socket_; }
  // "127.0.0.1:PORT/veil-busybox" and its pushed tag "1" and digest.
  const std::string& repository() const { return repository_; }
  const std::string& digest() const { return digest_; }
  std::uint16_t registry_port() const { return registry_port_; }
  // Runs the docker CLI against this engine.
  CommandResult docker(const std::string& args) const;
  const std::filesystem::path& dir() const { return temp_.path(); }

  // Starts a second registry serving the same storage but requiring basic auth
  // (user "veil", password "secret"); returns its port, or 0 and a reason.
  std::uint16_t start_auth_registry(std::string* why);

 private:
  std::string start_registry(std::uint16_t port, const std::string& extra_config, std::unique_ptr<ChildProcess>& out);

  TempDir temp_;
  std::string socket_, bridge_, docker_cli_, repository_, digest_;
  std::uint16_t registry_port_ = 0;
  std::unique_ptr<ChildProcess> dockerd_, registry_, auth_registry_;
};

}  // namespace veil::runtime::testing
