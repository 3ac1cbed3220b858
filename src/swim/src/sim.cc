#include "veil/swim/sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "veil/swim/formulas.h"
#include "veil/swim/wire.h"

namespace veil::swim {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  // Nearest-rank percentile.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return -1;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SimNetwork

SimNetwork::SimNetwork(std::uint64_t seed) : rng_state_(seed) {}
SimNetwork::~SimNetwork() = default;

std::uint64_t SimNetwork::random() { return splitmix(rng_state_); }

MemberId SimNetwork::add_member(const std::string& name, const Config& config) {
  MemberId id = directory_.intern(name);
  Config c = config;
  c.seed = config.seed * 0x100000001b3ull + id;
  nodes_.push_back(std::make_unique<Node>(c, directory_, id, now_));
  running_.push_back(true);
  group_.push_back(0);
  slow_delay_.push_back(0);
  wake_at_.push_back(kNever);
  started_ms_.push_back(now_);
  stopped_ms_.push_back(-1);
  nodes_.back()->subscribe([this, id](const Event& e) {
    if (hook_) hook_(id, e);
  });
  after_activity(id);
  return id;
}

void SimNetwork::converge() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running_[i]) continue;
    Node& n = *nodes_[i];
    n.reserve(nodes_.size());
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (j != i && running_[j]) n.assume_alive(static_cast<MemberId>(j), 0, now_);
    }
    after_activity(static_cast<MemberId>(i));
  }
}

Status SimNetwork::join(MemberId member, const std::vector<MemberId>& seeds) {
  Status s = nodes_[member]->join(seeds, now_);
  after_activity(member);
  return s;
}

void SimNetwork::kill(MemberId member) {
  if (!running_[member]) return;
  running_[member] = false;
  stopped_ms_[member] = now_;
}

void SimNetwork::leave(MemberId member) {
  nodes_[member]->leave(now_);
  after_activity(member);
}

void SimNetwork::set_latency(std::int64_t min_ms, std::int64_t max_ms) {
  latency_min_ = std::max<std::int64_t>(0, min_ms);
  latency_max_ = std::max(latency_min_, max_ms);
}

void SimNetwork::set_slow(MemberId member, std::int64_t max_delay_ms) { slow_delay_[member] = max_delay_ms; }

std::int64_t SimNetwork::member_running_ms() const {
  std::int64_t total = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    std::int64_t end = stopped_ms_[i] >= 0 ? stopped_ms_[i] : now_;
    total += end - started_ms_[i];
  }
  return total;
}

void SimNetwork::schedule(std::int64_t time, MemberId node, std::uint32_t payload) {
  queue_.push({time, seq_++, node, payload});
}

void SimNetwork::after_activity(MemberId member) {
  Node& n = *nodes_[member];
  n.take_outgoing(scratch_);
  for (auto& envelope : scratch_) dispatch(member, std::move(envelope));
  scratch_.clear();
  std::int64_t next = std::max(n.next_deadline(), now_);
  if (next < wake_at_[member]) {
    wake_at_[member] = next;
    schedule(next, member, kWake);
  }
}

void SimNetwork::dispatch(MemberId from, Envelope&& envelope) {
  ++messages_sent_;
  std::size_t size = encoded_size(envelope.message, directory_);
  bytes_sent_ += size;
  if (envelope.message.type == MessageType::kPushPull) push_pull_bytes_ += size;
  MemberId to = envelope.to;
  if (to >= nodes_.size() || group_[from] != group_[to] ||
      (loss_ > 0 && static_cast<double>(random() >> 11) * (1.0 / 9007199254740992.0) < loss_)) {
    ++messages_dropped_;
    return;
  }
  std::int64_t delay = latency_min_ + static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(latency_max_ - latency_min_ + 1));
  if (slow_delay_[to] > 0) delay += static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(slow_delay_[to] + 1));

  std::uint32_t slot;
  if (!free_pending_.empty()) {
    slot = free_pending_.back();
    free_pending_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(pending_.size());
    pending_.emplace_back();
  }
  Pending& p = pending_[slot];
  p.from = from;
  p.to = to;
  if (wire_) {
    p.encoded.clear();
    encode(envelope.message, directory_, p.encoded);
  } else {
    p.message = std::move(envelope.message);
  }
  schedule(now_ + delay, to, slot);
}

void SimNetwork::run_until(std::int64_t t_ms) {
  while (!queue_.empty() && queue_.top().time <= t_ms) {
    Scheduled ev = queue_.top();
    queue_.pop();
    now_ = std::max(now_, ev.time);
    MemberId member = ev.node;
    if (ev.payload == kWake) {
      if (ev.time != wake_at_[member]) continue;  // superseded by an earlier wake-up
      wake_at_[member] = kNever;
      if (!running_[member]) continue;
      nodes_[member]->tick(now_);
      after_activity(member);
      continue;
    }
    Pending& p = pending_[ev.payload];
    MemberId from = p.from;
    if (running_[member] && group_[from] == group_[member]) {
      if (wire_) {
        auto decoded = decode(p.encoded, directory_);
        if (decoded.ok()) {
          nodes_[member]->handle(from, *decoded, now_);
        } else {
          ++wire_errors_;
        }
      } else {
        nodes_[member]->handle(from, p.message, now_);
      }
      after_activity(member);
    } else {
      ++messages_dropped_;
    }
    pending_[ev.payload].message = Message{};
    free_pending_.push_back(ev.payload);
  }
  now_ = std::max(now_, t_ms);
}

// ---------------------------------------------------------------------------------------------
// run_simulation

namespace {

struct Crash {
  MemberId member;
  std::int64_t at_ms;
  std::int64_t first_probe_start = -1;  // start of the first probe of it that failed
  std::int64_t first_suspicion = -1;
  std::int64_t first_dead = -1;
  std::int64_t all_know = -1;
  int know_count = 0;
  std::vector<bool> knows;  // by observer
};

}  // namespace

Result<SimReport> run_simulation(const SimOptions& o) {
  if (o.members < 2 || o.members > 200000) return invalid_argument("--members must be in [2, 200000]");
  if (o.kill < 0 || o.kill >= o.members) return invalid_argument("--kill must be in [0, members)");
  if (o.loss < 0 || o.loss > 1) return invalid_argument("--loss must be a probability in [0, 1]");
  if (o.slow < 0 || o.slow > 1) return invalid_argument("--slow must be a fraction in [0, 1]");
  if (o.periods < 1) return invalid_argument("--periods must be at least 1");
  if (o.slow_delay_ms < 0) return invalid_argument("--slow-delay-ms must not be negative");
  if (o.partition_start >= 0 && !(o.partition_end > o.partition_start)) {
    return invalid_argument("--partition A:B needs 0 <= A < B (periods)");
  }
  Config config = o.lifeguard ? o.config : o.config.without_lifeguard();
  config.seed = o.seed;
  VEIL_RETURN_IF_ERROR(config.validate());

  auto host_start = std::chrono::steady_clock::now();
  const std::int64_t period = config.probe_interval_ms;
  const std::int64_t end_ms = static_cast<std::int64_t>(o.periods) * period;
  std::uint64_t rng = o.seed ^ 0xa0761d6478bd642full;
  auto unit = [&rng] { return static_cast<double>(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0); };

  SimNetwork net(o.seed);
  net.set_loss(o.loss);
  net.set_latency(o.latency_min_ms, o.latency_max_ms);
  net.set_wire(o.wire);
  const auto n = static_cast<std::size_t>(o.members);
  for (std::size_t i = 0; i < n; ++i) net.add_member("m" + std::to_string(i), config);

  // Roles: slow members and crash victims are distinct, so every slow member is healthy.
  std::vector<MemberId> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<MemberId>(i);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[splitmix(rng) % i]);
  std::vector<bool> slow(n, false), doomed(n, false);
  auto n_slow = static_cast<std::size_t>(std::llround(o.slow * static_cast<double>(n)));
  n_slow = std::min(n_slow, n - static_cast<std::size_t>(o.kill));
  for (std::size_t i = 0; i < n_slow; ++i) {
    slow[order[i]] = true;
    net.set_slow(order[i], o.slow_delay_ms);
  }
  double kill_until = o.kill_until >= 0 ? o.kill_until : std::max(o.kill_from + 1, o.periods / 3.0);
  std::vector<Crash> crashes;
  for (int i = 0; i < o.kill; ++i) {
    MemberId m = order[n_slow + static_cast<std::size_t>(i)];
    doomed[m] = true;
    auto at = static_cast<std::int64_t>((o.kill_from + unit() * (kill_until - o.kill_from)) * static_cast<double>(period));
    crashes.push_back({m, at, -1, -1, -1, -1, 0, std::vector<bool>(n, false)});
  }
  std::sort(crashes.begin(), crashes.end(), [](const Crash& a, const Crash& b) { return a.at_ms < b.at_ms; });
  std::unordered_map<MemberId, std::size_t> crash_of;
  for (std::size_t i = 0; i < crashes.size(); ++i) crash_of[crashes[i].member] = i;

  // Partition groups.
  const bool partitioned = o.partition_start >= 0;
  const auto part_start = static_cast<std::int64_t>(o.partition_start * static_cast<double>(period));
  const auto part_end = static_cast<std::int64_t>(o.partition_end * static_cast<double>(period));
  std::vector<int> side(n, 0);
  for (std::size_t i = 0; i < n; ++i) side[order[n - 1 - i]] = i < static_cast<std::size_t>(o.partition_fraction * static_cast<double>(n)) ? 1 : 0;

  // Convergence bookkeeping: wrong[o] = running members m != o that o does not see alive.
  std::vector<bool> crashed(n, false);
  std::vector<std::int64_t> wrong(n, 0);
  std::int64_t wrong_total = 0;
  std::int64_t converged_at = -1;
  bool healed = false;

  SimReport report;
  std::vector<bool> false_dead(n, false), false_dead_partition(n, false);

  net.set_event_hook([&](MemberId observer, const Event& e) {
    const MemberId m = e.member;
    if (m >= n || observer >= n) return;
    const bool now_alive = e.kind == Event::Kind::kAlive || e.kind == Event::Kind::kJoined;
    const bool was_alive = e.previous == MemberState::kAlive;
    if (!crashed[m] && !crashed[observer] && m != observer && now_alive != was_alive) {
      std::int64_t d = now_alive ? -1 : 1;
      wrong[observer] += d;
      wrong_total += d;
      if (healed && converged_at < 0 && wrong_total == 0) converged_at = net.now();
    }
    if (e.kind == Event::Kind::kSuspect || e.kind == Event::Kind::kDead) {
      auto it = crash_of.find(m);
      if (it != crash_of.end()) {
        Crash& c = crashes[it->second];
        if (c.at_ms <= net.now()) {
          if (e.kind == Event::Kind::kSuspect && c.first_suspicion < 0) c.first_suspicion = net.now();
          if (e.kind == Event::Kind::kSuspect && e.by == observer && c.first_probe_start < 0) {
            c.first_probe_start = net.node(observer).probe_started_ms();
          }
          if (e.kind == Event::Kind::kDead) {
            if (c.first_dead < 0) c.first_dead = net.now();
            if (!crashed[observer] && !c.knows[observer]) {
              c.knows[observer] = true;
              ++c.know_count;
            }
          }
        }
      } else if (e.kind == Event::Kind::kDead) {
        ++report.false_positive_events;
        if (slow[observer]) ++report.false_positive_events_by_slow;
        bool by_partition = partitioned && net.now() >= part_start &&
                            (net.now() <= part_end || (e.by < n && side[e.by] != side[m]) || side[observer] != side[m]);
        if (by_partition) {
          false_dead_partition[m] = true;
        } else {
          false_dead[m] = true;
        }
      }
    }
  });

  if (o.join) {
    for (std::size_t i = 1; i < n; ++i) {
      VEIL_RETURN_IF_ERROR(net.join(static_cast<MemberId>(i), {0}));
    }
    // Every member starts out unaware of the others: all pairs are "wrong" until joins settle.
    for (std::size_t i = 0; i < n; ++i) wrong[i] = static_cast<std::int64_t>(n) - 1;
    wrong_total = static_cast<std::int64_t>(n * (n - 1));
  } else {
    net.converge();
  }

  std::size_t running = n;
  auto check_complete = [&](Crash& c) {
    if (c.all_know < 0 && c.know_count > 0 && static_cast<std::size_t>(c.know_count) >= running) c.all_know = net.now();
  };
  auto crash = [&](Crash& c) {
    MemberId m = c.member;
    // Remove m's pairs from the convergence count.
    wrong_total -= wrong[m];
    wrong[m] = 0;
    for (std::size_t obs = 0; obs < n; ++obs) {
      if (obs == m || crashed[obs]) continue;
      if (net.node(static_cast<MemberId>(obs)).state_of(m) != MemberState::kAlive) {
        --wrong[obs];
        --wrong_total;
      }
    }
    crashed[m] = true;
    net.kill(m);
    --running;
    for (auto& other : crashes) {
      if (other.knows[m]) {
        other.knows[m] = false;
        --other.know_count;
      }
    }
    for (auto& other : crashes) {
      if (other.at_ms <= net.now()) check_complete(other);
    }
  };

  std::size_t next_crash = 0;
  bool split = false;
  for (std::int64_t t = 0; t <= end_ms; t += std::max<std::int64_t>(1, period / 10)) {
    while (next_crash < crashes.size() && crashes[next_crash].at_ms <= t) {
      net.run_until(crashes[next_crash].at_ms);
      crash(crashes[next_crash]);
      ++next_crash;
    }
    if (partitioned && !split && t >= part_start) {
      net.run_until(part_start);
      for (std::size_t i = 0; i < n; ++i) net.set_group(static_cast<MemberId>(i), side[i]);
      split = true;
    }
    if (partitioned && split && !healed && t >= part_end) {
      net.run_until(part_end);
      net.heal();
      healed = true;
      if (wrong_total == 0) converged_at = net.now();
    }
    net.run_until(t);
    for (auto& c : crashes) {
      if (c.at_ms <= t) check_complete(c);
    }
  }

  // Figures.
  report.members = o.members;
  report.periods = o.periods;
  report.period_ms = period;
  report.killed = o.kill;
  std::vector<double> first_detection, first_suspicion_s, dissemination, full_detection;
  for (const auto& c : crashes) {
    if (c.first_probe_start >= 0) {
      // Period k after the crash is (at + (k-1)T, at + kT]; a probe started in it detects in k.
      double k = std::ceil(static_cast<double>(c.first_probe_start - c.at_ms) / static_cast<double>(period));
      first_detection.push_back(std::max(1.0, k));
    }
    if (c.first_suspicion >= 0) first_suspicion_s.push_back(static_cast<double>(c.first_suspicion - c.at_ms) / 1000.0);
    if (c.first_dead >= 0) ++report.detected;
    if (c.all_know >= 0) {
      ++report.fully_disseminated;
      dissemination.push_back(static_cast<double>(c.all_know - c.first_dead) / static_cast<double>(period));
      full_detection.push_back(static_cast<double>(c.all_know - c.at_ms) / static_cast<double>(period));
    }
  }
  report.first_detection_mean_periods = mean(first_detection);
  report.first_detection_p50_periods = percentile(first_detection, 0.5);
  report.first_detection_p99_periods = percentile(first_detection, 0.99);
  report.first_suspicion_mean_s = mean(first_suspicion_s);
  report.dissemination_p50_periods = percentile(dissemination, 0.5);
  report.dissemination_p99_periods = percentile(dissemination, 0.99);
  report.full_detection_p50_periods = percentile(full_detection, 0.5);
  report.full_detection_p99_periods = percentile(full_detection, 0.99);
  for (std::size_t i = 0; i < n; ++i) {
    report.false_positives += false_dead[i] ? 1 : 0;
    report.false_positives_slow += false_dead[i] && slow[i] ? 1 : 0;
    report.false_positives_partition += false_dead_partition[i] && !false_dead[i] ? 1 : 0;
  }
  double member_periods = static_cast<double>(net.member_running_ms()) / static_cast<double>(period);
  report.msgs_per_member_per_period = static_cast<double>(net.messages_sent()) / member_periods;
  report.bytes_per_member_per_period = static_cast<double>(net.bytes_sent()) / member_periods;
  report.push_pull_bytes_per_member_per_period = static_cast<double>(net.push_pull_bytes()) / member_periods;
  report.loss_observed = net.messages_sent() ? static_cast<double>(net.messages_dropped()) / static_cast<double>(net.messages_sent()) : 0;
  if (partitioned && converged_at >= 0) {
    report.partition_convergence_periods = static_cast<double>(converged_at - part_end) / static_cast<double>(period);
  }
  report.expected_first_detection_periods = expected_first_detection_periods(o.members);
  report.wire_errors = net.wire_errors();
  report.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();
  return report;
}

}  // namespace veil::swim
