// A plaintext placement simulator: how much quality candidate sampling (sampling.h) costs.
//
// A synthetic cluster of N nodes with skewed, realistic load receives J jobs one after the
// other, and each job is placed twice, on two copies of the cluster that evolve apart: once by
// the plaintext reference over all nodes (the full scan of today) and once over the rendezvous
// sample of d candidates, widened (d doubled) while a replica finds no fit. Everything is
// place_plaintext(), so the figures are those of the encrypted decision, which equals it.
//
//   cluster   capacities from four machine classes (8-core/32 GiB nodes are half the
//             cluster; 64-core and 4-GPU machines are rare); already-used capacity heavy-
//             tailed (Pareto): a median node is 43 % used, a quarter are over 70 %
//   jobs      60 % small (0.5 core, 1 GiB), 25 % medium (2 cores, 8 GiB), 12 % large
//             (8 cores, 32 GiB), 3 % GPU (4 cores, 32 GiB, 1 GPU); 80 % have one replica,
//             15 % two, 5 % three; they stay (the cluster fills up as J grows)
//
// Reported for the sampled run: the fraction of jobs placed (all replicas), the same for the
// full scan, the score regret of each sampled decision against the full scan on the same state
// (|best − chosen| / max(best, chosen), averaged over replicas, in %), the rank of the chosen node
// among all the nodes that fit (the share it scores at least as well as, in %; the best of d uniform
// samples ranks about d/(d+1)), the stranded free CPU at
// the end (free CPU on nodes that cannot host a medium job, as a fraction of all free CPU) for
// both runs, widenings per job and candidates evaluated per job (the encrypted cost).
//
// Deterministic for a seed. Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "veil/common/status.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/sampling.h"

namespace veil::sched {

struct PlacementSimOptions {
  std::size_t nodes = 1000;  // 1..100,000
  std::size_t jobs = 1000;   // 1..1,000,000
  CandidateCount candidates;  // auto by default
  PolicyKind policy = PolicyKind::kSpread;
  std::uint64_t seed = 1;
};

struct PlacementSimReport {
  std::size_t nodes = 0;
  std::size_t jobs = 0;
  double placed_fraction = 0;            // sampled run, jobs with every replica placed
  double full_scan_placed_fraction = 0;  // the full-scan run
  double regret_mean_pct = 0;            // over decisions where both placed every replica
  double regret_p99_pct = 0;
  double rank_mean_pct = 0;  // share of fitting nodes the first replica's node scores at least as well as
  double stranded_cpu_fraction = 0;  // sampled run, at the end
  double full_scan_stranded_cpu_fraction = 0;
  double used_cpu_fraction = 0;   // sampled run, at the end: used / capacity
  double widenings_mean = 0;      // per job
  std::uint32_t widenings_max = 0;
  double first_round_fit_fraction = 0;  // jobs placed without widening
  double candidates_mean = 0;     // nodes evaluated per job, all rounds together
};

// Fails with invalid_argument when nodes or jobs are out of range.
Result<PlacementSimReport> run_placement_sim(const PlacementSimOptions& options);

}  // namespace veil::sched
