#include "veil/node/api_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace veil::node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Logs can be large; anything beyond this is not an API answer.
constexpr std::uint64_t kMaxResponseBytes = 64ull << 20;

struct Address {
  std::string host;
  std::string port;
  std::string prefix;  // path prefix without a trailing '/': "" or "/node1"
};

Result<Address> parse_base_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return invalid_argument("API address '" + std::string(url) + "' " + std::string(why) +
                            " (expected http://HOST:PORT)");
  };
  std::string_view rest = url;
  if (rest.starts_with("https://")) return unimplemented("https API addresses are not supported: " + std::string(url));
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (rest.find("://") != std::string_view::npos) return bad("has an unknown scheme");
  Address address;
  std::size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    address.prefix = std::string(rest.substr(slash));
    while (!address.prefix.empty() && address.prefix.back() == '/') address.prefix.pop_back();
    rest = rest.substr(0, slash);
  }
  std::size_t port_colon = rest.rfind(':');
  if (rest.starts_with('[')) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated [IPv6] host");
    address.host = std::string(rest.substr(1, close - 1));
    if (port_colon < close) port_colon = std::string_view::npos;
  } else {
    address.host = std::string(rest.substr(0, port_colon));
  }
  if (address.host.empty()) return bad("has no host");
  if (port_colon == std::string_view::npos) return bad("has no port");
  address.port = std::string(rest.substr(port_colon + 1));
  if (address.port.empty() || address.port.find_first_not_of("0123456789") != std::string::npos)
    return bad("has a bad port");
  return address;
}

// The address connected to, as a Host header names it: "127.0.0.1:7600", "[::1]:7600". Not
// the name the user gave: the API refuses names other than localhost (DNS rebinding), and the
// address is what that name led to anyway.
std::string authority_of(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

StatusCode code_for_http_status(unsigned status) {
  switch (status) {
    case 400: return StatusCode::kInvalidArgument;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 409: return StatusCode::kFailedPrecondition;
    case 413: return StatusCode::kOutOfRange;
    case 501: return StatusCode::kUnimplemented;
    case 503: return StatusCode::kUnavailable;
    case 504: return StatusCode::kDeadlineExceeded;
    default: return StatusCode::kInternal;
  }
}

// The server's {"error":{"message":...}}, or the start of whatever body it sent.
std::string error_message_of(unsigned status, const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object() &&
      parsed["error"].contains("message") && parsed["error"]["message"].is_string())
    return parsed["error"]["message"].get<std::string>();
  std::string text = body.substr(0, 200);
  return "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text);
}

}  // namespace

ApiClient::ApiClient(std::string base_url, std::string token, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), token_(std::move(token)), timeout_(timeout) {
  if (base_url_.find("://") == std::string::npos) base_url_ = "http://" + base_url_;
}

Result<ApiClient::Reply> ApiClient::exchange(const std::string& method, const std::string& path,
                                              const std::string* body) {
  VEIL_ASSIGN_OR_RETURN(Address address, parse_base_url(base_url_));
  if (!path.starts_with('/')) return invalid_argument("API path must start with '/': '" + path + "'");
  std::string what = method + " " + path;

  http::request<http::string_body> request{http::string_to_verb(method), address.prefix + path, 11};
  // Host is set once connected: the server accepts only an IP address or localhost there.
  request.set(http::field::user_agent, "veil-cli");
  request.set(http::field::accept, "application/json");
  if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
  // The server takes a request that may change state only as JSON, with or without a body.
  if (method != "GET" && method != "HEAD") request.set(http::field::content_type, "application/json");
  if (body != nullptr) request.body() = *body;
  request.keep_alive(false);
  request.prepare_payload();

  asio::io_context io;
  beast::tcp_stream stream(io);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  beast::error_code failure;
  enum class Stage { kResolve, kConnect, kExchange, kDone } stage = Stage::kResolve;

  // One coroutine for the whole exchange, under one deadline set before connecting.
  auto run = [&]() -> asio::awaitable<void> {
    tcp::resolver resolver(io);
    auto endpoints = co_await resolver.async_resolve(address.host, address.port,
                                                     asio::redirect_error(asio::use_awaitable, failure));
    if (failure) co_return;
    stage = Stage::kConnect;
    stream.expires_after(timeout_);
    tcp::endpoint server =
        co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, failure));
    if (failure) co_return;
    stage = Stage::kExchange;
    request.set(http::field::host, authority_of(server));
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, failure));
    if (failure) co_return;
    beast::flat_buffer buffer;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, failure));
    if (failure) co_return;
    stage = Stage::kDone;
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();

  std::string where = base_url_;
  switch (stage) {
    case Stage::kResolve:
      return unavailable("cannot resolve the API host of " + where + ": " + failure.message());
    case Stage::kConnect:
      if (failure == beast::error::timeout)
        return deadline_exceeded("no veil node answered at " + where + " within " +
                                 std::to_string(timeout_.count()) + " ms (set --api or VEIL_API_ADDR)");
      return unavailable("no veil node answers at " + where +
                         ": is `veil node run` running? (set --api or VEIL_API_ADDR) [" + failure.message() + "]");
    case Stage::kExchange:
      if (failure == beast::error::timeout)
        return deadline_exceeded("the veil node at " + where + " did not answer " + what + " within " +
                                 std::to_string(timeout_.count()) + " ms");
      return unavailable("the veil node at " + where + " broke off " + what + ": " + failure.message());
    case Stage::kDone:
      break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return Reply{parser.get().result_int(), std::move(parser.get().body())};
}

Result<std::string> ApiClient::request_text(const std::string& method, const std::string& path,
                                            const std::string* body) {
  VEIL_ASSIGN_OR_RETURN(Reply reply, exchange(method, path, body));
  if (reply.status >= 200 && reply.status < 300) return std::move(reply.body);
  if (reply.status == 401)
    return permission_denied("the API token was refused by " + base_url_ +
                             " (VEIL_API_TOKEN or <data_dir>/api.token)");
  return Status(code_for_http_status(reply.status),
                method + " " + path + ": " + error_message_of(reply.status, reply.body));
}

namespace {

Result<nlohmann::json> as_json(Result<std::string> text, const std::string& what) {
  if (!text.ok()) return text.status();
  if (text->empty()) return nlohmann::json();
  auto parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return data_loss(what + ": the node's answer is not JSON");
  return parsed;
}

}  // namespace

Result<nlohmann::json> ApiClient::get(const std::string& path) {
  return as_json(request_text("GET", path, nullptr), "GET " + path);
}

Result<nlohmann::json> ApiClient::post(const std::string& path, const nlohmann::json& body) {
  std::string text = body.dump();
  return as_json(request_text("POST", path, &text), "POST " + path);
}

Result<nlohmann::json> ApiClient::del(const std::string& path) {
  return as_json(request_text("DELETE", path, nullptr), "DELETE " + path);
}

Result<std::string> ApiClient::get_text(const std::string& path) { return request_text("GET", path, nullptr); }

}  // namespace veil::node
