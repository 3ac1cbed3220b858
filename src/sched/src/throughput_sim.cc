#include "veil/sched/throughput_sim.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

namespace veil::sched {
namespace {

constexpr int kBisectionSteps = 24;
// Latencies are differences of arrival times that grow large (sums of gaps, in ms): a round
// served at once can come out some ulps of the clock over its service time, and must still
// meet a bound of exactly that time. 1e-6 is a microsecond a second.
constexpr double kBoundSlack = 1 + 1e-6;

Status validate(const ThroughputSimOptions& o) {
  if (o.nodes < 1 || o.nodes > 1'000'000) return invalid_argument("nodes: use 1 to 1000000");
  if (o.schedulers < 1 || o.schedulers > o.nodes) {
    return invalid_argument("schedulers: use 1 to the number of nodes (" + std::to_string(o.nodes) + ")");
  }
  if (o.service_ms.empty()) return invalid_argument("service_ms: give at least one service time");
  if (std::any_of(o.service_ms.begin(), o.service_ms.end(),
                  [](double s) { return !(s > 0) || !std::isfinite(s); })) {
    return invalid_argument("service_ms: every service time must be a positive number of ms");
  }
  if (!(o.placements_per_min > 0) || !std::isfinite(o.placements_per_min)) {
    return invalid_argument("placements_per_min: the arrival rate must be positive");
  }
  if (o.rounds != 0 && (o.rounds < 100 || o.rounds > 10'000'000)) {
    return invalid_argument("rounds: use 100 to 10000000, or 0 for the automatic count");
  }
  return Status::ok_status();
}

std::size_t rounds_to_simulate(const ThroughputSimOptions& o) {
  if (o.rounds != 0) return o.rounds;
  return std::min<std::size_t>(10'000'000, std::max<std::size_t>(20'000, 2'000 * o.nodes / o.schedulers));
}

double mean_service_ms(const ThroughputSimOptions& o) {
  return std::accumulate(o.service_ms.begin(), o.service_ms.end(), 0.0) /
         static_cast<double>(o.service_ms.size());
}

// K distinct nodes, uniformly: rejection of repeats (K is small against M in practice, and
// at K = M the expected number of draws is still only M·H(M)).
void choose_schedulers(std::mt19937_64& rng, std::size_t nodes, std::size_t k,
                       std::vector<std::size_t>& chosen) {
  std::uniform_int_distribution<std::size_t> node(0, nodes - 1);
  chosen.clear();
  while (chosen.size() < k) {
    const std::size_t n = node(rng);
    if (std::find(chosen.begin(), chosen.end(), n) == chosen.end()) chosen.push_back(n);
  }
}

}  // namespace

double nearest_rank_percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

Result<ThroughputSimReport> simulate_rounds(const ThroughputSimOptions& options) {
  VEIL_RETURN_IF_ERROR(validate(options));
  const std::size_t rounds = rounds_to_simulate(options);
  const std::size_t warmup = rounds / 10;
  const double mean_gap_ms = 60'000.0 / options.placements_per_min;

  ThroughputSimReport report;
  report.quorum = options.schedulers / 2 + 1;
  // The draws below happen in the same order whatever the rate: only the gaps are scaled.
  std::mt19937_64 rng(options.seed);
  std::exponential_distribution<double> unit_gap(1.0);
  std::uniform_int_distribution<std::size_t> service(0, options.service_ms.size() - 1);
  std::vector<double> free_at(options.nodes, 0.0);  // when each node's FHE worker is idle again
  std::vector<std::size_t> chosen;
  std::vector<double> finishes;
  std::vector<double> latencies;
  latencies.reserve(rounds - warmup);
  double now = 0;
  for (std::size_t r = 0; r < rounds; ++r) {
    now += unit_gap(rng) * mean_gap_ms;
    choose_schedulers(rng, options.nodes, options.schedulers, chosen);
    finishes.clear();
    for (const std::size_t n : chosen) {
      free_at[n] = std::max(now, free_at[n]) + options.service_ms[service(rng)];  // FIFO: Lindley
      finishes.push_back(free_at[n]);
    }
    std::nth_element(finishes.begin(), finishes.begin() + static_cast<std::ptrdiff_t>(report.quorum - 1),
                     finishes.end());
    if (r >= warmup) latencies.push_back(finishes[report.quorum - 1] - now);
  }
  report.latency_mean_ms =
      std::accumulate(latencies.begin(), latencies.end(), 0.0) / static_cast<double>(latencies.size());
  report.latency_p50_ms = nearest_rank_percentile(latencies, 0.50);
  report.latency_p99_ms = nearest_rank_percentile(std::move(latencies), 0.99);
  report.utilisation = options.placements_per_min / 60'000.0 * static_cast<double>(options.schedulers) *
                       mean_service_ms(options) / static_cast<double>(options.nodes);
  return report;
}

Result<SustainedRate> estimate_sustained_rate(const ThroughputSimOptions& options, double latency_bound_ms) {
  VEIL_RETURN_IF_ERROR(validate(options));
  SustainedRate out;
  out.latency_bound_ms = latency_bound_ms;
  out.capacity_bound_per_min = static_cast<double>(options.nodes) / static_cast<double>(options.schedulers) *
                               60'000.0 / mean_service_ms(options);
  ThroughputSimOptions at = options;
  auto run_at = [&](double rate) {
    at.placements_per_min = rate;
    return simulate_rounds(at);
  };

  // Nearly idle (a node busy 0.1 % of the time): latency is the quorum's service time.
  double lo = out.capacity_bound_per_min * 1e-3;
  VEIL_ASSIGN_OR_RETURN(out.at_rate, run_at(lo));
  if (out.at_rate.latency_p99_ms > latency_bound_ms * kBoundSlack) {
    return invalid_argument("latency bound " + std::to_string(latency_bound_ms) +
                            " ms: even a nearly idle cluster's p99 round latency is " +
                            std::to_string(out.at_rate.latency_p99_ms) + " ms; give a larger bound");
  }
  double hi = out.capacity_bound_per_min;
  for (int step = 0; step < kBisectionSteps; ++step) {
    const double mid = (lo + hi) / 2;
    VEIL_ASSIGN_OR_RETURN(ThroughputSimReport report, run_at(mid));
    if (report.latency_p99_ms <= latency_bound_ms * kBoundSlack) {
      lo = mid;
      out.at_rate = report;
    } else {
      hi = mid;
    }
  }
  out.placements_per_min = lo;
  return out;
}

}  // namespace veil::sched
