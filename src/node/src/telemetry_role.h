// The telemetry role (private to veil_node): at an interval, measure what this node has free,
// take off what its replicas were promised, encrypt it under the cluster key, sign it with the
// node's Ed25519 identity and publish it; keep the last few records of every registered node
// for the schedulers, and this node's own plaintext for its operator (docs/node.md, "Telemetry").
//
// It owns the records, the validator that checks peers' records (signature, sequence, age)
// and the publishing timer, and reaches the rest of the node only through a NodeContext.
//
// Threading: every public method is called on the io thread. Encryption runs on the FHE
// worker (NodeContext::post_fhe) and its result comes back to the io thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "node_context.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"
#include "veil/sched/telemetry_record.h"

namespace veil::node {

// One telemetry record kept for scheduling (the last few per node).
struct KnownTelemetry {
  Hash32 hash{};
  std::uint64_t timestamp_ms = 0;
  std::shared_ptr<const sched::EncryptedTelemetry> telemetry;
  sched::NodeAttributes attributes;  // signed in the same record: what a round's public filter reads
};

// A record this node published, in plaintext: for its own operator's API only.
struct OwnTelemetry {
  Hash32 hash{};
  std::uint64_t timestamp_ms = 0;
  sched::QuantizedTelemetry values;
};

class TelemetryRole {
 public:
  // What this node has free before reservations (the SystemProbe in the daemon).
  using Sampler = std::function<Result<sched::FreeCapacity>()>;

  struct Options {
    std::chrono::milliseconds interval{10'000};
    std::string topic;  // the cluster's telemetry topic
    // Publish exactly this instead of measuring (tests that need predictable capacity).
    std::optional<sched::FreeCapacity> fixed;
    // This node's public labels and host volume names, signed into every record.
    sched::NodeAttributes attributes;
  };

  // `signing_key`: the node's Ed25519 identity secret (its PeerId's key), which peers check
  // the record against. `node` must outlive this.
  TelemetryRole(NodeContext& node, Options options, Sampler sample, const sched::Ed25519SecretKey& signing_key);
  ~TelemetryRole();
  TelemetryRole(const TelemetryRole&) = delete;
  TelemetryRole& operator=(const TelemetryRole&) = delete;

  // Publishes after half a second (the first CPU sample needs an interval), then every
  // interval, measuring the latency to the live members before each record.
  void start();
  void stop();
  // Measures, encrypts, signs and publishes one record now (the encryption is asynchronous).
  void publish_now();
  // Pings every live member; the published latency is the median of the last answers.
  void measure_latency();

  // A record from gossip, sent by `from`. Kept when `from` is a registered node, the record
  // is signed by the key in `from` itself, and the validator accepts it; otherwise counted in
  // veil_telemetry_rejected_total by reason and dropped.
  void on_record(const p2p::PeerId& from, ByteView data);

  // The record of `peer` whose hash is `hash`, if still kept.
  std::optional<KnownTelemetry> find(const std::string& peer, const Hash32& hash) const;
  std::optional<KnownTelemetry> latest(const std::string& peer) const;
  const std::deque<OwnTelemetry>& own_records() const { return own_records_; }

  // How many records are kept per node for the schedulers, and of this node's own plaintext.
  static constexpr std::size_t kRecordsKeptPerNode = 8;
  static constexpr std::size_t kOwnRecordsKept = 1024;

 private:
  // The capacity to offer: measured (or fixed) minus what the replicas here were promised,
  // with the median latency to live peers.
  Result<sched::FreeCapacity> offered_capacity();
  void keep(const std::string& peer, KnownTelemetry record);

  NodeContext& node_;
  Options options_;
  Sampler sample_;
  sched::Ed25519SecretKey signing_key_{};
  sched::TelemetryValidator validator_;
  std::uint64_t sequence_ = 0;
  std::map<std::string, std::deque<KnownTelemetry>> records_;
  std::map<std::string, std::chrono::nanoseconds> latency_;
  std::deque<OwnTelemetry> own_records_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  // Encryptions still on the FHE worker hold this; the role's destruction expires it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace veil::node
