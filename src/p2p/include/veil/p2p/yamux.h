// Yamux 1.0.0 stream multiplexer (libp2p/specs yamux/README.md), socket-free.
//
// Frame header (12 bytes, big-endian): version (0) | type | flags (u16) | stream id (u32) |
// length (u32). Types: 0 data (length = payload bytes), 1 window update (length = delta),
// 2 ping (length = opaque value), 3 go away (length = code). Flags: SYN 1, ACK 2, FIN 4,
// RST 8. The dialer (client) opens odd stream ids, the listener (server) even ones.
//
// Flow control: each side may send at most the receive window the other granted (256 KiB at
// stream start, raised by window updates). This implementation grants `receive_window`
// (default 16 MiB) by sending the extra delta with its SYN/ACK, and tops the window up once
// the application has consumed half of it. A peer that sends more than the window allows has
// that stream reset (RST) and the excess dropped. Malformed frames end the session with
// GoAway(protocol error).
//
// Data frames are delivered as their bytes arrive (one kData event per piece), not held back
// until the whole frame is in: the receive path then copies each byte once, into the event.
// The window check and the FIN of a data frame apply to the frame as a whole (checked on its
// header, reported after its last byte).
//
// Use: feed received bytes to on_bytes(), act on take_events(), send take_output().
// Thread safety: none; one object per connection, driven from one strand.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::p2p::yamux {

inline constexpr std::string_view kProtocolId = "/yamux/1.0.0";
inline constexpr std::uint32_t kInitialWindow = 256 * 1024;
inline constexpr std::size_t kHeaderSize = 12;

enum class FrameType : std::uint8_t { kData = 0, kWindowUpdate = 1, kPing = 2, kGoAway = 3 };
enum Flags : std::uint16_t { kSyn = 1, kAck = 2, kFin = 4, kRst = 8 };
enum GoAwayCode : std::uint32_t { kNormal = 0, kProtocolError = 1, kInternalError = 2 };

struct FrameHeader {
  std::uint8_t version = 0;
  FrameType type = FrameType::kData;
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t length = 0;
};
void encode_header(const FrameHeader& h, Bytes* out);
// Parses 12 bytes; fails on version != 0 or an unknown type.
Result<FrameHeader> decode_header(ByteView twelve_bytes);

struct Config {
  // Per stream, granted to the remote. 16 MiB (go-yamux's and js-yamux's maximum) keeps a
  // loopback or LAN stream from stalling on window updates; memory is only used if the
  // application stops reading while the remote keeps sending.
  std::uint32_t receive_window = 16 * 1024 * 1024;
  std::size_t max_streams = 512;                    // open streams, both directions together
  std::uint32_t max_frame_payload = 16 * 1024 * 1024;  // larger data frames are a protocol error
};

enum class Role { kClient, kServer };

struct Event {
  enum class Type {
    kInbound,    // the remote opened `stream`
    kData,       // `data` arrived on `stream`
    kRemoteFin,  // the remote will send no more on `stream`
    kReset,      // `stream` was reset (by the remote, or by us for a window violation)
    kWritable,   // `stream`'s send window grew
    kPong,       // our ping `value` was answered
    kGoAway,     // the remote will accept no new streams; `value` is its code
  };
  Type type;
  std::uint32_t stream = 0;
  Bytes data;
  std::uint32_t value = 0;
};

class Session {
 public:
  Session(Role role, Config config = {});

  // Parses received bytes. Returns an error (after queueing GoAway(protocol error)) when the
  // remote broke the protocol; the connection should then be closed once output is flushed.
  Status on_bytes(ByteView received);
  std::vector<Event> take_events();
  // Bytes to write to the connection (frames queued by any call).
  Bytes take_output();
  // The same into *out (cleared first); *out's old buffer is kept for later output, so a
  // caller that passes the same buffer each time makes no allocations in steady state.
  void take_output(Bytes* out);
  bool has_output() const { return !output_.empty(); }
  std::size_t output_size() const { return output_.size(); }

  // Opens an outbound stream. Fails when the remote sent GoAway, we did, or the limit is hit.
  Result<std::uint32_t> open_stream();
  // Queues as much of `data` as the stream's send window allows; returns how many bytes were
  // taken (0 when the window is closed: wait for kWritable). Fails if the stream cannot
  // send (closed for writing, reset, unknown).
  Result<std::size_t> write(std::uint32_t stream, ByteView data);
  // Zero-copy form of write(): takes up to `size` bytes for one data frame (at most the send
  // window and 256 KiB) and appends only that frame's 12-byte header to *header; returns the
  // byte count, as write() does. The caller must send the header and then that many payload
  // bytes before anything this session outputs later, so call it only with no output
  // pending (has_output() false).
  Result<std::size_t> write_header(std::uint32_t stream, std::size_t size, Bytes* header);
  // Half-closes our direction (FIN). Idempotent.
  void close(std::uint32_t stream);
  // Aborts the stream in both directions (RST) and forgets it.
  void reset(std::uint32_t stream);
  // Gives back the buffer of a kData event whose bytes were used up, for later events to
  // reuse (its contents are discarded). Optional; it saves an allocation, and the page faults
  // of fresh memory, per delivered piece.
  void recycle(Bytes buffer);
  // The application consumed `n` received bytes of `stream`; may queue a window update.
  void consumed(std::uint32_t stream, std::size_t n);
  void ping(std::uint32_t value);
  // Refuses new streams from now on and tells the remote.
  void go_away(GoAwayCode code = kNormal);

  std::size_t send_window(std::uint32_t stream) const;
  std::size_t open_streams() const { return streams_.size(); }
  bool remote_went_away() const { return remote_go_away_; }

 private:
  struct Stream {
    std::uint32_t send_window = kInitialWindow;
    std::uint32_t recv_window = kInitialWindow;  // bytes the remote may still send
    std::uint32_t unacked_consumed = 0;          // consumed bytes not yet granted back
    bool local_fin = false;
    bool remote_fin = false;
    bool need_ack = false;  // inbound stream whose ACK has not been sent yet
    bool need_syn = false;  // outbound stream whose SYN has not been sent yet
  };
  void send_frame(FrameType type, std::uint16_t flags, std::uint32_t stream, std::uint32_t length, ByteView payload = {});
  std::uint16_t open_flags(Stream& s);
  Status protocol_error(std::string why);
  // Acts on a frame header; for a data frame, sets up the delivery of its payload.
  Status begin_frame(const FrameHeader& h);
  void deliver(ByteView piece);
  void end_data_frame();
  void remote_fin(std::uint32_t id);
  void maybe_forget(std::uint32_t id);

  Role role_;
  Config config_;
  std::uint32_t next_id_;
  std::map<std::uint32_t, Stream> streams_;
  std::vector<Event> events_;
  Bytes output_;
  // Receive state: a header split across on_bytes() calls, and the data frame being read.
  std::uint8_t header_[kHeaderSize] = {};
  std::size_t header_len_ = 0;
  std::uint32_t data_left_ = 0;        // payload bytes of the current data frame still to come
  std::uint32_t data_stream_ = 0;      // its stream; 0 = the payload is dropped
  bool data_fin_ = false;              // the frame carried FIN: apply after its last byte
  std::vector<Bytes> spare_;           // recycled event buffers
  bool local_go_away_ = false;
  bool remote_go_away_ = false;
  bool failed_ = false;
};

}  // namespace veil::p2p::yamux
