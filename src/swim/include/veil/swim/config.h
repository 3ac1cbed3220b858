// SWIM + Lifeguard configuration: every knob of the protocol, its meaning and its default,
// with named presets for LAN, WAN and loopback clusters (after memberlist's
// DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig).
//
// Durations are milliseconds of the injected clock. A Config is a plain value; copy it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil::swim {

struct Config {
  // --- Failure detection (SWIM §3) -------------------------------------------------------
  // Time between two probes started by this member (SWIM's protocol period T'). One member
  // is probed per period, in a shuffled round-robin order. Scaled by local health (Lifeguard).
  std::int64_t probe_interval_ms = 1000;
  // How long to wait for the direct ack before asking `indirect_checks` members to ping the
  // target for us. Should be a high percentile of the network round-trip time. Scaled by
  // local health. Must be less than probe_interval_ms.
  std::int64_t probe_timeout_ms = 500;
  // k: members asked to ping-req the target when the direct ping gets no ack in time.
  int indirect_checks = 3;

  // --- Suspicion (SWIM §4.2, Lifeguard §IV-B) ---------------------------------------------
  // Minimum suspicion timeout = suspicion_mult * max(1, log10(n)) * probe_interval
  // (see formulas.h). A suspected member has this long (at least) to refute.
  int suspicion_mult = 4;
  // Maximum suspicion timeout = suspicion_max_timeout_mult * minimum. A fresh suspicion
  // starts at the maximum and shrinks towards the minimum as independent confirmations
  // arrive (Lifeguard's dynamic suspicion). 1 gives SWIM's fixed timeout.
  int suspicion_max_timeout_mult = 6;

  // --- Dissemination (SWIM §4.1) ------------------------------------------------------------
  // λ: each update is piggybacked at most retransmit_mult * ceil(log10(n + 1)) times.
  int retransmit_mult = 4;
  // Interval of the dedicated gossip round, which sends queued updates to `gossip_nodes`
  // random members when nothing else carries them. 0 disables it (pure piggybacking).
  std::int64_t gossip_interval_ms = 200;
  int gossip_nodes = 3;
  // Upper bound of one encoded message, piggybacked updates included. Updates that do not fit
  // wait for the next message. Push-pull state messages are exempt (they go over a stream).
  int max_packet_bytes = 1400;

  // --- Anti-entropy -------------------------------------------------------------------------
  // Full-state push-pull with one random member every interval, scaled up for clusters above
  // 32 members (formulas.h push_pull_scale). 0 disables it.
  std::int64_t push_pull_interval_ms = 30000;
  // Every this often, push-pull with one random member we believe dead (not left), so that
  // the two sides of a healed partition find each other again. 0 disables it.
  std::int64_t reconnect_interval_ms = 10000;

  // --- Lifeguard (Dadgar, Phillips, Currey 2018) -----------------------------------------
  // Local health multiplier ceiling: probe interval and timeout are multiplied by
  // (score + 1) with score in [0, awareness_max_multiplier - 1]. 1 disables the extension.
  int awareness_max_multiplier = 8;
  // Indirect probers answer with a nack when the target stays silent, so the prober can tell
  // "the target is gone" from "I am the one who is slow" (missing nacks raise our score).
  bool enable_nack = true;
  // Buddy system: when probing a member we suspect, put that suspicion first in the
  // piggyback so the member learns of it at once and can refute.
  bool enable_buddy = true;

  // Seed of this member's random choices (probe order, indirect and gossip targets). Two
  // runs with the same seeds and inputs make the same decisions.
  std::uint64_t seed = 1;

  // memberlist DefaultLANConfig-like: 1 s period, 500 ms probe timeout, k = 3.
  static Config lan();
  // memberlist DefaultWANConfig-like: 5 s period, 3 s probe timeout, longer suspicion.
  static Config wan();
  // memberlist DefaultLocalConfig-like: loopback; 200 ms timeout, k = 1, fewer retransmits.
  static Config local();
  // "lan", "wan" or "local"; invalid_argument naming the choices otherwise.
  static Result<Config> preset(std::string_view name);

  // A copy with every Lifeguard extension off (classic SWIM with a fixed suspicion timeout):
  // awareness_max_multiplier = 1, suspicion_max_timeout_mult = 1, no nacks, no buddy.
  Config without_lifeguard() const;

  // Checks ranges and relations (timeout < interval, multipliers >= 1, ...). Returns
  // invalid_argument naming the first offending field.
  Status validate() const;
};

}  // namespace veil::swim
