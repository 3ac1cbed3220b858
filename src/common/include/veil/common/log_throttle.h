// Keeps an event that others can repeat at will (a refused connection, a rejected message)
// from growing the log without bound. The first occurrence per key (a peer, an address) is
// logged in full, at most `burst` such lines per interval; every other occurrence is only
// counted, and the count comes back as one summary per interval:
//
//   LogThrottle throttle;  // 60 s, 5 full lines per interval
//   auto verdict = throttle.record(peer.to_base58(), std::chrono::steady_clock::now());
//   if (verdict.summary) log->warn("refused {} more connections from {} peers in the last {} s", ...);
//   if (verdict.log_this) log->warn("refused connection from {}", peer.to_base58());
//
// Bounds: whatever the number of events or of distinct keys, record() asks for at most
// `burst` full lines and one summary per interval, and keeps at most `max_keys` keys in
// memory. A key logged once is not logged in full again until the remembered keys reach
// `max_keys` and are forgotten.
//
// The summary of an interval comes with the first event after it ends: a throttle that goes
// quiet says nothing more, so the events suppressed just before a quiet spell show only in
// the next summary. Count every event in a metric too (the host does); the log is for people.
//
// The clock is the caller's (`now`), so tests need no sleeps.
//
// Thread safety: none; use one LogThrottle from one thread (or under the caller's lock).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace veil {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    Clock::duration interval = std::chrono::seconds(60);
    std::size_t burst = 5;        // full lines per interval, for keys not logged before
    std::size_t max_keys = 4096;  // keys remembered as logged, and counted per summary
  };

  // What the events suppressed since the last summary (or the first event) amount to.
  struct Summary {
    std::uint64_t events = 0;  // > 0
    std::size_t keys = 0;      // distinct keys among them, counted up to Options::max_keys
    Clock::duration window{};  // from the interval's start to the event that closed it (>= interval)
  };

  struct Verdict {
    std::optional<Summary> summary;  // log this first, when set
    bool log_this = false;           // then log this event in full, when true
  };

  LogThrottle() : LogThrottle(Options{}) {}
  explicit LogThrottle(Options options);

  // Records one event for `key` at `now` (which must not go back in time).
  Verdict record(std::string_view key, Clock::time_point now);

 private:
  Options options_;
  std::optional<Clock::time_point> window_start_;
  std::size_t logged_in_window_ = 0;
  std::uint64_t suppressed_ = 0;
  std::set<std::string, std::less<>> suppressed_keys_;  // this interval's, up to max_keys
  std::set<std::string, std::less<>> logged_keys_;      // ever logged in full, up to max_keys
};

}  // namespace veil
