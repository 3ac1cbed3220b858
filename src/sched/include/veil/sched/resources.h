// Quantised resources: the integers that nodes encrypt and policies compute on.
//
// Each quantity is an unsigned 16-bit integer (one FheUint16 under encryption) in a fixed,
// documented unit. Free capacity is rounded *down* and requests are rounded *up*, so a node
// that "fits" in quantised units really has room. Values above a unit's range saturate.
//
//   resource  unit            range (65535 units)   reference capacity (score scale)
//   cpu       10 millicores   655 cores             41 cores
//   memory    16 MiB          ~1 TiB                256 GiB
//   disk      256 MiB         ~16 TiB               4 TiB
//   gpu       1 device        64 devices (capped)   64 devices
//   latency   100 us          6.5 s                 ~410 ms
#pragma once

#include <array>
#include <cstdint>

#include "veil/common/status.h"
#include "veil/sched/job_spec.h"

namespace veil::sched {

enum Resource : std::size_t { kCpu = 0, kMemory = 1, kDisk = 2, kGpu = 3 };
inline constexpr std::size_t kResourceCount = 4;

inline constexpr std::uint32_t kCpuMillicoresPerUnit = 10;
inline constexpr std::uint32_t kMemoryMibPerUnit = 16;
inline constexpr std::uint32_t kDiskMibPerUnit = 256;
inline constexpr std::uint32_t kLatencyMicrosPerUnit = 100;
inline constexpr std::uint16_t kMaxGpus = 64;

// A node's free capacity and measured latency as raw measurements.
struct FreeCapacity {
  std::uint64_t cpu_millicores = 0;
  std::uint64_t memory_mib = 0;
  std::uint64_t disk_mib = 0;
  std::uint64_t gpus = 0;
  std::uint64_t latency_us = 0;  // median RTT to peers
};

// What a node encrypts: free resources (index by Resource) and latency, all quantised.
struct QuantizedTelemetry {
  std::array<std::uint16_t, kResourceCount> free{};
  std::uint16_t latency = 0;

  friend bool operator==(const QuantizedTelemetry&, const QuantizedTelemetry&) = default;
};

// A job's per-replica request, quantised (index by Resource).
struct QuantizedRequest {
  std::array<std::uint16_t, kResourceCount> amount{};

  friend bool operator==(const QuantizedRequest&, const QuantizedRequest&) = default;
};

QuantizedTelemetry quantize_telemetry(const FreeCapacity& free);

// Fails with out_of_range when a request exceeds what any node could ever report (then no
// node could be shown to fit, so the job is rejected before anything is encrypted).
Result<QuantizedRequest> quantize_request(const ResourceRequest& request);

}  // namespace veil::sched
