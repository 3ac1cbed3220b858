#include "veil/common/log_throttle.h"

namespace veil {

LogThrottle::LogThrottle(Options options) : options_(options) {}

LogThrottle::Verdict LogThrottle::record(std::string_view key, Clock::time_point now) {
  Verdict verdict;
  if (!window_start_) {
    window_start_ = now;
  } else if (now - *window_start_ >= options_.interval) {
    if (suppressed_ > 0)
      verdict.summary = Summary{suppressed_, suppressed_keys_.size(), now - *window_start_};
    window_start_ = now;
    logged_in_window_ = 0;
    suppressed_ = 0;
    suppressed_keys_.clear();
  }

  const bool new_key = logged_keys_.find(key) == logged_keys_.end();
  if (new_key && logged_in_window_ < options_.burst) {
    if (logged_keys_.size() >= options_.max_keys) logged_keys_.clear();
    logged_keys_.emplace(key);
    ++logged_in_window_;
    verdict.log_this = true;
    return verdict;
  }
  ++suppressed_;
  if (suppressed_keys_.size() < options_.max_keys) suppressed_keys_.emplace(key);
  return verdict;
}

}  // namespace veil
