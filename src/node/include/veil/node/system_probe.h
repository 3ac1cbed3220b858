// Measures this machine's free capacity: the numbers a node encrypts as its telemetry.
//
//   CPU      idle share of all CPUs between two readings of /proc/stat, times the CPU count
//   memory   MemAvailable from /proc/meminfo (what can be allocated without swapping)
//   disk     blocks available to unprivileged users on the file system of the data directory
//   GPUs     devices listed by `nvidia-smi` when it exists, else 0
//
// Every measurement is capped by the operator's declared capacity when one is set, so an
// organisation can offer only part of a machine. Latency is measured elsewhere (libp2p pings).
//
// Thread safety: not thread-safe; one probe per node, sampled from one task.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "veil/common/status.h"
#include "veil/sched/resources.h"

namespace veil::node {

struct DeclaredCapacity {
  std::optional<std::uint64_t> cpu_millicores;
  std::optional<std::uint64_t> memory_mib;
  std::optional<std::uint64_t> disk_mib;
  std::optional<std::uint64_t> gpus;
};

class SystemProbe {
 public:
  struct Options {
    std::filesystem::path proc_root = "/proc";      // tests point this at a fake tree
    std::filesystem::path disk_path = ".";          // a path on the file system to report
    std::string nvidia_smi = "nvidia-smi";          // "" disables GPU discovery
    DeclaredCapacity cap;
  };

  // Takes the first CPU reading now, so the first sample() measures from construction.
  explicit SystemProbe(Options options);

  // Measures free capacity since the previous sample (or construction). Latency is left 0.
  // Fails when /proc cannot be read or parsed; the message names the file.
  Result<sched::FreeCapacity> sample();

  // Number of online CPUs as /proc/stat lists them.
  std::size_t cpu_count() const { return cpu_count_; }

 private:
  struct CpuTimes {
    std::uint64_t idle = 0;   // idle + iowait
    std::uint64_t total = 0;
  };
  Result<CpuTimes> read_cpu_times();
  Result<std::uint64_t> read_available_memory_mib() const;
  Result<std::uint64_t> read_available_disk_mib() const;
  std::uint64_t count_gpus() const;

  Options options_;
  std::optional<CpuTimes> previous_;
  std::size_t cpu_count_ = 0;
};

}  // namespace veil::node
