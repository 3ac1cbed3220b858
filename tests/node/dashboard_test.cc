// The dashboard (web/) rendered by a real browser: the ApiServer serves web/ and fixture
// answers for the API endpoints (the shapes of docs/node-api.md); headless Chromium loads
// it with the token in the URL fragment, runs the scripts and dumps the DOM, which must show
// the fixture's nodes, jobs, placement, anchor and the lying scheduler.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "veil/node/api_server.h"

namespace veil::node {
namespace {

using nlohmann::json;

constexpr char kToken[] = "dashboard-test-token-5b1e";
constexpr char kSelf[] = "12D3KooWSelfNodeAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kPeerB[] = "12D3KooWPeerBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr char kPeerC[] = "12D3KooWPeerCcccccccccccccccccccccccccccccccccccccc";
constexpr char kLiar[] = "12D3KooWLiarDdddddddddddddddddddddddddddddddddddddd";
constexpr char kAnchorTx[] = "0x5eed00000000000000000000000000000000000000000000000000000000a11c";

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string command = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(command.c_str()) == 0) return name;
  }
  return "";
}

// Runs `command` and returns its standard output.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  ::pclose(pipe);
  return out;
}

json fixture_status() {
  return {{"node", {{"peer_id", kSelf}, {"operator", "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"},
                    {"version", "0.1.0-test"}, {"uptime_s", 3725}, {"driver", "process"}}},
          {"cluster", {{"contract", "0x5fbdb2315678afecb367f032d93f642f64180aa3"}, {"chain_id", 31337},
                       {"committee", {{"threshold", 2}, {"members", {kSelf, kPeerB, kPeerC}}}}}}};
}

json fixture_nodes() {
  auto node = [](const char* id, const char* state, bool self) {
    return json{{"peer_id", id}, {"state", state}, {"incarnation", 3}, {"registered", true},
                {"operator", "0xoperator"}, {"addrs", {std::string("/ip4/127.0.0.1/tcp/4001/p2p/") + id}},
                {"self", self}};
  };
  return {node(kSelf, "alive", true), node(kPeerB, "alive", false), node(kPeerC, "dead", false),
          node(kLiar, "suspect", false)};
}

json fixture_job(bool detail) {
  json job = {{"id", "9f2c4e"},
              {"name", "web-frontend"},
              {"replicas", 2},
              {"state", "running"},
              {"submitted_at", 1764000000000},
              {"placement", {{{"replica", 0}, {"node", kSelf}, {"state", "running"}, {"endpoint", "127.0.0.1:18080"}},
                             {{"replica", 1}, {"node", kPeerB}, {"state", "running"}, {"endpoint", "127.0.0.1:18081"}}}},
              {"anchor", {{"tx", kAnchorTx}, {"block", 42}}},
              {"warnings", {std::string("scheduler ") + kLiar + " published a different decision; ignored"}}};
  if (detail) {
    job["decisions"] = {{{"scheduler", kPeerB}, {"hash", "0xagreedhash"}, {"agreed", true}},
                        {{"scheduler", kPeerC}, {"hash", "0xagreedhash"}, {"agreed", true}},
                        {{"scheduler", kLiar}, {"hash", "0xbadbadhash"}, {"agreed", false}}};
    job["events"] = {{{"at", 1764000000000}, {"message", "submitted"}},
                     {{"at", 1764000003000}, {"message", "anchored"}}};
  }
  return job;
}

json fixture_pending_job() {
  return {{"id", "77aa01"}, {"name", "batch-report"}, {"replicas", 1}, {"state", "decrypting"},
          {"submitted_at", 1764000100000}, {"placement", json::array()}, {"anchor", nullptr},
          {"warnings", json::array()}};
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty())
      GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it: apt-get install chromium); "
                      "the dashboard was not rendered";
    ASSERT_TRUE(std::filesystem::exists("web/index.html")) << "run from the source root (ctest does)";
    ApiServerConfig config;
    config.token = kToken;
    config.static_dir = "web";
    server_ = std::make_unique<ApiServer>(io_, config);
    server_->route("GET", "/v1/status", [](const ApiRequest&) { return ApiResponse::json(fixture_status()); });
    server_->route("GET", "/v1/nodes", [](const ApiRequest&) { return ApiResponse::json(fixture_nodes()); });
    server_->route("GET", "/v1/jobs", [](const ApiRequest&) {
      return ApiResponse::json({fixture_job(false), fixture_pending_job()});
    });
    server_->route("GET", "/v1/jobs/{id}", [](const ApiRequest& r) {
      if (r.params.at("id") == "9f2c4e") return ApiResponse::json(fixture_job(true));
      json pending = fixture_pending_job();
      pending["decisions"] = json::array();
      pending["events"] = json::array();
      return ApiResponse::json(pending);
    });
    ASSERT_TRUE(server_->start().ok());
    thread_ = std::thread([this] { io_.run(); });
    profile_ = std::filesystem::temp_directory_path() / ("veil-dashboard-" + std::to_string(::getpid()));
  }

  void TearDown() override {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
      server_->stop();
    }
    std::filesystem::remove_all(profile_);
  }

  // The DOM after the page's scripts ran for up to 5 s of virtual time.
  std::string render(const std::string& fragment) {
    std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/" + fragment;
    std::string command = "timeout 90 " + chromium_ +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                          " --user-data-dir=" + profile_.string() +
                          " --dump-dom --virtual-time-budget=5000 '" + url + "' 2>" + profile_.string() + ".log";
    std::string dom = run(command);
    if (dom.empty()) ADD_FAILURE() << "chromium printed nothing; its log: " << run("cat " + profile_.string() + ".log");
    std::filesystem::remove(profile_.string() + ".log");
    // VEIL_DASHBOARD_DUMP=1 prints the rendered DOM, to see what the browser saw.
    if (std::getenv("VEIL_DASHBOARD_DUMP")) std::fprintf(stderr, "%s\n", dom.c_str());
    return dom;
  }

  std::string chromium_;
  boost::asio::io_context io_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::filesystem::path profile_;
};

TEST_F(DashboardTest, ShowsNodesJobsPlacementAnchorAndTheLyingScheduler) {
  std::string dom = render(std::string("#token=") + kToken);
  for (const char* id : {kSelf, kPeerB, kPeerC, kLiar})
    EXPECT_NE(dom.find(std::string("data-peer=\"") + id + "\""), std::string::npos) << id << "\n" << dom;
  EXPECT_NE(dom.find("web-frontend"), std::string::npos) << dom;
  EXPECT_NE(dom.find("batch-report"), std::string::npos);
  EXPECT_NE(dom.find("127.0.0.1:18081"), std::string::npos) << "placement endpoint missing";
  EXPECT_NE(dom.find(kAnchorTx), std::string::npos) << "anchor transaction missing";
  EXPECT_NE(dom.find("(block 42)"), std::string::npos);
  EXPECT_NE(dom.find("2 of 3"), std::string::npos) << "committee threshold missing";
  // The lying scheduler is named in its own table (and in the job's warning).
  std::size_t liars = dom.find("id=\"liars\"");
  ASSERT_NE(liars, std::string::npos);
  std::string liars_table = dom.substr(liars, dom.find("</table>", liars) - liars);
  EXPECT_NE(liars_table.find(kLiar), std::string::npos) << liars_table;
  EXPECT_NE(liars_table.find("lied"), std::string::npos);
  EXPECT_EQ(liars_table.find(kPeerB), std::string::npos) << "an honest scheduler was listed as lying";
  EXPECT_NE(dom.find("published a different decision"), std::string::npos);
  EXPECT_EQ(dom.find("<section class=\"card\" id=\"liars-card\" hidden"), std::string::npos);
  EXPECT_EQ(dom.find("the API token was refused"), std::string::npos);
}

TEST_F(DashboardTest, AJobInTheFragmentShowsItsDecisionsWithTheLiarMarked) {
  std::string dom = render(std::string("#token=") + kToken + "&job=9f2c4e");
  std::size_t at = dom.find("id=\"decisions\"");
  ASSERT_NE(at, std::string::npos) << dom;
  std::string decisions = dom.substr(at, dom.find("</table>", at) - at);
  // Three rows: two agreed, the liar's marked as differing.
  std::size_t liar_row = decisions.find(kLiar);
  ASSERT_NE(liar_row, std::string::npos) << decisions;
  EXPECT_NE(decisions.find("DIFFERS: ignored", liar_row), std::string::npos) << decisions;
  EXPECT_EQ(decisions.find("DIFFERS: ignored"), decisions.rfind("DIFFERS: ignored")) << "only the liar differs";
  EXPECT_NE(decisions.find(kPeerB), std::string::npos);
  EXPECT_NE(dom.find("anchored</li>"), std::string::npos) << "events missing";
  EXPECT_EQ(dom.find("<section class=\"card\" id=\"job-detail\" hidden"), std::string::npos);
}

TEST_F(DashboardTest, AWrongTokenShowsTheTokenForm) {
  std::string dom = render("#token=not-the-token");
  EXPECT_NE(dom.find("the API token was refused"), std::string::npos) << dom;
  EXPECT_EQ(dom.find("web-frontend"), std::string::npos) << "data shown without a valid token";
  EXPECT_NE(dom.find("<main id=\"main\" hidden"), std::string::npos);
}

}  // namespace
}  // namespace veil::node
