// The placement study's simulator: deterministic, and a full scan has no regret.
#include "veil/sched/placement_sim.h"

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

PlacementSimOptions small(CandidateCount d) {
  PlacementSimOptions o;
  o.nodes = 200;
  o.jobs = 400;
  o.candidates = d;
  o.seed = 18;
  return o;
}

TEST(PlacementSim, IsDeterministicForASeed) {
  const auto a = run_placement_sim(small({CandidateCount::Kind::kNumber, 4}));
  const auto b = run_placement_sim(small({CandidateCount::Kind::kNumber, 4}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->regret_mean_pct, b->regret_mean_pct);
  EXPECT_EQ(a->placed_fraction, b->placed_fraction);
  EXPECT_EQ(a->widenings_mean, b->widenings_mean);
  EXPECT_GT(a->regret_mean_pct, 0);
  EXPECT_LT(a->rank_mean_pct, 100);
}

TEST(PlacementSim, TheFullScanIsTheReference) {
  const auto all = run_placement_sim(small({CandidateCount::Kind::kAll, 0}));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->placed_fraction, all->full_scan_placed_fraction);
  EXPECT_EQ(all->stranded_cpu_fraction, all->full_scan_stranded_cpu_fraction);
  EXPECT_EQ(all->regret_mean_pct, 0);
  EXPECT_EQ(all->rank_mean_pct, 100);
  EXPECT_EQ(all->widenings_mean, 0);
  EXPECT_EQ(all->candidates_mean, 200);
}

TEST(PlacementSim, MoreCandidatesRankHigher) {
  const auto two = run_placement_sim(small({CandidateCount::Kind::kNumber, 2}));
  const auto thirty_two = run_placement_sim(small({CandidateCount::Kind::kNumber, 32}));
  ASSERT_TRUE(two.ok() && thirty_two.ok());
  EXPECT_LT(two->rank_mean_pct, thirty_two->rank_mean_pct);
  EXPECT_GE(two->widenings_mean, thirty_two->widenings_mean);
}

TEST(PlacementSim, RejectsAnEmptyCluster) {
  PlacementSimOptions o;
  o.nodes = 0;
  EXPECT_EQ(run_placement_sim(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::sched
