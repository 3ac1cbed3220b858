// Fuzz entry point: arbitrary bytes as a config file must give a Config or a clear error,
// never a crash or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "veil/common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  veil::Config::LoadOptions options;
  options.text = std::string(reinterpret_cast<const char*>(data), size);
  options.environment = std::map<std::string, std::string>{};
  auto config = veil::Config::load(options);
  if (!config.ok() && config.status().message().empty()) __builtin_trap();  // errors must say something
  return 0;
}
