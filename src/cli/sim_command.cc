// `veil sim swim`: the SWIM + Lifeguard discrete-event simulator (src/swim/sim.h).
// `veil sim placement`: the quality of candidate sampling (src/sched/placement_sim.h).
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/quantity.h"
#include "veil/sched/placement_sim.h"
#include "veil/swim/sim.h"

namespace veil::cli {
namespace {

struct SimSwimFlags {
  swim::SimOptions options;
  std::string preset = "lan";
  std::string partition;  // "A:B" in periods
  std::string output = "table";  // -o/--output; --json is -o json
  bool no_lifeguard = false;
  std::int64_t gossip_interval_ms = -1;  // -1: the preset's
};

nlohmann::json to_json(const swim::SimReport& r, const SimSwimFlags& f) {
  auto num = [](double v) -> nlohmann::json { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
  double period_s = static_cast<double>(r.period_ms) / 1000.0;
  auto secs = [&](double periods) -> nlohmann::json {
    return periods < 0 ? nlohmann::json(nullptr) : nlohmann::json(periods * period_s);
  };
  return {
      {"members", r.members},
      {"periods", r.periods},
      {"period_ms", r.period_ms},
      {"preset", f.preset},
      {"lifeguard", !f.no_lifeguard},
      {"gossip_interval_ms", f.options.config.gossip_interval_ms},
      {"loss", f.options.loss},
      {"slow", f.options.slow},
      {"slow_delay_ms", f.options.slow_delay_ms},
      {"seed", f.options.seed},
      {"killed", r.killed},
      {"detected", r.detected},
      {"fully_disseminated", r.fully_disseminated},
      {"first_detection_mean_periods", num(r.first_detection_mean_periods)},
      {"first_detection_p50_periods", num(r.first_detection_p50_periods)},
      {"first_detection_p99_periods", num(r.first_detection_p99_periods)},
      {"first_detection_p50_s", secs(r.first_detection_p50_periods)},
      {"first_detection_p99_s", secs(r.first_detection_p99_periods)},
      {"first_suspicion_mean_s", num(r.first_suspicion_mean_s)},
      {"expected_first_detection_periods", r.expected_first_detection_periods},
      {"dissemination_p50_periods", num(r.dissemination_p50_periods)},
      {"dissemination_p99_periods", num(r.dissemination_p99_periods)},
      {"dissemination_p50_s", secs(r.dissemination_p50_periods)},
      {"dissemination_p99_s", secs(r.dissemination_p99_periods)},
      {"full_detection_p50_periods", num(r.full_detection_p50_periods)},
      {"full_detection_p99_periods", num(r.full_detection_p99_periods)},
      {"false_positives", r.false_positives},
      {"false_positives_partition", r.false_positives_partition},
      {"false_positives_slow", r.false_positives_slow},
      {"false_positive_events", r.false_positive_events},
      {"false_positive_events_by_slow", r.false_positive_events_by_slow},
      {"msgs_per_member_per_period", r.msgs_per_member_per_period},
      {"bytes_per_member_per_period", r.bytes_per_member_per_period},
      {"push_pull_bytes_per_member_per_period", r.push_pull_bytes_per_member_per_period},
      {"loss_observed", r.loss_observed},
      {"partition_convergence_periods", num(r.partition_convergence_periods)},
      {"partition_convergence_s", secs(r.partition_convergence_periods)},
      {"wire_errors", r.wire_errors},
      {"elapsed_s", r.elapsed_s},
  };
}

// "10" or "10.5" protocol periods, through the one quantity parser (no nan, inf or exponents).
Result<double> parse_periods(std::string_view text) {
  static constexpr QuantityUnit kThousandths[] = {{"", 1000}};
  static constexpr QuantitySyntax kPeriods{.what = "number of protocol periods",
                                           .examples = "10 or 12.5",
                                           .base = "thousandths of a period",
                                           .units = kThousandths,
                                           .round_up = false,
                                           .max = 1'000'000'000};
  VEIL_ASSIGN_OR_RETURN(std::uint64_t thousandths, parse_quantity(text, kPeriods));
  return static_cast<double>(thousandths) / 1000.0;
}

int run_sim_swim(SimSwimFlags& f) {
  auto preset = swim::Config::preset(f.preset);
  if (!preset.ok()) return usage(preset.status());
  f.options.config = *preset;
  if (f.gossip_interval_ms >= 0) f.options.config.gossip_interval_ms = f.gossip_interval_ms;
  f.options.lifeguard = !f.no_lifeguard;
  if (!f.partition.empty()) {
    const auto colon = f.partition.find(':');
    if (colon == std::string::npos) return usage("--partition takes START:END in protocol periods, e.g. 10:30");
    auto start = parse_periods(std::string_view(f.partition).substr(0, colon));
    auto end = parse_periods(std::string_view(f.partition).substr(colon + 1));
    if (!start.ok()) return usage(start.status().with_context("--partition START"));
    if (!end.ok()) return usage(end.status().with_context("--partition END"));
    f.options.partition_start = *start;
    f.options.partition_end = *end;
  }
  auto report = swim::run_simulation(f.options);
  // run_simulation refuses options it cannot simulate (invalid_argument): those came from flags.
  if (!report.ok()) {
    return report.status().code() == StatusCode::kInvalidArgument ? usage(report.status()) : fail(report.status());
  }
  auto json = to_json(*report, f);
  if (structured_output(f.output)) {
    print_data(json, f.output, -1);
  } else {
    for (const auto& [key, value] : json.items()) std::cout << key << ": " << value.dump() << "\n";
  }
  return kExitOk;
}

struct SimPlacementFlags {
  sched::PlacementSimOptions options;
  std::string candidates = "2,4,8,16,32,all";  // one or a comma list
  std::string policy = "spread";
  std::string output = "table";
};

nlohmann::json to_json(const sched::PlacementSimReport& r, const sched::CandidateCount& d,
                       const SimPlacementFlags& f) {
  return {{"nodes", r.nodes},
          {"jobs", r.jobs},
          {"candidates", sched::format_candidate_count(d)},
          {"policy", f.policy},
          {"seed", f.options.seed},
          {"placed_fraction", r.placed_fraction},
          {"full_scan_placed_fraction", r.full_scan_placed_fraction},
          {"first_round_fit_fraction", r.first_round_fit_fraction},
          {"regret_mean_pct", r.regret_mean_pct},
          {"regret_p99_pct", r.regret_p99_pct},
          {"rank_mean_pct", r.rank_mean_pct},
          {"stranded_cpu_fraction", r.stranded_cpu_fraction},
          {"full_scan_stranded_cpu_fraction", r.full_scan_stranded_cpu_fraction},
          {"used_cpu_fraction", r.used_cpu_fraction},
          {"widenings_mean", r.widenings_mean},
          {"widenings_max", r.widenings_max},
          {"candidates_mean", r.candidates_mean}};
}

// "2,4,all" into candidate counts, each through the one parser.
Result<std::vector<sched::CandidateCount>> parse_candidate_list(std::string_view text) {
  std::vector<sched::CandidateCount> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    VEIL_ASSIGN_OR_RETURN(sched::CandidateCount d, sched::parse_candidate_count(item));
    out.push_back(d);
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

void print_placement_table(const std::vector<nlohmann::json>& rows) {
  std::printf("%-10s %8s %9s %9s %11s %10s %7s %9s %9s %10s %10s\n", "candidates", "placed", "full_scan", "1st_round",
              "regret_mean", "regret_p99", "rank", "stranded", "full_strd", "widenings", "evaluated");
  for (const auto& r : rows) {
    std::printf("%-10s %7.2f%% %8.2f%% %8.2f%% %10.2f%% %9.2f%% %6.1f%% %8.2f%% %8.2f%% %10.3f %10.1f\n",
                r["candidates"].get<std::string>().c_str(), 100 * r["placed_fraction"].get<double>(),
                100 * r["full_scan_placed_fraction"].get<double>(), 100 * r["first_round_fit_fraction"].get<double>(),
                r["regret_mean_pct"].get<double>(), r["regret_p99_pct"].get<double>(), r["rank_mean_pct"].get<double>(),
                100 * r["stranded_cpu_fraction"].get<double>(), 100 * r["full_scan_stranded_cpu_fraction"].get<double>(),
                r["widenings_mean"].get<double>(), r["candidates_mean"].get<double>());
  }
}

int run_sim_placement(SimPlacementFlags& f) {
  auto list = parse_candidate_list(f.candidates);
  if (!list.ok()) return usage(list.status());
  auto kind = sched::parse_policy_name(f.policy);
  if (!kind.ok()) return usage(kind.status().with_context("--policy"));
  f.options.policy = *kind;
  std::vector<nlohmann::json> rows;
  for (const auto& d : *list) {
    f.options.candidates = d;
    auto report = sched::run_placement_sim(f.options);
    if (!report.ok()) return usage(report.status());
    rows.push_back(to_json(*report, d, f));
  }
  if (structured_output(f.output)) {
    // One candidate count prints its object; a list prints an array of them.
    print_data(rows.size() == 1 ? rows[0] : nlohmann::json(rows), f.output, -1);
  } else {
    std::cout << f.options.nodes << " nodes, " << f.options.jobs << " jobs, policy " << f.policy << ", seed "
              << f.options.seed << ", used CPU at the end (sampled run, last row) "
              << static_cast<int>(100 * rows.back()["used_cpu_fraction"].get<double>()) << " %\n";
    print_placement_table(rows);
  }
  return kExitOk;
}

void register_sim_placement(CLI::App* noun, CommandAction& action) {
  auto flags = std::make_shared<SimPlacementFlags>();
  auto* cmd = noun->add_subcommand(
      "placement", "Plaintext study of candidate sampling: a skewed synthetic cluster receives jobs placed over "
                   "d sampled candidates (widened on no fit) and over all nodes; prints fraction placed, score "
                   "regret, stranded capacity and widenings per d");
  auto& o = flags->options;
  cmd->add_option("--nodes", o.nodes, "Cluster size")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--jobs", o.jobs, "Jobs placed one after the other (they stay)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--candidates", flags->candidates,
                  "Candidates per round: a number 1-4096, all or auto, or a comma list for one row each "
                  "(e.g. 2,4,8,16,32,all)")
      ->capture_default_str();
  cmd->add_option("--policy", flags->policy, "spread, binpack, priority-round-robin or latency")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed; the same seed gives the same run")->capture_default_str();
  add_output_option(cmd, flags->output);
  add_json_alias(cmd, flags->output);
  cmd->callback([flags, &action] { action = [flags] { return run_sim_placement(*flags); }; });
}

}  // namespace

void register_sim_commands(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto* noun = app.add_subcommand("sim", "Run protocol and placement simulations on one machine");
  noun->require_subcommand(1);
  auto flags = std::make_shared<SimSwimFlags>();
  auto* swim_cmd = noun->add_subcommand(
      "swim", "Discrete-event simulation of SWIM + Lifeguard membership (crashes, loss, slow "
              "members, partitions); prints detection, dissemination, false-positive and "
              "traffic figures");
  auto& o = flags->options;
  swim_cmd->add_option("--members", o.members, "Cluster size")->capture_default_str();
  swim_cmd->add_option("--loss", o.loss, "Probability that a message is lost (0..1)")->capture_default_str();
  swim_cmd->add_option("--kill", o.kill, "Members crashed at random times in the first third")->capture_default_str();
  swim_cmd->add_option("--slow", o.slow, "Fraction of members that process messages late (0..1)")->capture_default_str();
  swim_cmd->add_option("--slow-delay-ms", o.slow_delay_ms, "A slow member's extra delay per message: uniform [0, this]")
      ->capture_default_str();
  swim_cmd->add_option("--partition", flags->partition,
                       "START:END in periods: split the members in two halves for that window");
  swim_cmd->add_option("--periods", o.periods, "Simulated time, in protocol periods")->capture_default_str();
  swim_cmd->add_option("--seed", o.seed, "Seed; the same seed gives the same run")->capture_default_str();
  swim_cmd->add_option("--preset", flags->preset, "Protocol preset: lan, wan or local")
      ->check(CLI::IsMember({"lan", "wan", "local"}))
      ->capture_default_str();
  swim_cmd->add_option("--gossip-interval-ms", flags->gossip_interval_ms,
                       "Override the preset's gossip round interval; 0 = piggybacking only (classic SWIM)");
  swim_cmd->add_flag("--no-lifeguard", flags->no_lifeguard,
                     "Classic SWIM: no local health, fixed suspicion timeout, no nack, no buddy");
  swim_cmd->add_option("--latency-min-ms", o.latency_min_ms, "Smallest one-way latency")->capture_default_str();
  swim_cmd->add_option("--latency-max-ms", o.latency_max_ms, "Largest one-way latency")->capture_default_str();
  swim_cmd->add_flag("--wire", o.wire, "Encode and decode every message through the wire format");
  swim_cmd->add_flag("--join", o.join, "Start with every member joining through member 0 instead of converged");
  add_output_option(swim_cmd, flags->output);
  add_json_alias(swim_cmd, flags->output);
  swim_cmd->callback([flags, &action] { action = [flags] { return run_sim_swim(*flags); }; });
  register_sim_placement(noun, action);
}

}  // namespace veil::cli
