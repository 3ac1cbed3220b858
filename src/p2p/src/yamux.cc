#include "veil/p2p/yamux.h"

#include <algorithm>
#include <cstring>

#include "veil/common/log.h"

namespace veil::p2p::yamux {

void encode_header(const FrameHeader& h, Bytes* out) {
  out->push_back(h.version);
  out->push_back(static_cast<std::uint8_t>(h.type));
  append_u16_be(*out, h.flags);
  append_u32_be(*out, h.stream_id);
  append_u32_be(*out, h.length);
}

Result<FrameHeader> decode_header(ByteView b) {
  if (b.size() < kHeaderSize) return data_loss("yamux: short header");
  FrameHeader h;
  h.version = b[0];
  if (h.version != 0) return invalid_argument("yamux: unsupported version " + std::to_string(h.version));
  if (b[1] > 3) return invalid_argument("yamux: unknown frame type " + std::to_string(b[1]));
  h.type = static_cast<FrameType>(b[1]);
  h.flags = read_u16_be(b.data() + 2);
  h.stream_id = read_u32_be(b.data() + 4);
  h.length = read_u32_be(b.data() + 8);
  return h;
}

Session::Session(Role role, Config config)
    : role_(role), config_(config), next_id_(role == Role::kClient ? 1 : 2) {
  if (config_.receive_window < kInitialWindow) config_.receive_window = kInitialWindow;
}

void Session::send_frame(FrameType type, std::uint16_t flags, std::uint32_t stream, std::uint32_t length, ByteView payload) {
  encode_header({0, type, flags, stream, length}, &output_);
  output_.insert(output_.end(), payload.begin(), payload.end());
}

Status Session::protocol_error(std::string why) {
  if (!failed_) {
    failed_ = true;
    send_frame(FrameType::kGoAway, 0, 0, kProtocolError);
  }
  return invalid_argument("yamux: " + why);
}

std::vector<Event> Session::take_events() { return std::exchange(events_, {}); }
Bytes Session::take_output() { return std::exchange(output_, {}); }
void Session::take_output(Bytes* out) {
  out->clear();
  std::swap(*out, output_);
}

Status Session::on_bytes(ByteView received) {
  if (failed_) return failed_precondition("yamux: session failed");
  std::size_t pos = 0;
  while (pos < received.size()) {
    if (data_left_ > 0) {
      std::size_t n = std::min<std::size_t>(data_left_, received.size() - pos);
      deliver(received.subspan(pos, n));
      pos += n;
      data_left_ -= static_cast<std::uint32_t>(n);
      if (data_left_ == 0) end_data_frame();
      continue;
    }
    std::size_t n = std::min(kHeaderSize - header_len_, received.size() - pos);
    std::memcpy(header_ + header_len_, received.data() + pos, n);
    header_len_ += n;
    pos += n;
    if (header_len_ < kHeaderSize) break;
    header_len_ = 0;
    auto h = decode_header(ByteView(header_, kHeaderSize));
    if (!h.ok()) return protocol_error(h.status().message());
    VEIL_RETURN_IF_ERROR(begin_frame(*h));
  }
  return {};
}

// Hands a piece of the current data frame's payload to its stream, unless the stream is
// gone (reset meanwhile, or refused): then the bytes are dropped as the spec allows.
void Session::deliver(ByteView piece) {
  if (data_stream_ == 0 || streams_.find(data_stream_) == streams_.end()) return;
  Bytes data;
  if (!spare_.empty()) {
    data = std::move(spare_.back());
    spare_.pop_back();
  }
  data.assign(piece.begin(), piece.end());
  events_.push_back({Event::Type::kData, data_stream_, std::move(data), 0});
}

void Session::recycle(Bytes buffer) {
  // Enough for a read's worth of pieces in flight; beyond that, memory goes back to malloc.
  constexpr std::size_t kMaxSpare = 32;
  if (spare_.size() < kMaxSpare && buffer.capacity() > 0) {
    buffer.clear();
    spare_.push_back(std::move(buffer));
  }
}

void Session::end_data_frame() {
  if (data_fin_) remote_fin(data_stream_);
  data_stream_ = 0;
  data_fin_ = false;
}

void Session::remote_fin(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.remote_fin) return;
  it->second.remote_fin = true;
  events_.push_back({Event::Type::kRemoteFin, id, {}, 0});
  maybe_forget(id);
}

Status Session::begin_frame(const FrameHeader& h) {
  // A data frame's payload follows its header whatever we decide about the frame; by default
  // it is dropped (data_stream_ = 0).
  if (h.type == FrameType::kData) {
    if (h.length > config_.max_frame_payload) return protocol_error("data frame too large");
    data_left_ = h.length;
    data_stream_ = 0;
    data_fin_ = false;
  }
  if (h.type == FrameType::kPing) {
    if (h.stream_id != 0) return protocol_error("ping on a stream");
    if (h.flags & kSyn) send_frame(FrameType::kPing, kAck, 0, h.length);
    else if (h.flags & kAck) events_.push_back({Event::Type::kPong, 0, {}, h.length});
    return {};
  }
  if (h.type == FrameType::kGoAway) {
    remote_go_away_ = true;
    events_.push_back({Event::Type::kGoAway, 0, {}, h.length});
    return {};
  }
  if (h.stream_id == 0) return protocol_error("data or window update on stream 0");

  auto it = streams_.find(h.stream_id);
  if (h.flags & kSyn) {
    bool remote_parity = (h.stream_id % 2 == 1) == (role_ == Role::kServer);
    if (!remote_parity) return protocol_error("remote opened a stream with our parity");
    if (it != streams_.end()) return protocol_error("stream id reused");
    if (local_go_away_ || streams_.size() >= config_.max_streams) {
      send_frame(FrameType::kWindowUpdate, kRst, h.stream_id, 0);
      return {};
    }
    it = streams_.emplace(h.stream_id, Stream{}).first;
    it->second.need_ack = true;
    events_.push_back({Event::Type::kInbound, h.stream_id, {}, 0});
    // Acknowledge at once and grant our larger window.
    std::uint16_t flags = open_flags(it->second);
    send_frame(FrameType::kWindowUpdate, flags, h.stream_id, config_.receive_window - kInitialWindow);
    it->second.recv_window = config_.receive_window;
  }
  if (it == streams_.end()) {
    // Frames for streams we already forgot (after RST, or both sides closed) are ignored,
    // as the spec allows for races; a RST for them needs no answer.
    return {};
  }
  Stream& s = it->second;
  if (h.flags & kRst) {
    streams_.erase(it);
    events_.push_back({Event::Type::kReset, h.stream_id, {}, 0});
    return {};
  }
  if (h.type == FrameType::kWindowUpdate) {
    std::uint64_t w = static_cast<std::uint64_t>(s.send_window) + h.length;
    s.send_window = static_cast<std::uint32_t>(std::min<std::uint64_t>(w, 0xffffffffu));
    if (h.length > 0) events_.push_back({Event::Type::kWritable, h.stream_id, {}, 0});
  } else if (h.length > 0) {
    if (s.remote_fin) return protocol_error("data after FIN");
    if (h.length > s.recv_window) {
      log::get("p2p")->debug("yamux: stream {} exceeded its receive window ({} > {}); resetting",
                             h.stream_id, h.length, s.recv_window);
      send_frame(FrameType::kWindowUpdate, kRst, h.stream_id, 0);
      streams_.erase(it);
      events_.push_back({Event::Type::kReset, h.stream_id, {}, 0});
      return {};
    }
    s.recv_window -= h.length;
    data_stream_ = h.stream_id;
    if (h.flags & kFin) data_fin_ = true;  // after the payload
    return {};
  }
  if (h.flags & kFin) remote_fin(h.stream_id);
  return {};
}

std::uint16_t Session::open_flags(Stream& s) {
  std::uint16_t flags = 0;
  if (s.need_syn) flags |= kSyn;
  if (s.need_ack) flags |= kAck;
  s.need_syn = s.need_ack = false;
  return flags;
}

void Session::maybe_forget(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.local_fin && it->second.remote_fin) streams_.erase(it);
}

Result<std::uint32_t> Session::open_stream() {
  if (failed_) return failed_precondition("yamux: session failed");
  if (remote_go_away_ || local_go_away_) return unavailable("yamux: session is going away");
  if (streams_.size() >= config_.max_streams) return out_of_range("yamux: too many open streams");
  if (next_id_ > 0xfffffffdu) return out_of_range("yamux: stream ids exhausted");
  std::uint32_t id = next_id_;
  next_id_ += 2;
  Stream& s = streams_[id];
  s.need_syn = true;
  send_frame(FrameType::kWindowUpdate, open_flags(s), id, config_.receive_window - kInitialWindow);
  s.recv_window = config_.receive_window;
  return id;
}

Result<std::size_t> Session::write(std::uint32_t stream, ByteView data) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return failed_precondition("yamux: stream " + std::to_string(stream) + " is closed or reset");
  Stream& s = it->second;
  if (s.local_fin) return failed_precondition("yamux: stream already closed for writing");
  std::size_t n = std::min<std::size_t>(data.size(), s.send_window);
  if (n == 0) return std::size_t{0};
  // Split into frames of at most 256 KiB so one stream cannot monopolise the connection.
  std::size_t pos = 0;
  while (pos < n) {
    std::size_t chunk = std::min<std::size_t>(n - pos, kInitialWindow);
    send_frame(FrameType::kData, open_flags(s), stream, static_cast<std::uint32_t>(chunk), data.subspan(pos, chunk));
    pos += chunk;
  }
  s.send_window -= static_cast<std::uint32_t>(n);
  return n;
}

Result<std::size_t> Session::write_header(std::uint32_t stream, std::size_t size, Bytes* header) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return failed_precondition("yamux: stream " + std::to_string(stream) + " is closed or reset");
  Stream& s = it->second;
  if (s.local_fin) return failed_precondition("yamux: stream already closed for writing");
  std::size_t n = std::min<std::size_t>({size, s.send_window, kInitialWindow});
  if (n == 0) return std::size_t{0};
  encode_header({0, FrameType::kData, open_flags(s), stream, static_cast<std::uint32_t>(n)}, header);
  s.send_window -= static_cast<std::uint32_t>(n);
  return n;
}

void Session::close(std::uint32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.local_fin) return;
  it->second.local_fin = true;
  send_frame(FrameType::kWindowUpdate, static_cast<std::uint16_t>(open_flags(it->second) | kFin), stream, 0);
  maybe_forget(stream);
}

void Session::reset(std::uint32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  send_frame(FrameType::kWindowUpdate, kRst, stream, 0);
  streams_.erase(it);
}

void Session::consumed(std::uint32_t stream, std::size_t n) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (s.remote_fin) return;  // no more data will come; no need to grant window
  s.unacked_consumed += static_cast<std::uint32_t>(n);
  if (s.unacked_consumed >= config_.receive_window / 2) {
    send_frame(FrameType::kWindowUpdate, open_flags(s), stream, s.unacked_consumed);
    s.recv_window += s.unacked_consumed;
    s.unacked_consumed = 0;
  }
}

void Session::ping(std::uint32_t value) { send_frame(FrameType::kPing, kSyn, 0, value); }

void Session::go_away(GoAwayCode code) {
  if (local_go_away_) return;
  local_go_away_ = true;
  send_frame(FrameType::kGoAway, 0, 0, code);
}

std::size_t Session::send_window(std::uint32_t stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.send_window;
}

}  // namespace veil::p2p::yamux
