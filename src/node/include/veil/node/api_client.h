// The operator CLI's client for a node's local HTTP/JSON API (docs/node-api.md): one
// synchronous HTTP/1.1 request per call, JSON in and out, the bearer token on every request,
// and errors that say what to do next. Every request is addressed as the server requires
// (docs/node-api.md, "Security model"): its Host is the address connected to ("127.0.0.1:7600",
// "[::1]:7600"), never a name, and any method but GET carries `Content-Type: application/json`.
//
//   auto client = ApiClient("http://127.0.0.1:7070", token);
//   Result<nlohmann::json> jobs = client.get("/v1/jobs");
//
// Errors:
//  - nothing listens at the address: unavailable, "no veil node answers at http://...: is
//    `veil node run` running? (set --api or VEIL_API_ADDR)";
//  - no complete answer within the timeout: deadline_exceeded;
//  - 401: permission_denied, "the API token was refused (VEIL_API_TOKEN or <data_dir>/api.token)";
//  - any other non-2xx: the code matching the HTTP status (400 invalid_argument, 403
//    permission_denied, 404 not_found, 409 failed_precondition, 413 out_of_range, 503
//    unavailable, 504 deadline_exceeded, others internal) with the server's error message;
//  - a 2xx whose body is not JSON: data_loss. An empty 2xx body is returned as JSON null.
//
// Thread safety: an ApiClient may be used from one thread at a time; each call runs its own
// io_context, so distinct clients are independent.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "veil/common/status.h"
#include "veil/node/api_token.h"

namespace veil::node {

class ApiClient {
 public:
  // `base_url` is "http://HOST:PORT" (optionally with a path prefix), or just "HOST:PORT";
  // HOST may be a name, an IPv4 address or a bracketed IPv6 address. An unusable URL is
  // reported by the first request (invalid_argument; https is unimplemented). `token` may be
  // empty for a node without authentication. `timeout` bounds each whole request.
  ApiClient(std::string base_url, std::string token,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // `path` starts with '/' ("/v1/jobs/abc"); the caller percent-encodes what needs it.
  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> del(const std::string& path);
  // GET returning the body as text (/metrics, logs), with the same error mapping.
  Result<std::string> get_text(const std::string& path);

  // The base URL as given, normalised to start with "http://".
  const std::string& base_url() const { return base_url_; }

 private:
  struct Reply {
    unsigned status = 0;
    std::string body;
  };
  Result<Reply> exchange(const std::string& method, const std::string& path, const std::string* body);
  Result<std::string> request_text(const std::string& method, const std::string& path,
                                   const std::string* body);

  std::string base_url_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace veil::node
