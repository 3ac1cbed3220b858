// `veil bench schedule`: one encrypted placement decision on synthetic telemetry, timed, and
// checked against the plaintext reference. `veil bench throughput`: many decisions back to
// back, and the placements per minute a cluster of such schedulers sustains (throughput_sim.h).
// `veil bench cpu`: the core's measured clock and vector units, to put beside any figure.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <numeric>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "cpu_probe.h"
#include "veil/common/sha256.h"
#include "veil/common/thread_pool.h"
#include "veil/fhe/fhe.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/sampling.h"
#include "veil/sched/throughput_sim.h"

namespace veil::cli {
namespace {

struct ScheduleBenchOptions {
  std::size_t nodes = 16;
  std::string policy = "spread";
  std::uint32_t replicas = 1;
  std::string params = "default";
  std::size_t repetitions = 3;
  std::uint64_t seed = 1;
  std::uint32_t gpus = 0;  // > 0: the job also requests GPUs and weights them
  std::string candidates = "all";  // a number or all: the rendezvous sample a round evaluates
  std::size_t threads = 0;         // computing threads; 0: VEIL_THREADS or one per hardware thread
  bool reserve = false;            // also the homomorphic reservation, which a node's round skips
  std::string output = "table";  // -o/--output; --json is -o json
};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// CPU time of the whole process (every thread), in ms: on a shared machine it moves far less
// with other users' load than the wall time does.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Telemetry of plausible machines: 2-64 cores, 4-256 GiB, 50 GiB-2 TiB disk, 0-2 GPUs, 0.1-20 ms.
sched::QuantizedTelemetry random_node(std::mt19937_64& rng) {
  sched::FreeCapacity free;
  free.cpu_millicores = 2000 + rng() % 62000;
  free.memory_mib = 4096 + rng() % (252 * 1024);
  free.disk_mib = 50 * 1024 + rng() % (2 * 1024 * 1024);
  free.gpus = rng() % 3;
  free.latency_us = 100 + rng() % 20000;
  return sched::quantize_telemetry(free);
}

// The synthetic cluster's peer ids, in PeerId order: "node-000000", "node-000001", ...
std::vector<std::string> bench_peer_ids(std::size_t nodes) {
  std::vector<std::string> peers;
  for (std::size_t i = 0; i < nodes; ++i) {
    std::string id = std::to_string(i);
    peers.push_back("node-" + std::string(6 - std::min<std::size_t>(6, id.size()), '0') + id);
  }
  return peers;
}

// `full` restricted to the rendezvous sample of `job_id` (round 0), in PeerId order: what a
// round with `count` candidates evaluates. The round-robin offset is kept within the sample.
sched::PlacementInput keep_sample(const sched::PlacementInput& full, const std::vector<std::string>& peers,
                                  const sched::CandidateCount& count,
                                  const std::array<std::uint8_t, 32>& job_id) {
  const std::size_t d = sched::candidates_for_round(count, peers.size(), full.replicas, 0);
  const auto sample = sched::sample_candidates(job_id, 0, peers, d);
  sched::PlacementInput plain = full;
  plain.nodes.clear();
  for (std::size_t i = 0, next = 0; i < peers.size() && next < sample.size(); ++i) {
    if (peers[i] == sample[next]) plain.nodes.push_back(full.nodes[i]), ++next;
  }
  plain.round_robin_offset %= static_cast<std::uint32_t>(plain.nodes.size());
  return plain;
}

// The benchmark job (4 cores, 16 GiB, 100 GiB and `gpus` GPUs, each requested resource
// weighted 1) over `nodes` random machines; the same seed gives the same cluster.
sched::PlacementInput synthetic_cluster(std::size_t nodes, std::uint64_t seed, std::uint32_t gpus,
                                        sched::PolicyKind kind, std::uint32_t replicas) {
  std::mt19937_64 rng(seed);
  sched::PlacementInput plain;
  for (std::size_t i = 0; i < nodes; ++i) plain.nodes.push_back(random_node(rng));
  plain.request = *sched::quantize_request(
      {.cpu_millicores = 4000, .memory_mib = 16 * 1024, .disk_mib = 100 * 1024, .gpus = gpus});
  plain.policy.kind = kind;
  plain.policy.weights.disk = 1;
  plain.policy.weights.gpu = gpus > 0 ? 1 : 0;
  plain.replicas = replicas;
  plain.round_robin_offset = static_cast<std::uint32_t>(rng() % nodes);
  return plain;
}

// What a scheduler receives: each node's telemetry encrypted with the compact public key.
sched::EncryptedPlacementInput encrypt_input(const sched::PlacementInput& plain, const fhe::CompactPublicKey& key,
                                             bool reserve) {
  sched::EncryptedPlacementInput input;
  input.reserve = reserve;
  for (const auto& node : plain.nodes) input.nodes.push_back(sched::encrypt_telemetry(node, key));
  input.request = plain.request;
  input.policy = plain.policy;
  input.replicas = plain.replicas;
  input.round_robin_offset = plain.round_robin_offset;
  return input;
}

// The decision, and the post-reservation capacities when computed, equal the plaintext reference's.
bool matches_reference(const sched::EncryptedPlacement& placement, const sched::PlacementInput& plain,
                       bool reserved, const fhe::ClientKey& client) {
  const sched::Placement expected = sched::place_plaintext(plain);
  if (sched::decrypt_placement(placement, client) != expected) return false;
  if (!reserved) return placement.nodes_after.empty();
  return sched::decrypt_telemetry(placement.nodes_after, client) == sched::reserve(plain.nodes, plain.request, expected);
}

// --threads: sizes the shared pool, which reads VEIL_THREADS once, when first used (after this).
Status set_threads(std::size_t threads) {
  if (threads == 0) return Status::ok_status();
  setenv("VEIL_THREADS", std::to_string(threads).c_str(), 1);
  if (ThreadPool::shared().size() != threads)
    return invalid_argument("--threads: the thread pool had already started");
  return Status::ok_status();
}

struct BenchKeys {
  fhe::ClientKey client;
  fhe::ServerKey server;
  fhe::CompactPublicKey public_key;
};

BenchKeys generate_keys(const fhe::Parameters& params) {
  auto client = fhe::ClientKey::generate(params);
  auto server = fhe::ServerKey::generate(client);
  auto public_key = fhe::CompactPublicKey::generate(client);
  return {std::move(client), std::move(server), std::move(public_key)};
}

// A decision's levels (fhe::BatchProfile): how many batches, how wide on average, the most
// each thread count could speed the batched bootstraps up, their widths being what they are,
// how many times the threads read the whole bootstrapping key, and the decision's wall time
// outside batches (median over the repetitions), which no thread count shortens. A thread
// count that measures far below its bound is held back by something else (memory, shared
// caches, frequency), one near it by the circuit's narrow levels.
nlohmann::json levels_json(const fhe::BatchProfile& profile, double outside_batches_ms) {
  nlohmann::json bound = nlohmann::json::object(), streams = nlohmann::json::object();
  for (std::size_t i = 0; i < profile.kThreads.size(); ++i) {
    const std::string threads = std::to_string(profile.kThreads[i]);
    const double steps = static_cast<double>(std::max<std::uint64_t>(1, profile.steps_at[i]));
    bound[threads] = std::round(100.0 * static_cast<double>(profile.bootstraps) / steps) / 100.0;
    streams[threads] = profile.streams_at[i];
  }
  const double mean_width =
      static_cast<double>(profile.bootstraps) / static_cast<double>(std::max<std::uint64_t>(1, profile.batches));
  return {{"batches", profile.batches},
          {"batched_bootstraps", profile.bootstraps},
          {"mean_width", std::round(10.0 * mean_width) / 10.0},
          {"speedup_bound", bound},
          {"key_streams", streams},
          {"outside_batches_ms", std::round(outside_batches_ms)}};
}

int run_schedule_bench(const ScheduleBenchOptions& options) {
  const fhe::Parameters* params = fhe::params_by_name(options.params);
  if (params == nullptr) return usage("unknown parameter set '" + options.params + "' (use default or test)");
  auto kind = sched::parse_policy_name(options.policy);
  if (!kind.ok()) return usage(kind.status());
  auto count = sched::parse_candidate_count(options.candidates);
  if (!count.ok()) return usage(count.status());
  if (Status threads = set_threads(options.threads); !threads.ok()) return fail(threads);
  auto progress = [&](const std::string& what) {
    if (!structured_output(options.output)) std::cerr << "[bench] " << what << "\n";
  };

  progress("generating keys (" + std::string(params->name) + ")");
  auto start = std::chrono::steady_clock::now();
  const BenchKeys keys = generate_keys(*params);
  const double keygen_ms = elapsed_ms(start);

  // Only the sampled nodes (a fixed job id) are encrypted and evaluated.
  const sched::PlacementInput plain =
      keep_sample(synthetic_cluster(options.nodes, options.seed, options.gpus, *kind, options.replicas),
                  bench_peer_ids(options.nodes), *count, sha256(std::string_view("veil-bench-schedule")));
  progress("encrypting telemetry of " + std::to_string(plain.nodes.size()) + " of " + std::to_string(options.nodes) +
           " nodes (the sampled candidates) with the compact public key");
  const sched::EncryptedPlacementInput input = encrypt_input(plain, keys.public_key, options.reserve);

  std::vector<double> times, cpu_times;
  bool matches = true;
  std::uint64_t bootstraps = 0;
  std::size_t outputs_bytes = 0;
  fhe::BatchProfile levels;
  std::vector<double> outside_batches;
  for (std::size_t rep = 0; rep < options.repetitions; ++rep) {
    const std::uint64_t before = fhe::bootstrap_count();
    const fhe::BatchProfile levels_before = fhe::batch_profile();
    const double cpu_before = process_cpu_ms();
    start = std::chrono::steady_clock::now();
    sched::EncryptedPlacement placement = sched::place_encrypted(input, keys.server);
    times.push_back(elapsed_ms(start));
    cpu_times.push_back(process_cpu_ms() - cpu_before);
    bootstraps = fhe::bootstrap_count() - before;
    levels = fhe::batch_profile() - levels_before;
    outside_batches.push_back(times.back() - static_cast<double>(levels.batch_wall_ns) / 1e6);
    outputs_bytes = sched::serialize_placement_outputs(placement).size();
    matches = matches && matches_reference(placement, plain, options.reserve, keys.client);
    progress("decision " + std::to_string(rep + 1) + "/" + std::to_string(options.repetitions) + ": " +
             std::to_string(static_cast<long>(times.back())) + " ms, " + std::to_string(bootstraps) + " bootstraps");
  }

  nlohmann::json out = {{"decision_ms", median(times)},
                        {"decision_cpu_ms", median(cpu_times)},
                        {"bootstraps", bootstraps},
                        {"nodes", options.nodes},
                        {"candidates", plain.nodes.size()},
                        {"resources", options.gpus > 0 ? 4 : 3},
                        {"policy", options.policy},
                        {"replicas", options.replicas},
                        {"reserve", options.reserve},
                        {"outputs_bytes", outputs_bytes},
                        {"matches_plaintext", matches},
                        {"params", params->name},
                        {"threads", ThreadPool::shared().size()},
                        {"levels", levels_json(levels, median(outside_batches))},
                        {"repetitions", options.repetitions},
                        {"keygen_ms", keygen_ms}};
  if (structured_output(options.output)) {
    print_data(out, options.output, -1);
  } else {
    std::cout << out.dump(2) << "\n";
  }
  return matches ? kExitOk : kExitFailure;
}

// ---- veil bench throughput -------------------------------------------------------------

struct ThroughputBenchOptions {
  std::size_t nodes = 1024;
  std::size_t jobs = 10;
  std::string candidates = "16";
  std::size_t schedulers = 3;  // per round, in the estimate (the daemon's sched.schedulers default)
  std::string params = "default";
  std::uint64_t seed = 1;
  std::size_t threads = 0;
  double latency_bound_x = 10;  // the estimate's p99 bound, in measured median decision times
  bool service_spread = false;  // the estimate resamples the measured times instead of the median
  bool reserve = false;         // also the homomorphic reservation, which a node's round skips
  std::string output = "table";
};

// The clusters the estimate reports (issue 18: 100 and 1,000 nodes).
constexpr std::size_t kEstimateClusters[] = {100, 1000};

// The measured part: J decisions back to back, each over its own job id's sample.
struct MeasuredDecisions {
  std::vector<double> wall_ms, cpu_ms;
  std::vector<double> bootstraps;
  std::size_t candidates = 0;  // evaluated per decision
  bool matches_plaintext = true;
};

MeasuredDecisions measure_decisions(const ThroughputBenchOptions& options, const sched::CandidateCount& count,
                                    const BenchKeys& keys,
                                    const std::function<void(const std::string&)>& progress) {
  const sched::PlacementInput cluster =
      synthetic_cluster(options.nodes, options.seed, 0, sched::PolicyKind::kSpread, 1);
  const std::vector<std::string> peers = bench_peer_ids(options.nodes);
  MeasuredDecisions m;
  for (std::size_t j = 0; j < options.jobs; ++j) {
    // A different job id per decision, so a different sample; encrypting it is the nodes' work,
    // not the scheduler's, and is not timed.
    const sched::PlacementInput plain = keep_sample(
        cluster, peers, count, sha256(std::string_view("veil-bench-throughput-" + std::to_string(j))));
    const sched::EncryptedPlacementInput input = encrypt_input(plain, keys.public_key, options.reserve);
    const std::uint64_t before = fhe::bootstrap_count();
    const double cpu_before = process_cpu_ms();
    const auto start = std::chrono::steady_clock::now();
    const sched::EncryptedPlacement placement = sched::place_encrypted(input, keys.server);
    m.wall_ms.push_back(elapsed_ms(start));
    m.cpu_ms.push_back(process_cpu_ms() - cpu_before);
    m.bootstraps.push_back(static_cast<double>(fhe::bootstrap_count() - before));
    m.candidates = plain.nodes.size();
    m.matches_plaintext = m.matches_plaintext && matches_reference(placement, plain, options.reserve, keys.client);
    progress("decision " + std::to_string(j + 1) + "/" + std::to_string(options.jobs) + ": " +
             std::to_string(static_cast<long>(m.wall_ms.back())) + " ms, " +
             std::to_string(static_cast<long>(m.bootstraps.back())) + " bootstraps");
  }
  return m;
}

// The estimated part: the sustained rate of M-node clusters whose nodes serve rounds at the
// measured decision time (throughput_sim.h).
Result<nlohmann::json> estimate_clusters(const ThroughputBenchOptions& options, const MeasuredDecisions& m) {
  const double decision_ms = sched::nearest_rank_percentile(m.wall_ms, 0.50);  // the reported decision_p50_ms
  nlohmann::json estimate = nlohmann::json::array();
  for (const std::size_t nodes : kEstimateClusters) {
    sched::ThroughputSimOptions sim;
    sim.nodes = nodes;
    sim.schedulers = options.schedulers;
    sim.service_ms = options.service_spread ? m.wall_ms : std::vector<double>{decision_ms};
    sim.seed = options.seed;
    VEIL_ASSIGN_OR_RETURN(sched::SustainedRate r,
                          sched::estimate_sustained_rate(sim, options.latency_bound_x * decision_ms));
    estimate.push_back({{"nodes", nodes},
                        {"schedulers", options.schedulers},
                        {"quorum", r.at_rate.quorum},
                        {"placements_per_min", r.placements_per_min},
                        {"latency_p50_ms", r.at_rate.latency_p50_ms},
                        {"latency_p99_ms", r.at_rate.latency_p99_ms},
                        {"latency_bound_ms", r.latency_bound_ms},
                        {"utilisation", r.at_rate.utilisation},
                        {"capacity_bound_per_min", r.capacity_bound_per_min},
                        {"service", options.service_spread ? "measured" : "median"}});
  }
  return estimate;
}

void print_throughput_table(const nlohmann::json& out) {
  std::printf("measured: one scheduler, %zu decisions over %zu of %zu nodes, %zu threads, params %s\n",
              out["jobs"].get<std::size_t>(), out["candidates"].get<std::size_t>(),
              out["nodes"].get<std::size_t>(), out["threads"].get<std::size_t>(),
              out["params"].get<std::string>().c_str());
  std::printf(
      "  placements_per_min %.2f   decision p50 %.0f ms   p99 %.0f ms   cpu p50 %.0f ms   bootstraps %.0f   "
      "matches_plaintext %s\n",
      out["placements_per_min"].get<double>(), out["decision_p50_ms"].get<double>(),
      out["decision_p99_ms"].get<double>(), out["decision_cpu_p50_ms"].get<double>(),
      out["bootstraps_per_decision"].get<double>(), out["matches_plaintext"].get<bool>() ? "true" : "false");
  std::printf(
      "estimated: rounds arrive as a Poisson process, each evaluated by its own schedulers (quorum of them), "
      "one FIFO FHE worker per node\n");
  std::printf("%8s %10s %7s %18s %14s %14s %12s %11s %18s\n", "nodes", "schedulers", "quorum",
              "placements_per_min", "latency_p50_ms", "latency_p99_ms", "bound_ms", "busy",
              "capacity_bound/min");
  for (const auto& e : out["estimate"]) {
    std::printf("%8zu %10zu %7zu %18.1f %14.0f %14.0f %12.0f %10.1f%% %18.1f\n",
                e["nodes"].get<std::size_t>(), e["schedulers"].get<std::size_t>(),
                e["quorum"].get<std::size_t>(), e["placements_per_min"].get<double>(),
                e["latency_p50_ms"].get<double>(), e["latency_p99_ms"].get<double>(),
                e["latency_bound_ms"].get<double>(), 100 * e["utilisation"].get<double>(),
                e["capacity_bound_per_min"].get<double>());
  }
}

int run_throughput_bench(const ThroughputBenchOptions& options) {
  const fhe::Parameters* params = fhe::params_by_name(options.params);
  if (params == nullptr)
    return usage("--params: unknown parameter set '" + options.params + "' (use default or test)");
  auto count = sched::parse_candidate_count(options.candidates);
  if (!count.ok()) return usage(count.status().with_context("--candidates"));
  if (Status threads = set_threads(options.threads); !threads.ok()) return fail(threads);
  auto progress = [&](const std::string& what) {
    if (!structured_output(options.output)) std::cerr << "[bench] " << what << "\n";
  };

  progress("generating keys (" + std::string(params->name) + ")");
  const BenchKeys keys = generate_keys(*params);
  const MeasuredDecisions m = measure_decisions(options, *count, keys, progress);
  const double evaluating_min = std::accumulate(m.wall_ms.begin(), m.wall_ms.end(), 0.0) / 60'000.0;

  progress("estimating the sustained rate of 100- and 1,000-node clusters");
  auto estimate = estimate_clusters(options, m);
  if (!estimate.ok()) return usage(estimate.status());
  nlohmann::json out = {{"placements_per_min", static_cast<double>(options.jobs) / evaluating_min},
                        {"decision_p50_ms", sched::nearest_rank_percentile(m.wall_ms, 0.50)},
                        {"decision_p99_ms", sched::nearest_rank_percentile(m.wall_ms, 0.99)},
                        {"decision_cpu_p50_ms", sched::nearest_rank_percentile(m.cpu_ms, 0.50)},
                        {"bootstraps_per_decision", median(m.bootstraps)},
                        {"jobs", options.jobs},
                        {"nodes", options.nodes},
                        {"candidates", m.candidates},
                        {"threads", ThreadPool::shared().size()},
                        {"params", params->name},
                        {"reserve", options.reserve},
                        {"matches_plaintext", m.matches_plaintext},
                        {"estimate", *estimate}};
  if (structured_output(options.output)) {
    print_data(out, options.output, -1);
  } else {
    print_throughput_table(out);
  }
  return m.matches_plaintext ? kExitOk : kExitFailure;
}

void register_bench_throughput(CLI::App* noun, CommandAction& action) {
  auto options = std::make_shared<ThroughputBenchOptions>();
  auto* cmd =
      noun->add_subcommand("throughput",
                           "Placements per minute: one scheduler evaluates --jobs encrypted decisions "
                           "back to back (spread, one replica, each over its own job's rendezvous "
                           "sample), then a queueing simulation estimates what 100- and 1,000-node "
                           "clusters sustain when each round has its own --schedulers");
  cmd->add_option("--nodes", options->nodes, "Nodes of the synthetic cluster the samples are drawn from")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--jobs", options->jobs, "Decisions to time, back to back (a different job id each)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--candidates", options->candidates,
                  "Candidates per decision: a number 1-4096, auto or all")
      ->capture_default_str();
  cmd->add_option("--schedulers", options->schedulers,
                  "Schedulers per round in the estimate; a round needs floor(K/2)+1 of them")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--params", options->params, "FHE parameters: default, or test (INSECURE, fast)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed of the synthetic telemetry and of the simulation")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads,
                  "Threads that compute (the shared pool's size); 0: VEIL_THREADS, or one per hardware "
                  "thread")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--latency-bound", options->latency_bound_x,
                  "The estimate's bound on the p99 round latency, in median decision times")
      ->check(CLI::Range(1.0, 1000.0))
      ->capture_default_str();
  cmd->add_flag(
      "--service-spread", options->service_spread,
      "In the estimate, draw each evaluation's time from the measured decision times instead of using "
      "their median");
  cmd->add_flag("--reserve", options->reserve,
                "Also compute every candidate's encrypted capacity after the reservation (a node's round does "
                "not; about a fifth more bootstraps)");
  add_output_option(cmd, options->output);
  add_json_alias(cmd, options->output);
  cmd->callback([options, &action] { action = [options] { return run_throughput_bench(*options); }; });
}

// ---- veil bench cpu --------------------------------------------------------------------

int run_cpu_bench(const std::string& output) {
  const CpuProbe probe = probe_cpu();
  auto optional_number = [](const std::optional<double>& v) -> nlohmann::json {
    return v ? nlohmann::json(std::round(*v * 100) / 100) : nlohmann::json(nullptr);
  };
  const nlohmann::json out = {{"model", probe.model},
                              {"clock_ghz", optional_number(probe.clock_ghz)},
                              {"fma256_per_cycle", optional_number(probe.fma256_per_cycle)},
                              {"fma512_per_cycle", optional_number(probe.fma512_per_cycle)},
                              {"fft", fhe::fft_backend_name()}};
  if (structured_output(output)) {
    print_data(out, output, -1);
    return kExitOk;
  }
  auto show = [](const std::optional<double>& v, const char* unit) {
    char buffer[64];
    if (!v) return std::string("-");
    std::snprintf(buffer, sizeof buffer, "%.2f %s", *v, unit);
    return std::string(buffer);
  };
  std::cout << "model             " << (probe.model.empty() ? "-" : probe.model) << "\n"
            << "clock (measured)  " << show(probe.clock_ghz, "GHz") << "\n"
            << "256-bit FMA       " << show(probe.fma256_per_cycle, "per cycle") << "\n"
            << "512-bit FMA       " << show(probe.fma512_per_cycle, "per cycle") << "\n"
            << "FFT kernels       " << fhe::fft_backend_name() << "\n";
  return kExitOk;
}

void register_bench_cpu(CLI::App* noun, CommandAction& action) {
  auto output = std::make_shared<std::string>("table");
  auto* cmd = noun->add_subcommand(
      "cpu",
      "Measure this core's clock (a chain of dependent multiplies) and its FMA units (independent fused "
      "multiply-adds per cycle), to turn timings from different machines into cycles; well under a second");
  add_output_option(cmd, *output);
  add_json_alias(cmd, *output);
  cmd->callback([output, &action] { action = [output] { return run_cpu_bench(*output); }; });
}

}  // namespace

void register_bench_commands(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto options = std::make_shared<ScheduleBenchOptions>();
  auto* noun = app.add_subcommand("bench", "Benchmarks of whole features (see also `veil fhe bench`)");
  noun->require_subcommand(1);
  auto* schedule = noun->add_subcommand(
      "schedule", "Time one encrypted placement decision on synthetic telemetry and check it against plaintext");
  schedule->add_option("--nodes", options->nodes, "Number of nodes")->check(CLI::Range(1, 4096));
  schedule->add_option("--policy", options->policy, "spread, binpack, priority-round-robin or latency");
  schedule->add_option("--replicas", options->replicas, "Replicas to place")->check(CLI::Range(1, 64));
  schedule->add_option("--params", options->params, "FHE parameters: default, or test (INSECURE, fast)");
  schedule->add_option("--repetitions", options->repetitions, "Decisions to time; the median is reported")
      ->check(CLI::Range(1, 100));
  schedule->add_option("--seed", options->seed, "Seed of the synthetic telemetry");
  schedule->add_option("--gpus", options->gpus,
                       "Also request this many GPUs, weighted like the other resources (all four resources "
                       "filtered, scored and reserved); 0: CPU, memory and disk only")
      ->check(CLI::Range(0, 64));
  schedule->add_option("--candidates", options->candidates,
                       "Evaluate only the rendezvous sample of this many of the --nodes (a fixed job id, round "
                       "0; at least 2 x replicas) or all; the plaintext reference runs over the same sample")
      ->capture_default_str();
  schedule->add_option("--threads", options->threads,
                       "Threads that compute (the shared pool's size); 0: VEIL_THREADS, or one per hardware "
                       "thread")
      ->check(CLI::Range(0, 1024));
  schedule->add_flag("--reserve", options->reserve,
                     "Also compute every candidate's encrypted capacity after the reservation and check it "
                     "(a node's round does not; about a fifth more bootstraps)");
  add_output_option(schedule, options->output)->description("Output format: table (default: indented JSON and progress), wide (the same), json (one line, no progress) or yaml");
  add_json_alias(schedule, options->output);
  schedule->callback([options, &action] { action = [options] { return run_schedule_bench(*options); }; });
  register_bench_throughput(noun, action);
  register_bench_cpu(noun, action);
}

}  // namespace veil::cli
