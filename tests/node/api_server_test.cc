// The API server on a real loopback socket: routing, authentication, error shapes, limits,
// keep-alive, slow clients, static files; the front door (every daemon route under other
// spellings of its path, Host, Origin, Content-Type); sharing the connection limits; and the
// socket-free path the fuzzer drives.
#include "veil/node/api_server.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

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

// A GET of `path` addressed to `host` ("127.0.0.1:PORT").
std::string get_request(std::string_view host, std::string_view path, std::string_view token = kToken,
                        std::string_view extra = "") {
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n";
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
    server_->route("POST", "/v1/jobs", [this](const ApiRequest& r) {
      ++state_changes_;
      auto body = json::parse(r.body, nullptr, false);
      if (body.is_discarded()) return ApiResponse::error(400, "bad_json", "body is not JSON");
      return ApiResponse::json({{"echo", body}}, 201);
    });
    server_->route("DELETE", "/v1/jobs/{id}", [this](const ApiRequest& r) {
      ++state_changes_;
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
    server_->route("GET", "/v1/big", [](const ApiRequest&) {
      return ApiResponse{200, "text/plain", std::string(64 << 20, 'x')};
    });
    server_->route_public("GET", "/v1/open", [](const ApiRequest&) {
      return ApiResponse::json({{"open", true}});
    });
    ASSERT_TRUE(server_->start().ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    host_ = "127.0.0.1:" + std::to_string(port_);
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

  // A GET addressed to this server.
  std::string get(std::string_view path, std::string_view token = kToken, std::string_view extra = "") const {
    return get_request(host_, path, token, extra);
  }

  boost::asio::io_context io_;
  ApiServerConfig config_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  int state_changes_ = 0;  // POST and DELETE handlers run; read after stop()
  // What the Host header says: the bound port once started; before start() (respond_to_bytes)
  // the configured port is 0, so any port is accepted.
  std::string host_ = "127.0.0.1:7600";
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

TEST_F(ApiServerTest, EveryRouteNeedsTheBearerTokenUnlessRegisteredPublic) {
  start();
  for (std::string_view token : {std::string_view(""), std::string_view("0123456789abcdeX"),
                                 std::string_view("0123456789abcdef0"), std::string_view("x")}) {
    std::string raw = ask_get("/v1/jobs/j1", token);
    EXPECT_EQ(status_of(raw), 401) << token;
    EXPECT_NE(raw.find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "unauthenticated");
  }
  // Unknown paths are 401 too, inside /v1 or not, so routes cannot be probed without the token.
  EXPECT_EQ(status_of(ask_get("/v1/nope", "")), 401);
  EXPECT_EQ(status_of(ask_get("/nope", "")), 401);
  EXPECT_EQ(status_of(ask_get("/nope")), 404);
  EXPECT_EQ(status_of(ask(get("/v1/jobs/j1", "", "Authorization: Basic abc\r\nConnection: close\r\n"))), 401);
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_EQ(status_of(ask(get("/v1/jobs/j1", "", "Authorization: bearer 0123456789abcdef\r\nConnection: close\r\n"))), 200);
  EXPECT_EQ(status_of(ask_get("/v1/jobs/j1")), 200);
  // A route outside /v1 needs it just the same unless it was registered public.
  EXPECT_EQ(status_of(ask_get("/metrics", "")), 401);
  std::string metrics = ask_get("/metrics");
  EXPECT_EQ(status_of(metrics), 200);
  EXPECT_EQ(body_of(metrics), "veil_up 1\n");
  std::string health = ask_get("/healthz", "");
  EXPECT_EQ(json::parse(body_of(health))["ok"], true);
  EXPECT_EQ(json::parse(body_of(ask_get("/v1/open", "")))["open"], true);
  // Public is a property of the route (method and pattern), not of its path.
  EXPECT_EQ(
      status_of(ask("POST /v1/open HTTP/1.1\r\nHost: " + host_ +
                    "\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")),
      401);
  std::vector<ApiServer::RouteInfo> routes = server_->routes();
  auto is_public = [&](std::string_view method, std::string_view pattern) {
    for (const auto& r : routes)
      if (r.method == method && r.pattern == pattern) return r.is_public;
    ADD_FAILURE() << method << " " << pattern << " is not listed";
    return false;
  };
  EXPECT_TRUE(is_public("GET", "/healthz"));
  EXPECT_TRUE(is_public("GET", "/v1/open"));
  EXPECT_FALSE(is_public("GET", "/metrics"));
  EXPECT_FALSE(is_public("POST", "/v1/jobs"));
}

TEST_F(ApiServerTest, RegisteringARouteAgainDecidesWhetherItIsPublic) {
  server_ = std::make_unique<ApiServer>(io_, config_);
  server_->route("GET", "/healthz", [](const ApiRequest&) { return ApiResponse::json({{"ok", "private"}}); });
  EXPECT_EQ(status_of(server_->respond_to_bytes(get("/healthz", ""))), 401);
  EXPECT_EQ(json::parse(body_of(server_->respond_to_bytes(get("/healthz"))))["ok"], "private");
  server_->route_public("GET", "/healthz", [](const ApiRequest&) {
    return ApiResponse::json({{"ok", "public"}});
  });
  EXPECT_EQ(json::parse(body_of(server_->respond_to_bytes(get("/healthz", ""))))["ok"], "public");
}

TEST_F(ApiServerTest, EmptyTokenMeansNoAuthenticationButTheOtherChecksStay) {
  config_.token.clear();
  start();
  EXPECT_EQ(status_of(ask_get("/v1/jobs/j1", "")), 200);
  EXPECT_EQ(status_of(ask(get_request("rebound.example:" + std::to_string(port_), "/v1/jobs/j1", "",
                                      "Connection: close\r\n"))),
            403);
  EXPECT_EQ(status_of(ask_get("/%761/jobs/j1", "")), 400);
  EXPECT_EQ(
      status_of(ask("POST /v1/jobs HTTP/1.1\r\nHost: " + host_ +
                    "\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")),
      415);
}

TEST_F(ApiServerTest, NotFoundAndMethodNotAllowedAreJson) {
  start();
  std::string missing = ask_get("/v1/nothing/here");
  EXPECT_EQ(status_of(missing), 404);
  EXPECT_EQ(json::parse(body_of(missing))["error"]["code"], "not_found");
  std::string wrong_method =
      ask("PUT /v1/jobs/j1 HTTP/1.1\r\nHost: " + host_ +
          "\r\nAuthorization: Bearer 0123456789abcdef\r\n"
          "Content-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(wrong_method), 405) << wrong_method;
  EXPECT_NE(wrong_method.find("Allow: GET, DELETE"), std::string::npos) << wrong_method;
  EXPECT_EQ(json::parse(body_of(wrong_method))["error"]["code"], "method_not_allowed");
  std::string from_status = ask("DELETE /v1/jobs/j9 HTTP/1.1\r\nHost: " + host_ +
                                "\r\nAuthorization: Bearer 0123456789abcdef\r\n"
                                "Content-Type: application/json\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(from_status), 404);
  EXPECT_EQ(json::parse(body_of(from_status))["error"]["message"], "no job j9");
}

TEST_F(ApiServerTest, PostBodyReachesTheHandler) {
  start();
  std::string body = R"({"name":"web","replicas":2})";
  std::string raw = ask("POST /v1/jobs HTTP/1.1\r\nHost: " + host_ +
                        "\r\nAuthorization: Bearer 0123456789abcdef\r\n"
                        "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_EQ(status_of(raw), 201) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["echo"]["replicas"], 2);
}

TEST_F(ApiServerTest, OversizedBodyGets413AndTheConnectionCloses) {
  config_.max_body_bytes = 1024;
  start();
  RawConnection c(port_);
  c.send("POST /v1/jobs HTTP/1.1\r\nHost: " + host_ +
         "\r\nAuthorization: Bearer 0123456789abcdef\r\n"
         "Content-Length: 5000\r\n\r\n" +
         std::string(5000, 'a'));
  std::string raw;
  EXPECT_TRUE(c.read_to_close(&raw));
  EXPECT_EQ(status_of(raw), 413) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "payload_too_large");
}

TEST_F(ApiServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  start();
  for (std::string bad : {std::string("GARBAGE\r\n\r\n"),
                          std::string("POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                          std::string("GET /v1/jobs HTTP/1.1\r\nBad Header\r\n\r\n"),
                          std::string("GET /v1/jobs HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                          std::string("GET /v1/jobs/%zz HTTP/1.1\r\nHost: " + host_ +
                                      "\r\nAuthorization: Bearer "
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
  ASSERT_TRUE(slow.send("GET /v1/jobs/slow HTTP/1.1\r\nHost: " + host_ + "\r\n"));  // half a request
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
  ASSERT_TRUE(slow.send("GET /v1/jobs/a HTTP/1.1\r\nHost: " + host_ + "\r\n"));  // and never finishes
  RawConnection idle(port_, 5000);
  std::string leftover;
  EXPECT_TRUE(slow.read_to_close(&leftover)) << "the server kept a half-sent request open";
  EXPECT_TRUE(leftover.empty()) << leftover;
  EXPECT_TRUE(idle.read_to_close()) << "the server kept a silent connection open";
}

TEST_F(ApiServerTest, ANewcomerAtTheLimitReplacesTheConnectionWaitingLongest) {
  config_.max_connections = 4;
  config_.io_timeout = std::chrono::seconds(60);
  config_.crowded_request_timeout = std::chrono::seconds(60);
  start();
  RawConnection oldest(port_), older(port_);  // silent
  RawConnection served(port_);                // answered, then kept alive: it waits again, but since later
  served.send(get("/v1/jobs/a"));
  ASSERT_EQ(status_of(served.read_until("}")), 200);
  RawConnection slow(port_);  // half a request, after `served` waited again
  ASSERT_TRUE(slow.send("GET /v1/jobs/slow HTTP/1.1\r\nHost: " + host_ + "\r\n"));
  // Four open: each newcomer closes the one that has waited longest for a request.
  RawConnection fifth(port_), sixth(port_, 10000);
  EXPECT_TRUE(oldest.read_to_close()) << "the connection waiting longest was kept";
  EXPECT_TRUE(older.read_to_close()) << "the connection waiting second longest was kept";
  // The kept-alive one and the slow one are still there, and the newcomers are served.
  served.send(get("/v1/jobs/b"));
  EXPECT_NE(served.read_until("}").find("\"id\":\"b\""), std::string::npos);
  ASSERT_TRUE(slow.send("Authorization: Bearer 0123456789abcdef\r\n\r\n"));
  EXPECT_NE(slow.read_until("}").find("\"id\":\"slow\""), std::string::npos);
  ASSERT_TRUE(sixth.send(get("/v1/jobs/c")));
  EXPECT_NE(sixth.read_until("}").find("\"id\":\"c\""), std::string::npos);
}

TEST_F(ApiServerTest, ANewcomerIsRefusedOnlyWhenEveryConnectionIsBeingAnswered) {
  config_.max_connections = 1;
  config_.io_timeout = std::chrono::seconds(60);
  start();
  // A client that asks for 64 MiB and reads only the start: the server stays busy writing to
  // it, far beyond what the socket buffers hold.
  RawConnection reader(port_);
  ASSERT_TRUE(reader.send(get("/v1/big")));
  ASSERT_EQ(status_of(reader.read_until("xxxx")), 200);
  RawConnection newcomer(port_, 10000);
  ASSERT_TRUE(newcomer.send(get("/v1/jobs/a")));
  std::string raw;
  EXPECT_TRUE(newcomer.read_to_close(&raw));
  EXPECT_TRUE(raw.empty()) << raw;
}

TEST_F(ApiServerTest, OneClientAtItsLimitReplacesItsOwnConnectionsNotOthers) {
  config_.max_connections_per_client = 2;
  config_.io_timeout = std::chrono::seconds(60);
  config_.crowded_request_timeout = std::chrono::seconds(60);
  start();
  RawConnection other(port_, 1000);  // 127.0.0.1, silent, and older than all below
  RawConnection first(port_, 10000, "127.0.0.2"), second(port_, 1000, "127.0.0.2");
  ASSERT_TRUE(first.connected() && second.connected());
  RawConnection third(port_, 10000, "127.0.0.2");
  ASSERT_TRUE(third.send(get("/v1/jobs/a")));
  EXPECT_NE(third.read_until("}").find("\"id\":\"a\""), std::string::npos);
  EXPECT_TRUE(first.read_to_close()) << "127.0.0.2 held more than its 2 connections";
  // The limit of 127.0.0.2 cost only 127.0.0.2: the older connection of 127.0.0.1 stays
  // (the read gives up after its 1 s limit without seeing the connection close).
  EXPECT_FALSE(other.read_to_close());
  EXPECT_FALSE(second.read_to_close());
}

TEST_F(ApiServerTest, ACrowdedServerWaitsLessForARequest) {
  config_.max_connections = 4;
  config_.io_timeout = std::chrono::seconds(60);
  config_.crowded_request_timeout = std::chrono::milliseconds(200);
  start();
  RawConnection first(port_, 1000), second(port_, 1000);  // 1 and 2 of 4 open: not crowded
  RawConnection third(port_, 10000);                      // 3 of 4: crowded
  EXPECT_TRUE(third.read_to_close()) << "a connection opened while crowded was kept past its short deadline";
  EXPECT_FALSE(first.read_to_close()) << "a connection opened before the crowd was given the short deadline";
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
  std::string head = ask("HEAD / HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(head), 200) << head;
  EXPECT_NE(head.find("Content-Length: 34\r\n"), std::string::npos) << head;
  EXPECT_EQ(body_of(head), "");
  std::string js = ask_get("/js/app.js", "");
  EXPECT_EQ(status_of(js), 200);
  EXPECT_NE(js.find("Content-Type: text/javascript"), std::string::npos);
  // What is not a file there is not public: 401 without the token (so files cannot be probed
  // either), 404 with it; paths that climb out are malformed (400) before anything is looked up.
  for (std::string_view path : {"/.secret", "/js", "/missing.html"}) {
    EXPECT_EQ(status_of(ask_get(path, "")), 401) << path;
    EXPECT_EQ(status_of(ask_get(path)), 404) << path;
  }
  for (std::string_view path :
       {"/js/app.js/", "/js//app.js", "/../veil-api-outside.txt", "/%2e%2e/veil-api-outside.txt",
        "/js/../../veil-api-outside.txt", "/js/..%2f..%2fveil-api-outside.txt",
        "/js/%2E%2E%2F%2E%2E%2Fveil-api-outside.txt", "/%2Fveil-api-outside.txt",
        "/js%5C..%5C..%5Cveil-api-outside.txt"}) {
    for (std::string_view token : {std::string_view(""), std::string_view(kToken)}) {
      std::string raw = ask_get(path, token);
      EXPECT_EQ(status_of(raw), 400) << path << " -> " << raw;
      EXPECT_EQ(body_of(raw).find("FILE-OUTSIDE-THE-ROOT"), std::string::npos);
    }
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
  ask_get("/nope");
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

TEST_F(ApiServerTest, EscapedPathsCannotSkipTheToken) {
  // The attack of issue 21: the token check read the raw path ("/%761/..." is not under
  // "/v1") while the router matched the decoded one. Now both read the same decoded path,
  // and a path spelled with escapes it does not need is refused outright.
  start();
  std::string head = " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n";
  for (const std::string& request :
       {"GET /%761/jobs/j1" + head + "\r\n", "GET /%76%31/jobs/j1/logs" + head + "\r\n",
        "POST /%761/jobs" + head + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
        "POST /%761/jobs" + head + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        "DELETE /%761/jobs/j1" + head + "Content-Type: application/json\r\n\r\n"}) {
    std::string raw = ask(request);
    EXPECT_EQ(status_of(raw), 400) << request << " -> " << raw;
    EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "bad_request");
  }
  stop();
  EXPECT_EQ(state_changes_, 0) << "a POST or DELETE handler ran without the token";
}

TEST_F(ApiServerTest, HostMustNameThisServer) {
  start();
  std::string port = std::to_string(port_);
  auto with_host = [&](const std::string& host_lines, std::string_view path = "/v1/jobs/j1",
                       std::string_view token = kToken) {
    std::string req = "GET " + std::string(path) + " HTTP/1.1\r\n" + host_lines + "Connection: close\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + std::string(token) + "\r\n";
    return status_of(ask(req + "\r\n"));
  };
  for (const std::string& ok :
       std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LocalHost:" + port,
                                "[::1]:" + port, "[0:0:0:0:0:0:0:1]:" + port, "10.1.2.3:" + port})
    EXPECT_EQ(with_host("Host: " + ok + "\r\n"), 200) << ok;
  // Names (what a DNS-rebound page sends), other ports, odd spellings of addresses.
  for (const std::string& refused : std::vector<std::string>{
           "rebound.example:" + port, "localhost.:" + port, "127.0.0.1.nip.io:" + port,
           "localhost.rebound.example:" + port, "127.1:" + port, "0x7f.0.0.1:" + port, "127.0.0.1",
           "127.0.0.1:" + std::to_string(port_ + 1), "127.0.0.1:0" + port, "127.0.0.1:", "[::1]",
           "::1:" + port, "[::1]x:" + port, "127.0.0.1:" + port + " x", "user@127.0.0.1:" + port, ""}) {
    EXPECT_EQ(with_host("Host: " + refused + "\r\n"), 403) << "'" << refused << "'";
    // Reads too (a rebound page reads the answers), and public routes and files as well.
    EXPECT_EQ(with_host("Host: " + refused + "\r\n", "/healthz", ""), 403) << "'" << refused << "'";
  }
  EXPECT_EQ(with_host(""), 400);  // none (HTTP/1.1 requires it)
  EXPECT_EQ(with_host("Host: 127.0.0.1:" + port + "\r\nHost: rebound.example:" + port + "\r\n"), 400);
  std::string refused =
      ask(get_request("rebound.example:" + port, "/v1/jobs/j1", kToken, "Connection: close\r\n"));
  EXPECT_EQ(json::parse(body_of(refused))["error"]["code"], "permission_denied") << refused;
  EXPECT_NE(json::parse(body_of(refused))["error"]["message"].get<std::string>().find("rebound.example"),
            std::string::npos);
}

TEST_F(ApiServerTest, OriginWhenSentMustBeThisServersOwn) {
  start();
  std::string port = std::to_string(port_);
  auto with_origin = [&](const std::string& origin_lines, const std::string& host = "") {
    return status_of(ask(get_request(host.empty() ? host_ : host, "/v1/jobs/j1", kToken,
                                     origin_lines + "Connection: close\r\n")));
  };
  EXPECT_EQ(with_origin("Origin: http://127.0.0.1:" + port + "\r\n"), 200);
  EXPECT_EQ(with_origin("Origin: http://localhost:" + port + "\r\n", "localhost:" + port), 200);
  for (const std::string& other : std::vector<std::string>{
           "http://rebound.example:" + port, "http://evil.example", "null", "https://127.0.0.1:" + port,
           "http://localhost:" + port, "http://127.0.0.1:" + std::to_string(port_ + 1), "http://127.0.0.1",
           "http://127.0.0.1:" + port + "/", "file://", ""})
    EXPECT_EQ(with_origin("Origin: " + other + "\r\n"), 403) << "'" << other << "'";
  EXPECT_EQ(with_origin("Origin: http://127.0.0.1:" + port + "\r\nOrigin: http://evil.example\r\n"), 400);
  // The unauthenticated are refused for the Origin too: a page never gets as far as the token.
  EXPECT_EQ(status_of(ask(
                get_request(host_, "/healthz", "", "Origin: http://evil.example\r\nConnection: close\r\n"))),
            403);
}

TEST_F(ApiServerTest, StateChangingRequestsMustBeJson) {
  start();
  std::string body = R"({"name":"web"})";
  auto send = [&](const std::string& method, const std::string& path, const std::string& type_lines,
                  std::string_view token = kToken) {
    std::string req =
        method + " " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n" + type_lines;
    if (!token.empty()) req += "Authorization: Bearer " + std::string(token) + "\r\n";
    return ask(req + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  for (std::string type : std::vector<std::string>{"application/json", "application/json; charset=utf-8",
                                                   "Application/JSON", "application/json ;charset=UTF-8"})
    EXPECT_EQ(status_of(send("POST", "/v1/jobs", "Content-Type: " + type + "\r\n")), 201) << type;
  // What a web page may send cross-origin without asking first (a "simple" request), and others.
  for (std::string type :
       std::vector<std::string>{"text/plain", "text/plain; charset=utf-8",
                                "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                "application/jsonx", "application/json-patch+json", "json", ""}) {
    std::string raw = send("POST", "/v1/jobs", "Content-Type: " + type + "\r\n");
    EXPECT_EQ(status_of(raw), 415) << "'" << type << "' -> " << raw;
    EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "unsupported_media_type");
  }
  EXPECT_EQ(status_of(send("POST", "/v1/jobs", "")), 415);
  EXPECT_EQ(status_of(send("DELETE", "/v1/jobs/j1", "")), 415);
  EXPECT_EQ(status_of(send("DELETE", "/v1/jobs/j1", "Content-Type: application/json\r\n")), 404);
  // Without the token it is 401 whatever the type: nothing to learn about the route.
  EXPECT_EQ(status_of(send("POST", "/v1/jobs", "Content-Type: text/plain\r\n", "")), 401);
}

// --- The front door: every route the daemon registers, reached by other spellings --------

// One route of the daemon's table, read from the file that registers it
// (src/node/src/api_routes.cc, Daemon::Impl::register_routes), so a route added there is
// covered here without editing this test. Building the daemon's table for real needs a
// running daemon (chain, p2p host, runtime); its registration calls are all this test needs.
struct DaemonRoute {
  std::string method;
  std::string pattern;
  bool is_public = false;
};

std::vector<DaemonRoute> daemon_routes() {
  std::ifstream in("src/node/src/api_routes.cc");
  std::stringstream text;
  text << in.rdbuf();
  std::string source = text.str();
  std::vector<DaemonRoute> routes;
  std::regex call(R"re(api_->route(_public)?\(\s*"([A-Z]+)",\s*"([^"]+)")re");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), call); it != std::sregex_iterator(); ++it)
    routes.push_back({(*it)[2].str(), (*it)[3].str(), (*it)[1].matched});
  return routes;
}

// The pattern with every {placeholder} filled: "/v1/jobs/{id}" -> "/v1/jobs/j1".
std::string concrete_path(const std::string& pattern) {
  return std::regex_replace(pattern, std::regex(R"(\{[a-z_]+\})"), "j1");
}

std::string hex_escape(char c, bool upper = true) {
  static constexpr char kUpper[] = "0123456789ABCDEF", kLower[] = "0123456789abcdef";
  const char* digits = upper ? kUpper : kLower;
  auto byte = static_cast<unsigned char>(c);
  return {'%', digits[byte >> 4], digits[byte & 15]};
}

// Other spellings of `path` ("/v1/jobs/j1"): escapes of characters that need none (either
// hex case), double escapes, case changes, doubled and trailing slashes, dot segments (plain
// and escaped), escaped slashes and backslashes, NULs, and the absolute form. Each names
// either the same route in a lax decoder or none at all; none may reach a handler without
// the token.
std::vector<std::string> path_variants(const std::string& path) {
  std::vector<std::string> segments;
  for (std::size_t at = 1; at <= path.size();) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    segments.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  auto join = [](const std::vector<std::string>& parts, const std::string& sep = "/") {
    std::string out;
    for (const std::string& p : parts) out += sep + p;
    return out;
  };
  std::vector<std::string> out;
  for (std::size_t k = 0; k < segments.size(); ++k) {
    const std::string& seg = segments[k];
    auto with = [&](const std::string& replacement) {
      std::vector<std::string> copy = segments;
      copy[k] = replacement;
      return join(copy);
    };
    out.push_back(with(hex_escape(seg[0]) + seg.substr(1)));                      // /%761/jobs
    out.push_back(with(hex_escape(seg[0], false) + seg.substr(1)));               // /%76 lower
    out.push_back(with(seg.substr(0, seg.size() - 1) + hex_escape(seg.back())));  // /v%31/jobs
    out.push_back(with("%25" + hex_escape(seg[0]).substr(1) + seg.substr(1)));    // /%2576 1
    std::string all_escaped;
    for (char c : seg) all_escaped += hex_escape(c);
    out.push_back(with(all_escaped));  // /%76%31
    std::string double_escaped;
    for (char c : seg) double_escaped += "%25" + hex_escape(c).substr(1);
    out.push_back(with(double_escaped));  // /%2576%2531
    std::string upper = seg;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper != seg) out.push_back(with(upper));       // /V1/jobs
    out.push_back(with("." + std::string("/") + seg));  // /./v1
    out.push_back(with("x/../" + seg));                 // /x/../v1
    out.push_back(with(seg + "/../" + seg));            // /v1/../v1
    out.push_back(with("%2e/" + seg));                  // /%2e/v1
    out.push_back(with("%2E%2E/" + seg));               // /%2E%2E/v1
    out.push_back(with("/" + seg));                     // //v1
    out.push_back(with(seg + "%00"));                   // /v1%00
    out.push_back(with(seg + ";"));                     // /v1;
  }
  // The separators themselves, escaped: /v1%2Fjobs, /v1%2fjobs, /v1%5Cjobs.
  for (const char* sep : {"%2F", "%2f", "%5C", "%5c", "%252F"}) {
    std::string joined = segments[0];
    for (std::size_t k = 1; k < segments.size(); ++k) joined += sep + segments[k];
    if (segments.size() > 1) out.push_back("/" + joined);
  }
  out.push_back(path + "/");  // trailing slash
  out.push_back(path + "/.");
  out.push_back(path + "/%00");
  out.push_back("http://127.0.0.1:7600" + path);  // absolute form
  out.push_back("//127.0.0.1:7600" + path);
  return out;
}

TEST(ApiFrontDoorTest, NoSpellingOfADaemonRouteReachesItWithoutTheToken) {
  std::vector<DaemonRoute> table = daemon_routes();
  // The daemon registers at least these; if the registration code changes shape so that
  // nothing is found, this test must fail, not pass vacuously.
  ASSERT_GE(table.size(), 9u) << "could not read the daemon's routes from src/node/src/api_routes.cc";
  boost::asio::io_context io;
  ApiServerConfig config;
  config.token = kToken;
  config.port = 7600;  // not bound: respond_to_bytes checks Host against it
  ApiServer server(io, config);
  std::string ran;  // the route whose handler ran last
  for (const DaemonRoute& r : table) {
    ApiServer::Handler handler = [&ran, r](const ApiRequest&) {
      ran = r.method + " " + r.pattern;
      return ApiResponse::json({{"route-data", ran}});
    };
    if (r.is_public)
      server.route_public(r.method, r.pattern, handler);
    else
      server.route(r.method, r.pattern, handler);
  }
  // The server's table is the daemon's: the same routes, the same public ones.
  std::vector<ApiServer::RouteInfo> routes = server.routes();
  ASSERT_EQ(routes.size(), table.size());
  for (const auto& r : routes) {
    bool listed = std::any_of(table.begin(), table.end(), [&](const DaemonRoute& d) {
      return d.method == r.method && d.pattern == r.pattern && d.is_public == r.is_public;
    });
    EXPECT_TRUE(listed) << r.method << " " << r.pattern;
  }
  auto request = [](const std::string& method, const std::string& target, bool with_token) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:7600\r\nConnection: close\r\n";
    if (with_token) req += "Authorization: Bearer " + std::string(kToken) + "\r\n";
    if (method != "GET" && method != "HEAD")
      req += "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    else
      req += "\r\n";
    return req;
  };
  int checked = 0;
  for (const auto& r : routes) {
    std::string path = concrete_path(r.pattern);
    // The route is real: with the token its handler runs, without it only a public one does.
    ran.clear();
    std::string with_token = server.respond_to_bytes(request(r.method, path, true));
    EXPECT_EQ(status_of(with_token), 200) << r.method << " " << path << " -> " << with_token;
    EXPECT_EQ(ran, r.method + " " + r.pattern);
    ran.clear();
    std::string without = server.respond_to_bytes(request(r.method, path, false));
    EXPECT_EQ(status_of(without), r.is_public ? 200 : 401) << r.method << " " << path << " -> " << without;
    for (const std::string& variant : path_variants(path)) {
      ran.clear();
      std::string raw = server.respond_to_bytes(request(r.method, variant, false));
      int status = status_of(raw);
      EXPECT_TRUE(status == 400 || status == 401) << r.method << " " << variant << " -> " << raw;
      EXPECT_EQ(ran, "") << r.method << " " << variant << " reached a handler without the token";
      EXPECT_EQ(raw.find("route-data"), std::string::npos) << r.method << " " << variant;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

// --- The connection cap: silent connections must not lock anybody out ----------------------

// Opens `n` connections that never send a byte, then asks for a job with the token on a new
// one. The server's read deadline is a minute, so an answer cannot come from the silent ones
// timing out; the client's own 10 s read limit only keeps a failure from hanging.
void expect_answer_despite_silent_connections(std::uint16_t port, std::size_t n) {
  std::string host = "127.0.0.1:" + std::to_string(port);
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (std::size_t i = 0; i < n; ++i) {
    silent.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(silent.back()->connected()) << i;
  }
  RawConnection client(port, 10000);
  ASSERT_TRUE(client.send(get_request(host, "/v1/jobs/mine", kToken, "Connection: close\r\n")));
  std::string raw;
  client.read_to_close(&raw);
  EXPECT_EQ(status_of(raw), 200) << "a client was locked out by " << n << " silent connections: '" << raw
                                 << "'";
  EXPECT_NE(raw.find("\"id\":\"mine\""), std::string::npos);
}

TEST_F(ApiServerTest, SilentConnectionsFillingTheCapDoNotLockOutAClient) {
  config_.max_connections = 16;
  config_.io_timeout = std::chrono::seconds(60);
  config_.crowded_request_timeout = std::chrono::seconds(60);
  start();
  expect_answer_despite_silent_connections(port_, 16);
}

TEST_F(ApiServerTest, SilentConnectionsFillingTheDefaultCapDoNotLockOutAClient) {
  config_.io_timeout = std::chrono::seconds(60);
  config_.crowded_request_timeout = std::chrono::seconds(60);
  start();
  expect_answer_despite_silent_connections(port_, config_.max_connections);
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
