// Small clusters on the in-memory network: the whole protocol, end to end, on a virtual clock.
#include "veil/swim/sim.h"

#include <gtest/gtest.h>

namespace veil::swim {
namespace {

Config fast_lan() {
  Config c = Config::lan();
  c.push_pull_interval_ms = 5000;
  return c;
}

TEST(SwimSim, MembersJoinThroughOneSeedAndConverge) {
  SimNetwork net(7);
  net.set_wire(true);  // every message through the codec
  std::vector<MemberId> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(net.add_member("n" + std::to_string(i), fast_lan()));
  int joined_events = 0;
  net.set_event_hook([&](MemberId, const Event& e) { joined_events += e.kind == Event::Kind::kJoined; });
  for (int i = 1; i < 30; ++i) ASSERT_TRUE(net.join(ids[i], {ids[0]}).ok());
  net.run_until(30000);
  for (MemberId o : ids) {
    EXPECT_EQ(net.node(o).live_count(), 30) << "member " << o;
    for (MemberId m : ids) {
      if (m != o) { EXPECT_EQ(net.node(o).state_of(m), MemberState::kAlive); }
    }
  }
  EXPECT_EQ(joined_events, 30 * 29);
  EXPECT_EQ(net.wire_errors(), 0u);
}

TEST(SwimSim, CrashIsDetectedAndDisseminatedAndLeaveIsNotADeath) {
  SimNetwork net(11);
  std::vector<MemberId> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(net.add_member("n" + std::to_string(i), fast_lan()));
  net.converge();
  std::vector<std::pair<MemberId, Event>> seen;
  net.set_event_hook([&](MemberId o, const Event& e) { seen.emplace_back(o, e); });
  net.run_until(3000);
  net.kill(ids[5]);
  net.leave(ids[6]);
  net.run_until(3000 + 40000);
  int dead_about_5 = 0, left_about_6 = 0, dead_about_others = 0;
  for (const auto& [o, e] : seen) {
    if (e.kind == Event::Kind::kDead) (e.member == ids[5] ? dead_about_5 : dead_about_others)++;
    if (e.kind == Event::Kind::kLeft && e.member == ids[6] && o != ids[6]) ++left_about_6;
  }
  EXPECT_EQ(dead_about_5, 18);  // every running member except the one that left... and itself
  EXPECT_EQ(left_about_6, 18);
  EXPECT_EQ(dead_about_others, 0);
  for (MemberId o : ids) {
    if (o == ids[5] || o == ids[6]) continue;
    EXPECT_EQ(net.node(o).state_of(ids[5]), MemberState::kDead);
    EXPECT_EQ(net.node(o).state_of(ids[6]), MemberState::kLeft);
  }
}

TEST(SwimSim, ReportForSmallClusterWithCrashesAndLoss) {
  SimOptions o;
  o.members = 100;
  o.kill = 5;
  o.loss = 0.05;
  o.periods = 60;
  o.seed = 3;
  o.wire = true;
  auto r = run_simulation(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->detected, 5);
  EXPECT_EQ(r->fully_disseminated, 5);
  EXPECT_EQ(r->false_positives, 0);
  EXPECT_GE(r->first_detection_p50_periods, 1);
  EXPECT_LE(r->first_detection_p99_periods, 10);
  EXPECT_GT(r->dissemination_p99_periods, 0);
  EXPECT_GT(r->msgs_per_member_per_period, 2.0);  // at least ping + ack
  EXPECT_LT(r->msgs_per_member_per_period, 30.0);
  EXPECT_GT(r->bytes_per_member_per_period, 0);
  EXPECT_NEAR(r->loss_observed, 0.05, 0.03);
  EXPECT_EQ(r->wire_errors, 0u);
  EXPECT_EQ(r->period_ms, 1000);
}

TEST(SwimSim, SameSeedSameRun) {
  SimOptions o;
  o.members = 60;
  o.kill = 3;
  o.loss = 0.02;
  o.periods = 40;
  o.seed = 99;
  auto x = run_simulation(o), y = run_simulation(o);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->msgs_per_member_per_period, y->msgs_per_member_per_period);
  EXPECT_EQ(x->first_detection_mean_periods, y->first_detection_mean_periods);
  EXPECT_EQ(x->dissemination_p99_periods, y->dissemination_p99_periods);
  o.seed = 100;
  auto z = run_simulation(o);
  ASSERT_TRUE(z.ok());
  EXPECT_NE(x->msgs_per_member_per_period, z->msgs_per_member_per_period);
}

TEST(SwimSim, PartitionHealsAndConverges) {
  SimOptions o;
  o.members = 40;
  o.periods = 150;
  o.partition_start = 5;
  o.partition_end = 60;
  o.seed = 5;
  auto r = run_simulation(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  // The sides declared each other dead while apart (that is expected, and counted apart).
  EXPECT_GT(r->false_positives_partition, 0);
  EXPECT_EQ(r->false_positives, 0);
  EXPECT_GE(r->partition_convergence_periods, 0) << "never converged after the heal";
  EXPECT_LT(r->partition_convergence_periods, 90);
}

TEST(SwimSim, RejectsBadOptions) {
  SimOptions o;
  o.members = 1;
  EXPECT_FALSE(run_simulation(o).ok());
  o.members = 10;
  o.kill = 10;
  EXPECT_FALSE(run_simulation(o).ok());
  o.kill = 0;
  o.loss = 1.5;
  EXPECT_FALSE(run_simulation(o).ok());
  o.loss = 0;
  o.partition_start = 10;
  o.partition_end = 5;
  EXPECT_FALSE(run_simulation(o).ok());
}

}  // namespace
}  // namespace veil::swim

namespace veil::swim {
namespace {

// Lifeguard's purpose, at CI size: under 5% loss with 10% of members processing messages up
// to 3 s late, classic SWIM declares healthy members dead and Lifeguard (almost) never does.
// The full-size figures are in docs/swim.md.
TEST(SwimSim, LifeguardCutsFalsePositivesUnderLossAndSlowMembers) {
  SimOptions o;
  o.members = 200;
  o.loss = 0.05;
  o.slow = 0.1;
  o.slow_delay_ms = 3000;
  o.kill = 2;
  o.periods = 90;
  o.seed = 2;
  o.config = Config::local();
  auto on = run_simulation(o);
  o.lifeguard = false;
  auto off = run_simulation(o);
  ASSERT_TRUE(on.ok() && off.ok());
  EXPECT_GT(off->false_positives, 0);
  EXPECT_LE(on->false_positives * 5, off->false_positives)
      << "on: " << on->false_positives << " off: " << off->false_positives;
  // Real crashes are still found with Lifeguard on.
  EXPECT_EQ(on->detected, 2);
  EXPECT_EQ(on->fully_disseminated, 2);
}

}  // namespace
}  // namespace veil::swim
