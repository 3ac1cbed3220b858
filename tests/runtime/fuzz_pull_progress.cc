// Fuzz entry point: a Docker Engine pull stream (one JSON object per line, from the engine or
// a registry it proxies) summed by PullTally; whatever arrives, the sums stay consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pull_tally.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  veil::runtime::PullTally tally;
  veil::runtime::PullProgress before;
  while (!input.empty()) {
    const auto nl = input.find('\n');
    const std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
    const auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool changed = tally.add(message);
    const auto now = tally.progress();
    if (now.layers_done > now.layers || now.bytes_done > now.bytes_total) std::abort();
    if (now.layers < before.layers || now.layers_done < before.layers_done || now.bytes_done < before.bytes_done) std::abort();
    if (!changed && (now.layers != before.layers || now.bytes_done != before.bytes_done)) std::abort();
    before = now;
  }
  return 0;
}
