// A plaintext queueing simulation: how many placements per minute a cluster sustains when
// every round is evaluated by its own schedulers (issue 18, "Many jobs at once").
//
// The model (discrete events, one pass in arrival order):
//
//   rounds     arrive as a Poisson process of rate λ (placements per minute; one replica each)
//   schedulers each round draws K distinct nodes uniformly from the M (rendezvous hashing over
//              the job id makes the choice uniform and independent between rounds)
//   nodes      each node is one FIFO server: the daemon's single FHE worker evaluates the
//              rounds it was chosen for one at a time, in arrival order; an evaluation takes a
//              service time drawn from `service_ms` (one value: deterministic)
//   latency    a round is decided when a quorum of ⌊K/2⌋+1 of its schedulers have finished;
//              its latency is that finish time minus its arrival
//
// A node's finish times follow Lindley's recursion, finish = max(arrival, previous finish) +
// service, which is exact for FIFO servers fed in arrival order. Each node is busy a fraction
// ρ = λ·K·s / M of the time (s the mean service time), so the simple capacity bound is
// M / K / s rounds per unit of time; queueing keeps the sustained rate below it.
//
// `estimate_sustained_rate` bisects λ for the largest rate whose p99 round latency stays under
// a bound. Every run of one seed draws the same unit exponentials, scheduler choices and
// service times, and only scales the inter-arrival gaps by 1/λ, so on one seed the latency of
// every round grows with λ and the bisection is well defined.
//
// What the model ignores (bench/README.md says so beside the figures): network and gossip
// delays, the committee's threshold decryption, the coordinator's work, encryption of
// telemetry (which shares the FHE worker in the daemon), widened retries and failures.
//
// Deterministic for a seed. Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "veil/common/status.h"

namespace veil::sched {

struct ThroughputSimOptions {
  std::size_t nodes = 100;         // M: 1..1,000,000
  std::size_t schedulers = 3;      // K per round: 1..nodes (the daemon's default sched.schedulers is 3)
  std::vector<double> service_ms;  // service times drawn uniformly (resampled); each > 0, at least one
  double placements_per_min = 60;  // λ: the Poisson arrival rate, > 0
  // Rounds simulated, 100..10,000,000, the first tenth a warm-up that is not reported; 0: enough
  // for every node to serve about 2,000 evaluations, max(20,000, 2,000 × M / K).
  std::size_t rounds = 0;
  std::uint64_t seed = 1;
};

struct ThroughputSimReport {
  std::size_t quorum = 0;     // ⌊K/2⌋ + 1
  double latency_p50_ms = 0;  // round latency (arrival to quorum), over the reported rounds
  double latency_p99_ms = 0;
  double latency_mean_ms = 0;
  double utilisation = 0;  // λ·K·(mean service) / M: the busy fraction of an average node
};

// Simulates options.rounds rounds. Fails with invalid_argument naming the field out of range.
Result<ThroughputSimReport> simulate_rounds(const ThroughputSimOptions& options);

struct SustainedRate {
  double placements_per_min = 0;      // the largest λ found whose p99 latency <= the bound
  ThroughputSimReport at_rate;        // the simulation at that λ
  double capacity_bound_per_min = 0;  // M / K × 60,000 / mean service ms: every node busy all the time
  double latency_bound_ms = 0;
};

// Bisects λ in (0, capacity bound] (24 steps: to 1/16,000,000 of the bound) for the largest
// rate whose p99 round latency is at most latency_bound_ms, on options' nodes, schedulers,
// service times, rounds and seed (options.placements_per_min is ignored). Fails with
// invalid_argument as simulate_rounds does, or when even a nearly idle cluster misses the
// bound (it is below the p99 of the quorum's service times).
Result<SustainedRate> estimate_sustained_rate(const ThroughputSimOptions& options, double latency_bound_ms);

// Nearest-rank percentile (q in (0, 1]) of `values`; 0 for none.
double nearest_rank_percentile(std::vector<double> values, double q);

}  // namespace veil::sched
