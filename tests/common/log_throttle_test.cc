#include "veil/common/log_throttle.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

using namespace std::chrono_literals;
using Clock = LogThrottle::Clock;

TEST(LogThrottle, SameKeyIsLoggedOnceThenSummarisedOncePerInterval) {
  LogThrottle throttle({.interval = 60s, .burst = 5, .max_keys = 16});
  const Clock::time_point t0{};
  auto first = throttle.record("peer-a", t0);
  EXPECT_TRUE(first.log_this);
  EXPECT_FALSE(first.summary);
  for (int i = 1; i < 1000; ++i) {
    auto v = throttle.record("peer-a", t0 + i * 50ms);  // all within the first 60 s
    EXPECT_FALSE(v.log_this) << i;
    EXPECT_FALSE(v.summary) << i;
  }
  // The first event after the interval brings the summary of what was held back.
  auto later = throttle.record("peer-a", t0 + 61s);
  ASSERT_TRUE(later.summary);
  EXPECT_EQ(later.summary->events, 999u);
  EXPECT_EQ(later.summary->keys, 1u);
  EXPECT_EQ(later.summary->window, 61s);
  EXPECT_FALSE(later.log_this);  // peer-a was logged in full already
  // And that event itself starts the next interval's count.
  auto next = throttle.record("peer-a", t0 + 122s);
  ASSERT_TRUE(next.summary);
  EXPECT_EQ(next.summary->events, 1u);
}

TEST(LogThrottle, NewKeysAreLoggedInFullOnlyUpToTheBurst) {
  LogThrottle throttle({.interval = 60s, .burst = 3, .max_keys = 1000});
  const Clock::time_point t0{};
  int full = 0;
  for (int i = 0; i < 100; ++i) {
    auto v = throttle.record("peer-" + std::to_string(i), t0 + i * 10ms);
    full += v.log_this;
    EXPECT_FALSE(v.summary);
  }
  EXPECT_EQ(full, 3);
  // Next interval: the summary names the 97 held back, and new keys get full lines again.
  auto v = throttle.record("peer-100", t0 + 60s);
  ASSERT_TRUE(v.summary);
  EXPECT_EQ(v.summary->events, 97u);
  EXPECT_EQ(v.summary->keys, 97u);
  EXPECT_TRUE(v.log_this);
}

// The property the host relies on: however many events and keys, at most burst + 1 lines per
// interval, and every event is either logged or counted in a summary.
TEST(LogThrottle, LinesPerIntervalStayBoundedAndEveryEventIsAccountedFor) {
  const LogThrottle::Options options{.interval = 60s, .burst = 5, .max_keys = 64};
  LogThrottle throttle(options);
  const Clock::time_point t0{};
  std::uint64_t events = 0, logged = 0, summarised = 0;
  for (int interval = 0; interval < 10; ++interval) {
    std::size_t lines = 0;
    for (int i = 0; i < 2000; ++i) {
      // A mix of repeat offenders and fresh keys (an attacker making new identities).
      const std::string key =
          i % 2 == 0 ? "repeat-" + std::to_string(i % 7) : "fresh-" + std::to_string(events);
      auto v = throttle.record(key, t0 + interval * 60s + i * 10ms);
      ++events;
      if (v.summary) {
        ++lines;
        summarised += v.summary->events;
        EXPECT_LE(v.summary->keys, options.max_keys);
      }
      if (v.log_this) ++lines, ++logged;
    }
    EXPECT_LE(lines, options.burst + 1) << "interval " << interval;
  }
  // Close the last interval to collect its summary.
  auto last = throttle.record("repeat-0", t0 + 11 * 60s);
  ++events;
  if (last.summary) summarised += last.summary->events;
  if (last.log_this) ++logged;
  const std::uint64_t pending = last.log_this ? 0 : 1;  // held for the next summary
  EXPECT_EQ(logged + summarised + pending, events);
}

TEST(LogThrottle, RememberedKeysAreBounded) {
  LogThrottle throttle({.interval = 1s, .burst = 100, .max_keys = 2});
  const Clock::time_point t0{};
  EXPECT_TRUE(throttle.record("a", t0).log_this);
  EXPECT_TRUE(throttle.record("b", t0).log_this);
  EXPECT_FALSE(throttle.record("a", t0).log_this);
  // A third key makes the throttle forget the first two rather than grow.
  EXPECT_TRUE(throttle.record("c", t0).log_this);
  EXPECT_TRUE(throttle.record("a", t0).log_this);
}

}  // namespace
}  // namespace veil
