// Fuzz entry point: job specs arrive over gossip, so any bytes must parse or fail cleanly,
// a parsed spec must survive its canonical round trip, and an error must never carry the
// input's raw bytes (control characters, invalid UTF-8) back out. The same bytes also go
// through the resource quantity parser directly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "veil/common/printable.h"
#include "veil/common/quantity.h"
#include "veil/sched/job_spec.h"

namespace {

void check_quantity(std::string_view text, const veil::QuantitySyntax& syntax) {
  auto value = veil::parse_quantity(text, syntax);
  if (value.ok() && *value > syntax.max) __builtin_trap();
  if (!value.ok() && veil::printable(value.status().message()) != value.status().message()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = veil::sched::parse_job_spec(text);
  if (spec.ok()) {
    const std::string canonical = veil::sched::to_canonical_yaml(*spec);
    auto again = veil::sched::parse_job_spec(canonical);
    if (!again.ok()) __builtin_trap();
    if (veil::sched::to_canonical_yaml(*again) != canonical) __builtin_trap();
  } else {
    const std::string message = spec.status().message();
    if (veil::printable_lines(message) != message) __builtin_trap();
  }
  if (size <= 64) {
    check_quantity(text, veil::kCpuMillicores);
    check_quantity(text, veil::kSizeMib);
    check_quantity(text, veil::kGpuCount);
    check_quantity(text, veil::kMemoryBytes);
    check_quantity(text, veil::kNanoCpus);
  }
  return 0;
}
