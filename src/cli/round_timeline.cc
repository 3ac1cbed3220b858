#include "round_timeline.h"

#include <regex>

#include <nlohmann/json.hpp>

namespace veil::cli {

namespace {

struct StepRule {
  const char* step;
  const char* what;
  const char* pattern;  // nullptr: "placed", the last of the committee's run of placements
};

constexpr StepRule kSteps[] = {
    {"submitted", "the coordinator accepted the spec", R"(^submitted\b)"},
    {"schedulers", "schedulers picked, telemetry sampled", R"(^round \d+: .*\bschedulers\b)"},
    {"agreed", "schedulers evaluated on ciphertexts; a quorum agreed", R"(\bagreed by a quorum\b)"},
    {"committee", "the committee decrypted the agreed decision", R"(^replica \d+ placed on )"},
    {"placed", "every replica of the round assigned to its node", nullptr},
    {"running", "the nodes pulled and started the replicas", R"(^all placed replicas are running\b|^every replica finished\b)"},
    {"anchored", "the commitment anchored on chain", R"(^deployment anchored\b)"},
};
static_assert(std::size(kSteps) == kRoundTimelineSteps);
constexpr std::size_t kCommitteeStep = 3;

struct Event {
  std::int64_t at_ms;
  std::string message;
};

}  // namespace

std::vector<TimelineStep> round_timeline(const nlohmann::json& events) {
  std::vector<Event> usable;
  if (events.is_array()) {
    for (const auto& e : events) {
      if (!e.is_object() || !e.contains("at") || !e.contains("message")) continue;
      if (!e["at"].is_number() || !e["message"].is_string()) continue;
      usable.push_back({e["at"].get<std::int64_t>(), e["message"].get<std::string>()});
    }
  }
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> compiled;
    for (const auto& rule : kSteps) compiled.emplace_back(rule.pattern ? rule.pattern : "$^");
    return compiled;
  }();
  auto matches = [&](std::size_t step, const std::string& message) { return std::regex_search(message, patterns[step]); };

  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<TimelineStep> out;
  std::size_t from = 0;         // the first event the next step may match
  std::size_t previous = kNone;  // the previous step's event
  for (std::size_t s = 0; s < std::size(kSteps); ++s) {
    std::size_t found = kNone;
    if (kSteps[s].pattern == nullptr) {
      if (previous != kNone) {
        found = previous;
        while (found + 1 < usable.size() && matches(kCommitteeStep, usable[found + 1].message)) ++found;
      }
    } else {
      for (std::size_t i = from; i < usable.size() && found == kNone; ++i) {
        if (matches(s, usable[i].message)) found = i;
      }
    }
    TimelineStep step{kSteps[s].step, kSteps[s].what, {}, {}, {}};
    if (found == kNone) {
      out.push_back(std::move(step));
      from = usable.size();  // later steps wait for this one
      previous = kNone;
      continue;
    }
    step.at_ms = usable[found].at_ms;
    if (previous != kNone) step.took_ms = usable[found].at_ms - usable[previous].at_ms;
    step.message = usable[found].message;
    out.push_back(std::move(step));
    previous = found;
    from = found + 1;
  }
  return out;
}

}  // namespace veil::cli
