// The node's local HTTP/JSON API: a small HTTP/1.1 server (Boost.Beast) that routes requests
// to handlers the daemon registers, checks the bearer token and serves the dashboard's files.
//
// Contract of the wire (docs/node-api.md has the endpoints and the security model):
//  - one front door: every request passes the same checks, in this order, before a handler
//    or a file is reached:
//      1. the target is an origin-form path that decodes to exactly one set of segments
//         (http_target.h: no empty, "." or ".." segments, no escaped unreserved characters,
//         '/', '\', '%' or control bytes) — else 400;
//      2. exactly one Host header naming this server: an IP literal or localhost, with the
//         bound port — else 400 (missing, repeated) or 403 (another name or port: DNS
//         rebinding);
//      3. no Origin header, or one equal to http://<the Host> — else 403 (another web page);
//      4. the bearer token, unless the request is answered by a route registered with
//         route_public() or by a dashboard file — else 401, before any routing, so an
//         unauthenticated client cannot tell which routes exist. The comparison takes the
//         same time for every token of the configured length; an empty configured token
//         turns this check (only this one) off;
//      5. any method but GET and HEAD carries `Content-Type: application/json` — else 415,
//         so a web page cannot send it as a "simple" cross-origin request;
//    authentication and routing both use the decoded segments of step 1;
//  - a GET or HEAD of a path no route matches, outside /v1, is answered from `static_dir`
//    (the dashboard) when it is set and holds that file;
//  - errors are JSON: {"error":{"code":"not_found","message":"..."}} with 400 (malformed
//    request, connection then closed), 401, 403, 404, 405 (with an Allow header), 413 (body
//    over max_body_bytes, connection then closed), 415, 500 (a handler threw);
//  - connections are kept alive between requests; each request must arrive, and each
//    response be taken, within `io_timeout`, so a slow or silent client only holds its own
//    connection and is then dropped;
//  - at most `max_connections` connections, and `max_connections_per_client` from one remote
//    address, are open at once. A connection arriving at either limit is admitted by closing
//    the connection (of that address, or of anyone) that has waited longest for a request:
//    connected silently, sending a request slowly, or kept alive after its last answer. Only
//    when every such connection is busy being answered is the newcomer closed instead. While
//    three quarters of max_connections are open, a request must arrive within
//    `crowded_request_timeout`. So silent connections cannot lock other clients out.
//
// Threading: the server runs on the io_context given to it, normally run by one thread.
// Handlers run on that thread, one at a time, so they must not block for long; one that must
// wait for something (another node's answer) returns a response with `deferred` set. route(),
// route_public(), start() and stop() must be called either before that thread runs the
// io_context, or from handlers/completions on it; port() may be called from any thread once
// start() returned.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include "veil/common/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace veil::node {

class MetricsRegistry;

// One request as a handler sees it. Values in `params` and `query` are percent-decoded.
struct ApiRequest {
  std::string method;                              // "GET", "POST", "DELETE", ...
  std::string path;                                // "/v1/jobs/abc/logs", without the query
  std::map<std::string, std::string> params;       // from {name} segments of the pattern
  std::map<std::string, std::string> query;        // ?tail=100&follow=1 ; a repeated key keeps the last
  std::string body;                                // raw request body (JSON for POSTs)
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, the server awaits it on the io thread and answers with what it returns instead
  // (this response's other fields are ignored): for a handler that asks other nodes. The
  // request's other checks have all passed by then; its deadline is the awaited work's own.
  std::function<boost::asio::awaitable<ApiResponse>()> deferred;

  // `j` serialised as the body.
  static ApiResponse json(const nlohmann::json& j, int status = 200);
  // {"error":{"code":code,"message":message}} with the given HTTP status.
  static ApiResponse error(int status, std::string_view code, std::string_view message);
  // The error response matching a Status: invalid_argument → 400, not_found → 404,
  // already_exists → 409, permission_denied → 403, failed_precondition → 409,
  // out_of_range → 400, unavailable → 503, deadline_exceeded → 504, unimplemented → 501,
  // others → 500. The code string is the status code's name with '_' ("not_found").
  static ApiResponse from_status(const Status& status);
};

struct ApiServerConfig {
  std::string listen_host = "127.0.0.1";  // a numeric address; the API is local by default
  // 0: the system picks one (see ApiServer::port()). The Host header must name the bound
  // port; before start() (respond_to_bytes) it must name this one, or any port when it is 0.
  std::uint16_t port = 0;
  std::string token;                      // bearer token for every non-public route; empty = none
  std::string static_dir;                 // dashboard files served at / without auth; empty = none
  std::size_t max_body_bytes = 1 << 20;   // larger request bodies get 413
  // Open connections at most, in all and from one remote address; a newcomer at a limit
  // replaces the connection idle the longest (see the contract above).
  std::size_t max_connections = 256;
  std::size_t max_connections_per_client = 64;
  std::chrono::milliseconds io_timeout{15000};  // per request read and per response write
  // Replaces io_timeout for a request's arrival while 3/4 of max_connections are open.
  std::chrono::milliseconds crowded_request_timeout{2000};
  // When set (not owned; must outlive the server), every answered request is counted in
  // veil_api_requests_total{route,code} and timed in veil_api_request_duration_seconds{route},
  // where route is the matched pattern ("/v1/jobs/{id}"), "static" or "unmatched".
  MetricsRegistry* metrics = nullptr;
};

class ApiServer {
 public:
  // Returns the response for one request. Runs on the io thread. An exception escaping a
  // handler is caught, logged and answered with 500.
  using Handler = std::function<ApiResponse(const ApiRequest&)>;

  // Nothing is bound until start(). `io` must outlive the server.
  ApiServer(boost::asio::io_context& io, ApiServerConfig config);
  // Calls stop().
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Registers `handler` for `method` (upper case) and `pattern`, a path whose segments are
  // literals or `{name}` placeholders matching one non-empty segment: "/v1/jobs/{id}/logs".
  // The route needs the token. Registering the same method and pattern again replaces the
  // handler and whether it is public. Literal segments win over placeholders when both match.
  void route(std::string method, std::string pattern, Handler handler);

  // As route(), for a route anyone who can reach the port may call without the token. Every
  // other check of the front door still applies. GET /healthz ({"ok":true}) is registered
  // so by default.
  void route_public(std::string method, std::string pattern, Handler handler);

  struct RouteInfo {
    std::string method;
    std::string pattern;
    bool is_public = false;
  };
  // The registered routes, in registration order.
  std::vector<RouteInfo> routes() const;

  // Binds listen_host:port and starts accepting. Returns unavailable naming the address if
  // it cannot be bound (port taken), invalid_argument if listen_host is not an IP address,
  // failed_precondition if already started.
  Status start();

  // The bound port (the chosen one when config.port was 0); 0 before start().
  std::uint16_t port() const;

  // Stops accepting and closes every open connection. Idempotent. In-flight handlers have
  // already run (they are synchronous); their responses, and deferred work's, are dropped.
  void stop();

  // Parses `raw` as the bytes of one or more pipelined HTTP/1.1 requests, exactly as a
  // connection does, and returns the bytes the server would write back (responses in order,
  // ending after a response that closes the connection). Touches no socket: used by the
  // fuzzer and by tests of the parsing and routing path. A handler whose response is deferred
  // has run, but is answered 503 here: its work needs the server's io_context.
  std::string respond_to_bytes(std::string_view raw);

  struct State;  // shared with the connections, which may outlive the server object briefly

 private:
  void add_route(std::string method, std::string pattern, Handler handler, bool is_public);

  boost::asio::io_context& io_;
  std::shared_ptr<State> state_;
};

}  // namespace veil::node
