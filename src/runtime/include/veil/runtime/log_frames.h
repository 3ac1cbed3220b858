// Docker's multiplexed log stream (containers without a TTY): each frame is an 8-byte
// header {stream: 1 byte (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, size: uint32 big-endian}
// followed by `size` payload bytes. Frames may be split across reads at any byte.
//
// Thread safety: one demuxer per stream; not shared between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "veil/common/status.h"
#include "veil/runtime/container.h"

namespace veil::runtime {

class LogFrameDemuxer {
 public:
  // Largest payload accepted in one frame; bigger sizes mean a corrupt stream.
  static constexpr std::uint32_t kMaxFrameSize = 16u << 20;

  // Feeds bytes; calls `sink` for each payload byte run as soon as it arrives (a frame's
  // payload may be delivered in several pieces). Returns data_loss on a bad header, after
  // which the demuxer stays failed. When the sink returns false, feed stops early and
  // returns cancelled.
  Status feed(std::string_view bytes, const LogSink& sink);

  // True when the stream ended on a frame boundary (no partial header or payload).
  bool at_boundary() const { return header_fill_ == 0 && payload_left_ == 0; }

 private:
  unsigned char header_[8] = {};
  std::size_t header_fill_ = 0;
  std::uint32_t payload_left_ = 0;
  LogStream current_ = LogStream::kStdout;
  bool failed_ = false;
};

// Appends a frame header + payload (used by tests and by the fuzz target's corpus).
void append_log_frame(std::string& out, int stream, std::string_view payload);

}  // namespace veil::runtime
