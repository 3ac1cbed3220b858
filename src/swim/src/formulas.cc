#include "veil/swim/formulas.h"

#include <algorithm>
#include <cmath>

namespace veil::swim {

double node_scale(int n) { return std::max(1.0, std::log10(static_cast<double>(std::max(1, n)))); }

std::int64_t suspicion_timeout_min_ms(int suspicion_mult, int n, std::int64_t probe_interval_ms) {
  return static_cast<std::int64_t>(
      std::llround(suspicion_mult * node_scale(n) * static_cast<double>(probe_interval_ms)));
}

std::int64_t suspicion_timeout_max_ms(int max_timeout_mult, std::int64_t min_ms) {
  return std::max(1, max_timeout_mult) * min_ms;
}

int suspicion_confirmations_needed(int suspicion_mult, int n) {
  int needed = suspicion_mult - 2;
  // With fewer than `needed` other members able to suspect, waiting for them is pointless.
  if (std::max(1, n) - 2 < needed) return 0;
  return std::max(0, needed);
}

std::int64_t suspicion_timeout_ms(std::int64_t min_ms, std::int64_t max_ms, int needed,
                                  int confirmations) {
  if (needed < 1 || max_ms <= min_ms) return min_ms;
  double frac = std::log(static_cast<double>(std::max(0, confirmations)) + 1.0) /
                std::log(static_cast<double>(needed) + 1.0);
  double timeout = static_cast<double>(max_ms) - static_cast<double>(max_ms - min_ms) * frac;
  return std::max(min_ms, static_cast<std::int64_t>(std::floor(timeout)));
}

int retransmit_limit(int retransmit_mult, int n) {
  int scale = static_cast<int>(std::ceil(std::log10(static_cast<double>(std::max(1, n)) + 1.0)));
  return retransmit_mult * scale;
}

std::int64_t scale_by_health(std::int64_t base_ms, int score, int max_multiplier) {
  int clamped = std::clamp(score, 0, std::max(1, max_multiplier) - 1);
  return base_ms * (clamped + 1);
}

std::int64_t push_pull_interval_ms(std::int64_t base_ms, int n) {
  constexpr int kThreshold = 32;
  if (n <= kThreshold) return base_ms;
  double extra = std::ceil(std::log2(static_cast<double>(n)) - std::log2(double{kThreshold}));
  return base_ms * (static_cast<std::int64_t>(extra) + 1);
}

double expected_first_detection_periods(int n) {
  if (n <= 2) return 1.0;
  double others = n - 1;
  return 1.0 / (1.0 - std::pow(1.0 - 1.0 / others, others));
}

std::int64_t detection_bound_ms(int n, std::int64_t probe_interval_ms, int suspicion_mult,
                                int max_timeout_mult, int dissemination_periods) {
  int members = std::max(2, n);
  std::int64_t min_ms = suspicion_timeout_min_ms(suspicion_mult, members, probe_interval_ms);
  std::int64_t max_ms = suspicion_timeout_max_ms(max_timeout_mult, min_ms);
  std::int64_t first_probe = (2 * (members - 1) + 1) * probe_interval_ms;
  return first_probe + max_ms + std::max(0, dissemination_periods) * probe_interval_ms;
}

}  // namespace veil::swim
