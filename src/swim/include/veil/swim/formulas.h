// The protocol's timing and scale formulas, written once (after memberlist's util.go, the
// SWIM paper and Lifeguard). Every other file calls these; docs/swim.md shows them.
//
// All functions are pure. n is the number of members the caller believes alive, itself
// included; n < 1 is treated as 1.
#pragma once

#include <cstdint>

namespace veil::swim {

// max(1, log10(n)): the factor by which timeouts grow with cluster size.
double node_scale(int n);

// Minimum suspicion timeout: suspicion_mult * node_scale(n) * probe_interval_ms.
std::int64_t suspicion_timeout_min_ms(int suspicion_mult, int n, std::int64_t probe_interval_ms);

// Maximum suspicion timeout: max_timeout_mult * minimum.
std::int64_t suspicion_timeout_max_ms(int max_timeout_mult, std::int64_t min_ms);

// Independent confirmations after which a suspicion runs for only the minimum:
// suspicion_mult - 2, or 0 when fewer than that many other members could confirm (n - 2).
int suspicion_confirmations_needed(int suspicion_mult, int n);

// Lifeguard's dynamic suspicion timeout after `confirmations` independent confirmations:
//   max - (max - min) * log(c + 1) / log(k + 1), never below min; min when k < 1.
std::int64_t suspicion_timeout_ms(std::int64_t min_ms, std::int64_t max_ms, int needed,
                                  int confirmations);

// λ·log(n): times each update is retransmitted: retransmit_mult * ceil(log10(n + 1)).
int retransmit_limit(int retransmit_mult, int n);

// Local health scaling: base * (score + 1), score clamped to [0, max_multiplier - 1].
std::int64_t scale_by_health(std::int64_t base_ms, int score, int max_multiplier);

// Push-pull interval grows once the cluster exceeds 32 members so full-state traffic per
// member stays bounded: interval * (ceil(log2(n) - log2(32)) + 1) for n > 32.
std::int64_t push_pull_interval_ms(std::int64_t base_ms, int n);

// SWIM's expected first-detection time in protocol periods for a group of n members, each
// picking a uniformly random target per period: 1 / (1 - (1 - 1/(n-1))^(n-1)); tends to
// e / (e - 1) ~= 1.582 as n grows. Returns 1 for n <= 2.
double expected_first_detection_periods(int n);

// Worst-case time, for healthy observers (local health score 0), from a member's failure until
// every other member has declared it dead:
//   (2(n-1) + 1) * probe_interval       some observer probes it (each pass over a shuffled
//                                       round-robin list probes every member once, so two
//                                       probes of one member are at most 2(n-1)-1 periods
//                                       apart) and that probe fails by the end of its period;
//   + suspicion_timeout_max(n)          the suspicion runs out even with no confirmation;
//   + dissemination_periods * interval  the dead declaration reaches everyone else (each
//                                       other observer's own suspicion, started by the gossip,
//                                       would run out no later than this either).
// The real-network test (tests/swim/netns_test.sh) holds the binding to this bound.
std::int64_t detection_bound_ms(int n, std::int64_t probe_interval_ms, int suspicion_mult,
                                int max_timeout_mult, int dissemination_periods = 2);

}  // namespace veil::swim
