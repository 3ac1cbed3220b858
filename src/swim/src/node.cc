#include "veil/swim/node.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "veil/swim/formulas.h"
#include "veil/swim/wire.h"

namespace veil::swim {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

bool is_live(MemberState s) { return s == MemberState::kAlive || s == MemberState::kSuspect; }

}  // namespace

std::string_view event_kind_name(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::kJoined: return "joined";
    case Event::Kind::kAlive: return "alive";
    case Event::Kind::kSuspect: return "suspect";
    case Event::Kind::kDead: return "dead";
    case Event::Kind::kLeft: return "left";
  }
  return "invalid";
}

Node::Node(const Config& config, Directory& directory, MemberId self, std::int64_t now_ms,
           std::uint32_t incarnation, UpdateAuth auth)
    : config_(config),
      directory_(directory),
      self_(self),
      auth_(std::move(auth)),
      rng_state_(config.seed ^ (0x5bd1e995ull * (static_cast<std::uint64_t>(self) + 1))) {
  assert(config_.validate().ok());
  view(self_) = {incarnation, MemberState::kAlive};
  // Random phases, so that members started together do not probe and gossip in lockstep.
  next_probe_ms_ = now_ms + static_cast<std::int64_t>(random_below(config_.probe_interval_ms));
  next_gossip_ms_ = config_.gossip_interval_ms > 0
                        ? now_ms + static_cast<std::int64_t>(random_below(config_.gossip_interval_ms))
                        : kNever;
  next_push_pull_ms_ = config_.push_pull_interval_ms > 0
                           ? now_ms + static_cast<std::int64_t>(random_below(config_.push_pull_interval_ms))
                           : kNever;
  next_reconnect_ms_ = config_.reconnect_interval_ms > 0
                           ? now_ms + static_cast<std::int64_t>(random_below(config_.reconnect_interval_ms))
                           : kNever;
}

std::uint64_t Node::random() {
  std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Node::View& Node::view(MemberId member) {
  if (member >= views_.size()) views_.resize(static_cast<std::size_t>(member) + 1);
  return views_[member];
}

MemberState Node::state_of(MemberId member) const {
  return member < views_.size() ? views_[member].state : MemberState::kUnknown;
}

std::uint32_t Node::incarnation_of(MemberId member) const {
  return member < views_.size() ? views_[member].incarnation : 0;
}

std::int64_t Node::current_probe_interval_ms() const {
  return scale_by_health(config_.probe_interval_ms, health_, config_.awareness_max_multiplier);
}

std::int64_t Node::current_probe_timeout_ms() const {
  return scale_by_health(config_.probe_timeout_ms, health_, config_.awareness_max_multiplier);
}

std::int64_t Node::suspicion_deadline_ms(MemberId member) const {
  auto it = suspicions_.find(member);
  return it == suspicions_.end() ? -1 : it->second.deadline;
}

Node::SubscriptionId Node::subscribe(Listener listener) {
  listeners_.emplace_back(next_subscription_, std::move(listener));
  return next_subscription_++;
}

void Node::unsubscribe(SubscriptionId id) {
  std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
}

void Node::take_outgoing(std::vector<Envelope>& out) {
  if (out.empty()) {
    out.swap(outbox_);
  } else {
    for (auto& e : outbox_) out.push_back(std::move(e));
  }
  outbox_.clear();
}

// ---------------------------------------------------------------------------------------------
// Joining and leaving

Status Node::join(std::span<const MemberId> seeds, std::int64_t now_ms) {
  int sent = 0;
  for (MemberId seed : seeds) {
    if (seed == self_) continue;
    push_pull_with(seed, /*join=*/true);
    ++sent;
  }
  if (sent == 0) return invalid_argument("swim join: no seed other than this member itself");
  originate(Update::Kind::kAlive, self_, incarnation(), now_ms);
  return Status{};
}

void Node::assume_alive(MemberId member, std::uint32_t incarnation, std::int64_t /*now_ms*/) {
  if (member == self_) return;
  View& v = view(member);
  if (!is_live(v.state)) {
    ++live_count_;
    add_to_probe_list(member);
  }
  v = {incarnation, MemberState::kAlive};
}

void Node::reserve(std::size_t members) {
  if (views_.size() < members) views_.resize(members);
  probe_list_.reserve(members);
}

void Node::leave(std::int64_t now_ms) {
  if (left_) return;
  left_ = true;
  std::uint32_t inc = incarnation() + 1;
  set_state(self_, MemberState::kLeft, inc);
  probe_.active = false;
  originate(Update::Kind::kLeft, self_, inc, now_ms);
  emit(Event::Kind::kLeft, self_, self_, MemberState::kAlive, now_ms);
}

// ---------------------------------------------------------------------------------------------
// Timers

std::int64_t Node::next_deadline() const {
  std::int64_t next =
      std::min({next_probe_ms_, next_gossip_ms_, next_push_pull_ms_, next_catch_up_ms_, next_reconnect_ms_});
  if (probe_.active) next = std::min(next, probe_.indirect_sent || probe_.acked ? probe_.end : probe_.ack_deadline);
  for (const auto& r : relays_) next = std::min(next, r.nack_deadline);
  if (!suspicion_deadlines_.empty()) next = std::min(next, suspicion_deadlines_.top().first);
  return next;
}

void Node::tick(std::int64_t now) {
  // Nack relays whose target stayed silent.
  for (std::size_t i = 0; i < relays_.size();) {
    if (relays_[i].nack_deadline <= now) {
      if (config_.enable_nack) {
        Message nack;
        nack.type = MessageType::kNack;
        nack.seq = relays_[i].origin_seq;
        send(relays_[i].origin, std::move(nack));
      }
      relays_[i] = relays_.back();
      relays_.pop_back();
    } else {
      ++i;
    }
  }

  expire_suspicions(now);

  if (probe_.active && !probe_.acked && !probe_.indirect_sent && now >= probe_.ack_deadline) {
    send_indirect_probes(now);
  }
  if (probe_.active && now >= probe_.end) finish_probe(now);
  if (now >= next_probe_ms_) {
    if (!left_) start_probe(now);
    next_probe_ms_ = now + current_probe_interval_ms();
  }

  if (now >= next_gossip_ms_) {
    gossip_round();
    next_gossip_ms_ = now + config_.gossip_interval_ms;
  }
  if (now >= next_push_pull_ms_) {
    push_pull_with_random_member();
    next_push_pull_ms_ = now + push_pull_interval_ms(config_.push_pull_interval_ms, live_count_);
  }
  if (now >= next_catch_up_ms_) {
    push_pull_with_random_member();
    next_catch_up_ms_ = kNever;
  }
  if (now >= next_reconnect_ms_) {
    // Try one member we believe dead: after a partition heals this is how the sides meet.
    if (!left_ && !views_.empty()) {
      for (int attempt = 0; attempt < 16; ++attempt) {
        auto candidate = static_cast<MemberId>(random_below(views_.size()));
        if (candidate != self_ && views_[candidate].state == MemberState::kDead) {
          push_pull_with(candidate, false);
          break;
        }
      }
    }
    next_reconnect_ms_ = now + config_.reconnect_interval_ms;
  }
}

// ---------------------------------------------------------------------------------------------
// Probing (SWIM §3.1, Lifeguard §IV-A)

void Node::start_probe(std::int64_t now) {
  MemberId target = next_probe_target();
  if (target == kNoMember) return;
  probe_ = Probe{};
  probe_.active = true;
  probe_.target = target;
  probe_.seq = next_seq_++;
  probe_.started = now;
  probe_.ack_deadline = now + current_probe_timeout_ms();
  probe_.end = now + current_probe_interval_ms();

  Message ping;
  ping.type = MessageType::kPing;
  ping.seq = probe_.seq;
  ping.target = target;
  // Buddy system: a suspected member hears about it from the first member that probes it.
  if (config_.enable_buddy && views_[target].state == MemberState::kSuspect) {
    Update buddy;
    buddy.kind = Update::Kind::kSuspect;
    buddy.member = target;
    buddy.incarnation = views_[target].incarnation;
    buddy.from = self_;
    if (auth_.sign) buddy.signature = auth_.sign(buddy);
    ping.updates.push_back(std::move(buddy));
  }
  send(target, std::move(ping));
}

void Node::send_indirect_probes(std::int64_t /*now*/) {
  probe_.indirect_sent = true;
  probe_.helpers = random_members(config_.indirect_checks, probe_.target, /*alive_only=*/true);
  for (MemberId helper : probe_.helpers) {
    Message req;
    req.type = MessageType::kPingReq;
    req.seq = probe_.seq;
    req.target = probe_.target;
    send(helper, std::move(req));
  }
  probe_.expected_nacks = config_.enable_nack ? static_cast<int>(probe_.helpers.size()) : 0;
}

void Node::finish_probe(std::int64_t now) {
  probe_.active = false;
  if (probe_.acked) {
    adjust_health(-1);
    return;
  }
  // Lifeguard: helpers that neither acked nor nacked suggest that we, not the target, are the
  // slow one. Without helpers, every failed probe counts against our health.
  if (probe_.expected_nacks > 0) {
    adjust_health(std::max(0, probe_.expected_nacks - probe_.nacks));
  } else {
    adjust_health(1);
  }
  const View& v = views_[probe_.target];
  if (is_live(v.state)) {
    Update suspect;
    suspect.kind = Update::Kind::kSuspect;
    suspect.member = probe_.target;
    suspect.incarnation = v.incarnation;
    suspect.from = self_;
    if (auth_.sign) suspect.signature = auth_.sign(suspect);
    apply(suspect, now);
  }
}

MemberId Node::next_probe_target() {
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_list_.size()) {
      MemberId m = probe_list_[probe_index_++];
      if (m != self_ && is_live(views_[m].state)) return m;
    }
    // Round over: rebuild from the live members and reshuffle (SWIM §4.3 round-robin).
    probe_list_.clear();
    probe_index_ = 0;
    for (MemberId m = 0; m < views_.size(); ++m) {
      if (m != self_ && is_live(views_[m].state)) probe_list_.push_back(m);
    }
    for (std::size_t i = probe_list_.size(); i > 1; --i) {
      std::swap(probe_list_[i - 1], probe_list_[random_below(i)]);
    }
  }
  return kNoMember;
}

void Node::add_to_probe_list(MemberId member) {
  // Insert at a random position of the rest of this round, so a newcomer is probed within
  // one round and the order stays random.
  probe_list_.push_back(member);
  std::size_t remaining = probe_list_.size() - probe_index_;
  std::size_t pos = probe_index_ + random_below(remaining);
  std::swap(probe_list_[pos], probe_list_.back());
}

std::vector<MemberId> Node::random_members(int count, MemberId exclude, bool alive_only) {
  std::vector<MemberId> picked;
  if (count <= 0 || views_.empty()) return picked;
  // Rejection sampling over the id space: O(count) when most known members are live, and
  // bounded when they are not.
  int attempts = 4 * count + 16;
  while (static_cast<int>(picked.size()) < count && attempts-- > 0) {
    auto m = static_cast<MemberId>(random_below(views_.size()));
    if (m == self_ || m == exclude) continue;
    MemberState s = views_[m].state;
    if (alive_only ? s != MemberState::kAlive : !is_live(s)) continue;
    if (std::find(picked.begin(), picked.end(), m) != picked.end()) continue;
    picked.push_back(m);
  }
  return picked;
}

void Node::adjust_health(int delta) {
  health_ = std::clamp(health_ + delta, 0, config_.awareness_max_multiplier - 1);
}

// ---------------------------------------------------------------------------------------------
// Messages

void Node::handle(MemberId from, const Message& m, std::int64_t now) {
  if (from != self_ && from < views_.size()) {
    views_[from].last_heard_ms = now;
    if (views_[from].state == MemberState::kDead) schedule_catch_up(now);
  }
  for (const auto& u : m.updates) {
    if (auth_.verify && !auth_.verify(u)) {
      ++rejected_updates_;
      continue;
    }
    apply(u, now);
  }

  switch (m.type) {
    case MessageType::kPing: {
      if (m.target != self_) return;  // meant for someone who used to have this address
      Message ack;
      ack.type = MessageType::kAck;
      ack.seq = m.seq;
      send(from, std::move(ack));
      return;
    }
    case MessageType::kPingReq: {
      if (m.target == self_) {  // asked to ping ourselves: just answer for the target
        Message ack;
        ack.type = MessageType::kAck;
        ack.seq = m.seq;
        send(from, std::move(ack));
        return;
      }
      Relay relay{next_seq_++, from, m.seq, m.target, now + config_.probe_timeout_ms};
      relays_.push_back(relay);
      Message ping;
      ping.type = MessageType::kPing;
      ping.seq = relay.seq;
      ping.target = m.target;
      send(m.target, std::move(ping));
      return;
    }
    case MessageType::kAck: {
      if (probe_.active && m.seq == probe_.seq &&
          (from == probe_.target ||
           std::find(probe_.helpers.begin(), probe_.helpers.end(), from) != probe_.helpers.end())) {
        probe_.acked = true;
        return;
      }
      for (std::size_t i = 0; i < relays_.size(); ++i) {
        if (relays_[i].seq == m.seq && relays_[i].target == from) {
          Message ack;
          ack.type = MessageType::kAck;
          ack.seq = relays_[i].origin_seq;
          send(relays_[i].origin, std::move(ack));
          relays_[i] = relays_.back();
          relays_.pop_back();
          return;
        }
      }
      return;  // late or unknown ack
    }
    case MessageType::kNack:
      if (probe_.active && m.seq == probe_.seq &&
          std::find(probe_.helpers.begin(), probe_.helpers.end(), from) != probe_.helpers.end()) {
        ++probe_.nacks;
      }
      return;
    case MessageType::kGossip:
      return;
    case MessageType::kPushPull:
      merge_state(from, m.state, now);
      if (!m.reply) push_pull_with(from, false, /*reply=*/true);
      return;
  }
}

void Node::push_pull_with_random_member() {
  if (left_) return;
  auto peer = random_members(1, kNoMember, /*alive_only=*/true);
  if (!peer.empty()) push_pull_with(peer[0], false);
}

void Node::schedule_catch_up(std::int64_t now) {
  // A member we hold dead is talking to us, so a partition (or a false verdict) has just
  // healed, and the refutations of everyone each side declared dead are now flooding the
  // gossip queues, far more than a packet carries. Gossip delivers each to almost everyone,
  // but the few members it misses keep a live member dead until their next push-pull, which
  // at 1,000 members is 180 s away. One extra push-pull, once the refutations have had a
  // minimum suspicion timeout to spread (the time SWIM gives a refutation to reach everyone),
  // picks up whatever the flood left out. The first such message sets the time; later ones
  // neither postpone it nor add another.
  if (config_.push_pull_interval_ms <= 0 || left_ || next_catch_up_ms_ != kNever) return;
  next_catch_up_ms_ =
      now + suspicion_timeout_min_ms(config_.suspicion_mult, live_count_, config_.probe_interval_ms);
}

void Node::push_pull_with(MemberId peer, bool join, bool reply) {
  Message pp;
  pp.type = MessageType::kPushPull;
  pp.join = join;
  pp.reply = reply;
  pp.state.reserve(live_count_ + 8);
  for (MemberId m = 0; m < views_.size(); ++m) {
    if (views_[m].state != MemberState::kUnknown) {
      pp.state.push_back({m, views_[m].incarnation, views_[m].state});
    }
  }
  outbox_.push_back({peer, std::move(pp)});
}

void Node::send(MemberId to, Message message) {
  attach_updates(message);
  outbox_.push_back({to, std::move(message)});
}

void Node::attach_updates(Message& message) {
  if (broadcasts_.empty()) return;
  const Directory& d = directory_;
  long budget = config_.max_packet_bytes - static_cast<long>(encoded_size(message, d)) - 4;
  // Fewest transmissions first, newest first among equals (memberlist's TransmitLimitedQueue
  // order), so fresh news travels before old news is repeated.
  std::vector<std::size_t> order(broadcasts_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (broadcasts_[a].transmits != broadcasts_[b].transmits) {
      return broadcasts_[a].transmits < broadcasts_[b].transmits;
    }
    return broadcasts_[a].order > broadcasts_[b].order;
  });
  int limit = retransmit_limit(config_.retransmit_mult, live_count_);
  bool any_done = false;
  for (std::size_t i : order) {
    Queued& q = broadcasts_[i];
    if (!message.updates.empty() && q.update.member == message.updates.front().member &&
        message.type == MessageType::kPing && config_.enable_buddy) {
      continue;  // the buddy suspicion about the target already rides along
    }
    long size = static_cast<long>(encoded_size(q.update, d));
    if (size > budget) continue;
    budget -= size;
    message.updates.push_back(q.update);
    if (++q.transmits >= limit) any_done = true;
  }
  if (any_done) std::erase_if(broadcasts_, [limit](const Queued& q) { return q.transmits >= limit; });
}

void Node::gossip_round() {
  if (broadcasts_.empty()) return;
  for (MemberId peer : random_members(config_.gossip_nodes, kNoMember, /*alive_only=*/false)) {
    if (broadcasts_.empty()) break;
    Message gossip;
    gossip.type = MessageType::kGossip;
    send(peer, std::move(gossip));
  }
}

// ---------------------------------------------------------------------------------------------
// Applying updates (SWIM §4.2 suspicion and incarnations)

void Node::apply(const Update& u, std::int64_t now) {
  if (u.member == kNoMember) return;
  switch (u.kind) {
    case Update::Kind::kAlive: on_alive(u, now); break;
    case Update::Kind::kSuspect: on_suspect(u, now); break;
    case Update::Kind::kDead:
    case Update::Kind::kLeft: on_dead(u, now); break;
  }
}

void Node::on_alive(const Update& u, std::int64_t now) { accept_alive(u, now, /*gossip=*/true); }

void Node::accept_alive(const Update& u, std::int64_t now, bool gossip) {
  if (u.member == self_) {
    // Someone vouches for an incarnation of ours we never had (we restarted and lost it):
    // outbid it so our current state wins everywhere.
    if (!left_ && u.incarnation > incarnation()) refute(u.incarnation);
    return;
  }
  View& v = view(u.member);
  MemberState previous = v.state;
  if (previous != MemberState::kUnknown && u.incarnation <= v.incarnation) return;  // old news
  set_state(u.member, MemberState::kAlive, u.incarnation);
  suspicions_.erase(u.member);
  if (gossip) enqueue(u);
  if (previous == MemberState::kSuspect) {
    emit(Event::Kind::kAlive, u.member, u.member, previous, now);
  } else if (previous != MemberState::kAlive) {
    add_to_probe_list(u.member);
    emit(Event::Kind::kJoined, u.member, u.member, previous, now);
  }
}

void Node::on_suspect(const Update& u, std::int64_t now) {
  View& v = view(u.member);
  if (v.state == MemberState::kUnknown) return;
  if (u.incarnation < v.incarnation) {  // refuted already: a late, old accusation
    correct_stale(u.member);
    return;
  }
  if (u.member == self_) {
    if (!left_) refute(u.incarnation);
    return;
  }
  if (v.state == MemberState::kDead || v.state == MemberState::kLeft) return;
  if (v.state == MemberState::kSuspect) {
    if (u.incarnation > v.incarnation) {
      // The member refuted the suspicion we hold (it could not be at this incarnation
      // otherwise) and is suspected anew: the old timer is void, a fresh one starts.
      set_state(u.member, MemberState::kSuspect, u.incarnation);
      start_suspicion(u.member, u.incarnation, u.from, now);
      enqueue(u);
      return;
    }
    // Another member's independent suspicion shortens the timeout (Lifeguard §IV-B); pass the
    // confirmation on only when it is new to us.
    if (confirm_suspicion(u.member, u.from)) enqueue(u);
    return;
  }
  MemberState previous = v.state;
  set_state(u.member, MemberState::kSuspect, u.incarnation);
  start_suspicion(u.member, u.incarnation, u.from, now);
  enqueue(u);
  emit(Event::Kind::kSuspect, u.member, u.from, previous, now);
}

void Node::on_dead(const Update& u, std::int64_t now) {
  View& v = view(u.member);
  if (v.state == MemberState::kUnknown) return;
  if (u.incarnation < v.incarnation) {
    correct_stale(u.member);
    return;
  }
  if (u.member == self_) {
    if (!left_) refute(u.incarnation);
    return;
  }
  if (v.state == MemberState::kDead || v.state == MemberState::kLeft) return;
  bool left = u.kind == Update::Kind::kLeft;
  if (!left && u.from != self_ && heard_from_lately(u.member, now)) {
    // The member spoke to us more recently than any accuser could have watched it die (a
    // crashed member goes silent for at least a suspicion timeout before it is declared dead),
    // so the verdict is stale: typically a member that was cut off, declared everyone dead, and
    // gossips its verdicts when the partition heals. Only a suspicion of ours, which the member
    // refutes as soon as it hears of it; were it truly gone, the suspicion expires into dead.
    Update suspect{Update::Kind::kSuspect, u.member, u.incarnation, self_, {}};
    if (auth_.sign) suspect.signature = auth_.sign(suspect);
    on_suspect(suspect, now);
    return;
  }
  MemberState previous = v.state;
  set_state(u.member, left ? MemberState::kLeft : MemberState::kDead, u.incarnation);
  suspicions_.erase(u.member);
  enqueue(u);
  emit(left ? Event::Kind::kLeft : Event::Kind::kDead, u.member, u.from, previous, now);
}

bool Node::heard_from_lately(MemberId member, std::int64_t now) const {
  const auto& heard = views_[member].last_heard_ms;
  return heard && now - *heard < suspicion_timeout_min_ms(config_.suspicion_mult, live_count_, config_.probe_interval_ms);
}

void Node::merge_state(MemberId sender, const std::vector<StateEntry>& entries, std::int64_t now) {
  for (const auto& e : entries) {
    switch (e.state) {
      case MemberState::kAlive: {
        // With authentication on, aliveness is learned only from signed alive updates (the
        // libp2p binding attaches the ones it holds to every push-pull): an unsigned entry
        // would let any member revive a dead member, or pin one at a forged incarnation.
        if (auth_.verify) break;
        // Not re-gossiped: the sender already knows, and everyone else gets the same state by
        // their own anti-entropy; re-gossiping a whole membership would flood the queue.
        Update u{Update::Kind::kAlive, e.member, e.incarnation, e.member, {}};
        accept_alive(u, now, /*gossip=*/e.member == sender);
        break;
      }
      case MemberState::kSuspect:
      case MemberState::kDead: {
        // A remote "dead" is only a suspicion here: the member gets its chance to refute.
        if (e.member == self_) {
          if (!left_ && e.incarnation >= incarnation()) refute(e.incarnation);
          break;
        }
        if (state_of(e.member) != MemberState::kAlive || e.incarnation < incarnation_of(e.member)) break;
        Update u{Update::Kind::kSuspect, e.member, e.incarnation, self_, {}};
        if (auth_.sign) u.signature = auth_.sign(u);
        on_suspect(u, now);
        break;
      }
      case MemberState::kLeft: {
        Update u{Update::Kind::kLeft, e.member, e.incarnation, e.member, {}};
        if (e.member == self_) break;
        // Only the member itself can sign its leave; with authentication on, a leave must come
        // as a signed update, not as an unsigned state entry.
        if (auth_.verify) break;
        on_dead(u, now);
        break;
      }
      case MemberState::kUnknown:
        break;
    }
  }
}

void Node::correct_stale(MemberId member) {
  // Someone still circulates an accusation the member has already refuted: that someone missed
  // the refutation (gossip is probabilistic, packets get lost) and would declare a live member
  // dead when its timer runs out, since nobody else repeats an old accusation back to the
  // member. Re-gossip the newer alive we hold, unless news about it is already queued.
  // (Replying to the sender directly as well was tried: no fewer false positives, and three
  // times the messages under 10% slow members.) With authentication on, another member's
  // alive can only be repeated with its own signature, if the binding kept it; ours we sign.
  const View& v = views_[member];
  if (v.state != MemberState::kAlive || (member == self_ && left_)) return;
  for (const auto& q : broadcasts_) {
    if (q.update.member == member) return;
  }
  Update alive{Update::Kind::kAlive, member, v.incarnation, member, {}};
  if (auth_.verify) {
    if (member == self_) {
      if (!auth_.sign) return;
      alive.signature = auth_.sign(alive);
    } else {
      auto kept = auth_.signed_alive ? auth_.signed_alive(member, v.incarnation) : std::nullopt;
      if (!kept || kept->kind != Update::Kind::kAlive || kept->member != member) return;
      alive = *kept;
    }
  }
  enqueue(alive);
}

void Node::refute(std::uint32_t accused_incarnation) {
  std::uint32_t inc = std::max(incarnation(), accused_incarnation) + 1;
  set_state(self_, MemberState::kAlive, inc);
  // Being suspected means others found us slow: Lifeguard counts it against our health.
  adjust_health(1);
  Update alive{Update::Kind::kAlive, self_, inc, self_, {}};
  if (auth_.sign) alive.signature = auth_.sign(alive);
  enqueue(alive);
}

void Node::originate(Update::Kind kind, MemberId member, std::uint32_t inc, std::int64_t /*now*/) {
  Update u{kind, member, inc, self_, {}};
  if (auth_.sign) u.signature = auth_.sign(u);
  enqueue(u);
}

void Node::enqueue(const Update& update) {
  // A newer fact about a member makes the queued ones obsolete.
  std::erase_if(broadcasts_, [&](const Queued& q) { return q.update.member == update.member; });
  broadcasts_.push_back({update, 0, next_order_++});
}

void Node::set_state(MemberId member, MemberState state, std::uint32_t inc) {
  View& v = view(member);
  bool was_live = is_live(v.state), now_live = is_live(state);
  if (member != self_) live_count_ += (now_live ? 1 : 0) - (was_live ? 1 : 0);
  v.incarnation = inc;
  v.state = state;
}

// ---------------------------------------------------------------------------------------------
// Suspicion timers (Lifeguard §IV-B)

void Node::start_suspicion(MemberId member, std::uint32_t inc, MemberId accuser, std::int64_t now) {
  Suspicion s;
  s.incarnation = inc;
  s.start = now;
  s.min_ms = suspicion_timeout_min_ms(config_.suspicion_mult, live_count_, config_.probe_interval_ms);
  s.max_ms = suspicion_timeout_max_ms(config_.suspicion_max_timeout_mult, s.min_ms);
  s.needed = suspicion_confirmations_needed(config_.suspicion_mult, live_count_);
  s.deadline = now + suspicion_timeout_ms(s.min_ms, s.max_ms, s.needed, 0);
  s.confirmers.push_back(accuser);
  suspicion_deadlines_.emplace(s.deadline, member);
  suspicions_[member] = std::move(s);
}

bool Node::confirm_suspicion(MemberId member, MemberId accuser) {
  auto it = suspicions_.find(member);
  if (it == suspicions_.end()) return false;
  Suspicion& s = it->second;
  int confirmations = static_cast<int>(s.confirmers.size()) - 1;
  if (confirmations >= s.needed) return false;
  if (std::find(s.confirmers.begin(), s.confirmers.end(), accuser) != s.confirmers.end()) return false;
  s.confirmers.push_back(accuser);
  s.deadline = s.start + suspicion_timeout_ms(s.min_ms, s.max_ms, s.needed, confirmations + 1);
  suspicion_deadlines_.emplace(s.deadline, member);
  return true;
}

void Node::expire_suspicions(std::int64_t now) {
  while (!suspicion_deadlines_.empty() && suspicion_deadlines_.top().first <= now) {
    auto [deadline, member] = suspicion_deadlines_.top();
    suspicion_deadlines_.pop();
    auto it = suspicions_.find(member);
    // Stale heap entries (refuted, or the deadline moved) are skipped.
    if (it == suspicions_.end() || it->second.deadline != deadline) continue;
    std::uint32_t inc = it->second.incarnation;
    suspicions_.erase(it);
    if (views_[member].state != MemberState::kSuspect || views_[member].incarnation != inc) continue;
    Update dead{Update::Kind::kDead, member, inc, self_, {}};
    if (auth_.sign) dead.signature = auth_.sign(dead);
    on_dead(dead, now);
  }
}

void Node::emit(Event::Kind kind, MemberId member, MemberId by, MemberState previous, std::int64_t now) {
  if (listeners_.empty()) return;
  Event e{kind, member, incarnation_of(member), now, by, previous};
  for (auto& [id, listener] : listeners_) listener(e);
}

}  // namespace veil::swim
