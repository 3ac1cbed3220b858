#include "veil/node/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <variant>

namespace veil::node {
namespace {

[[noreturn]] void misuse(const std::string& metric, const std::string& what) {
  std::fprintf(stderr, "veil metrics: %s: %s\n", metric.c_str(), what.c_str());
  std::abort();
}

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Prometheus reads Go float syntax: the shortest round-trip decimal works, with the three
// special values spelled its way.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out.push_back(c);
  }
  return out;
}

// {a="x",b="y"} with an optional extra pair (le for buckets); "" when there are no labels.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + escape(values[i], true) + "\"";
  if (!extra_name.empty())
    out += (out.empty() ? "" : ",") + std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // also rejects NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::erase_if(bounds_, [](double b) { return !std::isfinite(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double value) {
  std::size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_seconds_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

template <typename Metric>
Metric& MetricFamily<Metric>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size())
    misuse(name_, "expected " + std::to_string(label_names_.size()) + " label values, got " +
                      std::to_string(label_values.size()));
  std::lock_guard lock(mutex_);
  auto& slot = series_[label_values];
  if (!slot) {
    if constexpr (std::is_same_v<Metric, Histogram>) slot = std::make_unique<Histogram>(bounds_);
    else slot = std::make_unique<Metric>();
  }
  return *slot;
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

struct MetricsRegistry::Families {
  using Any = std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>,
                           std::unique_ptr<HistogramFamily>>;
  std::mutex mutex;
  std::map<std::string, Any> by_name;  // sorted, which is the render order
  std::vector<std::function<void()>> collectors;

  template <typename Metric>
  MetricFamily<Metric>& get(const std::string& name, const std::string& help,
                            const std::vector<std::string>& label_names, std::vector<double> bounds) {
    if (!valid_name(name, true)) misuse(name, "not a valid metric name");
    for (const std::string& label : label_names) {
      if (!valid_name(label, false) || label.starts_with("__"))
        misuse(name, "'" + label + "' is not a valid label name");
      if (std::is_same_v<Metric, Histogram> && label == "le")
        misuse(name, "'le' is reserved for histogram buckets");
    }
    std::lock_guard lock(mutex);
    auto it = by_name.find(name);
    if (it != by_name.end()) {
      auto* existing = std::get_if<std::unique_ptr<MetricFamily<Metric>>>(&it->second);
      if (existing == nullptr || (*existing)->label_names_ != label_names)
        misuse(name, "registered twice with a different kind or label names");
      return **existing;
    }
    auto family = std::make_unique<MetricFamily<Metric>>();
    family->name_ = name;
    family->help_ = help;
    family->label_names_ = label_names;
    family->bounds_ = std::move(bounds);
    auto& ref = *family;
    by_name.emplace(name, std::move(family));
    return ref;
  }
};

MetricsRegistry::MetricsRegistry() : families_(std::make_unique<Families>()) {}
MetricsRegistry::~MetricsRegistry() = default;

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& label_names) {
  return families_->get<Counter>(name, help, label_names, {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& label_names) {
  return families_->get<Gauge>(name, help, label_names, {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& label_names,
                                            std::vector<double> bounds) {
  return families_->get<Histogram>(name, help, label_names, std::move(bounds));
}

void MetricsRegistry::on_collect(std::function<void()> collector) {
  std::lock_guard lock(families_->mutex);
  families_->collectors.push_back(std::move(collector));
}

namespace {

template <typename Metric>
void render_family(const std::string& name, const std::string& help,
                   const std::vector<std::string>& labels,
                   const std::map<std::vector<std::string>, std::unique_ptr<Metric>>& series,
                   std::string& out) {
  constexpr const char* kType = std::is_same_v<Metric, Counter> ? "counter"
                                : std::is_same_v<Metric, Gauge> ? "gauge"
                                                                : "histogram";
  out += "# HELP " + name + " " + escape(help, false) + "\n";
  out += "# TYPE " + name + " " + kType + "\n";
  for (const auto& [values, metric] : series) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      Histogram::Snapshot snap = metric->snapshot();
      const std::vector<double>& bounds = metric->bounds();
      for (std::size_t i = 0; i < bounds.size(); ++i)
        out += name + "_bucket" + label_set(labels, values, "le", format_value(bounds[i])) + " " +
               std::to_string(snap.cumulative[i]) + "\n";
      out += name + "_bucket" + label_set(labels, values, "le", "+Inf") + " " +
             std::to_string(snap.cumulative.back()) + "\n";
      out += name + "_sum" + label_set(labels, values) + " " + format_value(snap.sum) + "\n";
      out += name + "_count" + label_set(labels, values) + " " + std::to_string(snap.cumulative.back()) + "\n";
    } else {
      out += name + label_set(labels, values) + " " + format_value(metric->value()) + "\n";
    }
  }
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(families_->mutex);
    collectors = families_->collectors;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  std::lock_guard lock(families_->mutex);
  for (const auto& [name, any] : families_->by_name) {
    std::visit(
        [&](const auto& family) {
          std::lock_guard series_lock(family->mutex_);
          render_family<typename std::decay_t<decltype(*family)>::MetricType>(family->name_, family->help_, family->label_names_, family->series_, out);
        },
        any);
  }
  return out;
}

}  // namespace veil::node
