// `veil bench schedule`: one encrypted placement decision on synthetic telemetry, timed, and
// checked against the plaintext reference.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/sha256.h"
#include "veil/common/thread_pool.h"
#include "veil/fhe/fhe.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/sampling.h"

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
  std::size_t threads = 0;         // 0: VEIL_THREADS or one per hardware thread
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

// The bench's cluster restricted to the rendezvous sample of a fixed job id (round 0), in
// PeerId order: what a round with `count` candidates evaluates.
void keep_sample(sched::PlacementInput& plain, const sched::CandidateCount& count) {
  std::vector<std::string> peers;
  for (std::size_t i = 0; i < plain.nodes.size(); ++i) {
    std::string id = std::to_string(i);
    peers.push_back("node-" + std::string(6 - std::min<std::size_t>(6, id.size()), '0') + id);
  }
  const std::size_t d = sched::candidates_for_round(count, peers.size(), plain.replicas, 0);
  const auto sample = sched::sample_candidates(sha256(std::string_view("veil-bench-schedule")), 0, peers, d);
  std::vector<sched::QuantizedTelemetry> kept;
  for (std::size_t i = 0, next = 0; i < peers.size() && next < sample.size(); ++i) {
    if (peers[i] == sample[next]) kept.push_back(plain.nodes[i]), ++next;
  }
  plain.nodes = std::move(kept);
}

int run_schedule_bench(const ScheduleBenchOptions& options) {
  const fhe::Parameters* params = fhe::params_by_name(options.params);
  if (params == nullptr) return usage("unknown parameter set '" + options.params + "' (use default or test)");
  auto kind = sched::parse_policy_name(options.policy);
  if (!kind.ok()) return usage(kind.status());
  auto count = sched::parse_candidate_count(options.candidates);
  if (!count.ok()) return usage(count.status());
  if (options.threads > 0) {
    // The shared pool reads VEIL_THREADS once, when first used, which is below.
    setenv("VEIL_THREADS", std::to_string(options.threads).c_str(), 1);
    if (ThreadPool::shared().size() != options.threads) return fail("--threads: the thread pool had already started");
  }
  auto progress = [&](const std::string& what) {
    if (!structured_output(options.output)) std::cerr << "[bench] " << what << "\n";
  };

  progress("generating keys (" + std::string(params->name) + ")");
  auto start = std::chrono::steady_clock::now();
  const auto client = fhe::ClientKey::generate(*params);
  const auto server = fhe::ServerKey::generate(client);
  const auto public_key = fhe::CompactPublicKey::generate(client);
  const double keygen_ms = elapsed_ms(start);

  std::mt19937_64 rng(options.seed);
  sched::PlacementInput plain;
  for (std::size_t i = 0; i < options.nodes; ++i) plain.nodes.push_back(random_node(rng));
  plain.request = *sched::quantize_request(
      {.cpu_millicores = 4000, .memory_mib = 16 * 1024, .disk_mib = 100 * 1024, .gpus = options.gpus});
  plain.policy.kind = *kind;
  plain.policy.weights.disk = 1;
  plain.policy.weights.gpu = options.gpus > 0 ? 1 : 0;
  plain.replicas = options.replicas;
  plain.round_robin_offset = static_cast<std::uint32_t>(rng() % options.nodes);
  keep_sample(plain, *count);  // only the sampled nodes are encrypted and evaluated
  plain.round_robin_offset %= static_cast<std::uint32_t>(plain.nodes.size());

  progress("encrypting telemetry of " + std::to_string(plain.nodes.size()) + " of " + std::to_string(options.nodes) +
           " nodes (the sampled candidates) with the compact public key");
  sched::EncryptedPlacementInput input;
  for (const auto& node : plain.nodes) input.nodes.push_back(sched::encrypt_telemetry(node, public_key));
  input.request = plain.request;
  input.policy = plain.policy;
  input.replicas = plain.replicas;
  input.round_robin_offset = plain.round_robin_offset;

  const sched::Placement expected = sched::place_plaintext(plain);
  std::vector<double> times, cpu_times;
  bool matches = true;
  std::uint64_t bootstraps = 0;
  for (std::size_t rep = 0; rep < options.repetitions; ++rep) {
    const std::uint64_t before = fhe::bootstrap_count();
    const double cpu_before = process_cpu_ms();
    start = std::chrono::steady_clock::now();
    sched::EncryptedPlacement placement = sched::place_encrypted(input, server);
    times.push_back(elapsed_ms(start));
    cpu_times.push_back(process_cpu_ms() - cpu_before);
    bootstraps = fhe::bootstrap_count() - before;
    // The decision and the post-reservation capacities must both equal the reference's.
    matches = matches && sched::decrypt_placement(placement, client) == expected &&
              sched::decrypt_telemetry(placement.nodes_after, client) ==
                  sched::reserve(plain.nodes, plain.request, expected);
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
                        {"matches_plaintext", matches},
                        {"params", params->name},
                        {"threads", ThreadPool::shared().size()},
                        {"repetitions", options.repetitions},
                        {"keygen_ms", keygen_ms}};
  if (structured_output(options.output)) {
    print_data(out, options.output, -1);
  } else {
    std::cout << out.dump(2) << "\n";
  }
  return matches ? kExitOk : kExitFailure;
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
                       "Worker threads of the shared pool (the caller also works); 0: VEIL_THREADS or one per "
                       "hardware thread")
      ->check(CLI::Range(0, 1024));
  add_output_option(schedule, options->output)->description("Output format: table (default: indented JSON and progress), wide (the same), json (one line, no progress) or yaml");
  add_json_alias(schedule, options->output);
  schedule->callback([options, &action] { action = [options] { return run_schedule_bench(*options); }; });
}

}  // namespace veil::cli
