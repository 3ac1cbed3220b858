// The throughput estimate's queueing simulation: deterministic, exact where queueing theory
// has a closed form, and its sustained rate below the simple capacity bound.
#include "veil/sched/throughput_sim.h"

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

ThroughputSimOptions cluster(std::size_t nodes, std::size_t schedulers, double rate) {
  ThroughputSimOptions o;
  o.nodes = nodes;
  o.schedulers = schedulers;
  o.service_ms = {1000};
  o.placements_per_min = rate;
  o.seed = 18;
  return o;
}

TEST(ThroughputSim, IsDeterministicForASeed) {
  auto o = cluster(100, 3, 1000);
  o.service_ms = {800, 1000, 1500};
  const auto a = simulate_rounds(o);
  const auto b = simulate_rounds(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->latency_p50_ms, b->latency_p50_ms);
  EXPECT_EQ(a->latency_p99_ms, b->latency_p99_ms);
  EXPECT_EQ(a->quorum, 2u);
  o.seed = 19;
  EXPECT_NE(simulate_rounds(o)->latency_p99_ms, a->latency_p99_ms);
}

TEST(ThroughputSim, AnIdleClusterDecidesInOneServiceTime) {
  const auto r = simulate_rounds(cluster(1000, 3, 0.01));
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->latency_p50_ms, 1000);
  EXPECT_DOUBLE_EQ(r->latency_p99_ms, 1000);
}

// One node, one scheduler, deterministic service: an M/D/1 queue, whose mean wait is
// ρ·s / (2(1 − ρ)) (Pollaczek–Khinchine). At ρ = 0.5 the mean latency is 1.5 s.
TEST(ThroughputSim, OneNodeIsAnMD1Queue) {
  auto o = cluster(1, 1, 30);  // 30 per minute, 1 s each: ρ = 0.5
  o.rounds = 400'000;
  const auto r = simulate_rounds(o);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->utilisation, 0.5);
  EXPECT_NEAR(r->latency_mean_ms, 1500, 30);
}

TEST(ThroughputSim, LatencyGrowsWithTheRate) {
  const auto light = simulate_rounds(cluster(100, 3, 600));
  const auto heavy = simulate_rounds(cluster(100, 3, 1800));
  ASSERT_TRUE(light.ok() && heavy.ok());
  EXPECT_LT(light->latency_p99_ms, heavy->latency_p99_ms);
  EXPECT_LT(light->utilisation, heavy->utilisation);
}

TEST(ThroughputSim, SustainedRateStaysBelowTheCapacityBoundAndGrowsWithTheCluster) {
  auto small_cluster = cluster(100, 3, 1), large_cluster = cluster(1000, 3, 1);
  small_cluster.rounds = large_cluster.rounds = 40'000;  // fewer than the automatic count: a fast test
  const auto small = estimate_sustained_rate(small_cluster, 10'000);
  const auto large = estimate_sustained_rate(large_cluster, 10'000);
  ASSERT_TRUE(small.ok() && large.ok());
  EXPECT_DOUBLE_EQ(small->capacity_bound_per_min, 100.0 / 3 * 60);
  EXPECT_LT(small->placements_per_min, small->capacity_bound_per_min);
  EXPECT_GT(small->placements_per_min, 0.5 * small->capacity_bound_per_min);
  EXPECT_LE(small->at_rate.latency_p99_ms, 10'000 * (1 + 1e-6));  // the bound's rounding slack
  EXPECT_GT(large->placements_per_min, 9 * small->placements_per_min);
}

TEST(ThroughputSim, RefusesWhatCannotBeSimulated) {
  EXPECT_EQ(simulate_rounds(cluster(2, 3, 60)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(simulate_rounds(cluster(10, 0, 60)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(simulate_rounds(cluster(10, 3, 0)).status().code(), StatusCode::kInvalidArgument);
  auto no_service = cluster(10, 3, 60);
  no_service.service_ms.clear();
  EXPECT_EQ(simulate_rounds(no_service).status().code(), StatusCode::kInvalidArgument);
  // A bound below one service time cannot be met at any rate.
  EXPECT_EQ(estimate_sustained_rate(cluster(10, 3, 60), 999).status().code(), StatusCode::kInvalidArgument);
}

TEST(ThroughputSim, NearestRankPercentile) {
  EXPECT_EQ(nearest_rank_percentile({}, 0.5), 0);
  EXPECT_EQ(nearest_rank_percentile({3, 1, 2}, 0.5), 2);
  EXPECT_EQ(nearest_rank_percentile({3, 1, 2}, 0.99), 3);
  EXPECT_EQ(nearest_rank_percentile({3, 1, 2}, 0.01), 1);
}

}  // namespace
}  // namespace veil::sched
