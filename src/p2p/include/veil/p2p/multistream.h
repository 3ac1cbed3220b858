// multistream-select 1.0 (libp2p/specs connections/ and multistream-select), socket-free.
//
// Every message is uvarint(length) || utf8 text || '\n', where length counts the newline.
// Both sides first send "/multistream/1.0.0"; the dialer then proposes protocols one at a
// time and the listener echoes the one it accepts or answers "na". The dialer pipelines its
// header and first proposal in one write. "ls" is answered with "na" (it is optional).
//
// The state machines consume whole messages; MessageBuffer splits a byte stream into them.
// Thread safety: none; one object per negotiation.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::p2p::multistream {

inline constexpr std::string_view kHeader = "/multistream/1.0.0";
inline constexpr std::string_view kNotAvailable = "na";
inline constexpr std::size_t kMaxMessage = 1024;  // protocol ids are short; bounds memory

// uvarint(len) || text || '\n'. `text` must not contain '\n'.
Bytes encode(std::string_view text);

// Accumulates bytes and yields complete messages without their trailing newline.
class MessageBuffer {
 public:
  void append(ByteView bytes) { buf_.insert(buf_.end(), bytes.begin(), bytes.end()); }
  // The next message, std::nullopt if incomplete; an error for a message longer than
  // kMaxMessage, without a trailing newline, or with a bad varint.
  Result<std::optional<std::string>> next();
  // Bytes received after the last returned message (the upgraded protocol's first bytes).
  Bytes take_rest();

 private:
  Bytes buf_;
  std::size_t pos_ = 0;
};

// What a negotiation step wants: bytes to send, and whether it is finished.
struct Step {
  Bytes send;
  bool done = false;
  std::string protocol;  // the agreed protocol when done
};

// The dialer's side: proposes `protocols` in order until one is accepted.
class Dialer {
 public:
  explicit Dialer(std::vector<std::string> protocols);
  // Header plus the first proposal.
  Bytes start();
  // Feeds one message. Errors: the listener's header is wrong, or every proposal got "na"
  // (not_found naming them), or an unexpected reply.
  Result<Step> on_message(std::string_view message);

 private:
  std::vector<std::string> protocols_;
  std::size_t next_ = 0;
  bool header_seen_ = false;
};

// The listener's side: accepts the first proposal for which `supports` returns true.
class Listener {
 public:
  explicit Listener(std::function<bool(std::string_view)> supports);
  Bytes start();  // the header
  // Feeds one message. Errors: wrong header, or more than kMaxProposals refusals.
  Result<Step> on_message(std::string_view message);
  static constexpr int kMaxProposals = 64;

 private:
  std::function<bool(std::string_view)> supports_;
  bool header_seen_ = false;
  int refusals_ = 0;
};

}  // namespace veil::p2p::multistream
