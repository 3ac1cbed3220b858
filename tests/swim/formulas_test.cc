#include "veil/swim/formulas.h"

#include <cmath>

#include <gtest/gtest.h>

namespace veil::swim {
namespace {

TEST(SwimFormulas, NodeScaleIsLog10WithFloorOfOne) {
  EXPECT_DOUBLE_EQ(node_scale(0), 1.0);
  EXPECT_DOUBLE_EQ(node_scale(1), 1.0);
  EXPECT_DOUBLE_EQ(node_scale(10), 1.0);
  EXPECT_DOUBLE_EQ(node_scale(100), 2.0);
  EXPECT_NEAR(node_scale(10000), 4.0, 1e-12);
  EXPECT_NEAR(node_scale(50), std::log10(50.0), 1e-12);
}

TEST(SwimFormulas, SuspicionTimeoutMinGrowsWithLogN) {
  EXPECT_EQ(suspicion_timeout_min_ms(4, 1, 1000), 4000);
  EXPECT_EQ(suspicion_timeout_min_ms(4, 10, 1000), 4000);
  EXPECT_EQ(suspicion_timeout_min_ms(4, 100, 1000), 8000);
  EXPECT_EQ(suspicion_timeout_min_ms(4, 1000, 1000), 12000);
  EXPECT_EQ(suspicion_timeout_min_ms(6, 1000, 5000), 90000);
  EXPECT_EQ(suspicion_timeout_min_ms(4, 50, 1000), std::llround(4 * std::log10(50.0) * 1000));
  EXPECT_EQ(suspicion_timeout_max_ms(6, 12000), 72000);
  EXPECT_EQ(suspicion_timeout_max_ms(1, 12000), 12000);
}

TEST(SwimFormulas, ConfirmationsNeeded) {
  EXPECT_EQ(suspicion_confirmations_needed(4, 1000), 2);
  EXPECT_EQ(suspicion_confirmations_needed(6, 1000), 4);
  // Only n - 2 members other than the suspect and the accuser could confirm.
  EXPECT_EQ(suspicion_confirmations_needed(4, 3), 0);
  EXPECT_EQ(suspicion_confirmations_needed(4, 4), 2);
  EXPECT_EQ(suspicion_confirmations_needed(2, 100), 0);
}

TEST(SwimFormulas, DynamicSuspicionTimeoutShrinksFromMaxToMin) {
  const std::int64_t min = 12000, max = 72000;
  EXPECT_EQ(suspicion_timeout_ms(min, max, 2, 0), max);
  EXPECT_EQ(suspicion_timeout_ms(min, max, 2, 2), min);
  EXPECT_EQ(suspicion_timeout_ms(min, max, 2, 5), min);  // never below min
  std::int64_t one = suspicion_timeout_ms(min, max, 2, 1);
  // max - (max-min) * log(2)/log(3)
  EXPECT_EQ(one, static_cast<std::int64_t>(std::floor(72000 - 60000 * std::log(2.0) / std::log(3.0))));
  EXPECT_LT(one, max);
  EXPECT_GT(one, min);
  std::int64_t previous = max + 1;
  for (int c = 0; c <= 6; ++c) {
    std::int64_t t = suspicion_timeout_ms(min, 60000, 6, c);
    EXPECT_LT(t, previous);
    previous = t;
  }
  // No confirmations expected: the minimum at once.
  EXPECT_EQ(suspicion_timeout_ms(min, max, 0, 0), min);
}

TEST(SwimFormulas, RetransmitLimitIsLambdaLogN) {
  EXPECT_EQ(retransmit_limit(4, 1), 4);    // ceil(log10(2)) = 1
  EXPECT_EQ(retransmit_limit(4, 9), 4);    // ceil(log10(10)) = 1
  EXPECT_EQ(retransmit_limit(4, 10), 8);   // ceil(log10(11)) = 2
  EXPECT_EQ(retransmit_limit(4, 99), 8);
  EXPECT_EQ(retransmit_limit(4, 100), 12);
  EXPECT_EQ(retransmit_limit(4, 10000), 20);
  EXPECT_EQ(retransmit_limit(2, 1000), 8);
}

TEST(SwimFormulas, HealthScaling) {
  EXPECT_EQ(scale_by_health(500, 0, 8), 500);
  EXPECT_EQ(scale_by_health(500, 3, 8), 2000);
  EXPECT_EQ(scale_by_health(500, 7, 8), 4000);
  EXPECT_EQ(scale_by_health(500, 100, 8), 4000);  // clamped to max - 1
  EXPECT_EQ(scale_by_health(500, 5, 1), 500);     // multiplier 1: extension off
  EXPECT_EQ(scale_by_health(500, -3, 8), 500);
}

TEST(SwimFormulas, PushPullScale) {
  EXPECT_EQ(push_pull_interval_ms(30000, 1), 30000);
  EXPECT_EQ(push_pull_interval_ms(30000, 32), 30000);
  EXPECT_EQ(push_pull_interval_ms(30000, 33), 60000);
  EXPECT_EQ(push_pull_interval_ms(30000, 64), 60000);
  EXPECT_EQ(push_pull_interval_ms(30000, 65), 90000);
  EXPECT_EQ(push_pull_interval_ms(30000, 10000), 300000);
}

TEST(SwimFormulas, ExpectedFirstDetectionTendsToEOverEMinusOne) {
  const double e = std::exp(1.0);
  EXPECT_NEAR(expected_first_detection_periods(100000), e / (e - 1), 1e-4);
  EXPECT_DOUBLE_EQ(expected_first_detection_periods(2), 1.0);
  EXPECT_GT(expected_first_detection_periods(10), 1.0);
  EXPECT_LT(expected_first_detection_periods(10), e / (e - 1));
}

TEST(SwimFormulas, DetectionBound) {
  // n = 5, 1 s period, lan multipliers: 9 periods to a failed probe, 4 s..24 s suspicion, 2 more.
  EXPECT_EQ(detection_bound_ms(5, 1000, 4, 6), 9000 + 24000 + 2000);
  // The suspicion part grows with log10(n): n = 100 doubles it.
  EXPECT_EQ(detection_bound_ms(100, 1000, 4, 1, 0), 199000 + 8000);
  // A cluster of one still has a finite bound (treated as two members).
  EXPECT_EQ(detection_bound_ms(1, 200, 3, 2, 1), 3 * 200 + 1200 + 200);
}

}  // namespace
}  // namespace veil::swim
