#include "veil/runtime/log_frames.h"

#include <algorithm>

namespace veil::runtime {

Status LogFrameDemuxer::feed(std::string_view bytes, const LogSink& sink) {
  if (failed_) return data_loss("log stream already failed on a bad frame header");
  while (!bytes.empty()) {
    if (payload_left_ == 0) {
      std::size_t take = std::min(bytes.size(), sizeof(header_) - header_fill_);
      std::copy_n(bytes.data(), take, header_ + header_fill_);
      header_fill_ += take;
      bytes.remove_prefix(take);
      if (header_fill_ < sizeof(header_)) return {};
      header_fill_ = 0;
      // Byte 0 is the stream (0 stdin, 1 stdout, 2 stderr); bytes 1-3 are zero.
      if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        failed_ = true;
        return data_loss("bad log frame header (stream byte " + std::to_string(header_[0]) +
                         "); was the container started with a TTY?");
      }
      current_ = header_[0] == 2 ? LogStream::kStderr : LogStream::kStdout;
      payload_left_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                      (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      if (payload_left_ > kMaxFrameSize) {
        failed_ = true;
        return data_loss("log frame of " + std::to_string(payload_left_) + " bytes exceeds the limit");
      }
      continue;
    }
    std::size_t take = std::min<std::size_t>(bytes.size(), payload_left_);
    payload_left_ -= static_cast<std::uint32_t>(take);
    std::string_view piece = bytes.substr(0, take);
    bytes.remove_prefix(take);
    if (sink && !sink(current_, piece)) return cancelled("log sink stopped the stream");
  }
  return {};
}

void append_log_frame(std::string& out, int stream, std::string_view payload) {
  auto size = static_cast<std::uint32_t>(payload.size());
  out.push_back(static_cast<char>(stream));
  out.append(3, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(payload);
}

}  // namespace veil::runtime
