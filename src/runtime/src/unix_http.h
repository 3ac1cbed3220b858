// Private: a minimal HTTP/1.1 client over a unix stream socket, built on Boost.Beast.
// One connection per request (the Engine API is cheap to connect to, and this keeps the
// client free of shared state). Chunked and close-delimited bodies are both handled by
// Beast's parser; streamed bodies are delivered piece by piece as they arrive.
//
// Thread safety: UnixHttpClient is immutable after construction and may be shared;
// a StreamCancel may be triggered from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil::runtime {

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Lets another thread abort a streaming request blocked in read: it shuts the socket down.
class StreamCancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Used by the client: registers the socket of the request in flight (-1 when none).
  void attach(int fd);

 private:
  std::mutex mu_;
  int fd_ = -1;
  std::atomic<bool> cancelled_{false};
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST, DELETE
  std::string target;          // "/v1.41/containers/json?all=1"
  std::string body;            // JSON text; sent with Content-Type application/json if non-empty
  bool json_body = true;
  std::map<std::string, std::string> headers;
  // Receive timeout; nullopt = wait forever (streams).
  std::optional<std::chrono::milliseconds> timeout;
};

class UnixHttpClient {
 public:
  explicit UnixHttpClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

  const std::string& socket_path() const { return socket_path_; }

  // Sends the request and reads the whole response (body capped at 64 MiB).
  Result<HttpResponse> request(const HttpRequest& request) const;

  // Sends the request; calls on_head with status and headers, then on_data for each piece
  // of body as it arrives until the body ends, on_data returns false, or `cancel` fires.
  // The returned response holds status and headers (body empty). A body cut short by
  // cancel() or on_data returning false is not an error.
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_data,
                              StreamCancel* cancel = nullptr,
                              const std::function<void(const HttpResponse&)>& on_head = {}) const;

 private:
  std::string socket_path_;
};

}  // namespace veil::runtime
