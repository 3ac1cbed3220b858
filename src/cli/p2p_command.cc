// `veil p2p ...`: a standalone libp2p peer and one-shot client verbs (ping, identify, echo).
#include <sodium.h>

#include <utility>  // Boost 1.74 awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/printable.h"
#include "veil/common/version.h"
#include "veil/p2p/gossipsub.h"
#include "veil/p2p/host.h"
#include "veil/p2p/protocols.h"

namespace veil::cli {
namespace {

namespace asio = boost::asio;
using p2p::Task;

struct P2pOptions {
  std::string listen = "/ip4/127.0.0.1/tcp/0";
  std::string key_file;
  std::vector<std::string> dial;
  std::vector<std::string> topics;
  std::vector<std::string> deny;
  bool echo = false;
  std::string target;
  std::size_t bytes = 10 * 1024 * 1024;
  int count = 1;
  double timeout_s = 10;
};

Result<p2p::HostConfig> host_config(const P2pOptions& o) {
  p2p::HostConfig config;
  config.agent_version = "veil/" + std::string(veil::version());
  config.dial_timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  if (!o.key_file.empty()) {
    VEIL_ASSIGN_OR_RETURN(config.identity, p2p::load_or_create_key_file(o.key_file));
  }
  return config;
}

nlohmann::json peer_info_json(const p2p::PeerInfo& info) {
  nlohmann::json addrs = nlohmann::json::array();
  for (const auto& a : info.addrs) addrs.push_back(a.to_string());
  return {{"peer", info.id.to_base58()},
          {"agent_version", info.agent_version},
          {"protocol_version", info.protocol_version},
          {"protocols", info.protocols},
          {"listen_addrs", addrs}};
}

// Runs a client coroutine against a fresh host (no listener) and returns its exit code.
int run_client(const P2pOptions& o, std::function<Task<int>(p2p::Host&, const p2p::PeerId&)> body) {
  auto target = p2p::Multiaddr::parse(o.target);
  if (!target.ok()) return usage(target.status());
  if (!target->peer_id()) return usage("the address must end in /p2p/<peer id> so the peer can be authenticated");
  auto config = host_config(o);
  if (!config.ok()) return fail(config.status());
  asio::io_context io;
  p2p::Host host(io, std::move(*config));
  int code = kExitFailure;
  asio::co_spawn(io, [&]() -> Task<void> {
    auto peer = co_await host.connect(*target);
    if (!peer.ok()) {
      fail(peer.status());
    } else {
      code = co_await body(host, *peer);
    }
    host.close();
  }, asio::detached);
  io.run();
  return code;
}

int cmd_ping(const P2pOptions& o, const GlobalOptions& g) {
  return run_client(o, [&](p2p::Host& host, const p2p::PeerId& peer) -> Task<int> {
    for (int i = 0; i < o.count; ++i) {
      auto rtt = co_await p2p::ping(host, peer);
      if (!rtt.ok()) {
        fail(rtt.status());
        co_return kExitFailure;
      }
      double ms = std::chrono::duration<double, std::milli>(*rtt).count();
      if (structured_output(g.output)) {
        // One JSON line per ping, or one YAML document per ping.
        if (g.output == "yaml") std::cout << "---\n";
        print_data({{"peer", peer.to_base58()}, {"rtt_ms", ms}}, g.output, -1);
        std::cout.flush();
      } else {
        std::cout << "pong from " << peer.to_base58() << ": rtt=" << ms << " ms" << std::endl;
      }
    }
    co_return kExitOk;
  });
}

int cmd_identify(const P2pOptions& o, const GlobalOptions& g) {
  return run_client(o, [&](p2p::Host& host, const p2p::PeerId& peer) -> Task<int> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 500; ++i) {
      auto info = host.peerstore().get(peer);
      if (info && info->identified) {
        // JSON whatever the format, except -o yaml: there is no table of it.
        print_data(peer_info_json(*info), g.output == "yaml" ? "yaml" : "json", -1);
        std::cout.flush();
        co_return kExitOk;
      }
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return fail("the peer did not answer Identify within 5 s");
  });
}

int cmd_echo(const P2pOptions& o) {
  return run_client(o, [&](p2p::Host& host, const p2p::PeerId& peer) -> Task<int> {
    Bytes data(o.bytes);
    randombytes_buf(data.data(), data.size());
    auto start = std::chrono::steady_clock::now();
    auto back = co_await p2p::echo(host, peer, data);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!back.ok()) {
      fail(back.status());
      co_return kExitFailure;
    }
    bool identical = *back == data;
    std::cout << nlohmann::json{{"peer", peer.to_base58()},
                                {"bytes", data.size()},
                                {"returned", back->size()},
                                {"identical", identical},
                                {"seconds", seconds},
                                {"mib_per_s", seconds > 0 ? 2.0 * static_cast<double>(data.size()) / (1 << 20) / seconds : 0}}
                     .dump()
              << std::endl;
    co_return identical ? kExitOk : kExitFailure;
  });
}

int cmd_id(const P2pOptions& o) {
  auto config = host_config(o);
  if (!config.ok()) return fail(config.status());
  p2p::PeerId id = p2p::PeerId::from_public_key(config->identity.public_key());
  std::cout << nlohmann::json{{"peer", id.to_base58()}, {"cid", id.to_cid_base32()}}.dump() << std::endl;
  return kExitOk;
}

// The standalone peer. stdout: first line the full listen multiaddr, then one JSON line per
// event (identify results, pubsub messages). Logs go to stderr.
int cmd_peer(const P2pOptions& o) {
  auto listen = p2p::Multiaddr::parse(o.listen);
  if (!listen.ok()) return usage(listen.status().with_context("--listen"));
  std::vector<p2p::PeerId> denied;
  for (const auto& d : o.deny) {
    auto id = p2p::PeerId::parse(d);
    if (!id.ok()) return usage(id.status().with_context("--deny"));
    denied.push_back(*id);
  }
  auto config = host_config(o);
  if (!config.ok()) return fail(config.status());
  asio::io_context io;
  p2p::Host host(io, std::move(*config));
  p2p::enable_ping(host);
  if (o.echo) p2p::enable_echo(host);
  if (!denied.empty()) {
    host.set_gater([denied](const p2p::PeerId& peer, p2p::Direction) {
      return std::find(denied.begin(), denied.end(), peer) == denied.end();
    });
  }
  host.add_listener({.identified = [](const p2p::PeerInfo& info) {
    nlohmann::json j = peer_info_json(info);
    j["event"] = "identify";
    std::cout << j.dump() << std::endl;
  }});
  std::unique_ptr<p2p::GossipSub> pubsub;
  if (!o.topics.empty()) {
    pubsub = std::make_unique<p2p::GossipSub>(io, host);
    pubsub->on_message([](const p2p::PubsubMessage& m) {
      std::cout << nlohmann::json{{"topic", m.topic},
                                  {"from", m.from.to_base58()},
                                  {"seqno", to_hex(m.seqno)},
                                  {"data_hex", to_hex(m.data)}}
                       .dump()
                << std::endl;
    });
    for (const auto& t : o.topics) pubsub->subscribe(t);
    pubsub->start();
  }
  Status st = host.listen(*listen);
  if (!st.ok()) return fail(st);
  std::cout << host.listen_addrs().front().with_peer_id(host.id()).to_string() << std::endl;

  bool stopping = false;
  asio::steady_timer stop_timer(io);
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    if (pubsub) pubsub->stop();
    host.close();
    // Give GoAway frames a moment to flush, then end regardless of lingering peers.
    stop_timer.expires_after(std::chrono::milliseconds(300));
    stop_timer.async_wait([&](const boost::system::error_code&) { io.stop(); });
  };
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) stop();
  });
  for (const auto& d : o.dial) {
    auto addr = p2p::Multiaddr::parse(d);
    if (!addr.ok()) return usage(addr.status().with_context("--dial"));
    asio::co_spawn(io, [&host, a = *addr]() -> Task<void> {
      auto r = co_await host.connect(a);
      if (!r.ok()) std::cerr << "veil: dial " << printable(a.to_string() + ": " + r.status().to_string()) << std::endl;
    }, asio::detached);
  }
  // stdin lines are published to the first topic. A blocking reader thread hands each line
  // to the io_context; at EOF the peer keeps running until SIGTERM.
  if (pubsub) {
    std::thread([&io, &pubsub, &stopping, topic = o.topics.front()] {
      std::string line;
      while (std::getline(std::cin, line)) {
        asio::post(io, [&pubsub, &stopping, topic, line] {
          if (stopping) return;
          auto r = pubsub->publish(topic, as_bytes(line));
          if (!r.ok()) std::cerr << "veil: publish: " << printable(r.status().to_string()) << std::endl;
        });
      }
    }).detach();
  }
  io.run();
  return kExitOk;
}

}  // namespace

void register_p2p_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* noun = app.add_subcommand("p2p", "libp2p peer tools (identity, ping, identify, echo, standalone peer)");
  noun->require_subcommand(1);
  auto opts = std::make_shared<P2pOptions>();
  auto add_key = [&](CLI::App* cmd) {
    cmd->add_option("--key", opts->key_file, "Ed25519 key file (libp2p PrivateKey protobuf, created with mode 0600 if missing)");
  };
  auto add_target = [&](CLI::App* cmd) {
    cmd->add_option("multiaddr", opts->target, "Peer address ending in /p2p/<peer id>")->required();
    cmd->add_option("--timeout", opts->timeout_s, "Dial timeout in seconds (default 10)");
    add_key(cmd);
  };

  auto* peer = noun->add_subcommand("peer", "Run a standalone peer until SIGTERM");
  peer->add_option("--listen", opts->listen, "Listen multiaddr (default /ip4/127.0.0.1/tcp/0)");
  peer->add_option("--dial", opts->dial, "Peer multiaddr to connect to at start (repeatable)");
  peer->add_option("--topic", opts->topics, "GossipSub topic to join (repeatable); stdin lines go to the first");
  peer->add_flag("--echo", opts->echo, "Serve /veil/echo/1.0.0");
  peer->add_option("--deny", opts->deny, "Refuse connections from this PeerId in the gater (repeatable)");
  add_key(peer);
  peer->callback([opts, &action] { action = [opts] { return cmd_peer(*opts); }; });

  auto* ping = noun->add_subcommand("ping", "Ping a peer (/ipfs/ping/1.0.0) and print the round-trip time");
  add_target(ping);
  ping->add_option("-c,--count", opts->count, "Number of pings (default 1)");
  add_output_option(ping, global.output);
  ping->callback([opts, &global, &action] { action = [opts, &global] { return cmd_ping(*opts, global); }; });

  auto* identify = noun->add_subcommand("identify", "Print what a peer reports over Identify, as JSON");
  add_target(identify);
  add_output_option(identify, global.output)->description("Output format: json (the default; table and wide are the same) or yaml");
  identify->callback([opts, &global, &action] { action = [opts, &global] { return cmd_identify(*opts, global); }; });

  auto* echo = noun->add_subcommand("echo", "Send random bytes through a peer's /veil/echo/1.0.0 and check them");
  add_target(echo);
  echo->add_option("--bytes", opts->bytes, "How many bytes (default 10 MiB)");
  echo->callback([opts, &action] { action = [opts] { return cmd_echo(*opts); }; });

  auto* id = noun->add_subcommand("id", "Print the PeerId of a key file (creating it if missing)");
  id->add_option("--key", opts->key_file, "Key file")->required();
  id->callback([opts, &action] { action = [opts] { return cmd_id(*opts); }; });
}

}  // namespace veil::cli
