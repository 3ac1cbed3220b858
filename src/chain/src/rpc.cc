#include "veil/chain/rpc.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "veil/common/log.h"

namespace veil::chain {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

}  // namespace

Result<JsonRpcClient> JsonRpcClient::create(std::string_view url, RpcOptions options) {
  std::string_view rest = url;
  if (rest.starts_with("https://"))
    return unimplemented("https RPC endpoints are not supported: '" + std::string(url) + "'");
  if (!rest.starts_with("http://"))
    return invalid_argument("RPC URL must start with http://, got '" + std::string(url) + "'");
  rest.remove_prefix(7);
  std::size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string host(hostport), port = "80";
  if (!hostport.empty() && hostport.front() == '[') {  // [::1]:8545
    std::size_t close = hostport.find(']');
    if (close == std::string_view::npos)
      return invalid_argument("RPC URL has an unterminated IPv6 host: '" + std::string(url) + "'");
    host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      port = std::string(hostport.substr(close + 2));
  } else if (std::size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = std::string(hostport.substr(0, colon));
    port = std::string(hostport.substr(colon + 1));
  }
  if (host.empty() || port.empty())
    return invalid_argument("RPC URL lacks a host or port: '" + std::string(url) + "'");
  if (options.max_attempts < 1) options.max_attempts = 1;
  return JsonRpcClient(std::string(url), host, port, target, options);
}

JsonRpcClient::JsonRpcClient(JsonRpcClient&& other) noexcept
    : url_(std::move(other.url_)),
      host_(std::move(other.host_)),
      port_(std::move(other.port_)),
      target_(std::move(other.target_)),
      options_(other.options_),
      next_id_(other.next_id_.load()) {}

Result<std::string> JsonRpcClient::post_once(const std::string& body, bool& retryable) {
  retryable = true;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::verb::post, target_, 11};
  req.set(http::field::host, host_);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "veil-chain");
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  const char* stage = "resolve";

  // Asynchronous operations so that one deadline (expires_after) bounds the whole exchange.
  asio::ip::tcp::resolver resolver(ioc);
  stream.expires_after(options_.timeout);
  resolver.async_resolve(
      host_, port_, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) {
          failure = ec;
          return;
        }
        stage = "connect";
        stream.async_connect(results, [&](beast::error_code ec2, const asio::ip::tcp::endpoint&) {
          if (ec2) {
            failure = ec2;
            return;
          }
          stage = "write";
          http::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
            if (ec3) {
              failure = ec3;
              return;
            }
            stage = "read";
            http::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) { failure = ec4; });
          });
        });
      });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (failure) {
    std::string what = "RPC endpoint " + url_ + ": " + stage + " failed: " + failure.message();
    if (failure == beast::error::timeout) return deadline_exceeded(what);
    return unavailable(what);
  }
  unsigned status = res.result_int();
  if (status >= 500 || status == 429)
    return unavailable("RPC endpoint " + url_ + " answered HTTP " + std::to_string(status));
  retryable = false;
  if (status != 200)
    return unavailable("RPC endpoint " + url_ + " answered HTTP " + std::to_string(status) + ": " +
                       res.body().substr(0, 200));
  return std::move(res.body());
}

Result<RpcReply> JsonRpcClient::request(std::string_view method, const nlohmann::json& params) {
  std::uint64_t id = next_id_.fetch_add(1);
  nlohmann::json envelope = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  std::string body = envelope.dump();
  auto backoff = options_.initial_backoff;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    bool retryable = false;
    auto text = post_once(body, retryable);
    if (!text.ok()) {
      last = text.status();
      if (!retryable) break;
      if (attempt < options_.max_attempts) {
        veil::log::get("chain")->debug("{} attempt {} failed: {}; retrying in {} ms", method, attempt,
                                       last.message(), backoff.count());
        std::this_thread::sleep_for(backoff);
        backoff *= 2;
      }
      continue;
    }
    nlohmann::json reply = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (reply.is_discarded() || !reply.is_object())
      return data_loss(std::string(method) + ": endpoint " + url_ + " did not answer JSON");
    RpcReply out;
    if (auto err = reply.find("error"); err != reply.end() && !err->is_null()) {
      RpcError e;
      if (err->is_object()) {
        e.code = err->value("code", std::int64_t{0});
        e.message = err->value("message", std::string("(no message)"));
        if (auto d = err->find("data"); d != err->end()) e.data = *d;
      } else {
        e.message = err->dump();
      }
      out.error = std::move(e);
      return out;
    }
    auto result = reply.find("result");
    if (result == reply.end())
      return data_loss(std::string(method) + ": reply from " + url_ + " has neither result nor error");
    out.result = std::move(*result);
    return out;
  }
  return Status(last.code(), std::string(method) + ": " + last.message() +
                                 (options_.max_attempts > 1
                                      ? " (after " + std::to_string(options_.max_attempts) + " attempts)"
                                      : ""));
}

Result<nlohmann::json> JsonRpcClient::call(std::string_view method, const nlohmann::json& params) {
  VEIL_ASSIGN_OR_RETURN(RpcReply reply, request(method, params));
  if (reply.error) {
    return failed_precondition(std::string(method) + ": " + reply.error->message + " (code " +
                               std::to_string(reply.error->code) + ")");
  }
  return std::move(reply.result);
}

}  // namespace veil::chain
