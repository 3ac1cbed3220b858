#include "veil/p2p/multistream.h"

#include "veil/p2p/encoding.h"

namespace veil::p2p::multistream {

Bytes encode(std::string_view text) {
  Bytes out;
  append_uvarint(out, text.size() + 1);
  out.insert(out.end(), text.begin(), text.end());
  out.push_back('\n');
  return out;
}

Result<std::optional<std::string>> MessageBuffer::next() {
  ByteView rest = ByteView(buf_).subspan(pos_);
  VEIL_ASSIGN_OR_RETURN(VarintDecode len, decode_uvarint(rest.first(std::min<std::size_t>(rest.size(), 9))));
  if (len.consumed == 0) {
    if (rest.size() >= 3) return invalid_argument("multistream: message length too long");
    return std::optional<std::string>();
  }
  if (len.value == 0 || len.value > kMaxMessage) {
    return invalid_argument("multistream: message length " + std::to_string(len.value) + " out of range");
  }
  if (rest.size() - len.consumed < len.value) return std::optional<std::string>();
  ByteView body = rest.subspan(len.consumed, static_cast<std::size_t>(len.value));
  if (body.back() != '\n') return invalid_argument("multistream: message does not end in a newline");
  pos_ += len.consumed + body.size();
  return std::optional<std::string>(to_string(body.first(body.size() - 1)));
}

Bytes MessageBuffer::take_rest() {
  Bytes rest(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end());
  buf_.clear();
  pos_ = 0;
  return rest;
}

Dialer::Dialer(std::vector<std::string> protocols) : protocols_(std::move(protocols)) {}

Bytes Dialer::start() {
  Bytes out = encode(kHeader);
  if (!protocols_.empty()) {
    Bytes p = encode(protocols_[next_++]);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Result<Step> Dialer::on_message(std::string_view message) {
  if (!header_seen_) {
    if (message != kHeader) return invalid_argument("multistream: peer sent '" + std::string(message) + "' instead of the header");
    header_seen_ = true;
    return Step{};
  }
  if (next_ == 0) return invalid_argument("multistream: nothing was proposed");
  const std::string& proposed = protocols_[next_ - 1];
  if (message == proposed) return Step{{}, true, proposed};
  if (message != kNotAvailable) return invalid_argument("multistream: unexpected reply '" + std::string(message) + "'");
  if (next_ == protocols_.size()) {
    std::string list;
    for (const auto& p : protocols_) list += (list.empty() ? "" : ", ") + p;
    return not_found("peer does not support " + list);
  }
  return Step{encode(protocols_[next_++]), false, {}};
}

Listener::Listener(std::function<bool(std::string_view)> supports) : supports_(std::move(supports)) {}

Bytes Listener::start() { return encode(kHeader); }

Result<Step> Listener::on_message(std::string_view message) {
  if (!header_seen_) {
    if (message != kHeader) return invalid_argument("multistream: peer sent '" + std::string(message) + "' instead of the header");
    header_seen_ = true;
    return Step{};
  }
  if (!message.empty() && message != "ls" && supports_(message)) return Step{encode(message), true, std::string(message)};
  if (++refusals_ > kMaxProposals) return out_of_range("multistream: too many refused proposals");
  return Step{encode(kNotAvailable), false, {}};
}

}  // namespace veil::p2p::multistream
