#include "veil/swim/config.h"

namespace veil::swim {

Config Config::lan() { return Config{}; }

Config Config::wan() {
  Config c;
  c.probe_interval_ms = 5000;
  c.probe_timeout_ms = 3000;
  c.suspicion_mult = 6;
  c.push_pull_interval_ms = 60000;
  c.reconnect_interval_ms = 30000;
  c.gossip_interval_ms = 500;
  c.gossip_nodes = 4;
  return c;
}

Config Config::local() {
  Config c;
  c.indirect_checks = 1;
  c.retransmit_mult = 2;
  c.suspicion_mult = 3;
  c.push_pull_interval_ms = 15000;
  c.reconnect_interval_ms = 5000;
  c.probe_timeout_ms = 200;
  c.probe_interval_ms = 1000;
  c.gossip_interval_ms = 100;
  return c;
}

Result<Config> Config::preset(std::string_view name) {
  if (name == "lan") return lan();
  if (name == "wan") return wan();
  if (name == "local") return local();
  return invalid_argument("unknown SWIM preset '" + std::string(name) +
                          "'; choose lan, wan or local");
}

Config Config::without_lifeguard() const {
  Config c = *this;
  c.awareness_max_multiplier = 1;
  c.suspicion_max_timeout_mult = 1;
  c.enable_nack = false;
  c.enable_buddy = false;
  return c;
}

Status Config::validate() const {
  auto bad = [](const char* field, const char* why) {
    return invalid_argument(std::string("swim config: ") + field + " " + why);
  };
  if (probe_interval_ms <= 0) return bad("probe_interval_ms", "must be positive");
  if (probe_timeout_ms <= 0) return bad("probe_timeout_ms", "must be positive");
  if (probe_timeout_ms >= probe_interval_ms) {
    return bad("probe_timeout_ms", "must be less than probe_interval_ms (the indirect probe needs the rest)");
  }
  if (indirect_checks < 0 || indirect_checks > 16) return bad("indirect_checks", "must be in [0, 16]");
  if (suspicion_mult < 1) return bad("suspicion_mult", "must be at least 1");
  if (suspicion_max_timeout_mult < 1) return bad("suspicion_max_timeout_mult", "must be at least 1");
  if (retransmit_mult < 1) return bad("retransmit_mult", "must be at least 1");
  if (gossip_interval_ms < 0) return bad("gossip_interval_ms", "must not be negative");
  if (gossip_nodes < 0 || gossip_nodes > 64) return bad("gossip_nodes", "must be in [0, 64]");
  if (max_packet_bytes < 256 || max_packet_bytes > 65000) {
    return bad("max_packet_bytes", "must be in [256, 65000]");
  }
  if (push_pull_interval_ms < 0) return bad("push_pull_interval_ms", "must not be negative");
  if (reconnect_interval_ms < 0) return bad("reconnect_interval_ms", "must not be negative");
  if (awareness_max_multiplier < 1 || awareness_max_multiplier > 64) {
    return bad("awareness_max_multiplier", "must be in [1, 64]");
  }
  return Status{};
}

}  // namespace veil::swim
