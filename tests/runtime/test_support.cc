#include "test_support.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

namespace veil::runtime::testing {
namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + ".XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (made) path_ = made;
}

TempDir::~TempDir() {
  if (!path_.empty()) remove_tree(path_);
}

void TempDir::remove_tree(const std::filesystem::path& path_) {
  // Unmount whatever an engine left below us (deepest first) before deleting.
  std::ifstream mounts("/proc/mounts");
  std::vector<std::string> below;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string dev, point;
    fields >> dev >> point;
    if (point.rfind(path_.string() + "/", 0) == 0) below.push_back(point);
  }
  std::sort(below.rbegin(), below.rend());
  for (const auto& point : below) ::umount2(point.c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

HttpResult http_get(std::uint16_t port, const std::string& path) {
  HttpResult result;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return result;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return result;
  result.status = std::atoi(response.c_str() + 9);
  if (auto end = response.find("\r\n\r\n"); end != std::string::npos) result.body = response.substr(end + 4);
  return result;
}

HttpResult http_get_until_ok(std::uint16_t port, const std::string& path, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto r = http_get(port, path);
    if (r.status == 200 || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  std::string full = "(" + command + ") 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) result.output.append(buf, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Dies with the test process, so a crashed or timed-out test leaves no daemon behind.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::close_range(3, ~0U, 0);
    ::setpgid(0, 0);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::alive() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::stop(std::chrono::seconds grace) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string busybox_path() {
  for (const char* p : {"/bin/busybox", "/usr/bin/busybox"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

namespace {

bool on_path(const std::string& name) { return run_shell("command -v " + name + " >/dev/null").exit_code == 0; }

std::string tail_of(const fs::path& file, std::size_t bytes = 1500) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

namespace {

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// A test killed hard (ctest timeout) cannot tear down; its dockerd dies with it
// (PDEATHSIG), but its bridge and temp dir stay. Both carry the test's pid in their name,
// so the next run removes those whose owner is gone.
void remove_leftovers_of_dead_tests() {
  auto bridges = run_shell("ip -o link show type bridge | awk -F': ' '{print $2}'");
  std::istringstream names(bridges.output);
  for (std::string name; std::getline(names, name);) {
    if (name.rfind("vrt", 0) != 0) continue;
    auto dash = name.find('-');
    if (dash == std::string::npos) continue;
    long pid = std::atol(name.substr(3, dash - 3).c_str());
    if (pid > 0 && !process_alive(pid)) run_shell("ip link del " + name + " 2>/dev/null");
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename();
    constexpr std::string_view kPrefix = "veil-rt-docker-";
    if (name.rfind(kPrefix, 0) != 0) continue;
    long pid = std::atol(name.c_str() + kPrefix.size());
    if (pid <= 0 || process_alive(pid)) continue;
    std::ifstream pidfile(entry.path() / "dockerd.pid");
    long dockerd = 0;
    if (pidfile >> dockerd && process_alive(dockerd)) continue;  // still shutting down
    TempDir::remove_tree(entry.path());
  }
}

}  // namespace

DockerEnvironment::DockerEnvironment() : temp_("veil-rt-docker-" + std::to_string(::getpid())) {}

DockerEnvironment::~DockerEnvironment() {
  if (dockerd_ && dockerd_->alive()) {
    // Remove our containers first so dockerd's shutdown is quick and leaves no mounts.
    docker("ps -aq | xargs -r " + docker_cli_ + " -H unix://" + socket_ + " rm -f >/dev/null");
    dockerd_->stop(std::chrono::seconds(30));
  }
  auth_registry_.reset();
  registry_.reset();
  if (!bridge_.empty()) run_shell("ip link del " + bridge_);
}

CommandResult DockerEnvironment::docker(const std::string& args) const {
  return run_shell("DOCKER_CONFIG=" + (temp_.path() / "cli").string() + " " + docker_cli_ + " -H unix://" + socket_ +
                   " " + args);
}

std::string DockerEnvironment::start() {
  if (temp_.path().empty()) return "cannot create a temp dir";
  if (!on_path("dockerd")) return "dockerd is not installed (Debian package docker.io)";
  if (!on_path("docker-registry")) return "docker-registry is not installed (Debian package docker-registry)";
  if (busybox_path().empty()) return "busybox-static is not installed";
  if (::geteuid() != 0) return "dockerd needs root here (rootless dockerd is not set up)";
  // Debian's CLI matches Debian's engine; another CLI earlier in PATH may be newer.
  docker_cli_ = ::access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : "docker";
  const fs::path& dir = temp_.path();

  remove_leftovers_of_dead_tests();
  // Our own bridge: a second engine on the machine keeps its docker0, and with iptables
  // off we touch no firewall state; published ports work through docker-proxy.
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 20 && bridge_.empty(); ++attempt) {
    char name[16];  // IFNAMSIZ: at most 15 characters
    std::snprintf(name, sizeof name, "vrt%d-%03x", static_cast<int>(::getpid()) % 10000000,
                  static_cast<unsigned>(rng() & 0xfff));
    int x = 100 + static_cast<int>(rng() % 100), y = static_cast<int>(rng() % 250) + 1;
    std::string subnet = "10." + std::to_string(x) + "." + std::to_string(y) + ".";
    if (run_shell("ip -4 addr | grep -q ' " + subnet + "'").exit_code == 0) continue;  // in use
    auto made = run_shell("ip link add " + std::string(name) + " type bridge && ip addr add " + subnet + "1/24 dev " +
                          name + " && ip link set " + name + " up");
    if (made.exit_code != 0) {
      run_shell("ip link del " + std::string(name) + " 2>/dev/null");
      return "cannot create a network bridge for dockerd: " + made.output;
    }
    bridge_ = name;
  }
  if (bridge_.empty()) return "no free 10.x.y.0/24 subnet for a bridge";

  socket_ = (dir / "docker.sock").string();
  fs::path log = dir / "dockerd.log";
  dockerd_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"dockerd", "--host", "unix://" + socket_, "--data-root", (dir / "data").string(),
                               "--exec-root", (dir / "exec").string(), "--pidfile", (dir / "dockerd.pid").string(),
                               "--bridge", bridge_, "--iptables=false", "--ip-forward=false", "--ip-masq=false",
                               "--userland-proxy=true", "--log-level", "warn"},
      log.string());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (docker("version --format '{{.Server.Version}}'").exit_code != 0) {
    if (!dockerd_->alive()) return "dockerd exited at start: " + tail_of(log);
    if (std::chrono::steady_clock::now() > deadline) return "dockerd did not answer within 60 s: " + tail_of(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // A tiny image from busybox-static, with `docker import` (no internet registry here).
  fs::path rootfs = dir / "rootfs";
  fs::create_directories(rootfs / "bin");
  fs::create_directories(rootfs / "www");
  fs::create_directories(rootfs / "tmp");
  fs::copy_file(busybox_path(), rootfs / "bin" / "busybox");
  for (const char* applet : {"sh", "httpd", "echo", "cat", "sleep", "dd", "head", "true", "wget"}) {
    fs::create_symlink("busybox", rootfs / "bin" / applet);
  }
  std::ofstream(rootfs / "www" / "index.html") << "hello from veil\n";
  auto tar = run_shell("tar -C " + rootfs.string() + " -cf " + (dir / "img.tar").string() + " .");
  if (tar.exit_code != 0) return "tar failed: " + tar.output;
  auto imported = docker("import " + (dir / "img.tar").string() + " veil-busybox:1");
  if (imported.exit_code != 0) return "docker import failed: " + imported.output;

  registry_port_ = free_port();
  if (auto why = start_registry(registry_port_, "", registry_); !why.empty()) return why;
  repository_ = "127.0.0.1:" + std::to_string(registry_port_) + "/veil-busybox";
  auto tagged = docker("tag veil-busybox:1 " + repository_ + ":1");
  if (tagged.exit_code != 0) return "docker tag failed: " + tagged.output;
  CommandResult pushed;
  for (int attempt = 0; attempt < 3; ++attempt) {
    pushed = docker("push " + repository_ + ":1");
    if (pushed.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (pushed.exit_code != 0) return "docker push to the local registry failed: " + pushed.output;
  auto at = pushed.output.find("digest: sha256:");
  if (at == std::string::npos) return "docker push printed no digest: " + pushed.output;
  digest_ = pushed.output.substr(at + 8, 71);
  // Forget the local copies, so the driver's pull really fetches from the registry.
  docker("rmi " + repository_ + ":1 veil-busybox:1");
  return "";
}

std::string DockerEnvironment::start_registry(std::uint16_t port, const std::string& extra_config,
                                              std::unique_ptr<ChildProcess>& out) {
  const fs::path& dir = temp_.path();
  fs::path config = dir / ("registry-" + std::to_string(port) + ".yml");
  std::ofstream(config) << "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
                        << (dir / "registry").string() << "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:"
                        << port << "\n"
                        << extra_config;
  fs::path log = dir / ("registry-" + std::to_string(port) + ".log");
  out = std::make_unique<ChildProcess>(std::vector<std::string>{"docker-registry", "serve", config.string()},
                                       log.string());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (http_get(port, "/v2/").status == 0) {
    if (!out->alive()) return "docker-registry exited at start: " + tail_of(log);
    if (std::chrono::steady_clock::now() > deadline) return "docker-registry did not listen: " + tail_of(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

std::uint16_t DockerEnvironment::start_auth_registry(std::string* why) {
  // bcrypt through libxcrypt, the format registry's htpasswd wants.
  crypt_data data{};
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!::crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof salt)) {
    *why = "libcrypt cannot make a bcrypt salt";
    return 0;
  }
  const char* hash = ::crypt_r("secret", salt, &data);
  if (!hash || hash[0] == '*') {
    *why = "libcrypt has no bcrypt";
    return 0;
  }
  fs::path htpasswd = temp_.path() / "htpasswd";
  std::ofstream(htpasswd) << "veil:" << hash << "\n";
  std::uint16_t port = free_port();
  std::string config = "auth:\n  htpasswd:\n    realm: veil-test\n    path: " + htpasswd.string() + "\n";
  *why = start_registry(port, config, auth_registry_);
  return why->empty() ? port : 0;
}

}  // namespace veil::runtime::testing
