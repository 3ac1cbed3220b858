// Fuzz entry point: job specs arrive over gossip, so any bytes must parse or fail cleanly,
// and a parsed spec must survive its canonical round trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "veil/sched/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = veil::sched::parse_job_spec(text);
  if (spec.ok()) {
    auto again = veil::sched::parse_job_spec(veil::sched::to_canonical_yaml(*spec));
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
