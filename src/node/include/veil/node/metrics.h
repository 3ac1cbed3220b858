// A small metrics registry — counters, gauges and histograms, each a family of series told
// apart by label values — rendered in the Prometheus text exposition format 0.0.4, which the
// node serves at GET /metrics.
//
//   MetricsRegistry registry;
//   auto& requests = registry.counter("veil_api_requests_total", "API requests answered.",
//                                     {"route", "code"});
//   requests.with({"/v1/jobs", "200"}).inc();
//   auto& members = registry.gauge("veil_swim_members", "Members by SWIM state.", {"state"});
//   members.with({"alive"}).set(3);
//   std::string text = registry.render();
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* without a
// leading "__" ("le" is reserved for histogram buckets). Metric and label names are chosen
// by the program, not by input, so a bad name, registering one name twice with a different
// kind or label names, or passing the wrong number of label values is a programming error:
// it aborts with a message naming the metric. Label values are arbitrary UTF-8.
//
// Thread safety: everything may be used from any thread. Updates to a series are lock-free
// atomics; creating a series and rendering take the family's mutex. References returned by
// counter()/gauge()/histogram() and with() stay valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace veil::node {

// A value that only goes up (requests served, bytes sent). Starts at 0.
class Counter {
 public:
  // Adds `amount`; a negative or NaN amount is ignored (counters never go down).
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (members alive, free memory). Starts at 0.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets with upper bounds `bounds` plus +Inf, and keeps their
// sum. The bounds are sorted and deduplicated; infinite or NaN bounds are dropped (+Inf is
// always the last bucket).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  // Counts `value` in the first bucket whose bound is >= value (le = "less or equal").
  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

// Buckets for durations in seconds, 5 ms to 60 s.
std::vector<double> default_seconds_buckets();

// All series of one metric name. `with` finds or creates the series for the label values,
// given in the order of the label names the family was registered with.
template <typename Metric>
class MetricFamily {
 public:
  using MetricType = Metric;
  Metric& with(const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family, or returns the one already registered under `name` (same kind and
  // label names; anything else aborts, see above).
  CounterFamily& counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names = {},
                             std::vector<double> bounds = default_seconds_buckets());

  // Adds a function run at the start of every render(), to refresh gauges that are cheaper
  // to read when scraped (members by state, jobs by state). It runs on the rendering thread
  // without the registry's locks held, so it may call counter()/gauge()/with().
  void on_collect(std::function<void()> collector);

  // The whole registry in text format 0.0.4: families sorted by name, each with its HELP and
  // TYPE lines, series sorted by label values; a family with no series yet prints only its
  // HELP and TYPE lines. Serve it with content type kContentType.
  std::string render() const;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace veil::node
