// The SWIM + Lifeguard protocol core of one member: transport-agnostic and clock-injected.
//
// A Node owns no thread, socket or timer. Its driver (the simulator, a test, or a network
// binding) feeds it what happens — handle() for an incoming message, tick() when time has
// passed — and after each call drains the messages it wants sent (take_outgoing()). Events
// (joined, alive, suspect, dead, left) are delivered synchronously to subscribers from inside
// those calls. next_deadline() says when tick() must be called next; calling it earlier or
// more often is harmless.
//
// What it implements: shuffled round-robin probing; ping, ping-req through k members, ack and
// (Lifeguard) nack; suspicion with incarnation numbers, refutation, dead and left;
// infection-style dissemination piggybacked on every message with a retransmit limit of
// retransmit_mult * ceil(log10(n + 1)), plus a gossip round for updates nothing else carries;
// periodic push-pull anti-entropy, one catch-up push-pull after hearing from a member held dead
// (a healed partition), and reconnection attempts to dead members; join through
// seeds; and Lifeguard's local health multiplier, dynamic suspicion timeout and buddy system.
//
// Thread safety: not thread-safe. One Node is driven from one thread (or strand) at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <span>
#include <unordered_map>
#include <vector>

#include "veil/common/status.h"
#include "veil/swim/config.h"
#include "veil/swim/message.h"

namespace veil::swim {

// A membership change as observed by one member.
struct Event {
  enum class Kind : std::uint8_t { kJoined, kAlive, kSuspect, kDead, kLeft };
  Kind kind;
  MemberId member;
  std::uint32_t incarnation;
  std::int64_t at_ms;
  // Who caused it: the accuser for suspect and dead, the member itself otherwise.
  MemberId by;
  // The member's state in this observer's view just before the change.
  MemberState previous;
};
// "joined", "alive", "suspect", "dead", "left".
std::string_view event_kind_name(Event::Kind kind);

// A message the core wants delivered to `to`.
struct Envelope {
  MemberId to;
  Message message;
};

// Optional authentication of gossiped updates, supplied by a binding whose transport has
// member keys (the libp2p binding: each member's PeerId key). The simulator leaves it empty.
struct UpdateAuth {
  // Signs an update this member originates (from == self). Returns the signature bytes.
  std::function<Bytes(const Update&)> sign;
  // True if `update.signature` is a valid signature by `update.from`. Updates that fail are
  // dropped before they touch the membership view.
  std::function<bool(const Update&)> verify;
  // Optional: the signed alive of `member` at exactly `incarnation` that the binding kept
  // (nullopt if it has none). Lets a member repeat another's refutation to whoever still
  // circulates an older accusation, which it otherwise cannot do since it cannot sign for it.
  std::function<std::optional<Update>(MemberId member, std::uint32_t incarnation)> signed_alive;
};

class Node {
 public:
  using SubscriptionId = int;
  using Listener = std::function<void(const Event&)>;

  // A member named `self` in `directory`, alive at `incarnation`, knowing no one else yet.
  // `directory` must outlive the Node. `config` must be valid (Config::validate()); an invalid
  // one is a programming error (asserted).
  Node(const Config& config, Directory& directory, MemberId self, std::int64_t now_ms,
       std::uint32_t incarnation = 0, UpdateAuth auth = {});

  // --- Driving the protocol -----------------------------------------------------------------
  // Joins through `seeds`: announces itself and sends each seed a push-pull (join) with its
  // state; a seed answers with its full membership. Seeds equal to self are skipped. Returns
  // invalid_argument if no seed remains. Call again (e.g. with other seeds) if no answer comes.
  Status join(std::span<const MemberId> seeds, std::int64_t now_ms);
  // Marks `member` alive at `incarnation` without events or gossip, as if learned by an earlier
  // push-pull. Used to start a simulator or a test from a converged cluster.
  void assume_alive(MemberId member, std::uint32_t incarnation, std::int64_t now_ms);
  // Pre-sizes the per-member tables for ids below `members` (saves regrowth in simulations).
  void reserve(std::size_t members);
  // Processes one message from `from` (authenticated by the transport).
  void handle(MemberId from, const Message& message, std::int64_t now_ms);
  // Runs every timer due at `now_ms`: probe steps, nack relays, suspicion expiry, gossip,
  // push-pull and reconnection.
  void tick(std::int64_t now_ms);
  // The earliest time at which tick() has work to do.
  std::int64_t next_deadline() const;
  // Graceful leave: raises the incarnation, marks itself left and gossips it. The node keeps
  // answering and gossiping (so the news spreads) but stops probing; the driver stops it after
  // a propagation delay of a few gossip intervals.
  void leave(std::int64_t now_ms);
  // Moves the messages queued since the last call into `out` (appended).
  void take_outgoing(std::vector<Envelope>& out);

  // --- Events -------------------------------------------------------------------------------
  // `listener` is called for every event from inside handle/tick/join/leave, in order. It must
  // not call back into this Node. Returns an id for unsubscribe().
  SubscriptionId subscribe(Listener listener);
  void unsubscribe(SubscriptionId id);

  // --- Introspection ------------------------------------------------------------------------
  MemberId self() const { return self_; }
  std::uint32_t incarnation() const { return views_[self_].incarnation; }
  bool has_left() const { return left_; }
  MemberState state_of(MemberId member) const;
  std::uint32_t incarnation_of(MemberId member) const;
  // Members this node believes alive or suspect, itself included (the n of the formulas).
  int live_count() const { return live_count_; }
  // Lifeguard local health score in [0, awareness_max_multiplier - 1]; 0 is healthy.
  int health_score() const { return health_; }
  // The probe interval and timeout currently in force (scaled by local health).
  std::int64_t current_probe_interval_ms() const;
  std::int64_t current_probe_timeout_ms() const;
  // Start time of the probe in progress (or the last one), for detection-latency measurement.
  std::int64_t probe_started_ms() const { return probe_.started; }
  // Suspicion deadline of `member`, or -1 if it is not suspected.
  std::int64_t suspicion_deadline_ms(MemberId member) const;
  // Updates queued for dissemination.
  std::size_t pending_broadcasts() const { return broadcasts_.size(); }
  // Updates dropped because UpdateAuth::verify rejected them.
  std::uint64_t rejected_updates() const { return rejected_updates_; }
  const Config& config() const { return config_; }

 private:
  struct View {
    std::uint32_t incarnation = 0;
    MemberState state = MemberState::kUnknown;
    // When a message from the member itself last reached us: first-hand evidence that it is
    // alive, which outweighs another member's stale "dead" (see on_dead).
    std::optional<std::int64_t> last_heard_ms;
  };
  struct Probe {
    bool active = false;
    bool acked = false;
    bool indirect_sent = false;
    MemberId target = kNoMember;
    std::uint32_t seq = 0;
    std::int64_t started = 0;
    std::int64_t ack_deadline = 0;
    std::int64_t end = 0;
    int expected_nacks = 0;
    int nacks = 0;
    std::vector<MemberId> helpers;
  };
  struct Relay {
    std::uint32_t seq;         // our ping to the target
    MemberId origin;           // who asked
    std::uint32_t origin_seq;  // their probe's seq
    MemberId target;
    std::int64_t nack_deadline;
  };
  struct Suspicion {
    std::uint32_t incarnation;
    std::int64_t start, min_ms, max_ms, deadline;
    int needed;
    std::vector<MemberId> confirmers;  // distinct accusers, the first one included
  };
  struct Queued {
    Update update;
    int transmits;
    std::uint64_t order;  // newer updates go first among equal transmit counts
  };

  // Protocol steps, in the order a probe period runs them.
  void start_probe(std::int64_t now);
  void send_indirect_probes(std::int64_t now);
  void finish_probe(std::int64_t now);
  MemberId next_probe_target();
  void gossip_round();
  void push_pull_with(MemberId peer, bool join, bool reply = false);
  void push_pull_with_random_member();
  void schedule_catch_up(std::int64_t now);
  void send(MemberId to, Message message);
  void attach_updates(Message& message);

  // Applying facts to the view. `received` is re-gossiped as is (keeping its signature).
  void apply(const Update& received, std::int64_t now);
  void on_alive(const Update& u, std::int64_t now);
  void accept_alive(const Update& u, std::int64_t now, bool gossip);
  void on_suspect(const Update& u, std::int64_t now);
  void on_dead(const Update& u, std::int64_t now);
  bool heard_from_lately(MemberId member, std::int64_t now) const;
  void merge_state(MemberId sender, const std::vector<StateEntry>& entries, std::int64_t now);
  void refute(std::uint32_t accused_incarnation);
  void correct_stale(MemberId member);
  void originate(Update::Kind kind, MemberId member, std::uint32_t incarnation, std::int64_t now);
  void enqueue(const Update& update);
  void start_suspicion(MemberId member, std::uint32_t incarnation, MemberId accuser, std::int64_t now);
  bool confirm_suspicion(MemberId member, MemberId accuser);
  void expire_suspicions(std::int64_t now);
  void emit(Event::Kind kind, MemberId member, MemberId by, MemberState previous, std::int64_t now);
  void set_state(MemberId member, MemberState state, std::uint32_t incarnation);
  void add_to_probe_list(MemberId member);
  void adjust_health(int delta);
  View& view(MemberId member);
  std::vector<MemberId> random_members(int count, MemberId exclude, bool alive_only);

  Config config_;
  Directory& directory_;
  MemberId self_;
  UpdateAuth auth_;
  std::uint64_t rng_state_;
  bool left_ = false;
  int live_count_ = 1;
  int health_ = 0;
  std::uint32_t next_seq_ = 1;
  std::uint64_t next_order_ = 0;
  std::uint64_t rejected_updates_ = 0;

  std::vector<View> views_;  // indexed by MemberId; kUnknown beyond what we have heard of
  std::vector<MemberId> probe_list_;
  std::size_t probe_index_ = 0;
  Probe probe_;
  std::vector<Relay> relays_;
  std::unordered_map<MemberId, Suspicion> suspicions_;
  using Deadline = std::pair<std::int64_t, MemberId>;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> suspicion_deadlines_;
  std::vector<Queued> broadcasts_;

  std::int64_t next_probe_ms_;
  std::int64_t next_gossip_ms_;
  std::int64_t next_push_pull_ms_;
  // The one extra push-pull after hearing from a member we hold dead (schedule_catch_up);
  // max() when none is due.
  std::int64_t next_catch_up_ms_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t next_reconnect_ms_;

  std::vector<Envelope> outbox_;
  std::vector<std::pair<SubscriptionId, Listener>> listeners_;
  SubscriptionId next_subscription_ = 1;

  std::uint64_t random();
  std::uint64_t random_below(std::uint64_t bound) { return random() % bound; }
};

}  // namespace veil::swim
