// Fuzz entry point: hex parsing either fails cleanly or round-trips exactly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "veil/common/bytes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto bytes = veil::from_hex(text);
  if (bytes.ok()) {
    auto again = veil::from_hex(veil::to_hex(*bytes));
    if (!again.ok() || *again != *bytes) __builtin_trap();
  }
  return 0;
}
