// Telemetry: measure, encrypt under the cluster key, sign and publish at an interval; keep the
// last few records of every node for the schedulers.
#include <utility>  // Boost 1.74 asio needs std::exchange declared first
#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon_impl.h"
#include "veil/p2p/protocols.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
constexpr std::size_t kRecordsKeptPerNode = 8;
// This node's own plaintext, kept longer so its operator can check past decisions (a few KB).
constexpr std::size_t kOwnRecordsKept = 1024;

auto logger() { return log::get("node"); }

}  // namespace

void Daemon::Impl::start_telemetry() {
  telemetry_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, [this]() -> p2p::Task<void> {
    // The first CPU sample needs an interval to measure over.
    for (auto delay = std::chrono::milliseconds(500);; delay = settings_.telemetry_interval) {
      telemetry_timer_->expires_after(delay);
      boost::system::error_code ec;
      co_await telemetry_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || stopping_) co_return;
      measure_latency();
      publish_telemetry();
    }
  }, asio::detached);
}

void Daemon::Impl::publish_telemetry() {
  auto sample = probe_->sample();
  if (!sample.ok()) {
    logger()->warn("telemetry: {}", sample.status().to_string());
    return;
  }
  // What this node offers is what it measures minus what its replicas were promised, so a
  // decision never counts on capacity an idle container has not used yet.
  sched::FreeCapacity free = *sample;
  if (settings_.fixed_telemetry) {
    const auto& cap = settings_.cap;
    free = sched::FreeCapacity{cap.cpu_millicores.value_or(0), cap.memory_mib.value_or(0), cap.disk_mib.value_or(0),
                               cap.gpus.value_or(0), 0};
  }
  const auto reserved = executor_->reserved_capacity();
  auto minus = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  free.cpu_millicores = minus(free.cpu_millicores, reserved.cpu_millicores);
  free.memory_mib = minus(free.memory_mib, reserved.memory_mib);
  free.disk_mib = minus(free.disk_mib, reserved.disk_mib);
  free.gpus = minus(free.gpus, reserved.gpus);
  std::vector<std::int64_t> rtts;
  for (const auto& [peer, rtt] : latency_) {
    if (is_live(peer)) rtts.push_back(std::chrono::duration_cast<std::chrono::microseconds>(rtt).count());
  }
  if (!rtts.empty()) {
    std::nth_element(rtts.begin(), rtts.begin() + rtts.size() / 2, rtts.end());
    free.latency_us = static_cast<std::uint64_t>(rtts[rtts.size() / 2]);
  }
  const auto quantised = sched::quantize_telemetry(free);
  const std::uint64_t timestamp = static_cast<std::uint64_t>(now_ms());
  // Sequence numbers must grow across restarts too: use the clock, never going back.
  telemetry_sequence_ = std::max<std::uint64_t>(telemetry_sequence_ + 1, timestamp);
  const std::uint64_t sequence = telemetry_sequence_;
  fhe_->post([this, quantised, sequence, timestamp] {
    auto telemetry = std::make_shared<sched::EncryptedTelemetry>(sched::encrypt_telemetry(quantised, keys_.public_key));
    Bytes record = sched::sign_telemetry_record(self_text_, sequence, timestamp, *telemetry, keys_.public_key.params(),
                                                telemetry_signing_key_);
    const Hash32 hash = sched::telemetry_hash(*telemetry);
    asio::post(io_, [this, telemetry, record = std::move(record), hash, timestamp, quantised] {
      own_records_.push_back({hash, timestamp, quantised});
      while (own_records_.size() > kOwnRecordsKept) own_records_.pop_front();
      auto& kept = telemetry_[self_text_];
      kept.push_back({hash, timestamp, telemetry});
      while (kept.size() > kRecordsKeptPerNode) kept.pop_front();
      metrics_.counter("veil_telemetry_published_total", "Encrypted telemetry records this node published.").with({}).inc();
      publish(topics_.telemetry, record);
    });
  });
}

void Daemon::Impl::on_telemetry(const p2p::PubsubMessage& message) {
  const std::string from = message.from.to_string();
  if (registered_by_hash_.count(chain::peer_id_hash(from)) == 0) return;
  // The record's signer must be the key inside the sender's PeerId.
  auto key = message.from.public_key();
  if (!key.ok()) return;
  telemetry_validator_->register_node(from, key->raw());
  // Parsing and the signature check cost little next to the record's size; keep them here.
  auto record = telemetry_validator_->accept(message.data, static_cast<std::uint64_t>(now_ms()));
  auto& rejected = metrics_.counter("veil_telemetry_rejected_total", "Telemetry records refused.", {"reason"});
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
  auto& kept = telemetry_[from];
  kept.push_back({sched::telemetry_hash(*telemetry), record->timestamp_ms, telemetry});
  while (kept.size() > kRecordsKeptPerNode) kept.pop_front();
  metrics_.counter("veil_telemetry_received_total", "Telemetry records accepted from peers.").with({}).inc();
}

void Daemon::Impl::measure_latency() {
  for (const auto& peer : live_members()) {
    if (peer == self_text_) continue;
    auto id = p2p::PeerId::parse(peer);
    if (!id.ok() || !host_->is_connected(*id)) continue;
    asio::co_spawn(io_, [this, id = *id, peer]() -> p2p::Task<void> {
      auto rtt = co_await p2p::ping(*host_, id);
      if (rtt.ok()) latency_[peer] = *rtt;
    }, asio::detached);
  }
}

std::optional<KnownTelemetry> Daemon::Impl::find_telemetry(const std::string& peer, const Hash32& hash) const {
  auto it = telemetry_.find(peer);
  if (it == telemetry_.end()) return std::nullopt;
  for (const auto& t : it->second) {
    if (t.hash == hash) return t;
  }
  return std::nullopt;
}

std::optional<KnownTelemetry> Daemon::Impl::latest_telemetry(const std::string& peer) const {
  auto it = telemetry_.find(peer);
  if (it == telemetry_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

}  // namespace veil::node
