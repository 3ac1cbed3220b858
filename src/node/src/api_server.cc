#include "veil/node/api_server.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "veil/common/bytes.h"
#include "veil/common/log.h"
#include "http_target.h"
#include "veil/node/metrics.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// Large enough for any request line and headers the dashboard or CLI send; bigger ones are
// malformed for this API (Beast's own default is 8 KiB).
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{id}" marks a placeholder
  ApiServer::Handler handler;
  bool is_public = false;  // answered without the token
};

bool is_placeholder(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Fills `params` and returns true when every segment matches.
bool match_route(const Route& route, const std::vector<std::string>& segments,
                 std::map<std::string, std::string>& params) {
  if (route.segments.size() != segments.size()) return false;
  std::map<std::string, std::string> captured;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (is_placeholder(want)) {
      if (segments[i].empty()) return false;
      captured[want.substr(1, want.size() - 2)] = segments[i];
    } else if (want != segments[i]) {
      return false;
    }
  }
  params = std::move(captured);
  return true;
}

// True when `a` is more specific than `b`: at the first segment where one is a literal and
// the other a placeholder, the literal wins.
bool more_specific(const Route& a, const Route& b) {
  for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    bool pa = is_placeholder(a.segments[i]), pb = is_placeholder(b.segments[i]);
    if (pa != pb) return !pa;
  }
  return false;
}

// The API's own paths: never answered from the dashboard's files.
bool is_api_path(const std::vector<std::string>& segments) { return segments.front() == "v1"; }

// Every method but these may change state, so must carry JSON (a web page cannot send that
// cross-origin without a CORS preflight, which this server never grants).
bool changes_state(std::string_view method) { return method != "GET" && method != "HEAD"; }

// "application/json", in any case, optionally with parameters ("; charset=utf-8").
bool is_json_media_type(std::string_view value) {
  std::string_view type = value.substr(0, value.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < type.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  return true;
}

// One client connection. Owned by its coroutine, and listed in the server's table so that
// stop() and a newcomer at the limit can close it.
struct Connection {
  Connection(tcp::socket socket, asio::ip::address peer) : stream(std::move(socket)), peer(std::move(peer)) {}

  beast::tcp_stream stream;
  asio::ip::address peer;
  // While it waits for a request (none yet, one arriving slowly, or kept alive after an
  // answer): when it started waiting, as a sequence number, so the smallest has waited
  // longest. Empty while a request is being answered.
  std::optional<std::uint64_t> waiting_since;
  std::chrono::milliseconds request_timeout{0};  // for the request it waits for
  bool closed = false;                           // by stop() or to make room; its coroutine then ends
};

std::string_view content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".txt") || ends(".md")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

struct ApiServer::State {
  explicit State(ApiServerConfig c) : config(std::move(c)) {}

  ApiServerConfig config;
  std::vector<Route> routes;
  std::optional<tcp::acceptor> acceptor;
  std::atomic<std::uint16_t> port{0};
  std::vector<std::shared_ptr<Connection>> connections;  // touched on the io thread only
  std::uint64_t wait_sequence = 0;                       // for Connection::waiting_since
  std::shared_ptr<spdlog::logger> log = veil::log::get("api");

  struct Reply {
    HttpResponse response;
    bool close = false;
  };
  // The answer to one request; a deferred handler's work is awaited.
  asio::awaitable<Reply> reply_to(const HttpRequest& request);
  // The same without awaiting (respond_to_bytes): a deferred handler is answered 503.
  Reply reply_now(const HttpRequest& request);
  Reply build_reply(const HttpRequest& request, ApiResponse api, const std::string& allow, const std::string& route,
                    std::chrono::steady_clock::time_point started);
  Reply reply_to_parse_error(const beast::error_code& ec);

  // Connections (see the contract in api_server.h).
  // Closes connections that waited longest for a request until one from `peer` fits under
  // both limits; false when none can be closed, and the newcomer must be.
  bool make_room_for(const asio::ip::address& peer);
  // Marks `c` as waiting for its next request, with the timeout that applies now.
  void start_waiting(Connection& c);
  void close(Connection& c);
  void forget(const Connection& c);

 private:
  // What the request asks for, before deciding whether it may have it.
  struct Resolution {
    const Route* route = nullptr;  // the route for this method and path, if any
    std::map<std::string, std::string> params;
    std::string allow;                // other methods registered on the path
    std::optional<ApiResponse> file;  // a dashboard file, when no route has the path
  };
  ApiResponse answer(const HttpRequest& request, std::string* allow, std::string* route_label);
  Status check_addressed_to_us(const HttpRequest& request) const;
  Resolution resolve(const std::string& method, const std::vector<std::string>& segments);
  ApiResponse run_handler(const Route& route, ApiRequest request);
  std::optional<ApiResponse> serve_static(const std::vector<std::string>& segments);
  bool authorized(const HttpRequest& request) const;
  bool evict_longest_waiting(const std::function<bool(const Connection&)>& among);
};

ApiResponse ApiResponse::json(const nlohmann::json& j, int status) {
  ApiResponse r;
  r.status = status;
  // Paths and messages may carry bytes that are not UTF-8; replace them rather than throw.
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

ApiResponse ApiResponse::error(int status, std::string_view code, std::string_view message) {
  return json({{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}}, status);
}

ApiResponse ApiResponse::from_status(const Status& status) {
  int http_status = 500;
  switch (status.code()) {
    case StatusCode::kOk: return json(nlohmann::json::object());
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: http_status = 400; break;
    case StatusCode::kNotFound: http_status = 404; break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: http_status = 409; break;
    case StatusCode::kPermissionDenied: http_status = 403; break;
    case StatusCode::kUnavailable: http_status = 503; break;
    case StatusCode::kDeadlineExceeded: http_status = 504; break;
    case StatusCode::kUnimplemented: http_status = 501; break;
    default: break;
  }
  std::string code(status_code_name(status.code()));
  std::replace(code.begin(), code.end(), ' ', '_');
  return error(http_status, code, status.message());
}

bool ApiServer::State::authorized(const HttpRequest& request) const {
  if (config.token.empty()) return true;
  auto header = request.find(http::field::authorization);
  if (header == request.end()) return false;
  std::string_view value(header->value().data(), header->value().size());
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  value.remove_prefix(kScheme.size());
  auto bytes = [](std::string_view s) {
    return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  return constant_time_equal(bytes(value), bytes(config.token));
}

std::optional<ApiResponse> ApiServer::State::serve_static(const std::vector<std::string>& segments) {
  if (config.static_dir.empty()) return std::nullopt;
  if (segments == std::vector<std::string>{""}) return serve_static({"index.html"});
  // Only plain names below static_dir: no "..", no hidden files, no NULs, slashes or
  // backslashes smuggled in as escapes.
  std::string rel;
  for (const std::string& segment : segments) {
    if (segment.empty() || segment.front() == '.' ||
        segment.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
      return std::nullopt;
    rel += "/" + segment;
  }
  std::string file = config.static_dir + rel;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  if (!in) return std::nullopt;
  ApiResponse r;
  r.content_type = std::string(content_type_for(rel));
  r.body = std::move(data).str();
  return r;
}

// The front door (api_server.h): every check, in its order, then the route or the file.
ApiResponse ApiServer::State::answer(const HttpRequest& request, std::string* allow,
                                     std::string* route_label) {
  std::string method(request.method_string());
  auto target = parse_target(std::string_view(request.target().data(), request.target().size()));
  if (!target.ok()) return ApiResponse::error(400, "bad_request", target.status().message());
  if (Status addressed = check_addressed_to_us(request); !addressed.ok()) {
    if (addressed.code() == StatusCode::kInvalidArgument)
      return ApiResponse::error(400, "bad_request", addressed.message());
    return ApiResponse::from_status(addressed);  // 403 permission_denied
  }
  Resolution resolved = resolve(method, target->segments);
  bool is_public = resolved.route != nullptr ? resolved.route->is_public : resolved.file.has_value();
  if (!is_public && !authorized(request))
    return ApiResponse::error(401, "unauthenticated",
                              "missing or wrong API token: send 'Authorization: Bearer <token>'");
  if (changes_state(method)) {
    auto type = request.find(http::field::content_type);
    if (type == request.end() ||
        !is_json_media_type(std::string_view(type->value().data(), type->value().size())))
      return ApiResponse::error(415, "unsupported_media_type",
                                method + " needs 'Content-Type: application/json' (and a JSON body, if any)");
  }
  if (resolved.route != nullptr) {
    *route_label = resolved.route->pattern;
    return run_handler(*resolved.route, ApiRequest{method, target->path, std::move(resolved.params),
                                                   std::move(target->query), request.body()});
  }
  if (resolved.file) {
    *route_label = "static";
    return std::move(*resolved.file);
  }
  if (resolved.allow.empty())
    return ApiResponse::error(404, "not_found", "no such endpoint: " + target->path);
  *allow = resolved.allow;
  return ApiResponse::error(405, "method_not_allowed",
                            method + " is not allowed on " + target->path + " (allowed: " + *allow + ")");
}

// Host names this server and Origin, when sent, is its own; invalid_argument for a missing or
// repeated header, permission_denied for one naming somebody else.
Status ApiServer::State::check_addressed_to_us(const HttpRequest& request) const {
  auto value_of = [](const auto& field) {
    return std::string_view(field.value().data(), field.value().size());
  };
  if (request.count(http::field::host) != 1)
    return invalid_argument("send exactly one Host header (the API's address, e.g. 127.0.0.1:7600)");
  std::string_view host_text = value_of(*request.find(http::field::host));
  auto host = parse_local_authority(host_text);
  if (!host.ok())
    return permission_denied("Host " + host.status().message() +
                             "; this API answers only requests addressed to it");
  std::uint16_t ours = port != 0 ? port.load() : config.port;
  if (ours != 0 && host->port != ours)
    return permission_denied("Host '" + std::string(host_text) +
                             "' names another port; this API listens on " + std::to_string(ours));
  std::size_t origins = request.count(http::field::origin);
  if (origins == 0) return {};
  if (origins > 1) return invalid_argument("send at most one Origin header");
  std::string_view origin_text = value_of(*request.find(http::field::origin));
  auto origin = parse_http_origin(origin_text);
  if (!origin.ok() || *origin != *host)
    return permission_denied("Origin '" + std::string(origin_text) + "' is not this API's own (http://" +
                             std::string(host_text) + "): pages of other sites may not call it");
  return {};
}

ApiServer::State::Resolution ApiServer::State::resolve(const std::string& method,
                                                       const std::vector<std::string>& segments) {
  Resolution resolved;
  std::vector<std::string> allowed;
  for (const Route& route : routes) {
    std::map<std::string, std::string> params;
    if (!match_route(route, segments, params)) continue;
    if (route.method != method) {
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end())
        allowed.push_back(route.method);
      continue;
    }
    if (resolved.route == nullptr || more_specific(route, *resolved.route)) {
      resolved.route = &route;
      resolved.params = std::move(params);
    }
  }
  for (const std::string& m : allowed) resolved.allow += (resolved.allow.empty() ? "" : ", ") + m;
  if (resolved.route == nullptr && allowed.empty() && (method == "GET" || method == "HEAD") &&
      !is_api_path(segments))
    resolved.file = serve_static(segments);
  return resolved;
}

ApiResponse ApiServer::State::run_handler(const Route& route, ApiRequest request) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    log->error("{} {}: handler threw: {}", request.method, request.path, e.what());
  } catch (...) {
    log->error("{} {}: handler threw a non-standard exception", request.method, request.path);
  }
  return ApiResponse::error(500, "internal", "the handler failed; see the node's log");
}

asio::awaitable<ApiServer::State::Reply> ApiServer::State::reply_to(const HttpRequest& request) {
  auto started = std::chrono::steady_clock::now();
  std::string allow;
  std::string route = "unmatched";
  ApiResponse api = answer(request, &allow, &route);
  if (api.deferred) {
    auto later = std::move(api.deferred);
    try {
      api = co_await later();
    } catch (const std::exception& e) {
      log->error("{}: deferred handler threw: {}", route, e.what());
      api = ApiResponse::error(500, "internal", "the handler failed; see the node's log");
    }
    api.deferred = nullptr;  // one level only
  }
  co_return build_reply(request, std::move(api), allow, route, started);
}

ApiServer::State::Reply ApiServer::State::reply_now(const HttpRequest& request) {
  auto started = std::chrono::steady_clock::now();
  std::string allow;
  std::string route = "unmatched";
  ApiResponse api = answer(request, &allow, &route);
  if (api.deferred) {
    api = ApiResponse::error(503, "unavailable", "this endpoint asks other nodes: it answers only on a running server");
  }
  return build_reply(request, std::move(api), allow, route, started);
}

ApiServer::State::Reply ApiServer::State::build_reply(const HttpRequest& request, ApiResponse api,
                                                      const std::string& allow, const std::string& route,
                                                      std::chrono::steady_clock::time_point started) {
  std::string_view target(request.target().data(), request.target().size());
  Reply reply;
  HttpResponse& res = reply.response;
  res.version(request.version());
  res.result(static_cast<unsigned>(api.status));
  res.set(http::field::server, "veil-node");
  res.set(http::field::content_type, api.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  if (api.content_type.starts_with("text/html"))
    res.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  if (api.status == 401) res.set(http::field::www_authenticate, "Bearer");
  if (!allow.empty()) res.set(http::field::allow, allow);
  res.keep_alive(request.keep_alive());
  if (request.method() != http::verb::head) res.body() = std::move(api.body);
  res.prepare_payload();
  if (request.method() == http::verb::head) res.content_length(api.body.size());
  reply.close = !res.keep_alive();
  log->debug("{} {} {}", std::string(request.method_string()), target, api.status);
  if (config.metrics != nullptr) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    config.metrics->counter("veil_api_requests_total", "API requests answered, by route pattern and HTTP status.",
                            {"route", "code"})
        .with({route, std::to_string(api.status)})
        .inc();
    config.metrics->histogram("veil_api_request_duration_seconds", "Time to answer an API request.", {"route"},
                              {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1})
        .with({route})
        .observe(took.count());
  }
  return reply;
}

ApiServer::State::Reply ApiServer::State::reply_to_parse_error(const beast::error_code& ec) {
  ApiResponse api =
      ec == http::error::body_limit
          ? ApiResponse::error(413, "payload_too_large",
                               "request body exceeds " + std::to_string(config.max_body_bytes) + " bytes")
          : ApiResponse::error(400, "bad_request", "malformed HTTP request: " + ec.message());
  Reply reply;
  reply.response.version(11);
  reply.response.result(static_cast<unsigned>(api.status));
  reply.response.set(http::field::server, "veil-node");
  reply.response.set(http::field::content_type, api.content_type);
  reply.response.keep_alive(false);
  reply.response.body() = std::move(api.body);
  reply.response.prepare_payload();
  reply.close = true;
  return reply;
}

namespace {

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

void limit_parser(http::request_parser<http::string_body>& parser, std::size_t max_body) {
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(max_body);
}

// One connection: read a request, answer it, repeat while the client keeps it alive. Each
// read and each write has its own deadline, so a slow client is dropped, never waited on.
asio::awaitable<void> serve_connection(std::shared_ptr<ApiServer::State> state,
                                       std::shared_ptr<Connection> c) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    limit_parser(parser, state->config.max_body_bytes);
    beast::error_code ec;
    c->stream.expires_after(c->request_timeout);
    co_await http::async_read(c->stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (c->closed) break;  // closed to make room or by stop(), maybe after the request arrived
    c->waiting_since.reset();
    ApiServer::State::Reply reply;
    if (!ec) {
      reply = co_await state->reply_to(parser.get());
    } else if (is_http_parse_error(ec) && ec != http::error::end_of_stream &&
               ec != http::error::partial_message) {
      reply = state->reply_to_parse_error(ec);
    } else {
      break;  // closed, timed out or reset: nobody to answer
    }
    c->stream.expires_after(state->config.io_timeout);
    co_await http::async_write(c->stream, reply.response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || reply.close || c->closed) break;
    state->start_waiting(*c);
  }
  state->close(*c);
  state->forget(*c);
}

asio::awaitable<void> accept_connections(std::shared_ptr<ApiServer::State> state) {
  auto executor = co_await asio::this_coro::executor;
  while (state->acceptor && state->acceptor->is_open()) {
    tcp::socket socket(executor);
    beast::error_code ec;
    co_await state->acceptor->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !state->acceptor || !state->acceptor->is_open()) break;
    if (ec) {
      // Out of descriptors and the like: wait a little instead of spinning.
      state->log->warn("API accept failed: {}", ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec || !state->make_room_for(remote.address())) {
      if (!ec)
        state->log->warn("API connection from {} refused: every connection is busy",
                         remote.address().to_string());
      socket.close(ec);
      continue;
    }
    auto c = std::make_shared<Connection>(std::move(socket), remote.address());
    state->connections.push_back(c);
    state->start_waiting(*c);
    asio::co_spawn(executor, serve_connection(state, std::move(c)), asio::detached);
  }
}

}  // namespace

bool ApiServer::State::make_room_for(const asio::ip::address& peer) {
  auto from_peer = [&peer](const Connection& c) { return c.peer == peer; };
  auto open_from_peer = static_cast<std::size_t>(
      std::count_if(connections.begin(), connections.end(), [&](const auto& c) { return from_peer(*c); }));
  if (open_from_peer >= config.max_connections_per_client && !evict_longest_waiting(from_peer)) return false;
  if (connections.size() >= config.max_connections &&
      !evict_longest_waiting([](const Connection&) { return true; }))
    return false;
  return connections.size() < config.max_connections;  // false only for a limit of 0
}

bool ApiServer::State::evict_longest_waiting(const std::function<bool(const Connection&)>& among) {
  Connection* oldest = nullptr;
  for (const auto& c : connections) {
    if (!c->waiting_since || !among(*c)) continue;
    if (oldest == nullptr || *c->waiting_since < *oldest->waiting_since) oldest = c.get();
  }
  if (oldest == nullptr) return false;
  log->debug("API connection from {} closed to make room: it waited longest for a request",
             oldest->peer.to_string());
  close(*oldest);
  forget(*oldest);
  return true;
}

void ApiServer::State::start_waiting(Connection& c) {
  c.waiting_since = wait_sequence++;
  bool crowded = connections.size() * 4 >= config.max_connections * 3;
  c.request_timeout =
      crowded ? std::min(config.io_timeout, config.crowded_request_timeout) : config.io_timeout;
}

void ApiServer::State::close(Connection& c) {
  c.closed = true;
  beast::error_code ignored;
  c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  c.stream.close();
}

void ApiServer::State::forget(const Connection& c) {
  std::erase_if(connections, [&c](const auto& listed) { return listed.get() == &c; });
}

ApiServer::ApiServer(asio::io_context& io, ApiServerConfig config)
    : io_(io), state_(std::make_shared<State>(std::move(config))) {
  while (state_->config.static_dir.size() > 1 && state_->config.static_dir.back() == '/')
    state_->config.static_dir.pop_back();
  route_public("GET", "/healthz", [](const ApiRequest&) { return ApiResponse::json({{"ok", true}}); });
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::route(std::string method, std::string pattern, Handler handler) {
  add_route(std::move(method), std::move(pattern), std::move(handler), /*is_public=*/false);
}

void ApiServer::route_public(std::string method, std::string pattern, Handler handler) {
  add_route(std::move(method), std::move(pattern), std::move(handler), /*is_public=*/true);
}

std::vector<ApiServer::RouteInfo> ApiServer::routes() const {
  std::vector<RouteInfo> out;
  for (const Route& r : state_->routes) out.push_back({r.method, r.pattern, r.is_public});
  return out;
}

void ApiServer::add_route(std::string method, std::string pattern, Handler handler, bool is_public) {
  Route r{std::move(method), std::move(pattern), {}, std::move(handler), is_public};
  r.segments = split_path(r.pattern);
  for (Route& existing : state_->routes) {
    if (existing.method == r.method && existing.segments == r.segments) {
      existing = std::move(r);
      return;
    }
  }
  state_->routes.push_back(std::move(r));
}

Status ApiServer::start() {
  if (state_->acceptor) return failed_precondition("the API server is already started");
  beast::error_code ec;
  auto address = asio::ip::make_address(state_->config.listen_host, ec);
  if (ec) return invalid_argument("API listen address '" + state_->config.listen_host + "' is not an IP address");
  tcp::endpoint endpoint(address, state_->config.port);
  std::string where = state_->config.listen_host + ":" + std::to_string(state_->config.port);
  tcp::acceptor acceptor(io_);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("cannot listen for the API on " + where + ": " + ec.message());
  state_->port = acceptor.local_endpoint().port();
  state_->acceptor.emplace(std::move(acceptor));
  asio::co_spawn(io_, accept_connections(state_), asio::detached);
  state_->log->info("API listening on http://{}:{}{}", state_->config.listen_host, state_->port.load(),
                    state_->config.token.empty() ? " (no token: unauthenticated)" : "");
  return {};
}

std::uint16_t ApiServer::port() const { return state_->port; }

void ApiServer::stop() {
  beast::error_code ec;
  if (state_->acceptor) state_->acceptor->close(ec);
  for (const auto& c : state_->connections) state_->close(*c);
  state_->connections.clear();
}

std::string ApiServer::respond_to_bytes(std::string_view raw) {
  std::string out;
  while (!raw.empty()) {
    http::request_parser<http::string_body> parser;
    limit_parser(parser, state_->config.max_body_bytes);
    parser.eager(true);
    beast::error_code ec;
    while (!raw.empty() && !parser.is_done()) {
      std::size_t used = parser.put(asio::buffer(raw.data(), raw.size()), ec);
      raw.remove_prefix(used);
      if (ec || used == 0) break;
    }
    // An incomplete request at the end of input: a connection would wait (then time out).
    if (ec == http::error::need_more || (!ec && !parser.is_done())) break;
    State::Reply reply = ec ? state_->reply_to_parse_error(ec) : state_->reply_now(parser.get());
    std::ostringstream bytes;
    bytes << reply.response;
    out += bytes.str();
    if (reply.close) break;
  }
  return out;
}

}  // namespace veil::node
