// `veil sim swim`: the SWIM + Lifeguard discrete-event simulator (src/swim/sim.h).
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/quantity.h"
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

}  // namespace

void register_sim_commands(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto* noun = app.add_subcommand("sim", "Run protocol simulations on one machine");
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
}

}  // namespace veil::cli
