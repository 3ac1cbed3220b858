// JSON-RPC 2.0 over HTTP (Boost.Beast), with retries for transport failures.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil::chain {

// Tuning of a JsonRpcClient. Defaults suit a local or LAN node.
struct RpcOptions {
  // Attempts per request for transport failures (connection refused/reset, timeout, HTTP 5xx or
  // 429). JSON-RPC errors are answers and are never retried.
  int max_attempts = 3;
  // Delay before the second attempt; doubled for each further one.
  std::chrono::milliseconds initial_backoff{100};
  // Deadline for one attempt: connect, write and read together.
  std::chrono::milliseconds timeout{10'000};
};

// An error object returned by the node ({"code", "message", "data"}).
struct RpcError {
  std::int64_t code = 0;
  std::string message;
  nlohmann::json data;  // null when absent; for reverts, the revert data as 0x-hex
};

// A node's answer: exactly one of result / error is meaningful.
struct RpcReply {
  nlohmann::json result;
  std::optional<RpcError> error;
};

// A JSON-RPC client for one HTTP endpoint. Thread-safe: each request uses its own connection,
// so concurrent calls from several threads are fine.
class JsonRpcClient {
 public:
  // Parses an "http://host[:port][/path]" URL (https is refused with kUnimplemented).
  static Result<JsonRpcClient> create(std::string_view url, RpcOptions options = {});

  JsonRpcClient(const JsonRpcClient&) = delete;
  JsonRpcClient& operator=(const JsonRpcClient&) = delete;
  JsonRpcClient(JsonRpcClient&& other) noexcept;
  JsonRpcClient& operator=(JsonRpcClient&&) = delete;

  // Sends one request. Returns the reply (including node-side errors) or, after all attempts,
  // kUnavailable (cannot connect / connection dropped), kDeadlineExceeded (timeout) or
  // kDataLoss (the answer is not JSON-RPC); messages name the endpoint and method.
  Result<RpcReply> request(std::string_view method, const nlohmann::json& params);

  // Like request(), but a node-side error becomes a kFailedPrecondition Status
  // "METHOD: MESSAGE (code N)".
  Result<nlohmann::json> call(std::string_view method, const nlohmann::json& params);

  const std::string& url() const { return url_; }

 private:
  JsonRpcClient(std::string url, std::string host, std::string port, std::string target, RpcOptions options)
      : url_(std::move(url)),
        host_(std::move(host)),
        port_(std::move(port)),
        target_(std::move(target)),
        options_(options) {}

  // One HTTP round trip; `retryable` tells whether the failure may succeed on a retry.
  Result<std::string> post_once(const std::string& body, bool& retryable);

  std::string url_, host_, port_, target_;
  RpcOptions options_;
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace veil::chain
