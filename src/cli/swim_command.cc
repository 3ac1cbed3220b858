// `veil swim member`: one SWIM member over the libp2p binding, printing membership events as
// JSON lines; `veil swim bounds`: the timing formulas for a configuration.
#include <utility>  // Boost 1.74 awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/version.h"
#include "veil/p2p/host.h"
#include "veil/swim/formulas.h"
#include "veil/swim/libp2p_binding.h"

namespace veil::cli {
namespace {

namespace asio = boost::asio;

// Overrides of the preset; -1 (or 0 for flags) keeps the preset's value.
struct Tuning {
  std::string preset = "lan";
  std::int64_t probe_interval_ms = -1;
  std::int64_t probe_timeout_ms = -1;
  std::int64_t gossip_interval_ms = -1;
  std::int64_t push_pull_interval_ms = -1;
  std::int64_t reconnect_interval_ms = -1;
  int indirect_checks = -1;
  int suspicion_mult = -1;
  int suspicion_max_timeout_mult = -1;
  int retransmit_mult = -1;
  bool no_lifeguard = false;
};

struct MemberOptions {
  Tuning tuning;
  std::string listen;
  std::string key_file;
  std::vector<std::string> join;
  std::vector<std::string> advertise;
};

struct BoundsOptions {
  Tuning tuning;
  int members = 5;
};

Result<swim::Config> make_config(const Tuning& t) {
  VEIL_ASSIGN_OR_RETURN(swim::Config c, swim::Config::preset(t.preset));
  if (t.probe_interval_ms >= 0) c.probe_interval_ms = t.probe_interval_ms;
  if (t.probe_timeout_ms >= 0) c.probe_timeout_ms = t.probe_timeout_ms;
  if (t.gossip_interval_ms >= 0) c.gossip_interval_ms = t.gossip_interval_ms;
  if (t.push_pull_interval_ms >= 0) c.push_pull_interval_ms = t.push_pull_interval_ms;
  if (t.reconnect_interval_ms >= 0) c.reconnect_interval_ms = t.reconnect_interval_ms;
  if (t.indirect_checks >= 0) c.indirect_checks = t.indirect_checks;
  if (t.suspicion_mult >= 0) c.suspicion_mult = t.suspicion_mult;
  if (t.suspicion_max_timeout_mult >= 0) c.suspicion_max_timeout_mult = t.suspicion_max_timeout_mult;
  if (t.retransmit_mult >= 0) c.retransmit_mult = t.retransmit_mult;
  if (t.no_lifeguard) c = c.without_lifeguard();
  VEIL_RETURN_IF_ERROR(c.validate());
  return c;
}

void add_tuning(CLI::App* cmd, Tuning& t) {
  cmd->add_option("--preset", t.preset, "Protocol preset: lan, wan or local")
      ->check(CLI::IsMember({"lan", "wan", "local"}))
      ->capture_default_str();
  cmd->add_option("--probe-interval-ms", t.probe_interval_ms, "Protocol period (overrides the preset)");
  cmd->add_option("--probe-timeout-ms", t.probe_timeout_ms, "Direct-ping timeout before ping-req");
  cmd->add_option("--gossip-interval-ms", t.gossip_interval_ms, "Gossip round interval; 0 = piggybacking only");
  cmd->add_option("--push-pull-interval-ms", t.push_pull_interval_ms, "Anti-entropy interval; 0 = off");
  cmd->add_option("--reconnect-interval-ms", t.reconnect_interval_ms, "Interval of push-pulls with dead members");
  cmd->add_option("--indirect-checks", t.indirect_checks, "k: members asked to ping-req");
  cmd->add_option("--suspicion-mult", t.suspicion_mult, "Minimum suspicion timeout in log-scaled periods");
  cmd->add_option("--suspicion-max-timeout-mult", t.suspicion_max_timeout_mult,
                  "Maximum suspicion timeout as a multiple of the minimum");
  cmd->add_option("--retransmit-mult", t.retransmit_mult, "lambda: retransmissions per log10(n+1)");
  cmd->add_flag("--no-lifeguard", t.no_lifeguard, "Classic SWIM: no Lifeguard extensions");
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json members_json(const swim::Libp2pMembership& m, const p2p::Host& host) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& info : m.members()) {
    nlohmann::json addrs = nlohmann::json::array();
    for (const auto& a : info.addrs) addrs.push_back(a.to_string());
    list.push_back({{"peer", info.peer.to_base58()},
                    {"state", std::string(swim::member_state_name(info.state))},
                    {"incarnation", info.incarnation},
                    {"addrs", addrs}});
  }
  auto stats = m.stats();
  return {{"event", "members"},
          {"self", host.id().to_base58()},
          {"incarnation", m.core().incarnation()},
          {"health", m.core().health_score()},
          {"live", m.core().live_count()},
          {"time_ms", wall_ms()},
          {"members", list},
          {"stats",
           {{"sent", stats.messages_sent},
            {"received", stats.messages_received},
            {"dropped", stats.messages_dropped},
            {"decode_errors", stats.decode_errors},
            {"rejected_updates", stats.rejected_updates}}}};
}

int cmd_member(const MemberOptions& o) {
  auto config = make_config(o.tuning);
  if (!config.ok()) return usage(config.status());
  auto listen = p2p::Multiaddr::parse(o.listen);
  if (!listen.ok()) return usage(listen.status().with_context("--listen"));
  std::vector<p2p::Multiaddr> seeds, advertise;
  for (const auto& j : o.join) {
    auto a = p2p::Multiaddr::parse(j);
    if (!a.ok()) return usage(a.status().with_context("--join"));
    if (!a->peer_id()) {
      return usage("--join " + j + " must end in /p2p/<peer id>");
    }
    seeds.push_back(*a);
  }
  for (const auto& s : o.advertise) {
    auto a = p2p::Multiaddr::parse(s);
    if (!a.ok()) return usage(a.status().with_context("--advertise"));
    advertise.push_back(*a);
  }

  p2p::HostConfig hc;
  hc.agent_version = "veil/" + std::string(veil::version());
  if (!o.key_file.empty()) {
    auto key = p2p::load_or_create_key_file(o.key_file);
    if (!key.ok()) return fail(key.status().with_context("--key"));
    hc.identity = *key;
  }
  // A member coming back from a cut link must be able to dial again within a few periods:
  // keep the dial timeout and the host's per-address backoff near the protocol's time scale.
  auto period = std::chrono::milliseconds(config->probe_interval_ms);
  hc.dial_timeout = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000), 2 * period);
  hc.backoff_base = std::chrono::milliseconds(250);
  hc.backoff_max = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(2000), 2 * period);

  asio::io_context io;
  p2p::Host host(io, std::move(hc));
  Status st = host.listen(*listen);
  if (!st.ok()) return fail(st.with_context("--listen"));
  swim::Libp2pMembership membership(io, host, *config);
  if (!advertise.empty()) membership.set_advertise_addrs(advertise);
  membership.subscribe([](const swim::MemberEvent& e) {
    nlohmann::json j{{"event", std::string(swim::event_kind_name(e.kind))},
                     {"peer", e.peer.to_base58()},
                     {"member", e.peer.to_base58()},
                     {"incarnation", e.incarnation},
                     {"at_ms", e.at_ms},
                     {"time_ms", wall_ms()},
                     {"by", e.by ? nlohmann::json(e.by->to_base58()) : nlohmann::json(nullptr)}};
    std::cout << j.dump() << std::endl;
  });
  p2p::Multiaddr self = (advertise.empty() ? host.listen_addrs().front() : advertise.front()).with_peer_id(host.id());
  std::cout << self.to_string() << std::endl;
  st = membership.start(seeds);
  if (!st.ok()) return fail(st);

  bool stopping = false;
  asio::steady_timer exit_timer(io);
  asio::signal_set dump_signal(io, SIGUSR1);
  std::function<void()> wait_dump = [&] {
    dump_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      std::cout << members_json(membership, host).dump() << std::endl;
      wait_dump();
    });
  };
  wait_dump();
  asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec || stopping) return;
    stopping = true;
    membership.leave([&] {
      std::cout << members_json(membership, host).dump() << std::endl;
      membership.stop();
      dump_signal.cancel();
      host.close();
      // Let GoAway frames flush, then end regardless of lingering peers.
      exit_timer.expires_after(std::chrono::milliseconds(200));
      exit_timer.async_wait([&](const boost::system::error_code&) { io.stop(); });
    });
  });
  io.run();
  return kExitOk;
}

int cmd_bounds(const BoundsOptions& o) {
  auto c = make_config(o.tuning);
  if (!c.ok()) return usage(c.status());
  int n = o.members;
  std::int64_t min_ms = swim::suspicion_timeout_min_ms(c->suspicion_mult, n, c->probe_interval_ms);
  std::int64_t max_ms = swim::suspicion_timeout_max_ms(c->suspicion_max_timeout_mult, min_ms);
  nlohmann::json j{
      {"members", n},
      {"preset", o.tuning.preset},
      {"probe_interval_ms", c->probe_interval_ms},
      {"probe_timeout_ms", c->probe_timeout_ms},
      {"gossip_interval_ms", c->gossip_interval_ms},
      {"suspicion_timeout_min_ms", min_ms},
      {"suspicion_timeout_max_ms", max_ms},
      {"suspicion_confirmations_needed", swim::suspicion_confirmations_needed(c->suspicion_mult, n)},
      {"retransmit_limit", swim::retransmit_limit(c->retransmit_mult, n)},
      {"expected_first_detection_periods", swim::expected_first_detection_periods(n)},
      {"detection_bound_ms",
       swim::detection_bound_ms(n, c->probe_interval_ms, c->suspicion_mult, c->suspicion_max_timeout_mult)},
  };
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

}  // namespace

void register_swim_commands(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto* noun = app.add_subcommand("swim", "SWIM + Lifeguard membership over libp2p");
  noun->require_subcommand(1);

  auto mo = std::make_shared<MemberOptions>();
  auto* member = noun->add_subcommand(
      "member",
      "Run one member on /veil/swim/1.0.0: prints its multiaddr, then one JSON line per membership "
      "event; SIGUSR1 prints the membership table; SIGTERM leaves gracefully and exits 0");
  member->add_option("--listen", mo->listen, "Listen multiaddr, e.g. /ip4/10.0.0.2/tcp/4001")->required();
  member->add_option("--key", mo->key_file, "Ed25519 key file (created with mode 0600 if missing); fresh key if unset");
  member->add_option("--join", mo->join, "Seed member multiaddr ending in /p2p/<peer id> (repeatable)");
  member->add_option("--advertise", mo->advertise,
                     "Address to announce instead of the listen address (repeatable; e.g. when listening on 0.0.0.0)");
  add_tuning(member, mo->tuning);
  member->callback([mo, &action] { action = [mo] { return cmd_member(*mo); }; });

  auto bo = std::make_shared<BoundsOptions>();
  auto* bounds = noun->add_subcommand(
      "bounds", "Print the timing formulas (suspicion timeouts, retransmit limit, detection bound) as JSON");
  bounds->add_option("--members", bo->members, "Cluster size n")->capture_default_str();
  add_tuning(bounds, bo->tuning);
  bounds->callback([bo, &action] { action = [bo] { return cmd_bounds(*bo); }; });
}

}  // namespace veil::cli
