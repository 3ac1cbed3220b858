#include "unix_http.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

namespace veil::runtime {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::local::stream_protocol::socket;

void StreamCancel::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes a blocked read; close stays with the owner
}

void StreamCancel::attach(int fd) {
  std::lock_guard lock(mu_);
  fd_ = fd;
  if (fd_ >= 0 && cancelled_) ::shutdown(fd_, SHUT_RDWR);
}

namespace {

constexpr std::size_t kMaxBody = 64u << 20;

Status connect_error(const std::string& path, const boost::system::error_code& ec) {
  int err = ec.value();
  if (err == ENOENT) {
    return not_found("engine socket " + path +
                     " does not exist; is dockerd (or podman system service) running? "
                     "Set VEIL_DOCKER_SOCKET to its socket");
  }
  if (err == EACCES || err == EPERM) {
    return permission_denied("no permission to connect to engine socket " + path +
                             "; run as root or add this user to the socket's group (docker)");
  }
  if (err == ECONNREFUSED) {
    return unavailable("nothing listens on engine socket " + path + " (stale socket file?); start the engine");
  }
  return unavailable("cannot connect to engine socket " + path + ": " + ec.message());
}

Status io_error(const HttpRequest& req, const boost::system::error_code& ec) {
  if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::timed_out) {
    return deadline_exceeded("engine did not answer " + req.method + " " + req.target + " in time");
  }
  return unavailable("engine connection failed during " + req.method + " " + req.target + ": " + ec.message());
}

// A blocking stream over the connected socket's descriptor with a receive timeout. Asio's
// own synchronous reads poll without a limit (they ignore SO_RCVTIMEO), so Beast reads
// through this instead: poll with the timeout, then recv.
class FdStream {
 public:
  FdStream(int fd, std::optional<std::chrono::milliseconds> timeout) : fd_(fd), timeout_(timeout) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    ec = {};
    auto it = asio::buffer_sequence_begin(buffers), end = asio::buffer_sequence_end(buffers);
    for (; it != end; ++it) {
      asio::mutable_buffer b(*it);
      if (b.size() == 0) continue;
      pollfd p{fd_, POLLIN, 0};
      int wait_ms = timeout_ ? static_cast<int>(std::max<long long>(timeout_->count(), 1)) : -1;
      int ready;
      do {
        ready = ::poll(&p, 1, wait_ms);
      } while (ready < 0 && errno == EINTR);
      if (ready == 0) {
        ec = asio::error::timed_out;
        return 0;
      }
      ssize_t n;
      do {
        n = ::recv(fd_, b.data(), b.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        ec.assign(errno, boost::system::system_category());
        return 0;
      }
      if (n == 0) ec = asio::error::eof;
      return static_cast<std::size_t>(n);
    }
    return 0;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    ec = {};
    std::size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      asio::const_buffer b(*it);
      const char* p = static_cast<const char*>(b.data());
      std::size_t left = b.size();
      while (left > 0) {
        ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          ec.assign(errno, boost::system::system_category());
          return total;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
        total += static_cast<std::size_t>(n);
      }
    }
    return total;
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    auto n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  int fd_;
  std::optional<std::chrono::milliseconds> timeout_;
};

struct Connection {
  asio::io_context io;
  Socket socket{io};
  std::optional<FdStream> stream;
};

Result<std::unique_ptr<Connection>> open_and_send(const std::string& path, const HttpRequest& req) {
  auto conn = std::make_unique<Connection>();
  boost::system::error_code ec;
  conn->socket.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (ec) return connect_error(path, ec);
  conn->stream.emplace(conn->socket.native_handle(), req.timeout);

  http::verb verb = http::string_to_verb(req.method);
  if (verb == http::verb::unknown) return invalid_argument("unknown HTTP method " + req.method);
  http::request<http::string_body> msg{verb, req.target, 11};
  msg.set(http::field::host, "docker");
  msg.set(http::field::user_agent, "veil-runtime");
  for (const auto& [name, value] : req.headers) msg.set(name, value);
  if (!req.body.empty() || verb == http::verb::post) {
    if (req.json_body) msg.set(http::field::content_type, "application/json");
    msg.body() = req.body;
  }
  msg.prepare_payload();
  http::write(*conn->stream, msg, ec);
  if (ec) return io_error(req, ec);
  return conn;
}

template <class Parser>
void copy_head(const Parser& parser, HttpResponse& out) {
  out.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
}

}  // namespace

Result<HttpResponse> UnixHttpClient::request(const HttpRequest& req) const {
  VEIL_ASSIGN_OR_RETURN(auto conn, open_and_send(socket_path_, req));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  boost::system::error_code ec;
  http::read(*conn->stream, buffer, parser, ec);
  if (ec) return io_error(req, ec);
  HttpResponse out;
  copy_head(parser, out);
  out.body = std::move(parser.get().body());
  return out;
}

Result<HttpResponse> UnixHttpClient::stream(const HttpRequest& req,
                                            const std::function<bool(std::string_view)>& on_data,
                                            StreamCancel* cancel,
                                            const std::function<void(const HttpResponse&)>& on_head) const {
  VEIL_ASSIGN_OR_RETURN(auto conn, open_and_send(socket_path_, req));
  if (cancel) cancel->attach(conn->socket.native_handle());
  struct Detach {
    StreamCancel* c;
    ~Detach() { if (c) c->attach(-1); }
  } detach{cancel};

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares a Content-Length against an empty optional as
  // "too large" (body_limit error), so a huge number stands for "no limit".
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  boost::system::error_code ec;
  http::read_header(*conn->stream, buffer, parser, ec);
  if (ec) {
    if (cancel && cancel->cancelled()) return cancelled("stream cancelled");
    return io_error(req, ec);
  }
  HttpResponse out;
  copy_head(parser, out);
  if (on_head) on_head(out);
  if (out.status >= 300) {
    // Errors carry a small JSON body; collect it for the caller's message.
    std::string body;
    while (!parser.is_done()) {
      char chunk[4096];
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      http::read_some(*conn->stream, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      body.append(chunk, sizeof chunk - parser.get().body().size);
      if (body.size() > kMaxBody) break;
    }
    out.body = std::move(body);
    return out;
  }
  while (!parser.is_done()) {
    char chunk[16384];
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    http::read_some(*conn->stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    std::size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0 && !on_data(std::string_view(chunk, n))) return out;
    if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
    if (ec) {
      if (cancel && cancel->cancelled()) return out;
      return io_error(req, ec);
    }
  }
  return out;
}

}  // namespace veil::runtime
