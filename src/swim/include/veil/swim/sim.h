// An in-memory network of SWIM members and the discrete-event simulator that drives it.
//
// SimNetwork delivers the messages of many Node cores to each other on one virtual clock,
// with per-message latency, random loss, partitions (members in different groups cannot
// reach each other), crashed members, and slow members (each message to a slow member is
// processed after an extra random delay, as under CPU starvation; its timers still fire on
// time — the situation Lifeguard was designed for). Every member shares one Directory, so
// MemberIds are global and a member's view is a flat vector: 10,000 members with 10,000
// views each fit in about 1.5 GB.
//
// run_simulation() builds a SimNetwork from SimOptions, crashes members at random times and
// measures what issue 5 asks for; the `veil sim swim` command prints its SimReport.
//
// Thread safety: not thread-safe; single-threaded by design (determinism: a seed fixes a run).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "veil/common/status.h"
#include "veil/swim/config.h"
#include "veil/swim/node.h"

namespace veil::swim {

class SimNetwork {
 public:
  // Called for every event at every running member: (observer, event).
  using EventHook = std::function<void(MemberId observer, const Event& event)>;

  explicit SimNetwork(std::uint64_t seed);
  ~SimNetwork();

  // --- Members --------------------------------------------------------------------------------
  // Adds a running member named `name` with its own copy of `config` (its seed is mixed with
  // the member id). It knows no one: call join() or converge().
  MemberId add_member(const std::string& name, const Config& config);
  // Makes every running member know every other as alive at incarnation 0, without traffic:
  // the state a cluster reaches after its joins settle. Lets large simulations skip joining.
  void converge();
  // Joins `member` through `seeds` (a push-pull with each). Returns the Node's error if any.
  Status join(MemberId member, const std::vector<MemberId>& seeds);
  // Crashes a member: from now on it neither receives messages nor runs timers.
  void kill(MemberId member);
  // Gracefully leaves: the member announces it and keeps running (to spread the news).
  void leave(MemberId member);
  bool is_running(MemberId member) const { return running_[member]; }
  Node& node(MemberId member) { return *nodes_[member]; }
  std::size_t size() const { return nodes_.size(); }
  Directory& directory() { return directory_; }

  // --- Network conditions -----------------------------------------------------------------
  // Each message is dropped with probability `p` (0..1).
  void set_loss(double p) { loss_ = p; }
  // One-way latency is uniform in [min_ms, max_ms].
  void set_latency(std::int64_t min_ms, std::int64_t max_ms);
  // Messages to `member` are processed after an extra uniform delay in [0, max_delay_ms].
  void set_slow(MemberId member, std::int64_t max_delay_ms);
  // Members in different groups cannot exchange messages. All start in group 0.
  void set_group(MemberId member, int group) { group_[member] = group; }
  void heal() { std::fill(group_.begin(), group_.end(), 0); }
  int group(MemberId member) const { return group_[member]; }
  // Pass every message through the binary wire format (encode at send, decode at delivery).
  void set_wire(bool on) { wire_ = on; }

  // --- Running --------------------------------------------------------------------------------
  std::int64_t now() const { return now_; }
  // Processes every event up to and including time `t_ms`, then sets now() to it.
  void run_until(std::int64_t t_ms);
  void set_event_hook(EventHook hook) { hook_ = std::move(hook); }

  // --- Counters -----------------------------------------------------------------------------
  std::uint64_t messages_sent() const { return messages_sent_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t push_pull_bytes() const { return push_pull_bytes_; }
  std::uint64_t messages_dropped() const { return messages_dropped_; }
  std::uint64_t wire_errors() const { return wire_errors_; }
  // Sum over members of the time they were running (for per-member rates).
  std::int64_t member_running_ms() const;

 private:
  struct Pending {
    MemberId from, to;
    Message message;
    Bytes encoded;
  };
  struct Scheduled {
    std::int64_t time;
    std::uint64_t seq;
    std::uint32_t node;     // the member to wake, or the receiver of a delivery
    std::uint32_t payload;  // index into pending_, or kWake
    bool operator>(const Scheduled& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };
  static constexpr std::uint32_t kWake = 0xffffffffu;

  void after_activity(MemberId member);
  void dispatch(MemberId from, Envelope&& envelope);
  void schedule(std::int64_t time, MemberId node, std::uint32_t payload);
  std::uint64_t random();

  Directory directory_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<bool> running_;
  std::vector<int> group_;
  std::vector<std::int64_t> slow_delay_;
  std::vector<std::int64_t> wake_at_;
  std::vector<std::int64_t> started_ms_, stopped_ms_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
  std::vector<Pending> pending_;
  std::vector<std::uint32_t> free_pending_;
  std::vector<Envelope> scratch_;
  EventHook hook_;
  std::uint64_t rng_state_;
  std::uint64_t seq_ = 0;
  std::int64_t now_ = 0;
  double loss_ = 0;
  std::int64_t latency_min_ = 1, latency_max_ = 3;
  bool wire_ = false;
  std::uint64_t messages_sent_ = 0, bytes_sent_ = 0, push_pull_bytes_ = 0;
  std::uint64_t messages_dropped_ = 0, wire_errors_ = 0;
};

// What `veil sim swim` simulates.
struct SimOptions {
  int members = 100;
  double loss = 0.0;        // per-message drop probability
  int kill = 0;             // members crashed at random times in the kill window
  double slow = 0.0;        // fraction of members that are slow
  std::int64_t slow_delay_ms = 3000;  // their extra processing delay: uniform [0, this]
  // Partition (in periods; both < 0 means none): from `partition_start` to `partition_end`
  // the members are split into two groups, `partition_fraction` of them in the second.
  double partition_start = -1, partition_end = -1;
  double partition_fraction = 0.5;
  int periods = 60;         // run length in probe periods
  std::uint64_t seed = 1;
  Config config = Config::lan();
  bool lifeguard = true;    // false: config.without_lifeguard()
  std::int64_t latency_min_ms = 1, latency_max_ms = 5;
  bool wire = false;        // route every message through the wire codec
  bool join = false;        // start with members joining through member 0, not converged
  // Crashes happen uniformly in [kill_from, kill_until] periods; kill_until < 0 means
  // periods / 3 (so that detection and dissemination fit in the run).
  double kill_from = 1, kill_until = -1;
};

struct SimReport {
  int members = 0;
  int periods = 0;
  std::int64_t period_ms = 0;
  int killed = 0;
  int detected = 0;             // killed members declared dead by someone
  int fully_disseminated = 0;   // ... and known dead by every running member
  // First detection of a crash in SWIM's sense: the number of protocol periods, counted from
  // the crash, up to and including the period in which the first probe that failed started.
  double first_detection_mean_periods = 0, first_detection_p50_periods = 0, first_detection_p99_periods = 0;
  // Wall-clock (simulated) time from crash to the first suspicion, in seconds.
  double first_suspicion_mean_s = 0;
  // From the first "dead" declaration to the moment every running member knows it.
  double dissemination_p50_periods = 0, dissemination_p99_periods = 0;
  // From the crash to the moment every running member knows it is dead.
  double full_detection_p50_periods = 0, full_detection_p99_periods = 0;
  int false_positives = 0;                    // distinct healthy members declared dead
  int false_positives_partition = 0;          // ... of which caused by the partition
  int false_positives_slow = 0;               // ... of false_positives, how many were slow members
  std::uint64_t false_positive_events = 0;    // (observer, member) dead events about healthy members
  std::uint64_t false_positive_events_by_slow = 0;  // ... of which declared by a slow observer
  double msgs_per_member_per_period = 0;
  double bytes_per_member_per_period = 0;
  double push_pull_bytes_per_member_per_period = 0;
  double loss_observed = 0;
  double partition_convergence_periods = -1;  // -1: no partition, or not converged by the end
  double expected_first_detection_periods = 0;  // SWIM's 1/(1-(1-1/(n-1))^(n-1)) for reference
  std::uint64_t wire_errors = 0;
  double elapsed_s = 0;  // host time the simulation took
};

// Runs one simulation. invalid_argument for out-of-range options (members < 2, kill >= members,
// probabilities outside [0, 1], an invalid config, ...).
Result<SimReport> run_simulation(const SimOptions& options);

}  // namespace veil::swim
