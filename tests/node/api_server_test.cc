// The API server on a real loopback socket: routing, authentication, error shapes, limits,
// keep-alive, slow clients, static files; and the socket-free path the fuzzer drives.
#include "veil/node/api_server.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "raw_http.h"
#include "veil/node/metrics.h"

namespace veil::node {
namespace {

using testing::RawConnection;
using nlohmann::json;

constexpr char kToken[] = "0123456789abcdef";

std::string get(std::string_view path, std::string_view token = kToken, std::string_view extra = "") {
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + std::string(token) + "\r\n";
  return req + std::string(extra) + "\r\n";
}

// Body of the last response in `raw` (responses here are small and never chunked).
std::string body_of(const std::string& raw) {
  std::size_t at = raw.rfind("\r\n\r\n");
  return at == std::string::npos ? "" : raw.substr(at + 4);
}

int status_of(const std::string& raw) {
  return raw.size() > 12 && raw.starts_with("HTTP/1.") ? std::stoi(raw.substr(9, 3)) : -1;
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.token = kToken; }
  void TearDown() override { stop(); }

  // Registers the routes the tests use, starts the server and runs the io_context on a thread.
  void start() {
    server_ = std::make_unique<ApiServer>(io_, config_);
    server_->route("GET", "/v1/jobs/{id}/logs", [](const ApiRequest& r) {
      return ApiResponse::json({{"id", r.params.at("id")}, {"query", r.query}, {"path", r.path}});
    });
    server_->route("GET", "/v1/jobs/{id}", [](const ApiRequest& r) {
      return ApiResponse::json({{"route", "job"}, {"id", r.params.at("id")}});
    });
    server_->route("GET", "/v1/jobs/summary", [](const ApiRequest&) {
      return ApiResponse::json({{"route", "summary"}});
    });
    server_->route("POST", "/v1/jobs", [](const ApiRequest& r) {
      auto body = json::parse(r.body, nullptr, false);
      if (body.is_discarded()) return ApiResponse::error(400, "bad_json", "body is not JSON");
      return ApiResponse::json({{"echo", body}}, 201);
    });
    server_->route("DELETE", "/v1/jobs/{id}", [](const ApiRequest& r) {
      return ApiResponse::from_status(not_found("no job " + r.params.at("id")));
    });
    server_->route("GET", "/v1/boom", [](const ApiRequest&) -> ApiResponse {
      throw std::runtime_error("handler bug");
    });
    server_->route("GET", "/metrics", [](const ApiRequest&) {
      ApiResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = "veil_up 1\n";
      return r;
    });
    ASSERT_TRUE(server_->start().ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
    server_->stop();  // the io_context no longer runs, so this thread may call it
  }

  std::string ask(const std::string& request) {
    RawConnection c(port_);
    EXPECT_TRUE(c.connected());
    c.send(request);
    std::string raw;
    c.read_to_close(&raw);  // every request here asks the server to close
    return raw;
  }

  std::string ask_get(std::string_view path, std::string_view token = kToken) {
    return ask(get(path, token, "Connection: close\r\n"));
  }

  boost::asio::io_context io_;
  ApiServerConfig config_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

TEST_F(ApiServerTest, RoutesCapturePlaceholdersAndDecodedQuery) {
  start();
  std::string raw = ask_get("/v1/jobs/web%20app/logs?tail=100&grep=a+b%26c&flag");
  ASSERT_EQ(status_of(raw), 200) << raw;
  EXPECT_NE(raw.find("Content-Type: application/json"), std::string::npos);
  json body = json::parse(body_of(raw));
  EXPECT_EQ(body["id"], "web app");
  EXPECT_EQ(body["query"]["tail"], "100");
  EXPECT_EQ(body["query"]["grep"], "a b&c");
  EXPECT_EQ(body["query"]["flag"], "");
  EXPECT_EQ(body["path"], "/v1/jobs/web%20app/logs");
}

TEST_F(ApiServerTest, LiteralSegmentWinsOverPlaceholder) {
  start();
  EXPECT_EQ(json::parse(body_of(ask_get("/v1/jobs/summary")))["route"], "summary");
  EXPECT_EQ(json::parse(body_of(ask_get("/v1/jobs/j1")))["route"], "job");
}

TEST_F(ApiServerTest, V1NeedsTheBearerTokenOthersDoNot) {
  start();
  for (std::string_view token : {std::string_view(""), std::string_view("0123456789abcdeX"),
                                 std::string_view("0123456789abcdef0"), std::string_view("x")}) {
    std::string raw = ask_get("/v1/jobs/j1", token);
    EXPECT_EQ(status_of(raw), 401) << token;
    EXPECT_NE(raw.find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "unauthenticated");
  }
  // Unknown /v1 paths are 401 too, so routes cannot be probed without the token.
  EXPECT_EQ(status_of(ask_get("/v1/nope", "")), 401);
  EXPECT_EQ(status_of(ask(get("/v1/jobs/j1", "", "Authorization: Basic abc\r\nConnection: close\r\n"))), 401);
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_EQ(status_of(ask(get("/v1/jobs/j1", "", "Authorization: bearer 0123456789abcdef\r\nConnection: close\r\n"))), 200);
  EXPECT_EQ(status_of(ask_get("/v1/jobs/j1")), 200);
  std::string metrics = ask_get("/metrics", "");
  EXPECT_EQ(status_of(metrics), 200);
  EXPECT_EQ(body_of(metrics), "veil_up 1\n");
  std::string health = ask_get("/healthz", "");
  EXPECT_EQ(json::parse(body_of(health))["ok"], true);
}

TEST_F(ApiServerTest, EmptyTokenMeansNoAuthentication) {
  config_.token.clear();
  start();
  EXPECT_EQ(status_of(ask_get("/v1/jobs/j1", "")), 200);
}

TEST_F(ApiServerTest, NotFoundAndMethodNotAllowedAreJson) {
  start();
  std::string missing = ask_get("/v1/nothing/here");
  EXPECT_EQ(status_of(missing), 404);
  EXPECT_EQ(json::parse(body_of(missing))["error"]["code"], "not_found");
  std::string wrong_method =
      ask("PUT /v1/jobs/j1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(wrong_method), 405) << wrong_method;
  EXPECT_NE(wrong_method.find("Allow: GET, DELETE"), std::string::npos) << wrong_method;
  EXPECT_EQ(json::parse(body_of(wrong_method))["error"]["code"], "method_not_allowed");
  std::string from_status =
      ask("DELETE /v1/jobs/j9 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(from_status), 404);
  EXPECT_EQ(json::parse(body_of(from_status))["error"]["message"], "no job j9");
}

TEST_F(ApiServerTest, PostBodyReachesTheHandler) {
  start();
  std::string body = R"({"name":"web","replicas":2})";
  std::string raw = ask("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\n"
                        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_EQ(status_of(raw), 201) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["echo"]["replicas"], 2);
}

TEST_F(ApiServerTest, OversizedBodyGets413AndTheConnectionCloses) {
  config_.max_body_bytes = 1024;
  start();
  RawConnection c(port_);
  c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\n"
         "Content-Length: 5000\r\n\r\n" + std::string(5000, 'a'));
  std::string raw;
  EXPECT_TRUE(c.read_to_close(&raw));
  EXPECT_EQ(status_of(raw), 413) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "payload_too_large");
}

TEST_F(ApiServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  start();
  for (std::string bad : {std::string("GARBAGE\r\n\r\n"), std::string("POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                          std::string("GET /v1/jobs HTTP/1.1\r\nBad Header\r\n\r\n"),
                          std::string("GET /v1/jobs HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                          std::string("GET /v1/jobs/%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                      "0123456789abcdef\r\nConnection: close\r\n\r\n")}) {
    RawConnection c(port_);
    c.send(bad);
    std::string raw;
    EXPECT_TRUE(c.read_to_close(&raw)) << bad;
    EXPECT_EQ(status_of(raw), 400) << bad << " -> " << raw;
    EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "bad_request") << raw;
  }
}

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawConnection c(port_);
  c.send(get("/v1/jobs/a"));
  std::string first = c.read_until("\"id\":\"a\"");
  EXPECT_EQ(status_of(first), 200) << first;
  // Two more, pipelined.
  c.send(get("/v1/jobs/b") + get("/v1/jobs/c", kToken, "Connection: close\r\n"));
  std::string rest;
  EXPECT_TRUE(c.read_to_close(&rest));
  EXPECT_NE(rest.find("\"id\":\"b\""), std::string::npos) << rest;
  EXPECT_NE(rest.find("\"id\":\"c\""), std::string::npos) << rest;
}

TEST_F(ApiServerTest, SlowClientDoesNotBlockOthers) {
  start();  // default io_timeout (15 s): the slow client stays connected throughout
  RawConnection slow(port_);
  ASSERT_TRUE(slow.send("GET /v1/jobs/slow HTTP/1.1\r\nHost: x\r\n"));  // half a request
  RawConnection idle(port_);                                                // nothing at all
  EXPECT_EQ(status_of(ask_get("/v1/jobs/fast")), 200);
  // The slow one was only waited for on its own connection: finishing it still works.
  ASSERT_TRUE(slow.send("Authorization: Bearer 0123456789abcdef\r\nConnection: close\r\n\r\n"));
  std::string raw;
  EXPECT_TRUE(slow.read_to_close(&raw));
  EXPECT_EQ(status_of(raw), 200) << raw;
  EXPECT_NE(raw.find("\"id\":\"slow\""), std::string::npos);
}

TEST_F(ApiServerTest, SlowAndSilentClientsAreDroppedAfterTheTimeout) {
  config_.io_timeout = std::chrono::milliseconds(300);
  start();
  RawConnection slow(port_, 5000);
  ASSERT_TRUE(slow.send("GET /v1/jobs/a HTTP/1.1\r\nHost: x\r\n"));  // and never finishes
  RawConnection idle(port_, 5000);
  std::string leftover;
  EXPECT_TRUE(slow.read_to_close(&leftover)) << "the server kept a half-sent request open";
  EXPECT_TRUE(leftover.empty()) << leftover;
  EXPECT_TRUE(idle.read_to_close()) << "the server kept a silent connection open";
}

TEST_F(ApiServerTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  config_.max_connections = 2;
  start();
  RawConnection first(port_), second(port_);
  first.send(get("/v1/jobs/a"));
  second.send(get("/v1/jobs/b"));
  ASSERT_EQ(status_of(first.read_until("}")), 200);  // both are being served (kept alive)
  ASSERT_EQ(status_of(second.read_until("}")), 200);
  RawConnection third(port_, 3000);
  third.send(get("/v1/jobs/c"));
  std::string raw;
  EXPECT_TRUE(third.read_to_close(&raw));
  EXPECT_TRUE(raw.empty()) << raw;
}

TEST_F(ApiServerTest, StopClosesOpenConnectionsAndStopsListening) {
  start();
  RawConnection idle(port_);
  idle.send(get("/v1/jobs/a"));
  ASSERT_EQ(status_of(idle.read_until("}")), 200);
  boost::asio::post(io_, [this] { server_->stop(); });
  EXPECT_TRUE(idle.read_to_close()) << "a kept-alive connection survived stop()";
  RawConnection late(port_, 1000);
  EXPECT_FALSE(late.connected() && late.send(get("/v1/jobs/b")) && status_of(late.read_until("}")) == 200);
}

TEST_F(ApiServerTest, ThrowingHandlerGets500) {
  start();
  std::string raw = ask_get("/v1/boom");
  EXPECT_EQ(status_of(raw), 500);
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "internal");
  EXPECT_EQ(status_of(ask_get("/v1/jobs/j1")), 200);  // the server lives on
}

TEST_F(ApiServerTest, ServesStaticFilesWithoutTokenAndNothingOutsideTheDirectory) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("veil-api-static-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "js");
  std::ofstream(dir / "index.html") << "<!doctype html><title>veil</title>";
  std::ofstream(dir / "js" / "app.js") << "export const x = 1;";
  std::ofstream(dir / ".secret") << "hidden";
  std::ofstream(dir.parent_path() / "veil-api-outside.txt") << "FILE-OUTSIDE-THE-ROOT";
  config_.static_dir = dir.string() + "/";
  start();
  std::string index = ask_get("/", "");
  EXPECT_EQ(status_of(index), 200);
  EXPECT_NE(index.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(index.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_EQ(body_of(index), "<!doctype html><title>veil</title>");
  std::string head = ask("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(head), 200) << head;
  EXPECT_NE(head.find("Content-Length: 34\r\n"), std::string::npos) << head;
  EXPECT_EQ(body_of(head), "");
  std::string js = ask_get("/js/app.js", "");
  EXPECT_EQ(status_of(js), 200);
  EXPECT_NE(js.find("Content-Type: text/javascript"), std::string::npos);
  for (std::string_view path : {"/.secret", "/../veil-api-outside.txt", "/%2e%2e/veil-api-outside.txt",
                                "/js/..%2f..%2fveil-api-outside.txt", "/js", "/missing.html"}) {
    std::string raw = ask_get(path, "");
    EXPECT_EQ(status_of(raw), 404) << path << " -> " << raw;
    EXPECT_EQ(body_of(raw).find("FILE-OUTSIDE-THE-ROOT"), std::string::npos);
  }
  // /v1 never falls through to files.
  std::filesystem::create_directories(dir / "v1");
  std::ofstream(dir / "v1" / "x") << "file";
  EXPECT_EQ(status_of(ask_get("/v1/x")), 404);
  stop();
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir.parent_path() / "veil-api-outside.txt");
}

TEST_F(ApiServerTest, SecondServerOnATakenPortIsUnavailable) {
  start();
  boost::asio::io_context other_io;
  ApiServerConfig other;
  other.port = port_;
  ApiServer second(other_io, other);
  Status status = second.start();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(port_)), std::string::npos);
  ApiServerConfig not_ip;
  not_ip.listen_host = "localhost-ish";
  EXPECT_EQ(ApiServer(other_io, not_ip).start().code(), StatusCode::kInvalidArgument);
}

TEST_F(ApiServerTest, CountsRequestsByRoutePatternWhenGivenARegistry) {
  MetricsRegistry metrics;
  config_.metrics = &metrics;
  start();
  ask_get("/v1/jobs/a");
  ask_get("/v1/jobs/b");
  ask_get("/v1/jobs/a", "");
  ask_get("/nope", "");
  stop();
  std::string text = metrics.render();
  EXPECT_NE(text.find("veil_api_requests_total{route=\"/v1/jobs/{id}\",code=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("veil_api_requests_total{route=\"unmatched\",code=\"401\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("veil_api_requests_total{route=\"unmatched\",code=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("veil_api_request_duration_seconds_count{route=\"/v1/jobs/{id}\"} 2\n"), std::string::npos);
}

TEST_F(ApiServerTest, RespondToBytesMatchesTheSocketPath) {
  server_ = std::make_unique<ApiServer>(io_, config_);
  server_->route("GET", "/v1/x/{id}", [](const ApiRequest& r) { return ApiResponse::json(r.params.at("id")); });
  std::string out = server_->respond_to_bytes(get("/v1/x/1") + get("/v1/x/2", "") + "GET /v1/x/3 HTTP/1.1\r\nHo");
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(out.find("\"1\""), std::string::npos);
  EXPECT_NE(out.find("HTTP/1.1 401"), std::string::npos);
  EXPECT_EQ(out.find("\"3\""), std::string::npos);  // incomplete: not answered
  // A path that is not UTF-8 still gets a JSON error (the message carries the path).
  std::string latin1 = server_->respond_to_bytes(get("/v1/caf%E9", kToken, "Connection: close\r\n"));
  EXPECT_EQ(status_of(latin1), 404);
  EXPECT_FALSE(json::parse(body_of(latin1), nullptr, false).is_discarded()) << latin1;
  std::string bad = server_->respond_to_bytes("NOT HTTP\r\n\r\n" + get("/v1/x/1"));
  EXPECT_EQ(status_of(bad), 400);
  EXPECT_EQ(bad.find("HTTP/1.1 200"), std::string::npos);  // closed after the 400
}

TEST(ApiResponseTest, ErrorAndStatusShapes) {
  ApiResponse e = ApiResponse::error(418, "teapot", "short \"and\" stout");
  EXPECT_EQ(e.status, 418);
  EXPECT_EQ(json::parse(e.body), json::parse(R"({"error":{"code":"teapot","message":"short \"and\" stout"}})"));
  ApiResponse s = ApiResponse::from_status(failed_precondition("not a committee member"));
  EXPECT_EQ(s.status, 409);
  EXPECT_EQ(json::parse(s.body)["error"]["code"], "failed_precondition");
  EXPECT_EQ(ApiResponse::from_status(unavailable("x")).status, 503);
  EXPECT_EQ(ApiResponse::from_status(invalid_argument("x")).status, 400);
  EXPECT_EQ(ApiResponse::from_status(internal_error("x")).status, 500);
}

}  // namespace
}  // namespace veil::node
