#include "veil/p2p/protocols.h"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/redirect_error.hpp>

namespace asio = boost::asio;

namespace veil::p2p {

void enable_ping(Host& host) {
  host.set_handler(std::string(kPingProtocol), [](StreamPtr s) -> Task<void> {
    std::array<std::uint8_t, kPingSize> buf{};
    while (true) {
      Status st = co_await s->read_exact(buf);
      if (!st.ok()) break;
      if (!(co_await s->write(buf)).ok()) break;
    }
    (void)s->close_write();
  });
}

Task<Result<std::chrono::nanoseconds>> ping(Host& host, const PeerId& peer) {
  // (GCC 12 miscompiles a braced list inside co_await: build the vector first.)
  std::vector<std::string> protocols{std::string(kPingProtocol)};
  auto stream = co_await host.new_stream(peer, std::move(protocols));
  if (!stream.ok()) co_return stream.status();
  std::array<std::uint8_t, kPingSize> sent{}, got{};
  randombytes_buf(sent.data(), sent.size());
  auto start = std::chrono::steady_clock::now();
  Status st = co_await (*stream)->write(sent);
  if (st.ok()) st = co_await (*stream)->read_exact(got);
  auto rtt = std::chrono::steady_clock::now() - start;
  (void)(*stream)->close_write();
  if (!st.ok()) co_return st;
  if (got != sent) co_return data_loss("ping: the peer answered with different bytes");
  co_return std::chrono::duration_cast<std::chrono::nanoseconds>(rtt);
}

void enable_echo(Host& host) {
  host.set_handler(std::string(kEchoProtocol), [](StreamPtr s) -> Task<void> {
    std::vector<std::uint8_t> buf(256 * 1024);
    while (true) {
      auto n = co_await s->read_some(buf);
      if (!n.ok()) co_return;  // reset: nothing to close
      if (*n == 0) break;
      if (!(co_await s->write(ByteView(buf.data(), *n))).ok()) co_return;
    }
    (void)s->close_write();
  });
}

Task<Result<Bytes>> echo(Host& host, const PeerId& peer, ByteView data) {
  // (GCC 12 miscompiles a braced list inside co_await: build the vector first.)
  std::vector<std::string> protocols{std::string(kEchoProtocol)};
  auto stream = co_await host.new_stream(peer, std::move(protocols));
  if (!stream.ok()) co_return stream.status();
  StreamPtr s = *stream;
  // Write in the background: the echo may fill both directions' windows, so reading and
  // writing must overlap.
  auto ex = co_await asio::this_coro::executor;
  auto write_status = std::make_shared<Status>(internal_error("write not finished"));
  auto done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  Bytes copy(data.begin(), data.end());
  asio::co_spawn(ex, [s, copy = std::move(copy), write_status, done]() -> Task<void> {
    *write_status = co_await s->write(copy);
    if (write_status->ok()) *write_status = s->close_write();
    done->cancel();
  }, asio::detached);
  Bytes back;
  back.reserve(data.size());
  std::vector<std::uint8_t> buf(256 * 1024);
  Status read_status;
  while (true) {
    auto n = co_await s->read_some(buf);
    if (!n.ok()) {
      read_status = n.status();
      break;
    }
    if (*n == 0) break;
    back.insert(back.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    if (back.size() > data.size()) {
      read_status = data_loss("echo returned more bytes than were sent");
      break;
    }
  }
  if (write_status->code() == StatusCode::kInternal) {
    boost::system::error_code ec;
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!read_status.ok()) co_return read_status;
  if (!write_status->ok()) co_return *write_status;
  co_return back;
}

}  // namespace veil::p2p
