// Fuzz entry point: the Docker log frame demuxer on hostile bytes, fed in uneven pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "veil/runtime/log_frames.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::runtime;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  LogFrameDemuxer demuxer;
  std::size_t delivered = 0;
  auto sink = [&](LogStream, std::string_view bytes) {
    delivered += bytes.size();
    return true;
  };
  // The first byte picks the piece size, so splits at every offset get explored.
  std::size_t piece = size ? 1 + data[0] % 17 : 1;
  for (std::size_t pos = 0; pos < input.size(); pos += piece) {
    if (!demuxer.feed(input.substr(pos, piece), sink).ok()) break;
  }
  if (delivered > size) std::abort();  // payload can never exceed the input
  return 0;
}
