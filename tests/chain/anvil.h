// Test helper: a real anvil on a free loopback port, started by the test and stopped (SIGTERM,
// then SIGKILL) when the object dies, also when the test fails.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "veil/chain/eth_client.h"

extern char** environ;

namespace veil::chain::testing {

// anvil's default dev accounts (public, from its well-known test mnemonic).
inline constexpr const char* kAnvilKeys[] = {
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
};

// The repository root: compiled in by tests/chain/CMakeLists.txt, else VEIL_SOURCE_DIR.
inline std::string source_dir() {
#ifdef VEIL_REPO_ROOT
  return VEIL_REPO_ROOT;
#else
  const char* dir = std::getenv("VEIL_SOURCE_DIR");
  return dir ? dir : ".";
#endif
}

inline std::string tool_path(const std::string& tool) {
  return source_dir() + "/node_modules/@foundry-rs/" + tool + "-linux-amd64/bin/" + tool;
}

// A loopback port nobody listens on right now.
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

class Anvil {
 public:
  // Returns null (and the reason in `error`) when anvil cannot be started or does not answer.
  static std::unique_ptr<Anvil> start(std::string& error, std::vector<std::string> extra = {}) {
    auto anvil = std::unique_ptr<Anvil>(new Anvil());
    anvil->port_ = free_port();
    std::string bin = tool_path("anvil");
    std::vector<std::string> args = {bin,       "--host", "127.0.0.1", "--port", std::to_string(anvil->port_),
                                     "--silent"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&anvil->pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      anvil->pid_ = -1;
      error = "cannot start " + bin + " (run scripts/setup.sh)";
      return nullptr;
    }
    auto client = EthClient::connect(anvil->url(),
                                     RpcOptions{1, std::chrono::milliseconds(10), std::chrono::seconds(2)});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (client->chain_id().ok()) return anvil;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "anvil did not answer on " + anvil->url() + " within 30 s";
    return nullptr;
  }

  ~Anvil() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  Anvil() = default;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace veil::chain::testing
