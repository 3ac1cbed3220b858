// The CLI's shared pieces that need no node: the round timeline `veil job run --wait` prints
// and the step progress of long commands, in both of its renderings.
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cpu_probe.h"
#include "round_timeline.h"
#include "step_progress.h"

namespace veil::cli {
namespace {

using nlohmann::json;

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "no '" << part << "' in:\n" << text;
}

// A job's events as the coordinator writes them (coordinator_role.cc), with a liar named and
// two replicas placed.
json placed_job_events() {
  return json::array({
      {{"at", 1000}, {"message", "submitted (2 replicas of 127.0.0.1:5000/veil/web@sha256:ab)"}},
      {{"at", 1100}, {"message", "round 1: 2 replica(s) over 3 nodes; schedulers 12D3KooA, 12D3KooB, 12D3KooC"}},
      {{"at", 3200}, {"message", "scheduler 12D3KooC published decision 0badbadbadbadbad which disagrees with the quorum's 1234abcd1234abcd; ignored"}},
      {{"at", 3300}, {"message", "decision 1234abcd1234abcd agreed by a quorum; asking the committee (2 of 3)"}},
      {{"at", 5300}, {"message", "replica 0 placed on 12D3KooA"}},
      {{"at", 5301}, {"message", "replica 1 placed on 12D3KooB"}},
      {{"at", 9000}, {"message", "all placed replicas are running"}},
      {{"at", 9500}, {"message", "deployment anchored: commitment 0xfe in tx 0x01 (block 7)"}},
  });
}

TEST(RoundTimeline, EveryStepOfAPlacedJobWithTheTimeSinceThePreviousOne) {
  const auto steps = round_timeline(placed_job_events());
  ASSERT_EQ(steps.size(), 7u);
  const char* names[] = {"submitted", "schedulers", "agreed", "committee", "placed", "running", "anchored"};
  const std::int64_t at[] = {1000, 1100, 3300, 5300, 5301, 9000, 9500};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].step, names[i]);
    ASSERT_TRUE(steps[i].at_ms) << names[i];
    EXPECT_EQ(*steps[i].at_ms, at[i]) << names[i];
  }
  EXPECT_FALSE(steps[0].took_ms);
  EXPECT_EQ(*steps[2].took_ms, 2200);  // schedulers → agreed, across the liar's event
  EXPECT_EQ(steps[4].message, "replica 1 placed on 12D3KooB");  // the round's last assignment
  EXPECT_EQ(*steps[4].took_ms, 1);
}

TEST(RoundTimeline, AJobStillDecidingHasOnlyItsFirstStepsDone) {
  auto events = placed_job_events();
  events.erase(events.begin() + 3, events.end());
  const auto steps = round_timeline(events);
  ASSERT_EQ(steps.size(), 7u);
  EXPECT_TRUE(steps[1].at_ms);
  for (std::size_t i = 2; i < steps.size(); ++i) EXPECT_FALSE(steps[i].at_ms) << steps[i].step;
}

TEST(RoundTimeline, AStepIsNeverMarkedByAnEventBeforeThePreviousStep) {
  // "running" before "submitted" (a clock or an order gone wrong) marks nothing.
  const json events = json::array({{{"at", 1}, {"message", "all placed replicas are running"}},
                                   {{"at", 2}, {"message", "submitted (1 replicas of x)"}}});
  const auto steps = round_timeline(events);
  EXPECT_TRUE(steps[0].at_ms);
  EXPECT_FALSE(steps[5].at_ms);
}

TEST(RoundTimeline, MalformedEventsAreSkippedNotFatal) {
  const json events = json::array({42, {{"at", "soon"}, {"message", "submitted"}}, {{"at", 5}},
                                   {{"at", 7}, {"message", "submitted (1 replicas of x)"}}});
  const auto steps = round_timeline(events);
  ASSERT_TRUE(steps[0].at_ms);
  EXPECT_EQ(*steps[0].at_ms, 7);
  EXPECT_EQ(round_timeline(json("not a list")).size(), 7u);
}

TEST(StepProgress, PlainLinesWhenNotATerminal) {
  std::ostringstream out;
  {
    StepProgress steps("cluster init", 2, out, false);
    steps.begin("deploying VeilRegistry");
    steps.note("registry at 0xabc");
    steps.begin("writing node configurations");
  }
  const std::string text = out.str();
  expect_contains(text, "[cluster init] 1/2 deploying VeilRegistry\n");
  expect_contains(text, "[cluster init]   registry at 0xabc\n");
  expect_contains(text, "[cluster init] 1/2 done in ");
  expect_contains(text, "[cluster init] 2/2 writing node configurations\n");
  expect_contains(text, "[cluster init] 2/2 done in ");
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no redrawing in a log";
  EXPECT_EQ(text.find('\033'), std::string::npos) << "no escape sequences in a log";
}

TEST(StepProgress, ADetailShowsOnTheTerminalLineAndOnceInALog) {
  std::ostringstream log;
  {
    StepProgress steps("pull", 1, log, false);
    steps.begin("pulling busybox");
    steps.detail("1/2 layers");
    steps.detail("2/2 layers, 4.0 kB");
  }
  const std::string text = log.str();
  EXPECT_EQ(text.rfind("[pull] 1/1 pulling busybox\n[pull] 1/1 done in ", 0), 0u) << text;
  EXPECT_EQ(text.substr(text.size() - std::string(" ms, 2/2 layers, 4.0 kB\n").size()), " ms, 2/2 layers, 4.0 kB\n") << text;
  EXPECT_EQ(text.find("1/2 layers"), std::string::npos) << "a log gets the last detail only";

  std::ostringstream terminal;
  {
    StepProgress steps("pull", 1, terminal, true);
    steps.begin("pulling busybox");
    steps.detail("1/2 layers");
    steps.begin("starting");  // a new step starts without the old detail
  }
  const std::string drawn = terminal.str();
  expect_contains(drawn, " ms  1/2 layers");
  expect_contains(drawn, " ms, 1/2 layers)\n");
  const auto starting = drawn.find("starting");
  ASSERT_NE(starting, std::string::npos);
  EXPECT_EQ(drawn.find("1/2 layers", starting), std::string::npos) << "begin() clears the detail";
}

TEST(FormatBytes, DecimalUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(812), "812 B");
  EXPECT_EQ(format_bytes(4'000), "4.0 kB");
  EXPECT_EQ(format_bytes(12'100'000), "12.1 MB");
  EXPECT_EQ(format_bytes(1'500'000'000), "1.50 GB");
}

TEST(StepProgress, ABarRedrawnInPlaceOnATerminal) {
  std::ostringstream out;
  {
    StepProgress steps("keys", 4, out, true);
    steps.begin("generating the server key");
    steps.begin("dealing");
    steps.finish("dealing 1.5 s");
  }
  const std::string text = out.str();
  expect_contains(text, "\r\033[K");
  expect_contains(text, "] 2/4 dealing");
  expect_contains(text, "\u2713 generating the server key (");
  expect_contains(text, "\u2713 dealing 1.5 s\n");
  // One step of four done when the second began: a quarter of the bar is filled.
  expect_contains(text, "[\u2588\u2588\u2588\u2588\u2588\u2591");
}

TEST(StepProgress, ANameFromAPeerIsEscaped) {
  std::ostringstream out;
  {
    StepProgress steps("job", 0, out, false);
    steps.note("evil\033]0;title\007");
  }
  EXPECT_EQ(out.str().find('\033'), std::string::npos) << out.str();
}

TEST(FormatDuration, AsTheDashboardWritesIt) {
  using std::chrono::milliseconds;
  EXPECT_EQ(format_duration(milliseconds(412)), "412 ms");
  EXPECT_EQ(format_duration(milliseconds(4200)), "4.2 s");
  EXPECT_EQ(format_duration(milliseconds(185'000)), "3 min 5 s");
  EXPECT_EQ(format_duration(milliseconds(-5)), "0 ms");
  // Rounded before it is split: no "60.0 s" and no "1 min 60 s".
  EXPECT_EQ(format_duration(milliseconds(59'970)), "1 min 0 s");
  EXPECT_EQ(format_duration(milliseconds(119'600)), "2 min 0 s");
  EXPECT_EQ(format_duration(milliseconds(999)), "999 ms");
  EXPECT_EQ(format_duration(milliseconds(1'000)), "1.0 s");
}

// Plausibility, not speed: a broken probe is off by whole factors (an add chain, which recent
// Intel cores fold at rename, read 12 GHz on this project's VM), while load only lowers a best
// of five a little.
TEST(CpuProbe, ClockAndFmaRatesAreThoseOfARealCore) {
  const CpuProbe probe = probe_cpu();
#if defined(__x86_64__)
  ASSERT_TRUE(probe.clock_ghz.has_value());
  EXPECT_GT(*probe.clock_ghz, 0.3);
  EXPECT_LT(*probe.clock_ghz, 7.0);
  for (const auto& rate : {probe.fma256_per_cycle, probe.fma512_per_cycle}) {
    if (!rate) continue;
    EXPECT_GT(*rate, 0.2);
    EXPECT_LT(*rate, 4.5);  // no x86-64 core has more than four FMA pipes
  }
#else
  EXPECT_FALSE(probe.clock_ghz.has_value());
#endif
}

}  // namespace
}  // namespace veil::cli
