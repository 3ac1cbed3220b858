#include "veil/sched/placement_sim.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "veil/common/sha256.h"
#include "veil/sched/placement.h"
#include "veil/sched/resources.h"

namespace veil::sched {
namespace {

struct Cluster {
  std::vector<QuantizedTelemetry> free;
  std::vector<QuantizedTelemetry> capacity;
};

struct Job {
  QuantizedRequest request;
  std::uint32_t replicas = 1;
};

struct Decision {
  Placement placement;
  std::uint32_t widenings = 0;
  std::size_t evaluated = 0;
};

QuantizedRequest request_of(std::uint32_t millicores, std::uint32_t memory_gib, std::uint32_t disk_gib,
                            std::uint32_t gpus) {
  return *quantize_request({.cpu_millicores = millicores, .memory_mib = memory_gib * 1024,
                            .disk_mib = disk_gib * 1024, .gpus = gpus});
}

// The job shape fragmentation is measured against: a node that cannot host it strands its CPU.
const QuantizedRequest& medium_job() {
  static const QuantizedRequest kMedium = request_of(2000, 8, 50, 0);
  return kMedium;
}

constexpr double kUsedScale = 0.25;

// Four machine classes; the used share of every resource is heavy-tailed (Pareto, α = 1.3,
// scale 0.25: median 0.43, a quarter of the nodes above 0.7), capped at 98 %.
Cluster synthetic_cluster(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Cluster c;
  for (std::size_t i = 0; i < n; ++i) {
    const double pick = unit(rng);
    FreeCapacity cap;
    if (pick < 0.50) {
      cap = {.cpu_millicores = 8000, .memory_mib = 32 * 1024, .disk_mib = 500 * 1024};
    } else if (pick < 0.80) {
      cap = {.cpu_millicores = 32000, .memory_mib = 128 * 1024, .disk_mib = 2048 * 1024};
    } else if (pick < 0.95) {
      cap = {.cpu_millicores = 64000, .memory_mib = 256 * 1024, .disk_mib = 4096 * 1024};
    } else {
      cap = {.cpu_millicores = 32000, .memory_mib = 256 * 1024, .disk_mib = 2048 * 1024, .gpus = 4};
    }
    cap.latency_us = 200 + rng() % 20000;
    const double used = std::min(0.98, kUsedScale / std::pow(1.0 - unit(rng), 1.0 / 1.3));
    FreeCapacity free = cap;
    free.cpu_millicores = static_cast<std::uint64_t>(static_cast<double>(cap.cpu_millicores) * (1.0 - used));
    free.memory_mib = static_cast<std::uint64_t>(static_cast<double>(cap.memory_mib) * (1.0 - used * (0.7 + 0.6 * unit(rng))));
    free.disk_mib = static_cast<std::uint64_t>(static_cast<double>(cap.disk_mib) * (1.0 - 0.5 * used));
    free.gpus = cap.gpus > 0 && unit(rng) < used ? cap.gpus - 1 : cap.gpus;
    c.capacity.push_back(quantize_telemetry(cap));
    c.free.push_back(quantize_telemetry(free));
  }
  return c;
}

Job synthetic_job(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double shape = unit(rng), replicas = unit(rng);
  Job job;
  if (shape < 0.60) {
    job.request = request_of(500, 1, 10, 0);
  } else if (shape < 0.85) {
    job.request = medium_job();
  } else if (shape < 0.97) {
    job.request = request_of(8000, 32, 200, 0);
  } else {
    job.request = request_of(4000, 32, 100, 1);
  }
  job.replicas = replicas < 0.80 ? 1 : replicas < 0.95 ? 2 : 3;
  return job;
}

bool all_placed(const Placement& p) {
  return std::all_of(p.replicas.begin(), p.replicas.end(), [](const auto& r) { return r.has_value(); });
}

// The reference over the nodes at `indices` (ascending), with replica indices mapped back.
Placement place_over(const std::vector<QuantizedTelemetry>& free, const std::vector<std::size_t>& indices,
                     const Job& job, const PlacementPolicy& policy) {
  PlacementInput in;
  in.nodes.reserve(indices.size());
  for (std::size_t i : indices) in.nodes.push_back(free[i]);
  in.request = job.request;
  in.policy = policy;
  in.replicas = job.replicas;
  Placement p = place_plaintext(in);
  for (auto& r : p.replicas) {
    if (r) r = static_cast<std::uint32_t>(indices[*r]);
  }
  return p;
}

// A round over the rendezvous sample, widened while a replica finds no fit.
Decision place_sampled(const Cluster& c, const std::vector<std::string>& peers, const std::array<std::uint8_t, 32>& job_id,
                       const Job& job, const PlacementSimOptions& options) {
  Decision d;
  for (;; ++d.widenings) {
    const std::size_t count = candidates_for_round(options.candidates, peers.size(), job.replicas, d.widenings);
    const auto sample = sample_candidates(job_id, 0, peers, count);
    std::vector<std::size_t> indices;
    indices.reserve(sample.size());
    for (std::size_t i = 0, next = 0; i < peers.size() && next < sample.size(); ++i) {
      if (peers[i] == sample[next]) indices.push_back(i), ++next;
    }
    d.evaluated += indices.size();
    d.placement = place_over(c.free, indices, job, PlacementPolicy{options.policy, {}});
    if (all_placed(d.placement) || count == peers.size()) return d;
  }
}

void commit(Cluster& c, const Job& job, const Placement& p) {
  if (!all_placed(p)) return;  // a job runs with all its replicas or not at all
  for (const auto& r : p.replicas) {
    for (std::size_t k = 0; k < kResourceCount; ++k) c.free[*r].free[k] -= job.request.amount[k];
  }
}

// Mean over the replicas of |best − chosen| / max(best, chosen), in %.
double regret_pct(const Cluster& c, const PlacementPolicy& policy, const Placement& best, const Placement& chosen) {
  const ScorePlan plan = score_plan(policy);
  double regret = 0;
  for (std::size_t k = 0; k < best.replicas.size(); ++k) {
    const double b = score(plan, c.free[*best.replicas[k]], 0, 1, 0);
    const double s = score(plan, c.free[*chosen.replicas[k]], 0, 1, 0);
    if (std::max(b, s) > 0) regret += std::abs(b - s) / std::max(b, s);
  }
  return 100.0 * regret / static_cast<double>(best.replicas.size());
}

// The share of the nodes that fit which the first replica's node scores at least as well as,
// in % (the full scan: 100; the best of d uniform samples: about d/(d+1)).
double rank_pct(const Cluster& c, const Job& job, const PlacementPolicy& policy, const Placement& chosen) {
  const ScorePlan plan = score_plan(policy);
  const std::uint32_t mine = score(plan, c.free[*chosen.replicas[0]], 0, 1, 0);
  std::size_t fitting = 0, beaten = 0;
  for (const auto& node : c.free) {
    if (!fits(node, job.request)) continue;
    ++fitting;
    const std::uint32_t s = score(plan, node, 0, 1, 0);
    beaten += plan.maximise ? mine >= s : mine <= s;
  }
  return fitting ? 100.0 * static_cast<double>(beaten) / static_cast<double>(fitting) : 100.0;
}

double stranded_cpu_fraction(const Cluster& c) {
  double free = 0, stranded = 0;
  for (const auto& node : c.free) {
    free += node.free[kCpu];
    if (!fits(node, medium_job())) stranded += node.free[kCpu];
  }
  return free > 0 ? stranded / free : 0;
}

double used_cpu_fraction(const Cluster& c) {
  double cap = 0, free = 0;
  for (std::size_t i = 0; i < c.free.size(); ++i) cap += c.capacity[i].free[kCpu], free += c.free[i].free[kCpu];
  return cap > 0 ? 1.0 - free / cap : 0;
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1];
}

}  // namespace

Result<PlacementSimReport> run_placement_sim(const PlacementSimOptions& options) {
  if (options.nodes < 1 || options.nodes > 100'000) return invalid_argument("nodes: use 1 to 100000");
  if (options.jobs < 1 || options.jobs > 1'000'000) return invalid_argument("jobs: use 1 to 1000000");
  std::mt19937_64 rng(options.seed);
  Cluster sampled = synthetic_cluster(options.nodes, rng);
  Cluster full = sampled;
  std::vector<std::string> peers;  // sorted, as PeerIds are
  for (std::size_t i = 0; i < options.nodes; ++i) {
    std::string id = std::to_string(i);
    peers.push_back("node-" + std::string(6 - std::min<std::size_t>(6, id.size()), '0') + id);
  }
  std::vector<std::size_t> everyone(options.nodes);
  for (std::size_t i = 0; i < options.nodes; ++i) everyone[i] = i;
  const PlacementPolicy policy{options.policy, {}};

  PlacementSimReport report;
  report.nodes = options.nodes;
  report.jobs = options.jobs;
  std::vector<double> regrets, ranks;
  std::size_t placed = 0, full_placed = 0, first_round = 0, widenings = 0, evaluated = 0;
  for (std::size_t j = 0; j < options.jobs; ++j) {
    const Job job = synthetic_job(rng);
    const auto job_id = sha256("sim-job-" + std::to_string(options.seed) + "-" + std::to_string(j));
    const Decision d = place_sampled(sampled, peers, job_id, job, options);
    const Placement best_here = place_over(sampled.free, everyone, job, policy);
    if (all_placed(d.placement) && all_placed(best_here)) {
      regrets.push_back(regret_pct(sampled, policy, best_here, d.placement));
      ranks.push_back(rank_pct(sampled, job, policy, d.placement));
    }
    placed += all_placed(d.placement);
    first_round += all_placed(d.placement) && d.widenings == 0;
    widenings += d.widenings;
    report.widenings_max = std::max(report.widenings_max, d.widenings);
    evaluated += d.evaluated;
    commit(sampled, job, d.placement);
    const Placement full_choice = place_over(full.free, everyone, job, policy);
    full_placed += all_placed(full_choice);
    commit(full, job, full_choice);
  }
  const double jobs = static_cast<double>(options.jobs);
  report.placed_fraction = static_cast<double>(placed) / jobs;
  report.full_scan_placed_fraction = static_cast<double>(full_placed) / jobs;
  report.first_round_fit_fraction = static_cast<double>(first_round) / jobs;
  report.regret_mean_pct = mean(regrets);
  report.regret_p99_pct = percentile(regrets, 0.99);
  report.rank_mean_pct = mean(ranks);
  report.stranded_cpu_fraction = stranded_cpu_fraction(sampled);
  report.full_scan_stranded_cpu_fraction = stranded_cpu_fraction(full);
  report.used_cpu_fraction = used_cpu_fraction(sampled);
  report.widenings_mean = static_cast<double>(widenings) / jobs;
  report.candidates_mean = static_cast<double>(evaluated) / jobs;
  return report;
}

}  // namespace veil::sched
