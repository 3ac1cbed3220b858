#include "veil/sched/resources.h"

#include <algorithm>
#include <string>

namespace veil::sched {
namespace {

constexpr std::uint64_t kUnitMax = 0xffff;

std::uint16_t floor_units(std::uint64_t amount, std::uint64_t per_unit, std::uint64_t cap = kUnitMax) {
  return static_cast<std::uint16_t>(std::min(amount / per_unit, cap));
}

std::uint64_t ceil_units(std::uint64_t amount, std::uint64_t per_unit) { return (amount + per_unit - 1) / per_unit; }

}  // namespace

QuantizedTelemetry quantize_telemetry(const FreeCapacity& free) {
  QuantizedTelemetry q;
  q.free[kCpu] = floor_units(free.cpu_millicores, kCpuMillicoresPerUnit);
  q.free[kMemory] = floor_units(free.memory_mib, kMemoryMibPerUnit);
  q.free[kDisk] = floor_units(free.disk_mib, kDiskMibPerUnit);
  q.free[kGpu] = floor_units(free.gpus, 1, kMaxGpus);
  q.latency = floor_units(free.latency_us, kLatencyMicrosPerUnit);
  return q;
}

Result<QuantizedRequest> quantize_request(const ResourceRequest& request) {
  const std::uint64_t units[kResourceCount] = {
      ceil_units(request.cpu_millicores, kCpuMillicoresPerUnit), ceil_units(request.memory_mib, kMemoryMibPerUnit),
      ceil_units(request.disk_mib, kDiskMibPerUnit), request.gpus};
  const std::uint64_t limits[kResourceCount] = {kUnitMax, kUnitMax, kUnitMax, kMaxGpus};
  static constexpr const char* kNames[kResourceCount] = {"cpu", "memory", "disk", "gpus"};
  QuantizedRequest q;
  for (std::size_t r = 0; r < kResourceCount; ++r) {
    if (units[r] > limits[r]) {
      return out_of_range(std::string("resources.") + kNames[r] + " exceeds the largest capacity a node can report");
    }
    q.amount[r] = static_cast<std::uint16_t>(units[r]);
  }
  return q;
}

}  // namespace veil::sched
