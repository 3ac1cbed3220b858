// The registry's exposition text, byte for byte, and its behaviour under concurrent updates.
#include "veil/node/metrics.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace veil::node {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInTextFormat004) {
  MetricsRegistry registry;
  auto& requests = registry.counter("veil_api_requests_total", "API requests answered.", {"route", "code"});
  requests.with({"/v1/jobs", "200"}).inc();
  requests.with({"/v1/jobs", "200"}).inc(2);
  requests.with({"/v1/jobs/{id}", "404"}).inc();
  registry.gauge("veil_swim_members", "Cluster members by SWIM state.", {"state"}).with({"alive"}).set(3);
  registry.gauge("veil_uptime_seconds", "Seconds since the node started.").with({}).set(12.5);
  auto& latency = registry.histogram("veil_sched_evaluation_seconds", "Time to evaluate a placement.",
                                     {"scheduler"}, {0.5, 1, 2.5});
  latency.with({"s1"}).observe(0.25);
  latency.with({"s1"}).observe(1);     // le is inclusive: counted in the 1 bucket
  latency.with({"s1"}).observe(7.75);  // only in +Inf
  registry.counter("veil_jobs_submitted_total", "Jobs submitted through this node.");  // no series yet

  EXPECT_EQ(registry.render(),
            "# HELP veil_api_requests_total API requests answered.\n"
            "# TYPE veil_api_requests_total counter\n"
            "veil_api_requests_total{route=\"/v1/jobs\",code=\"200\"} 3\n"
            "veil_api_requests_total{route=\"/v1/jobs/{id}\",code=\"404\"} 1\n"
            "# HELP veil_jobs_submitted_total Jobs submitted through this node.\n"
            "# TYPE veil_jobs_submitted_total counter\n"
            "# HELP veil_sched_evaluation_seconds Time to evaluate a placement.\n"
            "# TYPE veil_sched_evaluation_seconds histogram\n"
            "veil_sched_evaluation_seconds_bucket{scheduler=\"s1\",le=\"0.5\"} 1\n"
            "veil_sched_evaluation_seconds_bucket{scheduler=\"s1\",le=\"1\"} 2\n"
            "veil_sched_evaluation_seconds_bucket{scheduler=\"s1\",le=\"2.5\"} 2\n"
            "veil_sched_evaluation_seconds_bucket{scheduler=\"s1\",le=\"+Inf\"} 3\n"
            "veil_sched_evaluation_seconds_sum{scheduler=\"s1\"} 9\n"
            "veil_sched_evaluation_seconds_count{scheduler=\"s1\"} 3\n"
            "# HELP veil_swim_members Cluster members by SWIM state.\n"
            "# TYPE veil_swim_members gauge\n"
            "veil_swim_members{state=\"alive\"} 3\n"
            "# HELP veil_uptime_seconds Seconds since the node started.\n"
            "# TYPE veil_uptime_seconds gauge\n"
            "veil_uptime_seconds 12.5\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelpText) {
  MetricsRegistry registry;
  registry.gauge("veil_x", "Line one\nback\\slash \"quotes\" stay.", {"path"})
      .with({"a\"b\\c\nd"})
      .set(-0.001);
  EXPECT_EQ(registry.render(),
            "# HELP veil_x Line one\\nback\\\\slash \"quotes\" stay.\n"
            "# TYPE veil_x gauge\n"
            "veil_x{path=\"a\\\"b\\\\c\\nd\"} -0.001\n");
}

TEST(MetricsTest, SpecialValuesAndCounterMonotonicity) {
  MetricsRegistry registry;
  auto& g = registry.gauge("veil_g", "g", {"k"});
  g.with({"inf"}).set(INFINITY);
  g.with({"minf"}).set(-INFINITY);
  g.with({"nan"}).set(NAN);
  g.with({"big"}).set(1e21);
  auto& c = registry.counter("veil_c", "c").with({});
  c.inc(5);
  c.inc(-3);   // ignored
  c.inc(NAN);  // ignored
  EXPECT_EQ(c.value(), 5);
  std::string text = registry.render();
  EXPECT_NE(text.find("veil_g{k=\"inf\"} +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("veil_g{k=\"minf\"} -Inf\n"), std::string::npos);
  EXPECT_NE(text.find("veil_g{k=\"nan\"} NaN\n"), std::string::npos);
  EXPECT_NE(text.find("veil_g{k=\"big\"} 1e+21\n"), std::string::npos);
  EXPECT_NE(text.find("veil_c 5\n"), std::string::npos);
}

TEST(MetricsTest, RegisteringAgainReturnsTheSameFamily) {
  MetricsRegistry registry;
  auto& a = registry.counter("veil_n_total", "n", {"x"});
  auto& b = registry.counter("veil_n_total", "n", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"1"}), &b.with({"1"}));
}

TEST(MetricsTest, HistogramBoundsAreSortedAndDeduplicated) {
  Histogram h({2, 1, 2, INFINITY, NAN});
  EXPECT_EQ(h.bounds(), (std::vector<double>{1, 2}));
  h.observe(1.5);
  EXPECT_EQ(h.snapshot().cumulative, (std::vector<std::uint64_t>{0, 1, 1}));
}

TEST(MetricsTest, CollectorsRunBeforeRendering) {
  MetricsRegistry registry;
  int jobs = 0;
  registry.on_collect([&] { registry.gauge("veil_jobs", "Jobs known.").with({}).set(++jobs); });
  EXPECT_NE(registry.render().find("veil_jobs 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("veil_jobs 2\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  auto& family = registry.counter("veil_hits_total", "hits", {"worker"});
  auto& hist = registry.histogram("veil_h", "h", {}, {1});
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        family.with({"shared"}).inc();
        family.with({std::to_string(t)}).inc();
        hist.with({}).observe(i % 2);
        if (i % 1000 == 0) (void)registry.render();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(family.with({"shared"}).value(), kThreads * kEach);
  EXPECT_EQ(family.with({"2"}).value(), kEach);
  auto snap = hist.with({}).snapshot();
  EXPECT_EQ(snap.cumulative.back(), static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(snap.sum, kThreads * kEach / 2);
}

// Prometheus's own parser and linter (promtool, from Debian's prometheus package) accepts
// the text, special values and escapes included. Skipped where promtool is absent; the exact
// text is pinned by the tests above either way.
TEST(MetricsTest, PromtoolAcceptsTheText) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool is not installed (apt-get install prometheus provides it; setup.sh leaves it out "
                    "because the package enables a Prometheus server on all interfaces)";
  MetricsRegistry registry;
  registry.counter("veil_api_requests_total", "API requests answered.", {"route", "code"})
      .with({"/v1/jobs/{id}", "200"})
      .inc(3);
  registry.gauge("veil_x", "Line one\nback\\slash \"q\".", {"path"}).with({"a\"b\\c\nd"}).set(-0.001);
  registry.gauge("veil_inf", "An infinite gauge.").with({}).set(INFINITY);
  registry.gauge("veil_nan", "A NaN gauge.").with({}).set(NAN);
  auto& latency = registry.histogram("veil_api_request_duration_seconds", "Time to answer.", {"route"});
  latency.with({"static"}).observe(0.003);
  latency.with({"static"}).observe(12);
  registry.counter("veil_empty_total", "A family without series.");
  std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("veil-metrics-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << registry.render();
  std::string command = "promtool check metrics < " + file.string() + " 2>&1";
  int rc = std::system(command.c_str());
  std::filesystem::remove(file);
  EXPECT_EQ(rc, 0) << "promtool rejected:\n" << registry.render();
}

TEST(MetricsDeathTest, MisuseAbortsNamingTheMetric) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.counter("bad-name", "x"), "bad-name");
  EXPECT_DEATH(registry.counter("veil_l", "x", {"__reserved"}), "veil_l");
  EXPECT_DEATH(registry.histogram("veil_h", "x", {"le"}), "reserved");
  registry.counter("veil_twice", "x");
  EXPECT_DEATH(registry.gauge("veil_twice", "x"), "registered twice");
  auto& family = registry.counter("veil_two_labels", "x", {"a", "b"});
  EXPECT_DEATH(family.with({"only one"}), "expected 2 label values");
}

}  // namespace
}  // namespace veil::node
