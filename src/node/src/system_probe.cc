#include "veil/node/system_probe.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace veil::node {
namespace {

std::uint64_t capped(std::uint64_t value, const std::optional<std::uint64_t>& cap) {
  return cap ? std::min(value, *cap) : value;
}

}  // namespace

SystemProbe::SystemProbe(Options options) : options_(std::move(options)) {
  auto first = read_cpu_times();
  if (first.ok()) previous_ = *first;
}

Result<SystemProbe::CpuTimes> SystemProbe::read_cpu_times() {
  const auto path = options_.proc_root / "stat";
  std::ifstream in(path);
  if (!in) return unavailable("cannot read " + path.string());
  std::string line;
  CpuTimes times;
  bool have_total = false;
  std::size_t cpus = 0;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    if (line.size() > 3 && line[3] != ' ') {  // "cpu0 ...": one per online CPU
      ++cpus;
      continue;
    }
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
    std::istringstream fields(line.substr(3));
    std::array<std::uint64_t, 8> v{};
    for (auto& x : v) fields >> x;
    if (!fields && !fields.eof()) return data_loss(path.string() + ": malformed aggregate cpu line");
    times.idle = v[3] + v[4];
    times.total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    have_total = true;
  }
  if (!have_total || cpus == 0) return data_loss(path.string() + ": no cpu lines");
  cpu_count_ = cpus;
  return times;
}

Result<std::uint64_t> SystemProbe::read_available_memory_mib() const {
  const auto path = options_.proc_root / "meminfo";
  std::ifstream in(path);
  if (!in) return unavailable("cannot read " + path.string());
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib / 1024;
  }
  return data_loss(path.string() + ": no MemAvailable line (Linux 3.14 or later is required)");
}

Result<std::uint64_t> SystemProbe::read_available_disk_mib() const {
  struct statvfs fs {};
  if (::statvfs(options_.disk_path.c_str(), &fs) != 0) {
    return unavailable("cannot stat the file system of " + options_.disk_path.string());
  }
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize / (1024 * 1024);
}

std::uint64_t SystemProbe::count_gpus() const {
  if (options_.nvidia_smi.empty()) return 0;
  // `-L` prints one "GPU i: NAME (UUID: ...)" line per device; absence of the tool means none.
  const std::string command = options_.nvidia_smi + " -L 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  std::uint64_t count = 0;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
    if (std::string_view(buffer.data()).rfind("GPU ", 0) == 0) ++count;
  }
  const int status = ::pclose(pipe);
  return status == 0 ? count : 0;
}

Result<sched::FreeCapacity> SystemProbe::sample() {
  VEIL_ASSIGN_OR_RETURN(CpuTimes now, read_cpu_times());
  sched::FreeCapacity free;
  const CpuTimes before = previous_.value_or(CpuTimes{});
  const std::uint64_t total = now.total - before.total;
  const std::uint64_t idle = now.idle - before.idle;
  previous_ = now;
  // No elapsed ticks (two samples within one jiffy): report the CPUs as idle, not as busy.
  const double idle_share = total == 0 ? 1.0 : static_cast<double>(idle) / static_cast<double>(total);
  free.cpu_millicores = capped(static_cast<std::uint64_t>(idle_share * static_cast<double>(cpu_count_) * 1000.0),
                               options_.cap.cpu_millicores);
  VEIL_ASSIGN_OR_RETURN(std::uint64_t memory, read_available_memory_mib());
  free.memory_mib = capped(memory, options_.cap.memory_mib);
  VEIL_ASSIGN_OR_RETURN(std::uint64_t disk, read_available_disk_mib());
  free.disk_mib = capped(disk, options_.cap.disk_mib);
  free.gpus = capped(count_gpus(), options_.cap.gpus);
  return free;
}

}  // namespace veil::node
