#include "veil/p2p/gossipsub.h"

#include <algorithm>

#include "veil/common/log.h"
#include "veil/p2p/protobuf.h"

namespace veil::p2p {
namespace {

constexpr std::size_t kMaxEntries = 5000;

Bytes encode_message(const PubsubMessage& m, bool with_signature) {
  pb::Writer w;
  if (!m.from.empty()) w.bytes(1, m.from.bytes());
  if (m.has_data || !m.data.empty()) w.bytes(2, m.data);
  if (!m.seqno.empty()) w.bytes(3, m.seqno);
  w.string(4, m.topic);
  if (with_signature) {
    if (!m.signature.empty()) w.bytes(5, m.signature);
    if (!m.key.empty()) w.bytes(6, m.key);
  }
  return w.take();
}

Result<PubsubMessage> decode_message(ByteView bytes) {
  PubsubMessage m;
  Status st = pb::for_each_bytes_field(bytes, [&m](std::uint32_t number, ByteView payload) -> Status {
    switch (number) {
      case 1: {
        auto id = PeerId::from_bytes(payload);
        if (!id.ok()) return id.status().with_context("pubsub message from");
        m.from = std::move(*id);
        break;
      }
      case 2: m.data.assign(payload.begin(), payload.end()); m.has_data = true; break;
      case 3: m.seqno.assign(payload.begin(), payload.end()); break;
      case 4: m.topic = to_string(payload); break;
      case 5: m.signature.assign(payload.begin(), payload.end()); break;
      case 6: m.key.assign(payload.begin(), payload.end()); break;
      default: break;
    }
    return {};
  });
  if (!st.ok()) return st;
  return m;
}

// Iterates the fields of an RPC or a sub-message, refusing more than kMaxEntries of them.
template <typename F>
Status for_each_field(ByteView bytes, F&& f) {
  std::size_t count = 0;
  return pb::for_each_field(bytes, [&count, &f](const pb::Field& field) -> Status {
    if (++count > kMaxEntries) return out_of_range("pubsub: too many entries in one RPC");
    return f(field);
  });
}

}  // namespace

Bytes encode_rpc(const Rpc& rpc) {
  pb::Writer w;
  for (const auto& s : rpc.subscriptions) {
    pb::Writer sub;
    sub.varint(1, s.subscribe ? 1 : 0);
    sub.string(2, s.topic);
    w.bytes(1, sub.data());
  }
  for (const auto& m : rpc.publish) w.bytes(2, encode_message(m, true));
  if (!rpc.ihave.empty() || !rpc.iwant.empty() || !rpc.graft.empty() || !rpc.prune.empty()) {
    pb::Writer c;
    for (const auto& ih : rpc.ihave) {
      pb::Writer x;
      x.string(1, ih.topic);
      for (const auto& id : ih.ids) x.bytes(2, id);
      c.bytes(1, x.data());
    }
    for (const auto& ids : rpc.iwant) {
      pb::Writer x;
      for (const auto& id : ids) x.bytes(1, id);
      c.bytes(2, x.data());
    }
    for (const auto& t : rpc.graft) {
      pb::Writer x;
      x.string(1, t);
      c.bytes(3, x.data());
    }
    for (const auto& p : rpc.prune) {
      pb::Writer x;
      x.string(1, p.topic);
      if (p.backoff_s) x.varint(3, *p.backoff_s);
      c.bytes(4, x.data());
    }
    w.bytes(3, c.data());
  }
  return w.take();
}

Result<Rpc> decode_rpc(ByteView bytes) {
  Rpc rpc;
  Status st = for_each_field(bytes, [&](const pb::Field& f) -> Status {
    if (f.type != pb::kLengthDelimited) return {};
    if (f.number == 1) {
      Rpc::Sub sub;
      VEIL_RETURN_IF_ERROR(for_each_field(f.payload, [&](const pb::Field& g) -> Status {
        if (g.number == 1 && g.type == pb::kVarint) sub.subscribe = g.value != 0;
        if (g.number == 2 && g.type == pb::kLengthDelimited) sub.topic = to_string(g.payload);
        return {};
      }));
      rpc.subscriptions.push_back(std::move(sub));
    } else if (f.number == 2) {
      VEIL_ASSIGN_OR_RETURN(PubsubMessage m, decode_message(f.payload));
      rpc.publish.push_back(std::move(m));
    } else if (f.number == 3) {
      return for_each_field(f.payload, [&](const pb::Field& c) -> Status {
        if (c.type != pb::kLengthDelimited) return {};
        if (c.number == 1) {
          Rpc::IHave ih;
          VEIL_RETURN_IF_ERROR(for_each_field(c.payload, [&](const pb::Field& g) -> Status {
            if (g.type != pb::kLengthDelimited) return {};
            if (g.number == 1) ih.topic = to_string(g.payload);
            if (g.number == 2) ih.ids.emplace_back(g.payload.begin(), g.payload.end());
            return {};
          }));
          rpc.ihave.push_back(std::move(ih));
        } else if (c.number == 2) {
          std::vector<Bytes> ids;
          VEIL_RETURN_IF_ERROR(for_each_field(c.payload, [&](const pb::Field& g) -> Status {
            if (g.number == 1 && g.type == pb::kLengthDelimited) ids.emplace_back(g.payload.begin(), g.payload.end());
            return {};
          }));
          rpc.iwant.push_back(std::move(ids));
        } else if (c.number == 3 || c.number == 4) {
          Rpc::Prune p;
          VEIL_RETURN_IF_ERROR(for_each_field(c.payload, [&](const pb::Field& g) -> Status {
            if (g.number == 1 && g.type == pb::kLengthDelimited) p.topic = to_string(g.payload);
            if (g.number == 3 && g.type == pb::kVarint) p.backoff_s = g.value;
            return {};  // peer exchange records (field 2) are ignored
          }));
          if (c.number == 3) rpc.graft.push_back(p.topic);
          else rpc.prune.push_back(std::move(p));
        }
        return {};
      });
    }
    return {};
  });
  if (!st.ok()) return st;
  return rpc;
}

Bytes signing_bytes(const PubsubMessage& m) {
  Bytes out(kPubsubSignPrefix.begin(), kPubsubSignPrefix.end());
  Bytes body = encode_message(m, false);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

PubsubMessage make_signed_message(const KeyPair& key, std::string topic, ByteView data, std::uint64_t seqno) {
  PubsubMessage m;
  m.from = PeerId::from_public_key(key.public_key());
  m.data.assign(data.begin(), data.end());
  m.has_data = true;
  append_u64_be(m.seqno, seqno);
  m.topic = std::move(topic);
  m.signature = key.sign(signing_bytes(m));
  return m;
}

Status verify_message(const PubsubMessage& m) {
  if (m.from.empty() || m.seqno.empty() || m.signature.empty()) {
    return permission_denied("pubsub: StrictSign message lacks from, seqno or signature");
  }
  Result<PublicKey> key = m.key.empty() ? m.from.public_key() : PublicKey::decode(m.key);
  if (!key.ok()) return permission_denied("pubsub: no usable signing key: " + key.status().message());
  if (!m.from.matches(*key)) return permission_denied("pubsub: signing key does not match from");
  if (!key->verify(signing_bytes(m), m.signature)) return permission_denied("pubsub: bad message signature");
  return {};
}

Bytes message_id(const PubsubMessage& m) {
  Bytes id = m.from.bytes();
  id.insert(id.end(), m.seqno.begin(), m.seqno.end());
  return id;
}

// ---- router ----

GossipSubRouter::GossipSubRouter(KeyPair identity, GossipSubParams params, std::uint64_t rng_seed)
    : identity_(std::move(identity)), self_(PeerId::from_public_key(identity_.public_key())), params_(params),
      rng_(rng_seed) {
  // Seqnos start at a random point (as go/js do with the clock) so restarts do not reuse ids.
  next_seqno_ = rng_() >> 1;
  mcache_windows_.emplace_back();
}

void GossipSubRouter::add_peer(const PeerId& peer, std::string_view protocol) {
  auto& p = peers_[peer];
  p.protocol = std::string(protocol);
  if (!topics_.empty()) {
    for (const auto& t : topics_) out(peer).subscriptions.push_back({true, t});
  }
}

void GossipSubRouter::remove_peer(const PeerId& peer) {
  peers_.erase(peer);
  for (auto& [_, m] : mesh_) m.erase(peer);
  for (auto& [_, f] : fanout_) f.erase(peer);
  outgoing_.erase(peer);
}

double GossipSubRouter::score(const PeerId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return 0;
  const auto& p = it->second;
  return params_.mesh_delivery_weight * std::min(p.first_deliveries, params_.mesh_delivery_cap) -
         params_.invalid_message_weight * p.invalid * p.invalid;
}

std::set<PeerId> GossipSubRouter::mesh(const std::string& topic) const {
  auto it = mesh_.find(topic);
  return it == mesh_.end() ? std::set<PeerId>{} : it->second;
}

std::vector<std::pair<PeerId, Rpc>> GossipSubRouter::take_outgoing() {
  std::vector<std::pair<PeerId, Rpc>> out;
  for (auto& [peer, rpc] : outgoing_) {
    if (!rpc.empty()) out.emplace_back(peer, std::move(rpc));
  }
  outgoing_.clear();
  return out;
}

std::vector<PeerId> GossipSubRouter::pick(const std::string& topic, std::size_t n,
                                          const std::function<bool(const PeerId&, const PeerState&)>& ok) {
  std::vector<PeerId> candidates;
  for (const auto& [id, p] : peers_) {
    if (!p.protocol.empty() && p.topics.count(topic) && ok(id, p)) candidates.push_back(id);
  }
  std::shuffle(candidates.begin(), candidates.end(), rng_);
  if (candidates.size() > n) candidates.resize(n);
  return candidates;
}

void GossipSubRouter::graft(const std::string& topic, const PeerId& peer) {
  mesh_[topic].insert(peer);
  out(peer).graft.push_back(topic);
}

void GossipSubRouter::prune(const std::string& topic, const PeerId& peer, Clock::time_point now) {
  mesh_[topic].erase(peer);
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.backoff[topic] = now + params_.prune_backoff;
  out(peer).prune.push_back({topic, static_cast<std::uint64_t>(params_.prune_backoff.count())});
}

void GossipSubRouter::subscribe(const std::string& topic) {
  if (!topics_.insert(topic).second) return;
  for (auto& [id, p] : peers_) {
    if (!p.protocol.empty()) out(id).subscriptions.push_back({true, topic});
  }
  // Join: start from the fanout peers, then fill up to D.
  auto& m = mesh_[topic];
  auto now = Clock::now();
  if (auto f = fanout_.find(topic); f != fanout_.end()) {
    for (const auto& p : f->second) if (score(p) >= 0 && is_gossipsub(peers_[p])) m.insert(p);
    fanout_.erase(f);
  }
  std::size_t need = m.size() < static_cast<std::size_t>(params_.d) ? params_.d - m.size() : 0;
  for (const auto& p : pick(topic, need, [&](const PeerId& id, const PeerState& s) {
         return is_gossipsub(s) && !m.count(id) && score(id) >= 0 && !(s.backoff.count(topic) && s.backoff.at(topic) > now);
       })) {
    m.insert(p);
  }
  for (const auto& p : m) out(p).graft.push_back(topic);
}

void GossipSubRouter::unsubscribe(const std::string& topic) {
  if (!topics_.erase(topic)) return;
  for (auto& [id, p] : peers_) {
    if (!p.protocol.empty()) out(id).subscriptions.push_back({false, topic});
  }
  auto now = Clock::now();
  for (const auto& p : mesh(topic)) prune(topic, p, now);
  mesh_.erase(topic);
}

void GossipSubRouter::remember(const Bytes& id, const PubsubMessage& m, Clock::time_point now) {
  seen_[id] = now + params_.seen_ttl;
  mcache_[id] = {m, id};
  mcache_windows_.front().push_back(id);
}

Result<PubsubMessage> GossipSubRouter::publish(const std::string& topic, ByteView data, Clock::time_point now) {
  if (data.size() > kMaxRpcSize - 1024) return out_of_range("pubsub: message larger than the RPC limit");
  PubsubMessage m = make_signed_message(identity_, topic, data, next_seqno_++);
  Bytes id = message_id(m);
  remember(id, m, now);
  std::set<PeerId> targets;
  if (params_.flood_publish) {
    for (const auto& [pid, p] : peers_) {
      if (!p.protocol.empty() && p.topics.count(topic) && score(pid) >= 0) targets.insert(pid);
    }
  } else if (topics_.count(topic)) {
    targets = mesh(topic);
  } else {
    auto& f = fanout_[topic];
    if (f.empty()) {
      for (const auto& p : pick(topic, params_.d, [&](const PeerId& pid, const PeerState&) { return score(pid) >= 0; })) f.insert(p);
    }
    targets = f;
  }
  for (const auto& [pid, p] : peers_) {  // floodsub peers always get everything they asked for
    if (p.protocol == kFloodsub && p.topics.count(topic)) targets.insert(pid);
  }
  if (!topics_.count(topic)) fanout_last_publish_[topic] = now;
  for (const auto& t : targets) out(t).publish.push_back(m);
  return m;
}

void GossipSubRouter::forward(const PubsubMessage& m, const PeerId& source) {
  std::set<PeerId> targets = mesh(m.topic);
  for (const auto& [pid, p] : peers_) {
    if (p.protocol == kFloodsub && p.topics.count(m.topic)) targets.insert(pid);
  }
  for (const auto& t : targets) {
    if (t != source && t != m.from) out(t).publish.push_back(m);
  }
}

void GossipSubRouter::handle_message(const PeerId& from, const PubsubMessage& m, Clock::time_point now) {
  if (m.from.empty() || m.seqno.empty()) {
    peers_[from].invalid += 1;
    return;
  }
  Bytes id = message_id(m);
  if (seen_.count(id)) return;
  if (!verify_message(m).ok()) {
    peers_[from].invalid += 1;
    log::get("p2p")->debug("gossipsub: invalid message from {}", from.to_base58());
    return;  // not marked seen: a valid copy may still arrive from someone else
  }
  remember(id, m, now);
  if (m.from == self_) return;
  if (mesh(m.topic).count(from)) peers_[from].first_deliveries += 1;
  if (topics_.count(m.topic) && deliver_) deliver_(m);
  forward(m, from);
}

void GossipSubRouter::handle_rpc(const PeerId& from, const Rpc& rpc, Clock::time_point now) {
  auto& peer = peers_[from];
  if (score(from) < params_.graylist_threshold) return;
  for (const auto& s : rpc.subscriptions) {
    if (s.subscribe) {
      peer.topics.insert(s.topic);
    } else {
      peer.topics.erase(s.topic);
      mesh_[s.topic].erase(from);
    }
  }
  for (const auto& m : rpc.publish) handle_message(from, m, now);
  PeerState& p = peers_[from];  // handle_message may have rehashed nothing, but be explicit
  // IHAVE: ask for what we have not seen, on topics we are in.
  std::vector<Bytes> want;
  if (score(from) >= 0) {
    for (const auto& ih : rpc.ihave) {
      if (!topics_.count(ih.topic)) continue;
      for (const auto& id : ih.ids) {
        if (!seen_.count(id) && want.size() < 500) want.push_back(id);
      }
    }
  }
  if (!want.empty()) out(from).iwant.push_back(std::move(want));
  // IWANT: answer from the message cache, a bounded number of times per id.
  for (const auto& ids : rpc.iwant) {
    for (const auto& id : ids) {
      auto it = mcache_.find(id);
      if (it == mcache_.end()) continue;
      if (++p.iwant_served[id] > params_.max_iwant_replies) continue;
      out(from).publish.push_back(it->second.msg);
    }
  }
  // GRAFT: accept unless we are not in the topic, the peer is backing off, or scores badly.
  for (const auto& topic : rpc.graft) {
    if (!topics_.count(topic)) {
      out(from).prune.push_back({topic, static_cast<std::uint64_t>(params_.prune_backoff.count())});
      continue;
    }
    auto b = p.backoff.find(topic);
    if ((b != p.backoff.end() && b->second > now) || score(from) < 0) {
      prune(topic, from, now);
      continue;
    }
    mesh_[topic].insert(from);
  }
  for (const auto& pr : rpc.prune) {
    mesh_[pr.topic].erase(from);
    auto backoff = pr.backoff_s ? std::chrono::seconds(*pr.backoff_s) : params_.prune_backoff;
    p.backoff[pr.topic] = now + backoff;
  }
}

void GossipSubRouter::heartbeat(Clock::time_point now) {
  for (const auto& topic : topics_) {
    auto& m = mesh_[topic];
    for (auto it = m.begin(); it != m.end();) {
      if (score(*it) < 0 || !peers_.count(*it)) {
        PeerId p = *it;
        it = m.erase(it);
        if (peers_.count(p)) prune(topic, p, now);
      } else {
        ++it;
      }
    }
    if (m.size() < static_cast<std::size_t>(params_.d_lo)) {
      for (const auto& p : pick(topic, params_.d - m.size(), [&](const PeerId& id, const PeerState& s) {
             auto b = s.backoff.find(topic);
             return is_gossipsub(s) && !m.count(id) && score(id) >= 0 && (b == s.backoff.end() || b->second <= now);
           })) {
        graft(topic, p);
      }
    }
    if (m.size() > static_cast<std::size_t>(params_.d_hi)) {
      std::vector<PeerId> members(m.begin(), m.end());
      std::shuffle(members.begin(), members.end(), rng_);
      for (std::size_t i = params_.d; i < members.size(); ++i) prune(topic, members[i], now);
    }
  }
  // Fanout: forget topics not published to lately; keep the rest topped up.
  for (auto it = fanout_last_publish_.begin(); it != fanout_last_publish_.end();) {
    if (it->second + params_.fanout_ttl < now) {
      fanout_.erase(it->first);
      it = fanout_last_publish_.erase(it);
    } else {
      ++it;
    }
  }
  // Gossip: IHAVE of recent message ids to peers outside the mesh.
  std::map<std::string, std::vector<Bytes>> recent;
  for (int w = 0; w < params_.mcache_gossip && w < static_cast<int>(mcache_windows_.size()); ++w) {
    for (const auto& id : mcache_windows_[w]) {
      auto it = mcache_.find(id);
      if (it != mcache_.end()) recent[it->second.msg.topic].push_back(id);
    }
  }
  for (const auto& [topic, ids] : recent) {
    const auto& m = mesh_[topic];
    std::size_t others = 0;
    for (const auto& [id, s] : peers_) others += s.topics.count(topic) && !m.count(id);
    std::size_t n = std::max<std::size_t>(params_.d_lazy, static_cast<std::size_t>(params_.gossip_factor * others));
    for (const auto& p : pick(topic, n, [&](const PeerId& id, const PeerState& s) {
           return is_gossipsub(s) && !m.count(id) && score(id) >= 0;
         })) {
      out(p).ihave.push_back({topic, ids});
    }
  }
  // Shift the message cache and expire the seen cache and stale backoffs.
  mcache_windows_.emplace_front();
  while (static_cast<int>(mcache_windows_.size()) > params_.mcache_len) {
    for (const auto& id : mcache_windows_.back()) mcache_.erase(id);
    for (auto& [_, p] : peers_) {
      for (const auto& id : mcache_windows_.back()) p.iwant_served.erase(id);
    }
    mcache_windows_.pop_back();
  }
  for (auto it = seen_.begin(); it != seen_.end();) it = it->second < now ? seen_.erase(it) : std::next(it);
  for (auto& [_, p] : peers_) {
    for (auto it = p.backoff.begin(); it != p.backoff.end();) it = it->second < now ? p.backoff.erase(it) : std::next(it);
  }
}

}  // namespace veil::p2p
