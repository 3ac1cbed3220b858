// Host, Connection and Stream: the Asio side of the upgrade pipeline. All protocol logic
// lives in the socket-free state machines (multistream, noise, yamux); this file moves bytes.
#include "veil/p2p/host.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>

#include "veil/common/log.h"
#include "veil/p2p/encoding.h"
#include "veil/p2p/identify.h"
#include "veil/p2p/multistream.h"
#include "veil/p2p/noise.h"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// `return` is not allowed in coroutines; these are the co_return forms of the common macros.
#define CO_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::veil::Status co_status_ = (expr);          \
    if (!co_status_.ok()) co_return co_status_;  \
  } while (0)

namespace veil::p2p {
namespace detail {

// Sizes of the data path (see Connection::read_loop / write_loop / write_direct). 1 MiB
// reads cost less CPU than 256 KiB ones in bench/p2p_throughput (fewer partial frames to move);
// 256 KiB write pieces keep a sealed piece small enough to stay in cache until the kernel
// copies it.
constexpr std::size_t kReadBuffer = 1 << 20;
constexpr std::size_t kWritePiece = 256 * 1024;
constexpr std::size_t kMaxQueued = 256 * 1024;
constexpr std::size_t kDirectMin = 16 * 1024;  // Stream::write: bulk data, worth the zero-copy path
constexpr std::size_t kWireSize = noise::Session::sealed_size(kWritePiece + yamux::kHeaderSize);

auto& logger() {
  static auto l = log::get("p2p");
  return l;
}

// Wakes a coroutine waiting on this thread: wait() suspends until notify(). Waiters must
// re-check their condition in a loop (notify before wait is not remembered).
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex, asio::steady_timer::time_point::max()) {}
  Task<void> wait() {
    error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

// Runs `on_expiry` after `d` unless disarmed first (by destruction).
class Deadline {
 public:
  Deadline(const asio::any_io_executor& ex, std::chrono::milliseconds d, std::function<void()> on_expiry)
      : timer_(std::make_shared<asio::steady_timer>(ex, d)), fired_(std::make_shared<bool>(false)) {
    timer_->async_wait([fired = fired_, f = std::move(on_expiry)](const error_code& ec) {
      if (!ec) {
        *fired = true;
        f();
      }
    });
  }
  ~Deadline() { timer_->cancel(); }
  bool fired() const { return *fired_; }

 private:
  std::shared_ptr<asio::steady_timer> timer_;
  std::shared_ptr<bool> fired_;
};

struct StreamState {
  StreamState(std::uint32_t id_, const asio::any_io_executor& ex) : id(id_), readable(ex), writable(ex) {}
  bool has_data() const { return !inbox.empty(); }
  // Takes a received piece as it is (moved, not copied).
  void push(Bytes piece) {
    if (!piece.empty()) inbox.push_back(std::move(piece));
  }
  // Puts bytes back in front of what is queued.
  void unread(Bytes piece) {
    if (piece.empty()) return;
    if (pos > 0) {
      inbox.front().erase(inbox.front().begin(), inbox.front().begin() + static_cast<std::ptrdiff_t>(pos));
      pos = 0;
    }
    inbox.push_front(std::move(piece));
  }
  // Copies up to out.size() queued bytes into `out`; returns how many. Emptied pieces go
  // to `used`.
  std::size_t pop(std::span<std::uint8_t> out) {
    std::size_t n = 0;
    while (n < out.size() && !inbox.empty()) {
      const Bytes& front = inbox.front();
      std::size_t k = std::min(out.size() - n, front.size() - pos);
      std::memcpy(out.data() + n, front.data() + pos, k);
      n += k;
      pos += k;
      if (pos == front.size()) {
        used.push_back(std::move(inbox.front()));
        inbox.pop_front();
        pos = 0;
      }
    }
    return n;
  }

  std::uint32_t id;
  // Received bytes not read yet, in the pieces Yamux delivered; `pos` is how much of the
  // front piece was read already.
  std::deque<Bytes> inbox;
  std::size_t pos = 0;
  std::vector<Bytes> used;  // pieces pop() emptied, to hand back to Yamux for reuse
  bool remote_fin = false;
  bool reset = false;
  Signal readable, writable;
};

}  // namespace detail

struct Host::Impl : std::enable_shared_from_this<Host::Impl> {
  Impl(asio::io_context& io_, HostConfig config_)
      : io(io_), config(std::move(config_)), id(PeerId::from_public_key(config.identity.public_key())) {}

  asio::io_context& io;
  HostConfig config;
  PeerId id;
  std::map<std::string, Handler, std::less<>> handlers;
  Gater gater;
  std::vector<Listener> listeners;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<Multiaddr> listen_addrs;
  std::map<PeerId, std::vector<std::shared_ptr<detail::Connection>>> connections;
  Peerstore peerstore;
  struct Backoff {
    std::chrono::steady_clock::time_point until;
    std::chrono::milliseconds delay{0};
  };
  std::map<std::string, Backoff> backoff;
  std::array<std::uint64_t, 2> refused{};  // by Refusal
  LogThrottle gated_log{config.refusal_log};
  LogThrottle limit_log{config.refusal_log};
  bool closed = false;
  bool push_scheduled = false;
  void schedule_identify_push();

  std::size_t connection_count() const {
    std::size_t n = 0;
    for (const auto& [_, v] : connections) n += v.size();
    return n;
  }
  // Counts a refused connection and logs its summary line when one is due; returns whether
  // this refusal should be logged in full (see HostConfig::refusal_log). `key` is the peer
  // (or, before Noise, the remote address).
  bool count_refusal(Refusal reason, std::string_view key);
  void add_connection(const std::shared_ptr<detail::Connection>& conn, Direction dir);
  void remove_connection(const detail::Connection* conn);
  void notify_identified(const PeerInfo& info) {
    for (auto& l : listeners) if (l.identified) l.identified(info);
  }
  Bytes identify_message(const Multiaddr& observed) const {
    identify::Message m;
    m.protocol_version = std::string(identify::kProtocolVersion);
    m.agent_version = config.agent_version;
    m.public_key = config.identity.public_key().encode();
    m.listen_addrs = listen_addrs;
    m.observed_addr = observed;
    for (const auto& [p, _] : handlers) m.protocols.push_back(p);
    return identify::encode(m);
  }
};

namespace detail {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Host::Impl> host, std::shared_ptr<tcp::socket> sock, noise::Session secure,
             yamux::Session mux, Direction dir, Multiaddr remote_addr)
      : host_(std::move(host)), sock_(std::move(sock)), secure_(std::move(secure)), mux_(std::move(mux)),
        dir_(dir), remote_addr_(std::move(remote_addr)) {}

  const PeerId& remote() const { return secure_.remote(); }
  Direction direction() const { return dir_; }
  const Multiaddr& remote_addr() const { return remote_addr_; }
  bool usable() const { return !terminated_ && !closing_ && !mux_.remote_went_away(); }
  asio::any_io_executor executor() { return sock_->get_executor(); }

  // Starts the read loop; `initial` is plaintext that arrived with the upgrade.
  void start(Bytes initial) {
    auto self = shared_from_this();
    if (!initial.empty()) {
      Status st = mux_.on_bytes(initial);
      dispatch();
      flush();
      if (!st.ok()) {
        close();
        return;
      }
    }
    asio::co_spawn(executor(), [self]() -> Task<void> { co_await self->read_loop(); }, asio::detached);
  }

  Task<Result<StreamPtr>> open_stream(std::vector<std::string> protocols);

  // GoAway, flush, then close the socket.
  void close() {
    if (closing_ || terminated_) return;
    closing_ = true;
    mux_.go_away();
    flush();
    if (!writing_) shutdown_socket();
  }

  void flush() {
    if (writing_ || terminated_ || !mux_.has_output()) return;
    writing_ = true;
    auto self = shared_from_this();
    asio::co_spawn(executor(), [self]() -> Task<void> { co_await self->write_loop(); }, asio::detached);
  }

  void recycle(std::vector<Bytes>& used) {
    for (auto& b : used) mux_.recycle(std::move(b));
    used.clear();
  }
  void consumed(std::uint32_t id, std::size_t n) {
    mux_.consumed(id, n);
    flush();
  }
  Result<std::size_t> mux_write(std::uint32_t id, ByteView data) {
    if (terminated_) return unavailable("connection closed");
    auto n = mux_.write(id, data);
    flush();
    return n;
  }
  void mux_close(std::uint32_t id) {
    mux_.close(id);
    flush();
  }
  void mux_reset(std::uint32_t id) {
    mux_.reset(id);
    streams_.erase(id);
    flush();
  }
  void forget(std::uint32_t id) { streams_.erase(id); }

  // Backpressure: a writer waits while this much plaintext is queued and not yet taken by the
  // write loop, so a fast application cannot pile up its whole window (16 MiB) in memory
  // ahead of the encryption.
  bool congested() const { return !terminated_ && mux_.output_size() >= kMaxQueued; }
  Task<void> wait_drained() { co_await drained_.wait(); }
  Task<void> wait_idle() { co_await idle_.wait(); }

  // Zero-copy fast path of Stream::write, usable when nothing else is queued or being
  // written: seals up to kWritePiece of the caller's bytes straight from its buffer (no copy
  // into the Yamux output) and writes them. The buffer stays valid because Stream::write
  // awaits this. Returns the bytes taken (0: the send window is closed).
  bool can_write_direct() const { return !writing_ && !terminated_ && !mux_.has_output(); }
  // Something is being written or queued (so idle_ will be notified).
  bool busy() const { return !terminated_ && (writing_ || mux_.has_output()); }
  Task<Result<std::size_t>> write_direct(std::uint32_t id, ByteView data);

 private:
  Task<void> read_loop();
  Task<void> write_loop();
  Task<void> serve_inbound(std::shared_ptr<StreamState> state);
  void dispatch();
  void terminate();
  void shutdown_socket() {
    error_code ec;
    sock_->shutdown(tcp::socket::shutdown_both, ec);
    sock_->close(ec);
  }

  std::shared_ptr<Host::Impl> host_;
  std::shared_ptr<tcp::socket> sock_;
  noise::Session secure_;
  yamux::Session mux_;
  Direction dir_;
  Multiaddr remote_addr_;
  std::map<std::uint32_t, std::shared_ptr<StreamState>> streams_;
  Signal drained_{sock_->get_executor()};  // the write loop took the queued output
  Signal idle_{sock_->get_executor()};     // nothing is being written any more
  Bytes plain_out_;                       // write loop: the output being sealed
  std::unique_ptr<std::uint8_t[]> wire_;  // write loop: one sealed piece
  bool writing_ = false;
  bool closing_ = false;
  bool terminated_ = false;
};

// Reads a multistream negotiation from a Stream (used for every Yamux stream).
template <typename Machine>
Task<Result<std::string>> negotiate_on_stream(Stream& s, StreamState& state, Machine& m) {
  multistream::MessageBuffer buf;
  CO_RETURN_IF_ERROR(co_await s.write(m.start()));
  std::array<std::uint8_t, 1024> chunk{};
  while (true) {
    auto msg = buf.next();
    if (!msg.ok()) co_return msg.status();
    if (!msg->has_value()) {
      auto n = co_await s.read_some(chunk);
      if (!n.ok()) co_return n.status();
      if (*n == 0) co_return unavailable("stream closed during protocol negotiation");
      buf.append(ByteView(chunk.data(), *n));
      continue;
    }
    auto step = m.on_message(**msg);
    if (!step.ok()) co_return step.status();
    if (!step->send.empty()) CO_RETURN_IF_ERROR(co_await s.write(step->send));
    if (step->done) {
      // Bytes that followed the negotiation belong to the protocol: put them back.
      state.unread(buf.take_rest());
      co_return step->protocol;
    }
  }
}

Task<Result<StreamPtr>> Connection::open_stream(std::vector<std::string> protocols) {
  if (!usable()) co_return unavailable("connection to " + remote().to_base58() + " is closing");
  auto id = mux_.open_stream();
  if (!id.ok()) co_return id.status();
  auto state = std::make_shared<StreamState>(*id, executor());
  streams_[*id] = state;
  flush();
  StreamPtr s(new Stream(shared_from_this(), state));
  multistream::Dialer dialer(protocols);
  Deadline deadline(executor(), host_->config.stream_negotiation_timeout, [s] { s->reset(); });
  auto agreed = co_await negotiate_on_stream(*s, *state, dialer);
  if (!agreed.ok()) {
    s->reset();
    if (deadline.fired()) co_return deadline_exceeded("protocol negotiation timed out");
    co_return agreed.status();
  }
  s->protocol_ = *agreed;
  co_return s;
}

Task<void> Connection::serve_inbound(std::shared_ptr<StreamState> state) {
  auto self = shared_from_this();
  StreamPtr s(new Stream(self, state));
  auto host = host_;
  multistream::Listener listener([host](std::string_view p) { return host->handlers.find(p) != host->handlers.end(); });
  Result<std::string> agreed = internal_error("unset");
  {
    Deadline deadline(executor(), host_->config.stream_negotiation_timeout, [s] { s->reset(); });
    agreed = co_await negotiate_on_stream(*s, *state, listener);
  }
  if (!agreed.ok()) {
    logger()->debug("inbound stream from {}: {}", remote().to_base58(), agreed.status().to_string());
    s->reset();
    co_return;
  }
  s->protocol_ = *agreed;
  auto it = host_->handlers.find(*agreed);
  if (it == host_->handlers.end()) {
    s->reset();
    co_return;
  }
  Host::Handler handler = it->second;  // the map may change while the handler runs
  try {
    co_await handler(s);
  } catch (const std::exception& e) {
    logger()->warn("handler for {} threw: {}", *agreed, e.what());
    s->reset();
  }
}

void Connection::dispatch() {
  for (auto& e : mux_.take_events()) {
    using T = yamux::Event::Type;
    if (e.type == T::kInbound) {
      auto state = std::make_shared<StreamState>(e.stream, executor());
      streams_[e.stream] = state;
      auto self = shared_from_this();
      asio::co_spawn(executor(), [self, state]() -> Task<void> { co_await self->serve_inbound(state); }, asio::detached);
      continue;
    }
    if (e.type == T::kGoAway) {
      logger()->debug("{} sent GoAway({})", remote().to_base58(), e.value);
      continue;
    }
    auto it = streams_.find(e.stream);
    if (it == streams_.end()) {
      // Nobody reads this stream any more; keep the remote's window open regardless.
      if (e.type == T::kData) mux_.consumed(e.stream, e.data.size());
      continue;
    }
    auto& st = *it->second;
    switch (e.type) {
      case T::kData:
        st.push(std::move(e.data));
        st.readable.notify();
        break;
      case T::kRemoteFin:
        st.remote_fin = true;
        st.readable.notify();
        break;
      case T::kReset:
        st.reset = true;
        st.readable.notify();
        st.writable.notify();
        streams_.erase(it);
        break;
      case T::kWritable:
        st.writable.notify();
        break;
      default:
        break;
    }
  }
}

Task<void> Connection::read_loop() {
  auto self = shared_from_this();
  // Ciphertext is read into `buf` and decrypted there, in place; the plaintext goes straight
  // to Yamux, which copies each data byte once (into its stream's queue). Only an incomplete
  // frame at the end stays in [begin, end); it moves to the front when the space after it
  // could no longer take a whole frame.
  constexpr std::size_t kRoom = noise::kMaxMessage + 2;
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[kReadBuffer]);
  std::size_t begin = 0, end = 0;
  Bytes carried = secure_.take_buffered();  // a partial frame that came with the upgrade
  std::memcpy(buf.get(), carried.data(), carried.size());
  end = carried.size();
  bool mux_failed = false;
  auto to_mux = [this, &mux_failed](ByteView plain) -> Status {
    Status st = mux_.on_bytes(plain);
    mux_failed = !st.ok();
    return st;
  };
  while (!terminated_) {
    if (kReadBuffer - end < kRoom) {
      std::memmove(buf.get(), buf.get() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    error_code ec;
    std::size_t n = co_await sock_->async_read_some(asio::buffer(buf.get() + end, kReadBuffer - end),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec || terminated_) break;
    end += n;
    auto used = secure_.open_in_place(std::span<std::uint8_t>(buf.get() + begin, end - begin), to_mux);
    dispatch();
    flush();
    if (!used.ok()) {
      logger()->warn("connection {}: {}", remote().to_base58(), used.status().to_string());
      if (mux_failed) close();
      break;
    }
    begin += *used;
    if (begin == end) begin = end = 0;
  }
  terminate();
}

Task<Result<std::size_t>> Connection::write_direct(std::uint32_t id, ByteView data) {
  auto self = shared_from_this();
  Bytes header;
  auto n = mux_.write_header(id, std::min(data.size(), kWritePiece), &header);
  if (!n.ok() || *n == 0) co_return n;
  writing_ = true;
  if (!wire_) wire_.reset(new std::uint8_t[kWireSize]);
  const ByteView parts[2] = {ByteView(header), data.first(*n)};
  std::size_t len = noise::Session::sealed_size(header.size() + *n);
  secure_.seal_to(std::span<const ByteView>(parts), wire_.get());
  error_code ec;
  co_await asio::async_write(*sock_, asio::buffer(wire_.get(), len), asio::redirect_error(asio::use_awaitable, ec));
  writing_ = false;
  if (ec) {
    terminate();
    co_return unavailable("connection closed: " + ec.message());
  }
  flush();  // whatever was queued meanwhile (window updates, other streams)
  if (!writing_) idle_.notify();
  if (closing_ && !writing_) shutdown_socket();
  co_return *n;
}

Task<void> Connection::write_loop() {
  auto self = shared_from_this();
  // Seal and send in pieces so the remote can start decrypting while we still encrypt, and
  // so the sealed piece is still in cache when the kernel copies it. Both buffers are reused.
  if (!wire_) wire_.reset(new std::uint8_t[kWireSize]);
  while (mux_.has_output() && !terminated_) {
    mux_.take_output(&plain_out_);
    drained_.notify();  // writers held back by backpressure may queue the next batch now
    for (std::size_t pos = 0; pos < plain_out_.size() && !terminated_; pos += kWritePiece) {
      ByteView piece = ByteView(plain_out_).subspan(pos, std::min(kWritePiece, plain_out_.size() - pos));
      std::size_t len = noise::Session::sealed_size(piece.size());
      secure_.seal_to(piece, wire_.get());
      error_code ec;
      co_await asio::async_write(*sock_, asio::buffer(wire_.get(), len), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        writing_ = false;
        terminate();
        co_return;
      }
    }
  }
  writing_ = false;
  idle_.notify();  // bulk writers may take the direct path now
  if (closing_) shutdown_socket();
}

void Connection::terminate() {
  if (terminated_) return;
  terminated_ = true;
  shutdown_socket();
  for (auto& [_, st] : streams_) {
    st->reset = true;
    st->readable.notify();
    st->writable.notify();
  }
  streams_.clear();
  drained_.notify();
  idle_.notify();
  host_->remove_connection(this);
}

}  // namespace detail

// ---- Stream ----

Stream::Stream(std::shared_ptr<detail::Connection> conn, std::shared_ptr<detail::StreamState> state)
    : conn_(std::move(conn)), state_(std::move(state)) {}

Stream::~Stream() {
  if (!closed_ && !state_->reset) conn_->mux_reset(state_->id);
  conn_->forget(state_->id);
}

const PeerId& Stream::remote_peer() const { return conn_->remote(); }

Task<Result<std::size_t>> Stream::read_some(std::span<std::uint8_t> buffer) {
  auto st = state_;
  auto conn = conn_;
  while (!st->has_data() && !st->remote_fin && !st->reset) co_await st->readable.wait();
  if (st->has_data()) {
    std::size_t n = st->pop(buffer);
    conn->recycle(st->used);
    if (!st->reset) conn->consumed(st->id, n);
    co_return n;
  }
  if (st->reset) co_return cancelled("stream reset");
  co_return std::size_t{0};
}

Task<Status> Stream::read_exact(std::span<std::uint8_t> buffer) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    auto n = co_await read_some(buffer.subspan(got));
    if (!n.ok()) co_return n.status();
    if (*n == 0) co_return data_loss("stream ended after " + std::to_string(got) + " of " + std::to_string(buffer.size()) + " bytes");
    got += *n;
  }
  co_return Status();
}

Task<Result<Bytes>> Stream::read_message(std::size_t max_size) {
  Bytes header;
  std::uint8_t b = 0;
  while (true) {
    auto n = co_await read_some(std::span<std::uint8_t>(&b, 1));
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      if (header.empty()) co_return not_found("stream ended");
      co_return data_loss("stream ended inside a length prefix");
    }
    header.push_back(b);
    auto len = decode_uvarint(header);
    if (!len.ok()) co_return len.status();
    if (len->consumed == 0) continue;
    if (len->value > max_size) co_return out_of_range("message of " + std::to_string(len->value) + " bytes exceeds " + std::to_string(max_size));
    Bytes body(static_cast<std::size_t>(len->value));
    CO_RETURN_IF_ERROR(co_await read_exact(body));
    co_return body;
  }
}

Task<Status> Stream::write(ByteView data) {
  auto st = state_;
  auto conn = conn_;
  std::size_t pos = 0;
  bool waited_for_idle = false;
  while (pos < data.size()) {
    if (st->reset) co_return cancelled("stream reset");
    if (conn->can_write_direct()) {
      auto n = co_await conn->write_direct(st->id, data.subspan(pos));
      if (!n.ok()) co_return n.status();
      pos += *n;
      if (*n == 0) co_await st->writable.wait();
      continue;
    }
    // Bulk data is worth waiting once for the connection to go idle, so that it takes the
    // zero-copy path; without that, a busy write loop would keep being fed through the Yamux
    // output forever. Small writes (and a second wait) just queue.
    if (data.size() - pos >= detail::kDirectMin && !waited_for_idle && conn->busy()) {
      waited_for_idle = true;
      co_await conn->wait_idle();
      continue;
    }
    waited_for_idle = false;
    if (conn->congested()) {
      co_await conn->wait_drained();
      continue;
    }
    auto n = conn->mux_write(st->id, data.subspan(pos, std::min(data.size() - pos, detail::kMaxQueued)));
    if (!n.ok()) co_return n.status();
    pos += *n;
    if (*n == 0) co_await st->writable.wait();
  }
  co_return Status();
}

Task<Status> Stream::write_message(ByteView data) {
  Bytes framed;
  append_uvarint(framed, data.size());
  framed.insert(framed.end(), data.begin(), data.end());
  co_return co_await write(framed);
}

Status Stream::close_write() {
  if (state_->reset) return cancelled("stream reset");
  closed_ = true;
  conn_->mux_close(state_->id);
  return {};
}

void Stream::reset() {
  if (state_->reset) return;
  state_->reset = true;
  state_->readable.notify();
  state_->writable.notify();
  conn_->mux_reset(state_->id);
}

// ---- Peerstore ----

void Peerstore::add_addrs(const PeerId& id, const std::vector<Multiaddr>& addrs) {
  auto& info = peers_[id];
  info.id = id;
  for (const auto& a : addrs) {
    Multiaddr plain = a.without_peer_id();
    if (std::find(info.addrs.begin(), info.addrs.end(), plain) == info.addrs.end()) info.addrs.push_back(plain);
  }
}

void Peerstore::set_identify(const PeerInfo& info) {
  auto& stored = peers_[info.id];
  auto addrs = stored.addrs;
  stored = info;
  stored.identified = true;
  stored.addrs = addrs;
  for (const auto& a : info.addrs) {
    if (std::find(stored.addrs.begin(), stored.addrs.end(), a) == stored.addrs.end()) stored.addrs.push_back(a);
  }
}

std::optional<PeerInfo> Peerstore::get(const PeerId& id) const {
  auto it = peers_.find(id);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

std::vector<PeerId> Peerstore::peers() const {
  std::vector<PeerId> out;
  for (const auto& [id, _] : peers_) out.push_back(id);
  return out;
}

// ---- upgrade ----

namespace {

using detail::logger;

// Byte I/O during the upgrade: raw TCP until Noise is up, then through the Noise session.
struct UpgradeIo {
  tcp::socket& sock;
  std::optional<noise::Session> secure;
  Bytes pending;  // received (decrypted once secure) but not yet consumed

  Task<Status> read_more() {
    std::array<std::uint8_t, 16384> buf{};
    error_code ec;
    std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return unavailable("connection closed during upgrade: " + ec.message());
    if (secure) co_return secure->open(ByteView(buf.data(), n), &pending);
    pending.insert(pending.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    co_return Status();
  }
  Task<Status> write(ByteView plain) {
    Bytes wire;
    if (secure) secure->seal(plain, &wire);
    ByteView out = secure ? ByteView(wire) : plain;
    error_code ec;
    co_await asio::async_write(sock, asio::buffer(out.data(), out.size()), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return unavailable("connection closed during upgrade: " + ec.message());
    co_return Status();
  }
};

template <typename Machine>
Task<Result<std::string>> negotiate(UpgradeIo& io, Machine& m) {
  CO_RETURN_IF_ERROR(co_await io.write(m.start()));
  multistream::MessageBuffer buf;
  buf.append(io.pending);
  io.pending.clear();
  while (true) {
    auto msg = buf.next();
    if (!msg.ok()) co_return msg.status();
    if (!msg->has_value()) {
      CO_RETURN_IF_ERROR(co_await io.read_more());
      buf.append(io.pending);
      io.pending.clear();
      continue;
    }
    auto step = m.on_message(**msg);
    if (!step.ok()) co_return step.status();
    if (!step->send.empty()) CO_RETURN_IF_ERROR(co_await io.write(step->send));
    if (step->done) {
      io.pending = buf.take_rest();
      co_return step->protocol;
    }
  }
}

Task<Result<std::string>> negotiate_one(UpgradeIo& io, bool initiator, std::string_view protocol) {
  if (initiator) {
    multistream::Dialer d({std::string(protocol)});
    co_return co_await negotiate(io, d);
  }
  multistream::Listener l([protocol](std::string_view p) { return p == protocol; });
  co_return co_await negotiate(io, l);
}

Task<Status> run_noise(UpgradeIo& io, const KeyPair& identity, bool initiator, std::optional<PeerId> expected) {
  noise::Handshake hs(identity, initiator ? noise::Role::kInitiator : noise::Role::kResponder, std::move(expected));
  Bytes first = hs.start();
  if (!first.empty()) CO_RETURN_IF_ERROR(co_await io.write(first));
  while (!hs.done()) {
    if (io.pending.empty()) CO_RETURN_IF_ERROR(co_await io.read_more());
    Bytes send;
    Bytes input = std::move(io.pending);
    io.pending.clear();
    CO_RETURN_IF_ERROR(hs.on_bytes(input, &send));
    if (!send.empty()) CO_RETURN_IF_ERROR(co_await io.write(send));
  }
  auto session = hs.finish();
  if (!session.ok()) co_return session.status();
  io.secure.emplace(std::move(*session));
  co_return io.secure->open({}, &io.pending);  // transport frames that came with the last message
}

std::string direction_name(Direction d) { return d == Direction::kInbound ? "inbound" : "outbound"; }

// The whole upgrade of a connected socket; on success the connection is registered.
Task<Result<PeerId>> upgrade(std::shared_ptr<Host::Impl> host, std::shared_ptr<tcp::socket> sock, Direction dir,
                             std::optional<PeerId> expected, Multiaddr remote_addr) {
  bool initiator = dir == Direction::kOutbound;
  UpgradeIo io{*sock, std::nullopt, {}};
  auto sec = co_await negotiate_one(io, initiator, noise::kProtocolId);
  if (!sec.ok()) co_return sec.status().with_context("security negotiation");
  CO_RETURN_IF_ERROR(co_await run_noise(io, host->config.identity, initiator, expected));
  PeerId remote = io.secure->remote();
  if (host->gater && !host->gater(remote, dir)) {
    if (host->count_refusal(Refusal::kGated, remote.to_base58())) {
      logger()->warn(
          "gater refused {} connection {} {} (further refusals are summarised every {} s)",
          direction_name(dir), dir == Direction::kInbound ? "from" : "to", remote.to_base58(),
          std::chrono::duration_cast<std::chrono::seconds>(host->config.refusal_log.interval).count());
    }
    error_code ec;
    sock->close(ec);
    co_return permission_denied("connection gater refused peer " + remote.to_base58());
  }
  auto mux = co_await negotiate_one(io, initiator, yamux::kProtocolId);
  if (!mux.ok()) co_return mux.status().with_context("muxer negotiation");
  if (host->closed) co_return unavailable("host is shut down");
  auto conn = std::make_shared<detail::Connection>(
      host, sock, std::move(*io.secure), yamux::Session(initiator ? yamux::Role::kClient : yamux::Role::kServer, host->config.yamux),
      dir, remote_addr);
  host->add_connection(conn, dir);
  conn->start(std::move(io.pending));
  co_return remote;
}

Multiaddr endpoint_addr(const tcp::endpoint& ep) {
  auto a = Multiaddr::from_ip_port(ep.address().to_string(), ep.port());
  return a.ok() ? *a : Multiaddr();
}

Task<void> run_identify(std::shared_ptr<Host::Impl> host, std::weak_ptr<detail::Connection> weak);

Task<void> accept_loop(std::shared_ptr<Host::Impl> host, std::shared_ptr<tcp::acceptor> acceptor) {
  while (!host->closed) {
    auto sock = std::make_shared<tcp::socket>(host->io);
    error_code ec;
    co_await acceptor->async_accept(*sock, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || host->closed) break;
      continue;
    }
    tcp::endpoint remote_ep = sock->remote_endpoint(ec);
    if (host->connection_count() >= host->config.max_connections) {
      const std::string from = remote_ep.address().to_string();
      if (host->count_refusal(Refusal::kConnectionLimit, from)) {
        logger()->warn("connection limit {} reached; closing inbound connection from {}",
                       host->config.max_connections, from);
      }
      sock->close(ec);
      continue;
    }
    sock->set_option(tcp::no_delay(true), ec);
    asio::co_spawn(host->io, [host, sock, remote_ep]() -> Task<void> {
      detail::Deadline deadline(sock->get_executor(), host->config.upgrade_timeout, [sock] {
        error_code e;
        sock->close(e);
      });
      auto peer = co_await upgrade(host, sock, Direction::kInbound, std::nullopt, endpoint_addr(remote_ep));
      if (!peer.ok()) {
        logger()->debug("inbound upgrade from {}: {}", remote_ep.address().to_string(), peer.status().to_string());
        error_code e;
        sock->close(e);
      }
    }, asio::detached);
  }
}

}  // namespace

std::string_view refusal_name(Refusal reason) {
  return reason == Refusal::kGated ? "gated" : "connection_limit";
}

bool Host::Impl::count_refusal(Refusal reason, std::string_view key) {
  ++refused[static_cast<std::size_t>(reason)];
  LogThrottle& throttle = reason == Refusal::kGated ? gated_log : limit_log;
  const auto verdict = throttle.record(key, std::chrono::steady_clock::now());
  if (verdict.summary) {
    const auto& summary = *verdict.summary;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(summary.window).count();
    if (reason == Refusal::kGated) {
      logger()->warn("gater refused {} more connections from {} peers in the last {} s", summary.events,
                     summary.keys, seconds);
    } else {
      logger()->warn(
          "connection limit {} reached: closed {} more inbound connections from {} addresses "
          "in the last {} s",
          config.max_connections, summary.events, summary.keys, seconds);
    }
  }
  return verdict.log_this;
}

void Host::Impl::add_connection(const std::shared_ptr<detail::Connection>& conn, Direction dir) {
  auto& list = connections[conn->remote()];
  list.push_back(conn);
  if (dir == Direction::kOutbound) peerstore.add_addrs(conn->remote(), {conn->remote_addr()});
  else peerstore.add_addrs(conn->remote(), {});
  logger()->debug("connected to {} ({})", conn->remote().to_base58(), direction_name(dir));
  if (list.size() == 1) {
    for (auto& l : listeners) if (l.connected) l.connected(conn->remote(), dir);
  }
  auto self = shared_from_this();
  asio::co_spawn(io, run_identify(self, conn), asio::detached);
}

void Host::Impl::remove_connection(const detail::Connection* conn) {
  auto it = connections.find(conn->remote());
  if (it == connections.end()) return;
  PeerId peer = it->first;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(), [conn](const auto& c) { return c.get() == conn; }), list.end());
  if (list.empty()) {
    connections.erase(it);
    logger()->debug("disconnected from {}", peer.to_base58());
    for (auto& l : listeners) if (l.disconnected) l.disconnected(peer);
  }
}

namespace {

PeerInfo info_from_identify(const PeerId& peer, const identify::Message& m) {
  PeerInfo info;
  info.id = peer;
  info.addrs = m.listen_addrs;
  info.protocols = m.protocols;
  info.agent_version = m.agent_version;
  info.protocol_version = m.protocol_version;
  info.observed_addr = m.observed_addr;
  return info;
}

// Identify must come from the peer the connection authenticated.
Status check_identify_key(const PeerId& peer, const identify::Message& m) {
  if (m.public_key.empty()) return {};
  auto key = PublicKey::decode(m.public_key);
  if (!key.ok() || !peer.matches(*key)) return permission_denied("identify: public key does not match the peer");
  return {};
}

Task<void> run_identify(std::shared_ptr<Host::Impl> host, std::weak_ptr<detail::Connection> weak) {
  auto conn = weak.lock();
  if (!conn) co_return;
  // (GCC 12 miscompiles a braced list inside co_await: build the vector first.)
  std::vector<std::string> protocols{std::string(identify::kProtocolId)};
  auto stream = co_await conn->open_stream(std::move(protocols));
  conn.reset();
  if (!stream.ok()) {
    logger()->debug("identify: {}", stream.status().to_string());
    co_return;
  }
  auto msg = co_await (*stream)->read_message(identify::kMaxMessage);
  PeerId peer = (*stream)->remote_peer();
  (void)(*stream)->close_write();
  if (!msg.ok()) {
    logger()->debug("identify {}: {}", peer.to_base58(), msg.status().to_string());
    co_return;
  }
  auto decoded = identify::decode(*msg);
  if (!decoded.ok() || !check_identify_key(peer, *decoded).ok()) {
    logger()->warn("identify {}: malformed or mismatched reply", peer.to_base58());
    co_return;
  }
  PeerInfo info = info_from_identify(peer, *decoded);
  host->peerstore.set_identify(info);
  host->notify_identified(*host->peerstore.get(peer));
}

}  // namespace

// ---- Host ----

Host::Host(asio::io_context& io, HostConfig config) : impl_(std::make_shared<Impl>(io, std::move(config))) {
  std::weak_ptr<Impl> weak = impl_;
  set_handler(std::string(identify::kProtocolId), [weak](StreamPtr s) -> Task<void> {
    auto host = weak.lock();
    if (!host) co_return;
    Multiaddr observed;
    for (const auto& c : host->connections[s->remote_peer()]) observed = c->remote_addr();
    (void)co_await s->write_message(host->identify_message(observed));
    (void)s->close_write();
  });
  set_handler(std::string(identify::kPushProtocolId), [weak](StreamPtr s) -> Task<void> {
    auto msg = co_await s->read_message(identify::kMaxMessage);
    auto host = weak.lock();
    if (!host || !msg.ok()) co_return;
    auto decoded = identify::decode(*msg);
    if (!decoded.ok() || !check_identify_key(s->remote_peer(), *decoded).ok()) co_return;
    PeerInfo info = info_from_identify(s->remote_peer(), *decoded);
    // A push may carry only the fields that changed; keep the others.
    if (auto old = host->peerstore.get(s->remote_peer())) {
      if (info.agent_version.empty()) info.agent_version = old->agent_version;
      if (info.protocol_version.empty()) info.protocol_version = old->protocol_version;
    }
    host->peerstore.set_identify(info);
    host->notify_identified(*host->peerstore.get(s->remote_peer()));
    (void)s->close_write();
  });
}

Host::~Host() { close(); }

const PeerId& Host::id() const { return impl_->id; }
const KeyPair& Host::identity() const { return impl_->config.identity; }
Peerstore& Host::peerstore() { return impl_->peerstore; }

Status Host::listen(const Multiaddr& addr) {
  VEIL_ASSIGN_OR_RETURN(auto target, addr.tcp_target());
  if (target.is_dns) return invalid_argument("listen needs an IP address, not a DNS name: " + addr.to_string());
  error_code ec;
  auto ip = asio::ip::make_address(target.host, ec);
  if (ec) return invalid_argument("bad listen address " + addr.to_string());
  tcp::endpoint ep(ip, target.port);
  auto acceptor = std::make_shared<tcp::acceptor>(impl_->io);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("cannot listen on " + addr.to_string() + ": " + ec.message());
  auto bound = acceptor->local_endpoint(ec);
  impl_->listen_addrs.push_back(endpoint_addr(bound));
  impl_->acceptors.push_back(acceptor);
  asio::co_spawn(impl_->io, accept_loop(impl_, acceptor), asio::detached);
  return {};
}

std::vector<Multiaddr> Host::listen_addrs() const { return impl_->listen_addrs; }

void Host::set_handler(std::string protocol, Handler handler) {
  bool is_new = impl_->handlers.find(protocol) == impl_->handlers.end();
  impl_->handlers[std::move(protocol)] = std::move(handler);
  if (is_new) impl_->schedule_identify_push();
}
void Host::remove_handler(const std::string& protocol) {
  if (impl_->handlers.erase(protocol) > 0) impl_->schedule_identify_push();
}

// Our protocol list changed: tell connected peers with Identify Push. Changes made in one
// go (several set_handler calls) are coalesced into one push per peer.
void Host::Impl::schedule_identify_push() {
  if (push_scheduled || connections.empty() || closed) return;
  push_scheduled = true;
  auto self = shared_from_this();
  asio::post(io, [self] {
    self->push_scheduled = false;
    for (const auto& [peer, list] : self->connections) {
      if (list.empty()) continue;
      std::weak_ptr<detail::Connection> weak = list.front();
      asio::co_spawn(self->io, [self, weak]() -> Task<void> {
        auto conn = weak.lock();
        if (!conn) co_return;
        std::vector<std::string> protocols{std::string(identify::kPushProtocolId)};
        auto stream = co_await conn->open_stream(std::move(protocols));
        if (!stream.ok()) co_return;  // peers need not support push
        (void)co_await (*stream)->write_message(self->identify_message(conn->remote_addr()));
        (void)(*stream)->close_write();
      }, asio::detached);
    }
  });
}
std::vector<std::string> Host::protocols() const {
  std::vector<std::string> out;
  for (const auto& [p, _] : impl_->handlers) out.push_back(p);
  return out;
}
void Host::set_gater(Gater gater) { impl_->gater = std::move(gater); }

std::uint64_t Host::refused_connections(Refusal reason) const {
  return impl_->refused[static_cast<std::size_t>(reason)];
}
void Host::add_listener(Listener listener) { impl_->listeners.push_back(std::move(listener)); }

bool Host::is_connected(const PeerId& peer) const {
  auto it = impl_->connections.find(peer);
  if (it == impl_->connections.end()) return false;
  for (const auto& c : it->second) if (c->usable()) return true;
  return false;
}

std::vector<PeerId> Host::connected_peers() const {
  std::vector<PeerId> out;
  for (const auto& [id, _] : impl_->connections) out.push_back(id);
  return out;
}

void Host::disconnect(const PeerId& peer) {
  auto it = impl_->connections.find(peer);
  if (it == impl_->connections.end()) return;
  auto list = it->second;
  for (auto& c : list) c->close();
}

Task<Result<PeerId>> Host::connect(const Multiaddr& addr) {
  auto host = impl_;
  if (host->closed) co_return unavailable("host is shut down");
  std::optional<PeerId> expected = addr.peer_id();
  if (expected && *expected == host->id) co_return invalid_argument("cannot dial ourselves");
  if (expected && is_connected(*expected)) co_return *expected;
  auto target = addr.tcp_target();
  if (!target.ok()) co_return target.status();
  std::string key = addr.to_string();
  auto now = std::chrono::steady_clock::now();
  auto& backoff = host->backoff[key];
  if (backoff.until > now) co_return unavailable("dial backoff: " + key + " failed recently; retrying later");
  if (host->connection_count() >= host->config.max_connections) {
    // Counted, not logged: the caller hears why.
    ++host->refused[static_cast<std::size_t>(Refusal::kConnectionLimit)];
    co_return unavailable("connection limit reached");
  }

  auto sock = std::make_shared<tcp::socket>(host->io);
  detail::Deadline deadline(host->io.get_executor(), host->config.dial_timeout, [sock] {
    error_code e;
    sock->close(e);
  });
  Result<PeerId> result = unavailable("unset");
  error_code ec;
  tcp::endpoint ep;
  if (target->is_dns) {
    tcp::resolver resolver(host->io);
    auto results = co_await resolver.async_resolve(target->host, std::to_string(target->port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !results.empty()) ep = *results.begin();
    else if (!ec) ec = asio::error::host_not_found;
  } else {
    ep = tcp::endpoint(asio::ip::make_address(target->host, ec), target->port);
  }
  if (!ec) co_await sock->async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    result = unavailable("cannot connect to " + key + ": " + ec.message());
  } else {
    sock->set_option(tcp::no_delay(true), ec);
    result = co_await upgrade(host, sock, Direction::kOutbound, expected, addr.without_peer_id());
  }
  if (deadline.fired()) result = deadline_exceeded("dial " + key + " timed out");
  auto& b = host->backoff[key];
  if (result.ok()) {
    host->backoff.erase(key);
  } else {
    error_code e;
    sock->close(e);
    b.delay = std::min(host->config.backoff_max, b.delay.count() == 0 ? host->config.backoff_base : b.delay * 2);
    b.until = std::chrono::steady_clock::now() + b.delay;
  }
  co_return result;
}

Task<Result<StreamPtr>> Host::new_stream(const PeerId& peer, std::vector<std::string> protocols) {
  auto host = impl_;
  auto find = [&]() -> std::shared_ptr<detail::Connection> {
    auto it = host->connections.find(peer);
    if (it == host->connections.end()) return nullptr;
    for (auto& c : it->second) if (c->usable()) return c;
    return nullptr;
  };
  auto conn = find();
  if (!conn) {
    auto info = host->peerstore.get(peer);
    Status last = unavailable("no known address for " + peer.to_base58());
    if (info) {
      for (const auto& a : info->addrs) {
        auto r = co_await connect(a.with_peer_id(peer));
        if (r.ok()) break;
        last = r.status();
      }
    }
    conn = find();
    if (!conn) co_return last;
  }
  co_return co_await conn->open_stream(std::move(protocols));
}

void Host::close() {
  auto& host = *impl_;
  if (host.closed) return;
  host.closed = true;
  for (auto& a : host.acceptors) {
    error_code ec;
    a->close(ec);
  }
  host.acceptors.clear();
  auto conns = host.connections;
  for (auto& [_, list] : conns) for (auto& c : list) c->close();
}

}  // namespace veil::p2p
