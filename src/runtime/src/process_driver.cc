// Process driver: containers as supervised process groups, state on disk.
//
// Start forks twice so that the supervisor ("shim") is not our child and survives a node
// restart: driver -> P1 (setsid, forks, exits) -> shim P2 -> workload P3 (own process
// group, cgroup, rlimits, log files, exec). The shim waits for P3 and records its wait
// status in <dir>/exit; that file is the truth about how a container ended, whichever
// driver instance asks. Between fork and exec only async-signal-safe calls are made (the
// driver may be multi-threaded), so every string is prepared before forking.
#include "veil/runtime/process_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "sha256.h"
#include "veil/common/log.h"
#include "veil/common/read_file.h"
#include "veil/common/sha256.h"

namespace veil::runtime {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<std::string> sha256_file_hex(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string data, read_file(path, FileLimit{"executable", kGiB}));
  return sha256_hex(data);
}

namespace {

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_id() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id.push_back(kHex[rd() & 15]);
  return id;
}

// The driver's own state, /proc and cgroup files, and workload logs (hence the generous limit).
Result<std::string> read_file(const fs::path& path) { return veil::read_file(path, {"runtime file", kGiB}); }

Status write_file_atomic(const fs::path& path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return permission_denied("cannot write " + tmp.string());
    out << data;
    if (!out) return internal_error("short write to " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return internal_error("rename " + tmp.string() + ": " + ec.message());
  return {};
}

// Field 22 of /proc/PID/stat (start time in clock ticks): with the pid it names one process
// for good, so a recycled pid is never mistaken for our workload.
std::optional<std::uint64_t> process_start_time(int pid, char* state = nullptr) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return std::nullopt;
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text->substr(close + 2));
  std::string field;
  std::vector<std::string> fields;
  while (rest >> field) fields.push_back(field);
  if (fields.size() < 20) return std::nullopt;
  if (state) *state = fields[0].empty() ? '?' : fields[0][0];
  return std::stoull(fields[19]);  // field 22 overall; fields[0] is field 3
}

Result<std::string> resolve_executable(const std::string& image) {
  if (image.empty()) return invalid_argument("process driver: image (the executable) is empty");
  auto executable = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p); };
  if (image.find('/') != std::string::npos) {
    if (!executable(image)) return not_found("unknown image: " + image + " is not an executable file");
    return fs::absolute(image).string();
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : std::string(kDefaultPath);
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && executable(fs::path(dir) / image)) return (fs::path(dir) / image).string();
  }
  return not_found("unknown image: no executable named '" + image + "' in PATH");
}

// Writes a decimal number without allocating (usable between fork and exec).
std::size_t format_decimal(long long value, char* out) {
  char tmp[24];
  std::size_t n = 0;
  bool negative = value < 0;
  unsigned long long v = negative ? 0ULL - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  std::size_t len = 0;
  if (negative) out[len++] = '-';
  while (n) out[len++] = tmp[--n];
  out[len] = '\0';
  return len;
}

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

bool read_exact(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Where containers' cgroups go, detected once per driver.
struct CgroupLayout {
  enum class Kind { kNone, kV1, kV2 } kind = Kind::kNone;
  fs::path v2_parent;            // /sys/fs/cgroup/<parent>
  fs::path v1_memory, v1_cpu;    // /sys/fs/cgroup/{memory,cpu}/<parent>
  std::string why;               // for describe()

  std::vector<fs::path> dirs_for(const std::string& id) const {
    if (kind == Kind::kV2) return {v2_parent / id};
    if (kind == Kind::kV1) return {v1_memory / id, v1_cpu / id};
    return {};
  }
};

CgroupLayout detect_cgroups(const std::string& parent) {
  CgroupLayout layout;
  if (parent.empty()) {
    layout.why = "cgroups disabled by configuration";
    return layout;
  }
  std::error_code ec;
  fs::path root = "/sys/fs/cgroup";
  if (fs::exists(root / "cgroup.controllers")) {
    fs::path dir = root / parent;
    fs::create_directories(dir, ec);
    auto enabled = read_file(root / "cgroup.subtree_control");
    std::ofstream(root / "cgroup.subtree_control") << "+memory +cpu";
    std::ofstream(dir / "cgroup.subtree_control") << "+memory +cpu";
    auto controllers = read_file(dir / "cgroup.subtree_control");
    if (!ec && controllers.ok() && controllers->find("memory") != std::string::npos) {
      layout.kind = CgroupLayout::Kind::kV2;
      layout.v2_parent = dir;
      layout.why = "cgroup v2 at " + dir.string();
      return layout;
    }
    layout.why = "cgroup v2 not writable here (" + dir.string() + ")";
    return layout;
  }
  if (fs::exists(root / "memory" / "memory.limit_in_bytes") || fs::exists(root / "memory" / "cgroup.procs")) {
    fs::path mem = root / "memory" / parent, cpu = root / "cpu" / parent;
    fs::create_directories(mem, ec);
    std::error_code ec2;
    fs::create_directories(cpu, ec2);
    if (!ec && !ec2 && ::access(mem.c_str(), W_OK) == 0) {
      layout.kind = CgroupLayout::Kind::kV1;
      layout.v1_memory = mem;
      layout.v1_cpu = cpu;
      layout.why = "cgroup v1 at " + mem.string() + " and " + cpu.string();
      return layout;
    }
    layout.why = "cgroup v1 not writable here (" + mem.string() + ")";
    return layout;
  }
  layout.why = "no cgroup hierarchy mounted";
  return layout;
}

// How many times the kernel OOM-killed inside a container's cgroup.
std::int64_t oom_kill_count(const CgroupLayout& layout, const std::string& id) {
  fs::path file;
  if (layout.kind == CgroupLayout::Kind::kV2) file = layout.v2_parent / id / "memory.events";
  else if (layout.kind == CgroupLayout::Kind::kV1) file = layout.v1_memory / id / "memory.oom_control";
  else return 0;
  auto text = read_file(file);
  if (!text.ok()) return 0;
  std::istringstream in(*text);
  std::string key;
  std::int64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return 0;
}

struct Paths {
  fs::path dir;
  fs::path spec() const { return dir / "spec.json"; }
  fs::path run() const { return dir / "run.json"; }
  fs::path exit() const { return dir / "exit"; }
  fs::path out() const { return dir / "stdout.log"; }
  fs::path err() const { return dir / "stderr.log"; }
  fs::path work() const { return dir / "work"; }
};

json spec_to_json(const std::string& id, const ContainerSpec& spec, const std::string& executable) {
  json ports = json::array();
  for (const auto& p : spec.ports) {
    ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                     {"protocol", p.protocol}});
  }
  return {{"id", id}, {"name", spec.name}, {"image", spec.image}, {"executable", executable},
          {"command", spec.command}, {"env", spec.env}, {"labels", spec.labels}, {"ports", ports},
          {"nano_cpus", spec.nano_cpus}, {"memory_bytes", spec.memory_bytes},
          {"working_dir", spec.working_dir}, {"created_at", now_rfc3339()}};
}

struct StoredContainer {
  std::string id, name, image, executable, working_dir, image_id;
  std::vector<std::string> command;
  std::map<std::string, std::string> env, labels;
  std::vector<PortBinding> ports;
  std::int64_t nano_cpus = 0, memory_bytes = 0;
};

Result<StoredContainer> load_spec(const Paths& paths) {
  VEIL_ASSIGN_OR_RETURN(auto text, read_file(paths.spec()));
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return data_loss("corrupt " + paths.spec().string());
  try {
    StoredContainer c;
    c.id = j.at("id").get<std::string>();
    c.name = j.value("name", "");
    c.image = j.value("image", "");
    c.executable = j.value("executable", "");
    c.working_dir = j.value("working_dir", "");
    c.command = j.value("command", std::vector<std::string>{});
    c.env = j.value("env", std::map<std::string, std::string>{});
    c.labels = j.value("labels", std::map<std::string, std::string>{});
    c.nano_cpus = j.value("nano_cpus", std::int64_t{0});
    c.memory_bytes = j.value("memory_bytes", std::int64_t{0});
    for (const auto& p : j.value("ports", json::array())) {
      c.ports.push_back({p.value("host_ip", "127.0.0.1"), p.value("host_port", std::uint16_t{0}),
                         p.value("container_port", std::uint16_t{0}), p.value("protocol", "tcp")});
    }
    return c;
  } catch (const json::exception& e) {
    return data_loss("corrupt " + paths.spec().string() + ": " + e.what());
  }
}

class ProcessSubscription final : public EventSubscription {
 public:
  ~ProcessSubscription() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Status status() const override { return {}; }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

class ProcessDriver final : public Driver {
 public:
  ProcessDriver(fs::path state_dir, CgroupLayout cgroups)
      : state_dir_(std::move(state_dir)), cgroups_(std::move(cgroups)) {}

  std::string name() const override { return "process"; }
  std::string describe() const override {
    return "process: state in " + state_dir_.string() + "; limits: " +
           (cgroups_.kind == CgroupLayout::Kind::kNone
                ? "memory by RLIMIT_AS, CPU not enforced (" + cgroups_.why + ")"
                : "memory and CPU by " + cgroups_.why);
  }

  Result<PulledImage> pull(const PullRequest& request) override {
    VEIL_ASSIGN_OR_RETURN(auto path, resolve_executable(request.reference));
    VEIL_ASSIGN_OR_RETURN(auto hex, sha256_file_hex(path));
    std::string digest = "sha256:" + hex;
    if (!request.expected_digest.empty() && request.expected_digest != digest) {
      return data_loss("digest mismatch for " + path + ": file is " + digest + ", expected " +
                       request.expected_digest);
    }
    return PulledImage{.reference = path, .digest = digest, .image_id = digest};
  }

  Result<std::string> create(const ContainerSpec& spec) override {
    VEIL_ASSIGN_OR_RETURN(auto executable, resolve_executable(spec.image));
    for (const auto& p : spec.ports) {
      if (p.container_port == 0 || p.host_port == 0) return invalid_argument("process driver needs explicit ports");
    }
    if (!spec.mounts.empty()) {
      return unimplemented("the process driver cannot mount volumes (" + spec.mounts.front().container_path +
                           "): run this node with the Docker driver");
    }
    VEIL_ASSIGN_OR_RETURN(auto lock, lock_state());
    if (!spec.name.empty()) {
      for (const auto& id : all_ids()) {
        auto other = load_spec(paths(id));
        if (other.ok() && other->name == spec.name) {
          return already_exists("a container named '" + spec.name + "' exists (" + id + ")");
        }
      }
    }
    std::string id = random_id();
    Paths p = paths(id);
    std::error_code ec;
    fs::create_directories(p.work(), ec);
    if (ec) return permission_denied("cannot create " + p.dir.string() + ": " + ec.message());
    ContainerSpec named = spec;
    if (named.name.empty()) named.name = "veil-" + id.substr(0, 12);
    VEIL_RETURN_IF_ERROR(write_file_atomic(p.spec(), spec_to_json(id, named, executable).dump(2)));
    return id;
  }

  Status start(const std::string& ref) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
    if (info.running()) return {};
    Paths p = paths(id);
    VEIL_ASSIGN_OR_RETURN(auto c, load_spec(p));
    std::error_code ec;
    fs::remove(p.exit(), ec);
    VEIL_RETURN_IF_ERROR(prepare_cgroups(c));
    return spawn(c, p);
  }

  Status stop(const std::string& ref, std::chrono::seconds grace) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
    if (!info.running()) return {};
    ::kill(-info.pid, SIGTERM);
    if (wait_not_running(id, grace)) return {};
    ::kill(-info.pid, SIGKILL);
    if (wait_not_running(id, std::chrono::seconds(10))) return {};
    return internal_error("container " + id + " survived SIGKILL for 10 s");
  }

  Status kill(const std::string& ref, int signal) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
    if (!info.running()) return failed_precondition("container " + id + " is not running");
    if (::kill(-info.pid, signal) != 0) return internal_error("kill " + id + ": " + std::strerror(errno));
    return {};
  }

  Status remove(const std::string& ref, bool force) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
    if (info.running()) {
      if (!force) return failed_precondition("container " + id + " is running; stop it or remove with force");
      ::kill(-info.pid, SIGKILL);
      if (!wait_not_running(id, std::chrono::seconds(10))) return internal_error("container " + id + " survived SIGKILL");
    }
    std::error_code ec;
    fs::remove_all(paths(id).dir, ec);
    if (ec) return internal_error("remove " + paths(id).dir.string() + ": " + ec.message());
    for (const auto& dir : cgroups_.dirs_for(id)) ::rmdir(dir.c_str());
    return {};
  }

  Result<ContainerInfo> inspect(const std::string& ref) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    Paths p = paths(id);
    VEIL_ASSIGN_OR_RETURN(auto c, load_spec(p));
    ContainerInfo info;
    info.id = c.id;
    info.name = c.name;
    info.image = c.image;
    info.image_id = c.executable;
    info.labels = c.labels;
    info.ports = c.ports;
    info.nano_cpus = c.nano_cpus;
    info.memory_bytes = c.memory_bytes;
    auto run_text = read_file(p.run());
    if (!run_text.ok()) {
      info.state = ContainerState::kCreated;
      return info;
    }
    auto run = json::parse(*run_text, nullptr, false);
    if (!run.is_object()) return data_loss("corrupt " + p.run().string());
    int pid = run.value("pid", 0), shim = run.value("shim_pid", 0);
    std::uint64_t start_time = run.value("start_time", std::uint64_t{0});
    std::uint64_t shim_start = run.value("shim_start_time", std::uint64_t{0});
    std::int64_t oom_base = run.value("oom_base", std::int64_t{0});
    info.started_at = run.value("started_at", "");
    if (auto exit_text = read_file(p.exit()); exit_text.ok()) {
      int status = std::atoi(exit_text->c_str());
      info.state = ContainerState::kExited;
      info.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      info.oom_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
                        oom_kill_count(cgroups_, id) > oom_base;
      std::error_code ec;
      auto mtime = fs::last_write_time(p.exit(), ec);
      if (!ec) {
        auto sys = std::chrono::file_clock::to_sys(mtime);
        std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::system_clock::duration>(sys));
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[40];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        info.finished_at = buf;
      }
      return info;
    }
    auto alive = [](int pid_, std::uint64_t start) {
      char state = '?';
      auto now = process_start_time(pid_, &state);
      return pid_ > 0 && now && *now == start && state != 'Z';  // a zombie has ended
    };
    if (alive(pid, start_time) || alive(shim, shim_start)) {
      // The shim alive but the workload gone means the exit is being recorded right now.
      info.state = ContainerState::kRunning;
      info.pid = pid;
      return info;
    }
    info.state = ContainerState::kDead;
    info.exit_code = -1;
    info.error = "supervisor ended without recording the exit (machine rebooted or shim killed)";
    return info;
  }

  Result<std::vector<ContainerInfo>> list(const LabelSelector& selector, bool all) override {
    std::vector<ContainerInfo> out;
    for (const auto& id : all_ids()) {
      auto info = inspect(id);
      if (!info.ok()) continue;  // removed meanwhile, or half-created
      if (!all && !info->running()) continue;
      bool match = true;
      for (const auto& [k, v] : selector) {
        auto it = info->labels.find(k);
        if (it == info->labels.end() || it->second != v) match = false;
      }
      if (match) out.push_back(std::move(*info));
    }
    return out;
  }

  Status logs(const std::string& ref, const LogOptions& options, const LogSink& sink) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    Paths p = paths(id);
    struct Source {
      LogStream stream;
      fs::path path;
      std::uint64_t offset = 0;
      bool enabled;
    };
    std::vector<Source> sources = {{LogStream::kStdout, p.out(), 0, options.stdout_stream},
                                   {LogStream::kStderr, p.err(), 0, options.stderr_stream}};
    // Files interleave nothing: each stream is delivered in order, stdout first, then
    // stderr; with follow both are polled.
    for (auto& s : sources) {
      if (!s.enabled) continue;
      auto text = read_file(s.path);
      std::string data = text.ok() ? *text : "";
      s.offset = data.size();
      std::string_view view = data;
      if (options.tail >= 0) {
        std::size_t pos = view.size();
        if (pos > 0 && view.back() == '\n') --pos;
        for (int n = 0; n < options.tail && pos != std::string_view::npos && pos > 0; ++n) {
          pos = view.rfind('\n', pos - 1);
        }
        if (options.tail == 0) view = {};
        else if (pos != std::string_view::npos && pos > 0) view = view.substr(pos + 1);
      }
      if (!view.empty() && !sink(s.stream, view)) return {};
    }
    if (!options.follow) return {};
    for (;;) {
      auto info = inspect(id);
      bool running = info.ok() && info->running();
      bool any = false;
      for (auto& s : sources) {
        if (!s.enabled) continue;
        std::ifstream in(s.path, std::ios::binary);
        if (!in) continue;
        in.seekg(static_cast<std::streamoff>(s.offset));
        std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (chunk.empty()) continue;
        any = true;
        s.offset += chunk.size();
        if (!sink(s.stream, chunk)) return {};
      }
      if (!running && !any) return {};
      if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  Result<ExitStatus> wait(const std::string& ref, std::optional<std::chrono::milliseconds> timeout) override {
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(24 * 365));
    for (;;) {
      VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
      if (!info.running()) return ExitStatus{info.exit_code, info.oom_killed};
      if (std::chrono::steady_clock::now() >= deadline) {
        return deadline_exceeded("container " + id + " still running after " +
                                 std::to_string(timeout ? timeout->count() : 0) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // A child of ours (not of the shim: it is not the container's workload), in its own process
  // group so that a timeout kills whatever it started, with the container's environment and
  // working directory and its output discarded.
  Result<int> exec(const std::string& ref, const std::vector<std::string>& command,
                   std::chrono::milliseconds timeout) override {
    if (command.empty()) return invalid_argument("exec in " + ref + ": the command is empty");
    VEIL_ASSIGN_OR_RETURN(auto id, resolve(ref));
    VEIL_ASSIGN_OR_RETURN(auto info, inspect(id));
    if (!info.running()) return failed_precondition("exec in " + id + ": the container is not running");
    const Paths p = paths(id);
    VEIL_ASSIGN_OR_RETURN(auto c, load_spec(p));
    VEIL_ASSIGN_OR_RETURN(std::string executable, resolve_executable(command.front()));
    std::vector<std::string> args = command, env_strings = environment(c, p);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string workdir = c.working_dir.empty() ? p.work().string() : c.working_dir;
    const pid_t pid = ::fork();
    if (pid < 0) return internal_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::setpgid(0, 0);
      const int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
        ::dup2(null_fd, 2);
      }
      if (::chdir(workdir.c_str()) != 0) ::_exit(126);
      ::execve(executable.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also from here, so the group exists whichever runs first
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (done < 0 && errno != EINTR) return internal_error(std::string("waitpid: ") + std::strerror(errno));
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return deadline_exceeded("exec in " + id + ": '" + command.front() + "' still ran after " +
                                 std::to_string(timeout.count()) + " ms; killed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Result<std::unique_ptr<EventSubscription>> subscribe(const LabelSelector& selector,
                                                       EventCallback callback) override {
    auto sub = std::make_unique<ProcessSubscription>();
    auto* raw = sub.get();
    struct Seen {
      ContainerState state;
      std::string started_at;
      ContainerInfo info;
    };
    auto snapshot = [this, selector] {
      std::map<std::string, Seen> out;
      if (auto all = list(selector, true); all.ok()) {
        for (auto& c : *all) out[c.id] = {c.state, c.started_at, c};
      }
      return out;
    };
    auto initial = snapshot();
    raw->thread_ = std::thread([raw, snapshot, callback = std::move(callback), before = std::move(initial)]() mutable {
      auto emit = [&](const std::string& action, const ContainerInfo& c) {
        Event e{.action = action, .container_id = c.id, .name = c.name, .attributes = c.labels};
        e.attributes["name"] = c.name;
        e.attributes["image"] = c.image;
        if (action == "die") e.attributes["exitCode"] = std::to_string(c.exit_code);
        e.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
        callback(e);
      };
      for (;;) {
        {
          std::unique_lock lock(raw->mu_);
          if (raw->cv_.wait_for(lock, std::chrono::milliseconds(100), [raw] { return raw->stop_; })) return;
        }
        auto now = snapshot();
        for (const auto& [id, seen] : now) {
          auto old = before.find(id);
          bool was_running = old != before.end() && old->second.state == ContainerState::kRunning;
          if (old == before.end()) emit("create", seen.info);
          bool restarted = old != before.end() && old->second.started_at != seen.started_at;
          if (seen.state == ContainerState::kRunning && (!was_running || restarted)) {
            if (restarted && was_running) emit("die", old->second.info);
            emit("start", seen.info);
          }
          if (seen.state != ContainerState::kRunning && (was_running || (old != before.end() &&
                                                                          old->second.started_at != seen.started_at))) {
            if (seen.info.oom_killed) emit("oom", seen.info);
            emit("die", seen.info);
          }
        }
        for (const auto& [id, seen] : before) {
          if (!now.count(id)) emit("destroy", seen.info);
        }
        before = std::move(now);
      }
    });
    return std::unique_ptr<EventSubscription>(std::move(sub));
  }

 private:
  Paths paths(const std::string& id) const { return Paths{state_dir_ / id}; }

  std::vector<std::string> all_ids() const {
    std::vector<std::string> ids;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(state_dir_, ec)) {
      if (entry.is_directory() && fs::exists(entry.path() / "spec.json")) ids.push_back(entry.path().filename());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Accepts an id, a unique id prefix, or a name.
  Result<std::string> resolve(const std::string& ref) const {
    if (ref.empty() || ref.find('/') != std::string::npos || ref == "." || ref == "..") {
      return invalid_argument("bad container id or name '" + ref + "'");
    }
    if (fs::exists(paths(ref).spec())) return ref;
    std::vector<std::string> matches;
    for (const auto& id : all_ids()) {
      if (id.rfind(ref, 0) == 0) {
        matches.push_back(id);
        continue;
      }
      if (auto c = load_spec(paths(id)); c.ok() && c->name == ref) return id;
    }
    if (matches.size() == 1) return matches.front();
    if (matches.size() > 1) return invalid_argument("container id prefix '" + ref + "' is ambiguous");
    return not_found("no such container: " + ref);
  }

  // An exclusive flock on <state>/.lock, released when destroyed.
  struct StateLock {
    int fd = -1;
    explicit StateLock(int f) : fd(f) {}
    StateLock(StateLock&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    StateLock& operator=(StateLock&&) = delete;
    ~StateLock() {
      if (fd >= 0) ::close(fd);
    }
  };

  // Serialises name checks across driver instances and processes.
  Result<StateLock> lock_state() const {
    int fd = ::open((state_dir_ / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return permission_denied("cannot open " + (state_dir_ / ".lock").string() + ": " + std::strerror(errno));
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    return StateLock(fd);
  }

  bool wait_not_running(const std::string& id, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto info = inspect(id);
      if (!info.ok() || !info->running()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Status prepare_cgroups(const StoredContainer& c) {
    if (cgroups_.kind == CgroupLayout::Kind::kNone) return {};
    std::error_code ec;
    for (const auto& dir : cgroups_.dirs_for(c.id)) {
      fs::create_directories(dir, ec);
      if (ec) return permission_denied("cannot create cgroup " + dir.string() + ": " + ec.message());
    }
    auto put = [](const fs::path& file, const std::string& value) -> Status {
      std::ofstream out(file);
      out << value;
      out.flush();
      if (!out) return internal_error("cannot write " + value + " to " + file.string());
      return {};
    };
    constexpr std::int64_t kPeriod = 100000;
    std::int64_t quota = c.nano_cpus > 0 ? std::max<std::int64_t>(1000, c.nano_cpus * kPeriod / 1000000000) : -1;
    if (cgroups_.kind == CgroupLayout::Kind::kV2) {
      fs::path dir = cgroups_.v2_parent / c.id;
      VEIL_RETURN_IF_ERROR(put(dir / "memory.max", c.memory_bytes > 0 ? std::to_string(c.memory_bytes) : "max"));
      if (fs::exists(dir / "memory.swap.max")) (void)put(dir / "memory.swap.max", c.memory_bytes > 0 ? "0" : "max");
      VEIL_RETURN_IF_ERROR(put(dir / "cpu.max", (quota > 0 ? std::to_string(quota) : "max") + " " + std::to_string(kPeriod)));
    } else {
      fs::path mem = cgroups_.v1_memory / c.id, cpu = cgroups_.v1_cpu / c.id;
      // -1 lifts a previous limit; memsw must be raised before memory may be, and exists
      // only with swap accounting.
      std::string limit = c.memory_bytes > 0 ? std::to_string(c.memory_bytes) : "-1";
      if (fs::exists(mem / "memory.memsw.limit_in_bytes")) (void)put(mem / "memory.memsw.limit_in_bytes", "-1");
      VEIL_RETURN_IF_ERROR(put(mem / "memory.limit_in_bytes", limit));
      if (fs::exists(mem / "memory.memsw.limit_in_bytes")) (void)put(mem / "memory.memsw.limit_in_bytes", limit);
      VEIL_RETURN_IF_ERROR(put(cpu / "cpu.cfs_period_us", std::to_string(kPeriod)));
      VEIL_RETURN_IF_ERROR(put(cpu / "cpu.cfs_quota_us", std::to_string(quota)));
    }
    return {};
  }

  // What a container's process sees: a default PATH and HOME, its id and name, its ports,
  // then the spec's own variables (which win).
  static std::vector<std::string> environment(const StoredContainer& c, const Paths& p) {
    std::map<std::string, std::string> env_map = {{"PATH", std::string(kDefaultPath)},
                                                  {"HOME", p.work().string()},
                                                  {"VEIL_CONTAINER_ID", c.id},
                                                  {"VEIL_CONTAINER_NAME", c.name}};
    for (const auto& port : c.ports) {
      env_map["VEIL_PORT_" + std::to_string(port.container_port)] = std::to_string(port.host_port);
      env_map["VEIL_ADDR_" + std::to_string(port.container_port)] = port.host_ip + ":" + std::to_string(port.host_port);
    }
    for (const auto& [k, v] : c.env) env_map[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
    return env_strings;
  }

  Status spawn(const StoredContainer& c, const Paths& p) {
    // Everything the children need, prepared before fork.
    std::vector<std::string> args = c.command;
    if (args.empty()) args.push_back(c.executable);
    std::vector<std::string> env_strings = environment(c, p);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string executable = c.executable;
    std::string workdir = c.working_dir.empty() ? p.work().string() : c.working_dir;
    std::string out_path = p.out().string(), err_path = p.err().string();
    std::string exit_path = p.exit().string(), exit_tmp = exit_path + ".tmp";
    std::vector<std::string> procs;
    for (const auto& dir : cgroups_.dirs_for(c.id)) procs.push_back((dir / "cgroup.procs").string());
    bool rlimit_memory = cgroups_.kind == CgroupLayout::Kind::kNone && c.memory_bytes > 0;
    rlim_t memory_limit = static_cast<rlim_t>(c.memory_bytes);
    std::int64_t oom_base = oom_kill_count(cgroups_, c.id);

    int info_pipe[2], exec_pipe[2];
    if (::pipe2(info_pipe, O_CLOEXEC) != 0) return internal_error(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
      ::close(info_pipe[0]);
      ::close(info_pipe[1]);
      return internal_error(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t p1 = ::fork();
    if (p1 < 0) return internal_error(std::string("fork: ") + std::strerror(errno));
    if (p1 == 0) {
      // P1: leave our session, fork the shim, and vanish so the shim is re-parented.
      ::setsid();
      pid_t shim = ::fork();
      if (shim != 0) ::_exit(shim < 0 ? 1 : 0);
      // Shim.
      sigset_t all;
      sigfillset(&all);
      ::sigprocmask(SIG_SETMASK, &all, nullptr);  // only SIGKILL stops the shim
      ::close(info_pipe[0]);
      ::close(exec_pipe[0]);
      // Let go of the caller's stdio: a shell reading `$(veil runtime run ...)` waits for
      // every holder of its pipe, and the shim lives as long as the container.
      if (int null = ::open("/dev/null", O_RDWR); null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
      }
      pid_t workload = ::fork();
      if (workload == 0) {
        ::setpgid(0, 0);
        char pid_text[24];
        std::size_t len = format_decimal(::getpid(), pid_text);
        for (const auto& file : procs) {
          int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
          if (fd >= 0) {
            write_all(fd, pid_text, len);
            ::close(fd);
          }
        }
        if (rlimit_memory) {
          struct rlimit lim{memory_limit, memory_limit};
          ::setrlimit(RLIMIT_AS, &lim);
        }
        int in = ::open("/dev/null", O_RDONLY);
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
        int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
        if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
          int e = errno;
          write_all(exec_pipe[1], &e, sizeof e);
          ::_exit(127);
        }
        // Keep only stdio and the exec-status pipe (close-on-exec) open across exec.
        int keep = ::dup3(exec_pipe[1], 3, O_CLOEXEC);
        ::close_range(4, ~0U, 0);
        if (::chdir(workdir.c_str()) != 0) {
          int e = errno;
          write_all(keep, &e, sizeof e);
          ::_exit(127);
        }
        struct sigaction dfl{};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(executable.c_str(), argv.data(), envp.data());
        int e = errno;
        write_all(keep, &e, sizeof e);
        ::_exit(127);
      }
      ::close(exec_pipe[1]);
      int ids[2] = {static_cast<int>(::getpid()), static_cast<int>(workload)};
      if (workload > 0) ::setpgid(workload, workload);  // also here: no race with kill(-pgid)
      write_all(info_pipe[1], ids, sizeof ids);
      ::close(info_pipe[1]);
      ::close_range(3, ~0U, 0);
      if (workload < 0) ::_exit(1);
      int status = 0;
      while (::waitpid(workload, &status, 0) < 0 && errno == EINTR) {
      }
      int fd = ::open(exit_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
      if (fd >= 0) {
        char text[24];
        std::size_t len = format_decimal(status, text);
        text[len++] = '\n';
        write_all(fd, text, len);
        ::fsync(fd);
        ::close(fd);
        ::rename(exit_tmp.c_str(), exit_path.c_str());
      }
      ::_exit(0);
    }
    // Driver side.
    ::close(info_pipe[1]);
    ::close(exec_pipe[1]);
    int p1_status = 0;
    while (::waitpid(p1, &p1_status, 0) < 0 && errno == EINTR) {
    }
    int ids[2] = {0, 0};
    bool got_ids = read_exact(info_pipe[0], ids, sizeof ids);
    ::close(info_pipe[0]);
    int exec_errno = 0;
    bool exec_failed = read_exact(exec_pipe[0], &exec_errno, sizeof exec_errno);
    ::close(exec_pipe[0]);
    if (!got_ids || ids[1] <= 0) return internal_error("start " + c.id + ": could not fork the workload");
    json run = {{"pid", ids[1]}, {"shim_pid", ids[0]}, {"started_at", now_rfc3339()}, {"oom_base", oom_base}};
    if (auto t = process_start_time(ids[1])) run["start_time"] = *t;
    if (auto t = process_start_time(ids[0])) run["shim_start_time"] = *t;
    VEIL_RETURN_IF_ERROR(write_file_atomic(p.run(), run.dump()));
    if (exec_failed) {
      return failed_precondition("start " + c.id + ": cannot run " + executable + ": " + std::strerror(exec_errno));
    }
    log::get("runtime")->debug("process {} started pid {} (shim {})", c.id, ids[1], ids[0]);
    return {};
  }

  fs::path state_dir_;
  CgroupLayout cgroups_;
};

}  // namespace

Result<std::unique_ptr<Driver>> open_process_driver(const ProcessDriverOptions& options) {
  std::string dir = options.state_dir;
  if (dir.empty()) {
    if (const char* env = std::getenv("VEIL_PROCESS_STATE_DIR"); env && *env) {
      dir = env;
    } else if (::geteuid() == 0) {
      dir = "/var/lib/veil/process";
    } else {
      const char* home = std::getenv("HOME");
      dir = std::string(home ? home : "/tmp") + "/.local/state/veil/process";
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::access(dir.c_str(), W_OK) != 0) {
    return permission_denied("process driver state directory " + dir + " cannot be created or written" +
                             (ec ? ": " + ec.message() : std::string()) + "; set VEIL_PROCESS_STATE_DIR");
  }
  return std::unique_ptr<Driver>(std::make_unique<ProcessDriver>(fs::absolute(dir), detect_cgroups(options.cgroup_parent)));
}

}  // namespace veil::runtime
