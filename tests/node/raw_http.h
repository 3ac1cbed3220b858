// A blocking loopback TCP client for tests that need to send bytes no well-behaved HTTP
// client would (malformed requests, half a request, pipelining).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

namespace veil::node::testing {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port from `source` (another loopback address, such as
  // "127.0.0.2", looks like another client); reads give up after `timeout_ms`.
  explicit RawConnection(std::uint16_t port, int timeout_ms = 5000, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
      return;  // not connected
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `marker` has been seen `count` times, the peer closes or a read times out;
  // returns everything read. Nothing is parsed: callers wait for what they know comes.
  std::string read_until(std::string_view marker, int count = 1) {
    std::string data;
    while (occurrences(data, marker) < count) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    return data;
  }

  // Reads until the peer closes (returns true) or the read timeout passes (false).
  bool read_to_close(std::string* data = nullptr) {
    for (;;) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      if (data != nullptr) data->append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  static int occurrences(std::string_view text, std::string_view marker) {
    int found = 0;
    for (std::size_t at = text.find(marker); at != std::string_view::npos; at = text.find(marker, at + 1))
      ++found;
    return found;
  }

  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace veil::node::testing
