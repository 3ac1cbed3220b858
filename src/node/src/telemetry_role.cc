#include "telemetry_role.h"

#include <utility>  // Boost 1.74 asio needs std::exchange declared first
#include <algorithm>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "veil/chain/types.h"
#include "veil/common/log.h"
#include "veil/p2p/identity.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/resources.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

auto logger() { return log::get("node"); }

// Peers' records older than this are refused: a few missed intervals, and a minute of clock skew.
std::uint64_t max_record_age_ms(std::chrono::milliseconds interval) {
  return static_cast<std::uint64_t>(5 * interval.count() + 60'000);
}

}  // namespace

TelemetryRole::TelemetryRole(NodeContext& node, Options options, Sampler sample,
                             const sched::Ed25519SecretKey& signing_key)
    : node_(node),
      options_(std::move(options)),
      sample_(std::move(sample)),
      signing_key_(signing_key),
      validator_(node.keys().public_key.params(), max_record_age_ms(options_.interval)) {}

TelemetryRole::~TelemetryRole() {
  *alive_ = false;
  secure_wipe(signing_key_.data(), signing_key_.size());
}

void TelemetryRole::start() {
  timer_ = std::make_unique<asio::steady_timer>(node_.io());
  asio::co_spawn(node_.io(), [this, alive = alive_]() -> asio::awaitable<void> {
    // The first CPU sample needs an interval to measure over.
    for (auto delay = std::chrono::milliseconds(500);; delay = options_.interval) {
      timer_->expires_after(delay);
      boost::system::error_code ec;
      co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !*alive || node_.stopping()) co_return;
      measure_latency();
      publish_now();
    }
  }, asio::detached);
}

void TelemetryRole::stop() {
  if (timer_) timer_->cancel();
}

Result<sched::FreeCapacity> TelemetryRole::offered_capacity() {
  sched::FreeCapacity free;
  if (options_.fixed) {
    free = *options_.fixed;
  } else {
    VEIL_ASSIGN_OR_RETURN(free, sample_());
  }
  // What this node offers is what it measures minus what its replicas were promised, so a
  // decision never counts on capacity an idle container has not used yet.
  const auto reserved = node_.reserved_capacity();
  auto minus = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  free.cpu_millicores = minus(free.cpu_millicores, reserved.cpu_millicores);
  free.memory_mib = minus(free.memory_mib, reserved.memory_mib);
  free.disk_mib = minus(free.disk_mib, reserved.disk_mib);
  free.gpus = minus(free.gpus, reserved.gpus);
  std::vector<std::int64_t> rtts;
  for (const auto& peer : node_.live_members()) {
    auto it = latency_.find(peer);
    if (peer != node_.self() && it != latency_.end()) {
      rtts.push_back(std::chrono::duration_cast<std::chrono::microseconds>(it->second).count());
    }
  }
  if (!rtts.empty()) {
    std::nth_element(rtts.begin(), rtts.begin() + rtts.size() / 2, rtts.end());
    free.latency_us = static_cast<std::uint64_t>(rtts[rtts.size() / 2]);
  }
  return free;
}

void TelemetryRole::measure_latency() {
  for (const auto& peer : node_.live_members()) {
    if (peer == node_.self()) continue;
    node_.ping(peer, [this, alive = alive_, peer](Result<std::chrono::nanoseconds> rtt) {
      if (*alive && rtt.ok()) latency_[peer] = *rtt;
    });
  }
}

void TelemetryRole::publish_now() {
  auto free = offered_capacity();
  if (!free.ok()) {
    logger()->warn("telemetry: {}", free.status().to_string());
    return;
  }
  const auto quantised = sched::quantize_telemetry(*free);
  const auto timestamp = static_cast<std::uint64_t>(node_.now_ms());
  // Sequence numbers must grow across restarts too: use the clock, never going back.
  sequence_ = std::max<std::uint64_t>(sequence_ + 1, timestamp);
  const std::uint64_t sequence = sequence_;
  node_.post_fhe([this, alive = alive_, quantised, sequence, timestamp] {
    if (!*alive) return;
    const auto& key = node_.keys().public_key;
    auto telemetry = std::make_shared<sched::EncryptedTelemetry>(sched::encrypt_telemetry(quantised, key));
    Bytes record = sched::sign_telemetry_record(node_.self(), sequence, timestamp, *telemetry, key.params(), signing_key_,
                                                  options_.attributes);
    const Hash32 hash = sched::telemetry_hash(*telemetry);
    node_.post([this, alive, telemetry, record = std::move(record), hash, timestamp, quantised] {
      if (!*alive) return;
      own_records_.push_back({hash, timestamp, quantised});
      while (own_records_.size() > kOwnRecordsKept) own_records_.pop_front();
      keep(node_.self(), {hash, timestamp, telemetry, options_.attributes});
      node_.metrics()
          .counter("veil_telemetry_published_total", "Encrypted telemetry records this node published.")
          .with({})
          .inc();
      node_.publish(options_.topic, record);
    });
  });
}

void TelemetryRole::on_record(const p2p::PeerId& from_id, ByteView data) {
  const std::string from = from_id.to_string();
  auto& rejected = node_.metrics().counter("veil_telemetry_rejected_total", "Telemetry records refused.", {"reason"});
  if (!node_.is_registered(from)) {
    rejected.with({"unregistered"}).inc();
    return;
  }
  // The record's signer must be the key inside the sender's PeerId.
  auto key = from_id.public_key();
  if (!key.ok()) {
    rejected.with({"no_key"}).inc();
    return;
  }
  validator_.register_node(from, key->raw());
  // Parsing and the signature check cost little next to the record's size; keep them here.
  auto record = validator_.accept(data, static_cast<std::uint64_t>(node_.now_ms()));
  if (!record.ok()) {
    rejected.with({std::string(status_code_name(record.status().code()))}).inc();
    logger()->debug("telemetry from {} refused: {}", from, record.status().to_string());
    return;
  }
  if (record->node_id != from) {
    rejected.with({"node_mismatch"}).inc();
    return;
  }
  auto telemetry = std::make_shared<sched::EncryptedTelemetry>(std::move(record->telemetry));
  keep(from, {sched::telemetry_hash(*telemetry), record->timestamp_ms, telemetry, std::move(record->attributes)});
  node_.metrics().counter("veil_telemetry_received_total", "Telemetry records accepted from peers.").with({}).inc();
}

void TelemetryRole::keep(const std::string& peer, KnownTelemetry record) {
  auto& kept = records_[peer];
  kept.push_back(std::move(record));
  while (kept.size() > kRecordsKeptPerNode) kept.pop_front();
}

std::optional<KnownTelemetry> TelemetryRole::find(const std::string& peer, const Hash32& hash) const {
  auto it = records_.find(peer);
  if (it == records_.end()) return std::nullopt;
  for (const auto& t : it->second) {
    if (t.hash == hash) return t;
  }
  return std::nullopt;
}

std::optional<KnownTelemetry> TelemetryRole::latest(const std::string& peer) const {
  auto it = records_.find(peer);
  if (it == records_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

}  // namespace veil::node
