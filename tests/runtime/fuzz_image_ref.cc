// Fuzz entry point: image reference parsing; a parsed reference must print and re-parse
// to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "veil/runtime/container.h"
#include "veil/runtime/image_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::runtime;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto ref = parse_image_reference(input);
  if (ref.ok()) {
    auto again = parse_image_reference(ref->to_string());
    if (!again.ok() || again->to_string() != ref->to_string()) std::abort();
  }
  (void)parse_port_binding(input);
  (void)parse_memory_size(input);
  (void)parse_cpus(input);
  return 0;
}
