// The CLI's API client against a closed port, a silent listener and the real ApiServer; and
// the token file helpers.
#include "veil/node/api_client.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "veil/node/api_server.h"

namespace veil::node {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

// A port on which nothing listens: bound by a throwaway acceptor, then released.
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

TEST(ApiClientTest, ClosedPortSaysTheNodeIsNotRunning) {
  std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  ApiClient client(url, "t");
  auto result = client.get("/v1/status");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("no veil node answers at " + url +
                                           ": is `veil node run` running? (set --api or VEIL_API_ADDR)"),
            std::string::npos)
      << result.status().to_string();
}

TEST(ApiClientTest, SilentListenerTimesOut) {
  // The kernel completes the handshake from the backlog; nobody ever reads or answers.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  ApiClient client("127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()), "t",
                   std::chrono::milliseconds(300));
  EXPECT_EQ(client.base_url().substr(0, 7), "http://");
  auto result = client.get("/v1/status");
  EXPECT_EQ(result.status().code(), StatusCode::kDeadlineExceeded) << result.status().to_string();
}

TEST(ApiClientTest, BadAddressesAreInvalidArguments) {
  for (std::string url : {"http://:80", "http://host", "http://host:port", "ftp://host:1", "http://[::1:80"}) {
    auto result = ApiClient(url, "").get("/v1/status");
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << url << ": " << result.status().to_string();
  }
  EXPECT_EQ(ApiClient("https://h:1", "").get("/x").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(ApiClient("http://127.0.0.1:1", "").get("no-slash").status().code(), StatusCode::kInvalidArgument);
}

class ApiClientServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiServerConfig config;
    config.token = "right-token";
    server_ = std::make_unique<ApiServer>(io_, config);
    server_->route("GET", "/v1/status", [](const ApiRequest&) {
      return ApiResponse::json({{"node", {{"peer_id", "12D3KooWTest"}}}});
    });
    server_->route("POST", "/v1/jobs", [](const ApiRequest& r) {
      return ApiResponse::json({{"received", json::parse(r.body)}}, 201);
    });
    server_->route("DELETE", "/v1/jobs/{id}", [](const ApiRequest& r) {
      if (r.params.at("id") == "busy") return ApiResponse::from_status(failed_precondition("job busy is still placing"));
      return ApiResponse{204, "application/json", ""};
    });
    server_->route("GET", "/v1/text", [](const ApiRequest&) { return ApiResponse{200, "text/plain", "not json"}; });
    server_->route("GET", "/v1/html-error", [](const ApiRequest&) { return ApiResponse{502, "text/html", "<h1>bad gateway</h1>"}; });
    ASSERT_TRUE(server_->start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    thread_.join();
    server_->stop();
  }

  asio::io_context io_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::string url_;
};

TEST_F(ApiClientServerTest, GetPostDeleteRoundTrip) {
  ApiClient client(url_, "right-token");
  auto status = client.get("/v1/status");
  ASSERT_TRUE(status.ok()) << status.status().to_string();
  EXPECT_EQ((*status)["node"]["peer_id"], "12D3KooWTest");
  auto posted = client.post("/v1/jobs", {{"name", "web"}, {"replicas", 2}});
  ASSERT_TRUE(posted.ok()) << posted.status().to_string();
  EXPECT_EQ((*posted)["received"]["replicas"], 2);
  auto deleted = client.del("/v1/jobs/j1");
  ASSERT_TRUE(deleted.ok()) << deleted.status().to_string();
  EXPECT_TRUE(deleted->is_null());
  auto health = ApiClient(url_, "").get_text("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(json::parse(*health)["ok"], true);
}

TEST_F(ApiClientServerTest, ANameForTheServerStillReachesIt) {
  // The server refuses Host names other than localhost; the client names the address it
  // connected to, so any name that leads there works.
  std::string port = std::to_string(server_->port());
  for (const std::string& url : std::vector<std::string>{"http://localhost:" + port, "localhost:" + port,
                                                         "http://127.0.0.1:" + port + "/"}) {
    auto status = ApiClient(url, "right-token").get("/v1/status");
    EXPECT_TRUE(status.ok()) << url << ": " << status.status().to_string();
    auto deleted = ApiClient(url, "right-token").del("/v1/jobs/j1");
    EXPECT_TRUE(deleted.ok()) << url << ": " << deleted.status().to_string();
  }
}

TEST_F(ApiClientServerTest, ErrorsCarryTheServersMessage) {
  ApiClient client(url_, "right-token");
  auto refused = ApiClient(url_, "wrong-token").get("/v1/status");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("the API token was refused"), std::string::npos);
  EXPECT_NE(refused.status().message().find("VEIL_API_TOKEN or <data_dir>/api.token"), std::string::npos);
  auto busy = client.del("/v1/jobs/busy");
  EXPECT_EQ(busy.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(busy.status().message().find("job busy is still placing"), std::string::npos) << busy.status().to_string();
  auto missing = client.get("/v1/nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no such endpoint"), std::string::npos);
  auto not_json = client.get("/v1/text");
  EXPECT_EQ(not_json.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(client.get_text("/v1/text").value_or(""), "not json");
  auto html = client.get("/v1/html-error");
  EXPECT_EQ(html.status().code(), StatusCode::kInternal);
  EXPECT_NE(html.status().message().find("HTTP 502: <h1>bad gateway</h1>"), std::string::npos);
}

class ApiTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("veil-token-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ApiTokenTest, EnsureCreatesAPrivateRandomTokenOnce) {
  std::string data_dir = (dir_ / "data").string();
  auto missing = load_api_token(data_dir);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("veil node run"), std::string::npos);

  auto token = ensure_api_token(data_dir);
  ASSERT_TRUE(token.ok()) << token.status().to_string();
  EXPECT_EQ(token->size(), 64u);
  EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(api_token_path(data_dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  EXPECT_EQ(ensure_api_token(data_dir).value_or(""), *token);
  EXPECT_EQ(load_api_token(data_dir).value_or(""), *token);
  auto other = ensure_api_token((dir_ / "other").string());
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *token);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(data_dir), {}), 1) << "temporary file left behind";
}

TEST_F(ApiTokenTest, LoadTrimsWhitespaceAndRejectsEmptyFiles) {
  std::filesystem::create_directories(dir_);
  std::ofstream(api_token_path(dir_.string())) << "  abc123 \n";
  EXPECT_EQ(load_api_token(dir_.string()).value_or(""), "abc123");
  std::ofstream(api_token_path(dir_.string()), std::ios::trunc) << "\n";
  EXPECT_EQ(load_api_token(dir_.string()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ApiTokenTest, ConcurrentCreatorsAgree) {
  std::string data_dir = dir_.string();
  std::vector<std::string> tokens(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    threads.emplace_back([&, i] { tokens[i] = ensure_api_token(data_dir).value_or("error"); });
  for (auto& t : threads) t.join();
  for (const std::string& t : tokens) EXPECT_EQ(t, tokens[0]);
  EXPECT_EQ(tokens[0].size(), 64u);
}

}  // namespace
}  // namespace veil::node
