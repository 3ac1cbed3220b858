// `veil keys dkg`: one committee member's process of the dealer-free key generation (docs/dkg.md;
// the transport is veil/node/dkg_runner.h). Every member runs it at the same time:
//
//   veil keys dkg --threshold T --member-key MDIR --listen MULTIADDR
//       --member PUB=MULTIADDR --member PUB=MULTIADDR ... [--params default|test] --out DIR
//
// DIR receives what `veil keys ceremony` writes, less the other members' shares.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "member_keys.h"
#include "step_progress.h"
#include "veil/fhe/fhe.h"
#include "veil/node/dkg_runner.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;
using fhe::threshold::MemberPublicKey;

struct DkgOptions {
  unsigned threshold = 0;
  std::string member_key, listen, params = "default", out, output = "table";
  std::vector<std::string> members;
  unsigned start_timeout_s = 300;
  unsigned round_timeout_s = 600;
};

// "PUB=MULTIADDR": a member.pub file and where that member listens.
Result<node::DkgMemberAddress> parse_member(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    return invalid_argument("--member " + arg + ": expected PUB=MULTIADDR (a member.pub file and its address)");
  }
  node::DkgMemberAddress member;
  VEIL_ASSIGN_OR_RETURN(member.key, load_member_public_key(arg.substr(0, eq)));
  auto address = p2p::Multiaddr::parse(arg.substr(eq + 1));
  if (!address.ok()) return invalid_argument("--member " + arg + ": " + address.status().message());
  member.address = std::move(*address);
  return member;
}

nlohmann::json report_json(const node::DkgRunReport& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& round : r.rounds) {
    rounds.push_back({{"round", round.name},
                      {"bytes_sent", round.bytes_sent},
                      {"bytes_received", round.bytes_received},
                      {"seconds", round.seconds}});
  }
  return {{"member", r.id},          {"members", r.members},
          {"out", r.out.string()},   {"seconds", r.seconds},
          {"bytes_sent", r.bytes_sent}, {"bytes_received", r.bytes_received},
          {"rounds", rounds},        {"hashes", nlohmann::json::parse(r.hashes_json)}};
}

int cmd_dkg(const DkgOptions& o) {
  const fhe::Parameters* params = fhe::params_by_name(o.params);
  if (params == nullptr) return usage("--params must be default or test");
  auto self = load_member_secret_key(o.member_key);
  if (!self.ok()) return fail(self.status());
  auto listen = p2p::Multiaddr::parse(o.listen);
  if (!listen.ok()) return usage("--listen " + o.listen + ": " + listen.status().message());

  node::DkgRunConfig config;
  config.params = params;
  config.threshold = o.threshold;
  config.self = std::make_shared<const fhe::threshold::MemberSecretKey>(std::move(*self));
  config.listen = std::move(*listen);
  config.out = o.out;
  config.start_timeout = std::chrono::seconds(o.start_timeout_s);
  config.round_timeout = std::chrono::seconds(o.round_timeout_s);
  std::set<std::array<std::uint8_t, 32>> seen;
  bool self_listed = false;
  for (const auto& arg : o.members) {
    auto member = parse_member(arg);
    if (!member.ok()) return usage(member.status());
    if (!seen.insert(member->key.sign).second) return usage("--member " + arg + ": this member is listed twice");
    self_listed = self_listed || member->key == config.self->public_key();
    config.members.push_back(std::move(*member));
  }
  const std::size_t m = config.members.size();
  if (!self_listed) return usage("no --member entry holds the key in " + o.member_key + "; list every member, this one too");
  if (m < 3 || m > fhe::threshold::kMaxMembers) {
    return usage("a DKG needs 3 to " + std::to_string(fhe::threshold::kMaxMembers) + " members; " +
                 std::to_string(m) + " were listed");
  }
  if (o.threshold < 2 || o.threshold > (m + 1) / 2) {
    return usage("--threshold must be between 2 and " + std::to_string((m + 1) / 2) + " for " + std::to_string(m) +
                 " members (an honest majority: docs/dkg.md)");
  }
  if (o.start_timeout_s == 0 || o.round_timeout_s == 0) return usage("timeouts must be at least 1 second");
  std::error_code ec;
  if (fs::exists(config.out, ec) && (!fs::is_directory(config.out, ec) || !fs::is_empty(config.out, ec))) {
    return usage(o.out + " exists and is not an empty directory; a run writes a whole key set or nothing");
  }
  // Each protocol round is a step (its line carries the time and bytes so far); the rest are notes.
  StepProgress steps("dkg", 0);
  config.progress = [&steps](const std::string& line) {
    if (line.rfind("round ", 0) == 0) steps.begin(line);
    else steps.note(line);
  };

  auto report = node::run_dkg(config);
  steps.finish();
  if (!report.ok()) return fail(report.status());
  if (structured_output(o.output)) {
    print_data(report_json(*report), o.output);
    return kExitOk;
  }
  std::cout << "committee of " << m << " members, threshold " << o.threshold << " (" << params->name
            << "), generated without a dealer; public material and share-" << int(report->id) << ".sealed in "
            << o.out << "\n"
            << report->hashes_json;
  return kExitOk;
}

}  // namespace

void register_keys_dkg_command(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto options = std::make_shared<DkgOptions>();
  auto* noun = get_or_add_subcommand(app, "keys", "Threshold key ceremony and decryption by a committee");
  auto* dkg = noun->add_subcommand(
      "dkg", "Generate the cluster key set with the other members, without a dealer (one process per member)");
  dkg->add_option("--threshold", options->threshold, "Shares needed to decrypt (t; 2 <= t <= (m + 1) / 2)")->required();
  dkg->add_option("--member-key", options->member_key, "This member's key directory (member.key)")->required();
  dkg->add_option("--listen", options->listen, "Where this member listens, e.g. /ip4/0.0.0.0/tcp/4100")->required();
  dkg->add_option("--member", options->members,
                  "PUB=MULTIADDR: a member's member.pub and its address (repeat for every member, this one too)")
      ->required();
  dkg->add_option("--out", options->out, "Directory for the key set (must not exist, or be empty)")->required();
  dkg->add_option("--params", options->params, "Parameter set: default (TFHE-rs 2M128) or test (INSECURE)");
  dkg->add_option("--start-timeout", options->start_timeout_s,
                  "Seconds to wait for every member to connect (default 300)");
  dkg->add_option("--round-timeout", options->round_timeout_s,
                  "Seconds a member may stay silent in a round before it is named and the run aborts (default 600)");
  add_output_option(dkg, options->output);
  add_json_alias(dkg, options->output);
  dkg->callback([&action, options] { action = [options] { return cmd_dkg(*options); }; });
}

}  // namespace veil::cli
