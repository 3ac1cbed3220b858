// A job's round timeline, read from its events (GET /v1/jobs/{id}: `events`, written by the
// coordinator): submitted → schedulers → agreed → committee → placed → running → anchored, with
// the time each step took. `veil job run --wait` prints it as it happens.
//
// The rules are the dashboard's (web/js/timeline.js) and must change with it and with the
// coordinator's event texts: each step is marked by the first event after the previous step's
// whose message matches; a step's time runs from the previous step's event to its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace veil::cli {

struct TimelineStep {
  std::string step;  // "submitted", "schedulers", ...
  std::string what;  // what happened in it, for people
  std::optional<std::int64_t> at_ms;    // its event's time; empty while it has not happened
  std::optional<std::int64_t> took_ms;  // since the previous step (empty for the first)
  std::string message;                  // the event that marked it
};

inline constexpr std::size_t kRoundTimelineSteps = 7;

// Always the kRoundTimelineSteps steps, in order; events without a numeric `at` or a string
// `message` are skipped.
std::vector<TimelineStep> round_timeline(const nlohmann::json& events);

}  // namespace veil::cli
