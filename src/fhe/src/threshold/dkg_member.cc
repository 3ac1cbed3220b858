// The DKG member's state machine (veil/fhe/dkg.h; docs/dkg.md sections 4 and 7): rounds R0..R7,
// every message checked before use, every failure an abort that names a member.
//
// Per-sender order. Each pair's messages travel on one ordered stream and every member sends
// the same deterministic sequence (Hello; its R1 chunks for the receiver's slice; its R2 chunks
// of its own slice; ...), so each message is checked on arrival against the sequence expected
// from its sender: a message out of that sequence (reordered, repeated, skipped, a chunk of the
// wrong range or size) aborts naming the sender. A sender is at most one round ahead of us; its
// early messages wait (checked) until our round reaches theirs.
#include "veil/fhe/dkg.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>

#include <nlohmann/json.hpp>

#include "threshold/dkg_member_internal.h"
#include "veil/common/sha256.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe::dkg {

using wire::Round;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kBitStream = 1;
constexpr std::uint32_t kBodyStreamBase = 0x100;

template <typename T>
void wipe_vector(std::vector<T>& v) {
  if (!v.empty()) sodium_memzero(v.data(), v.size() * sizeof(T));
  v.clear();
  v.shrink_to_fit();
}

std::string hex(const Hash32& h) { return to_hex(ByteView(h.data(), h.size())); }

Round next_round(Round r) { return static_cast<Round>(static_cast<unsigned>(r) + 1); }

bool is_chunk_round(Round r) { return r >= Round::kBitContributions && r <= Round::kBodyOpenings; }
wire::Phase phase_of(Round r) {
  return r <= Round::kBitOpenings ? wire::Phase::kBits : wire::Phase::kBodies;
}
wire::Direction direction_of(Round r) {
  return (r == Round::kBitContributions || r == Round::kBodyContributions) ? wire::Direction::kContribution
                                                                           : wire::Direction::kOpening;
}

}  // namespace

// ---------------- the bit plan ----------------

BitPlan BitPlan::of(const Parameters& params, const std::vector<NoiseSpec>& noise) {
  BitPlan p;
  p.s_count = params.lwe_dimension;
  p.z_count = params.big_lwe_dimension();
  p.w_count = noise_squashing_for(params).output_dimension();
  p.noise = noise;
  return p;
}

std::uint64_t BitPlan::noise_first(std::size_t k) const {
  std::uint64_t first = s_count + z_count + w_count;
  for (std::size_t i = 0; i < k; ++i) first += noise[i].values * (noise[i].bound_log2 + 2);
  return first;
}

std::uint64_t BitPlan::total() const { return noise_first(noise.size()); }

Elem tuniform_share(const Elem* bits, unsigned bound_log2) {
  // e = sum_{j=1..b+1} 2^(j-1) beta_j + beta_0 - 2^b (Csprng::tuniform's formula on b + 2 bits).
  Elem e = bits[0] - Elem::constant(static_cast<u128>(1) << bound_log2);
  for (unsigned j = 1; j <= bound_log2 + 1; ++j) e = e + threshold::gr::scale(bits[j], static_cast<u128>(1) << (j - 1));
  return e;
}

// ---------------- state ----------------

struct Member::State {
  // Configuration.
  Config config;
  const Parameters* params = nullptr;
  unsigned m = 0, t = 0, d = 0;
  std::uint8_t id = 0;
  std::vector<threshold::MemberPublicKey> members;  // by id - 1
  Hash32 member_list_hash{};
  BitPlan plan;
  std::vector<ObjectShape> bit_shapes, body_shapes;

  // Progress.
  Round round = Round::kHello;
  bool started = false;
  bool failed = false;
  Status failure;
  std::uint8_t blamed = 0;
  bool stop_after_bits = false;  // tests of R0..R2 only (MemberTestAccess)
  std::function<void(const std::vector<Elem>&)> bit_shares_observer;  // tests only (MemberTestAccess)
  bool bits_done = false;

  struct Peer {
    Round next = Round::kHello;  // the round of the next message expected from this member
    std::size_t segment = 0;     // chunk rounds: position in the expected sequence
    std::uint64_t offset = 0;
    bool done = false;  // its Ready arrived: nothing more is expected
    std::deque<Bytes> pending;  // its messages of a later round than ours, already checked
  };
  std::vector<Peer> peers;  // by id (index 0 unused)

  // R0: the run's fresh keys.
  Key32 coin{};
  std::vector<Key32> coins;      // by id - 1
  std::vector<Key32> pair_keys;  // by id - 1
  std::vector<PrssKey> prss_keys;  // every set this member belongs to
  Hash32 session{};
  std::unique_ptr<Prss> prss;
  std::unique_ptr<PairMasks> masks;

  // R1..R2: [a] per bit, turned into [bit] in place once v is known; the opened words.
  std::vector<Elem> shares;
  std::vector<u128> bit_words;

  // R3..R4.
  std::unique_ptr<BodyBuffer> bodies;

  // R5..R7.
  Output output;
  std::vector<std::uint64_t> key_share_values;  // this member's shares of w (KeyShare::values)
  std::vector<wire::Confirm> confirms;           // by id - 1
  std::vector<wire::Sealed> sealed;              // by id - 1
  Hash32 hashes_json_hash{};
  bool output_ready = false;
  bool ready_sent = false;

  std::vector<RoundStats> stats;
  std::vector<Clock::time_point> first_sent, last_received;

  ~State() { wipe(); }
  void wipe() {
    sodium_memzero(coin.data(), coin.size());
    wipe_vector(pair_keys);
    wipe_vector(prss_keys);
    prss.reset();
    masks.reset();
    wipe_vector(shares);
    wipe_vector(key_share_values);
    if (bodies) bodies->wipe();
    bodies.reset();
  }

  // ---- naming ----
  std::string name(std::uint8_t who) const {
    if (who == 0 || who > m) return "member " + std::to_string(who);
    const auto& k = members[who - 1].sign;
    return "member " + std::to_string(who) + " (" + to_hex(ByteView(k.data(), 4)) + "…)";
  }
  Status fail(std::uint8_t who, const std::string& why) {
    failed = true;
    blamed = who;
    failure = failed_precondition("dkg aborted: " + why);
    wipe();
    return failure;
  }

  // ---- shapes and the expected sequence ----
  const std::vector<ObjectShape>& shapes_of(Round r) const {
    return phase_of(r) == wire::Phase::kBits ? bit_shapes : body_shapes;
  }
  // The segments member `from` sends us in chunk round r: our slice of every object
  // (contributions) or its own slice (openings).
  Range segment_range(Round r, std::uint8_t from, std::size_t object) const {
    const unsigned king = direction_of(r) == wire::Direction::kContribution ? id : from;
    return king_range(shapes_of(r)[object].words, m, king);
  }
  // Skips empty segments; true when the sender's round r is complete.
  bool settle(Round r, std::uint8_t from, Peer& p) const {
    const auto& shapes = shapes_of(r);
    while (p.segment < shapes.size() && p.offset >= segment_range(r, from, p.segment).count) {
      ++p.segment;
      p.offset = 0;
    }
    return p.segment == shapes.size();
  }
  void advance_peer(Peer& p, std::uint8_t from) {
    p.next = next_round(p.next);
    p.segment = 0;
    p.offset = 0;
    if (is_chunk_round(p.next) && settle(p.next, from, p)) advance_peer(p, from);
  }

  // Checks that `msg` is the next message expected from `from` and moves its position on.
  Status check_sequence(std::uint8_t from, const wire::Message& msg) {
    Peer& p = peers[from];
    if (p.done) return fail(from, name(from) + " sent a message after its ready");
    if (msg.round != p.next) {
      return fail(from, name(from) + " sent a " + wire::round_name(msg.round) + " message where its " +
                            wire::round_name(p.next) + " message was expected (reordered, repeated or skipped)");
    }
    if (!is_chunk_round(msg.round)) {
      if (msg.round == Round::kReady) {
        p.done = true;
      } else {
        advance_peer(p, from);
      }
      return {};
    }
    const auto& c = std::get<wire::Chunk>(msg.body);
    const auto& shapes = shapes_of(msg.round);
    const Range range = segment_range(msg.round, from, p.segment);
    const std::uint64_t first = range.first + p.offset;
    const unsigned wb = shapes[p.segment].word_bytes;
    const std::uint64_t count = std::min(chunk_words(wb), range.count - p.offset);
    if (c.object != p.segment || c.first != first || c.count != count || c.words.size() != count * wb) {
      return fail(from, name(from) + " sent " + wire::round_name(msg.round) + " chunk (object " +
                            std::to_string(c.object) + ", words " + std::to_string(c.first) + "+" +
                            std::to_string(c.count) + ") where object " + std::to_string(p.segment) + ", words " +
                            std::to_string(first) + "+" + std::to_string(count) + " of " + std::to_string(wb) +
                            " bytes was expected (truncated or reordered)");
    }
    p.offset += count;
    if (settle(msg.round, from, p)) advance_peer(p, from);
    return {};
  }

  bool round_complete() const {
    if (!started) return false;
    for (unsigned j = 1; j <= m; ++j) {
      if (j == id) continue;
      const Peer& p = peers[j];
      if (round == Round::kReady ? !p.done : p.next <= round) return false;
    }
    return true;
  }

  // ---- accounting ----
  void count_sent(Round r, std::size_t bytes) {
    auto& s = stats[static_cast<unsigned>(r)];
    if (s.bytes_sent == 0 && first_sent[static_cast<unsigned>(r)] == Clock::time_point{}) {
      first_sent[static_cast<unsigned>(r)] = Clock::now();
    }
    s.bytes_sent += bytes;
  }
  void count_received(Round r, std::size_t bytes) {
    const unsigned k = static_cast<unsigned>(r);
    stats[k].bytes_received += bytes;
    last_received[k] = Clock::now();
    if (first_sent[k] != Clock::time_point{}) {
      stats[k].seconds = std::chrono::duration<double>(last_received[k] - first_sent[k]).count();
    }
  }
  void send(std::vector<Outgoing>& out, std::uint8_t to, Round r, Bytes bytes) {
    count_sent(r, bytes.size());
    out.push_back(Outgoing{to, std::move(bytes)});
  }
  wire::Message header(Round r) const {
    wire::Message msg;
    msg.session = r == Round::kHello ? Hash32{} : session;
    msg.round = r;
    msg.sender = id;
    return msg;
  }

  // ---- the rounds ----
  std::vector<Outgoing> hellos();
  Status on_hello(std::uint8_t from, const wire::Hello& h);
  Status on_chunk(std::uint8_t from, Round r, const wire::Chunk& c);
  Status on_confirm(std::uint8_t from, const wire::Confirm& c);
  Status on_sealed(std::uint8_t from, const wire::Sealed& s);
  Status on_ready(std::uint8_t from, const wire::Ready& r);
  Result<std::vector<Outgoing>> complete_round();
  Result<std::vector<Outgoing>> start_bits();
  Result<std::vector<Outgoing>> start_bodies();
  Result<std::vector<Outgoing>> confirm_files();
  Result<std::vector<Outgoing>> seal_share();
  Status write_hashes_json();
  std::vector<Outgoing> contributions(Round r, const std::vector<ObjectShape>& shapes, std::uint8_t* const* data);
  std::vector<Outgoing> openings(Round r, const std::vector<ObjectShape>& shapes, std::uint8_t* const* data);
  Status process(std::uint8_t from, const wire::Message& msg);
  Result<std::vector<Outgoing>> drain();
};

// ---------------- create ----------------

Result<Member> Member::create(Config config) {
  if (config.params == nullptr) return invalid_argument("dkg: no parameter set");
  if (!config.self) return invalid_argument("dkg: no member key for this process");
  const std::size_t m = config.members.size();
  if (m < 3 || m > threshold::kMaxMembers) {
    return invalid_argument("dkg: a committee has 3 to " + std::to_string(threshold::kMaxMembers) + " members, got " +
                            std::to_string(m));
  }
  if (config.threshold < 2 || config.threshold > (m + 1) / 2) {
    return invalid_argument("dkg: the threshold must be between 2 and (m + 1) / 2 = " + std::to_string((m + 1) / 2) +
                            " for " + std::to_string(m) + " members (an honest majority), got " +
                            std::to_string(config.threshold));
  }
  auto members = config.members;
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.sign < b.sign; });
  for (std::size_t i = 0; i + 1 < m; ++i) {
    if (members[i].sign == members[i + 1].sign) return invalid_argument("dkg: two members have the same key");
  }
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = i + 1; j < m; ++j) {
      if (members[i].box == members[j].box) return invalid_argument("dkg: two members have the same X25519 key");
    }
  }
  auto st = std::make_unique<State>();
  st->m = static_cast<unsigned>(m);
  st->t = config.threshold;
  st->d = config.threshold - 1;
  st->params = config.params;
  for (std::size_t i = 0; i < m; ++i) {
    if (members[i] == config.self->public_key()) st->id = static_cast<std::uint8_t>(i + 1);
  }
  if (st->id == 0) return invalid_argument("dkg: this process's member key is not among the members");
  st->members = members;
  st->config = std::move(config);
  {
    Sha256 h;
    h.update(std::string_view("veil-dkg-members-v1"));
    for (const auto& k : members) {
      h.update(ByteView(k.sign.data(), 32));
      h.update(ByteView(k.box.data(), 32));
    }
    st->member_list_hash = h.finish();
  }
  st->plan = BitPlan::of(*st->params, exact_noise_specs(*st->params));
  st->bit_shapes = {ObjectShape{wire::kBitWordBytes, st->plan.total()}};
  st->body_shapes = body_shapes(*st->params);
  st->peers.resize(m + 1);
  st->coins.resize(m);
  st->pair_keys.resize(m);
  st->confirms.resize(m);
  st->sealed.resize(m);
  st->stats.resize(wire::kRounds);
  st->first_sent.resize(wire::kRounds);
  st->last_received.resize(wire::kRounds);
  for (unsigned r = 0; r < wire::kRounds; ++r) st->stats[r].name = wire::round_name(static_cast<Round>(r));
  return Member(std::move(st));
}

Member::Member(std::unique_ptr<State> state) : state_(std::move(state)) {}
Member::Member(Member&&) noexcept = default;
Member& Member::operator=(Member&&) noexcept = default;
Member::~Member() = default;

std::uint8_t Member::id() const { return state_->id; }
std::size_t Member::size() const { return state_->m; }
std::uint8_t Member::id_of(const threshold::MemberPublicKey& key) const {
  for (unsigned i = 0; i < state_->m; ++i) {
    if (state_->members[i] == key) return static_cast<std::uint8_t>(i + 1);
  }
  return 0;
}
const threshold::MemberPublicKey& Member::member(std::uint8_t id) const { return state_->members.at(id - 1); }
std::string_view Member::round() const { return wire::round_name(state_->round); }
const std::vector<RoundStats>& Member::stats() const { return state_->stats; }
bool Member::output_ready() const { return state_->output_ready; }
const Output& Member::output() const { return state_->output; }
std::uint8_t Member::blamed() const { return state_->blamed; }

bool Member::finished() const {
  const auto& s = *state_;
  if (s.failed || !s.ready_sent) return false;
  for (unsigned j = 1; j <= s.m; ++j) {
    if (j != s.id && !s.peers[j].done) return false;
  }
  return true;
}

std::vector<std::uint8_t> Member::waiting_on() const {
  const auto& s = *state_;
  std::vector<std::uint8_t> out;
  if (s.failed) return out;
  for (unsigned j = 1; j <= s.m; ++j) {
    if (j == s.id) continue;
    const auto& p = s.peers[j];
    if (s.round == Round::kReady ? !p.done : p.next <= s.round) out.push_back(static_cast<std::uint8_t>(j));
  }
  return out;
}

// ---------------- R0: hello ----------------

Result<std::vector<Outgoing>> Member::start() {
  auto& s = *state_;
  if (s.failed) return s.failure;
  if (s.started) return failed_precondition("dkg: start() called twice");
  s.started = true;
  auto out = s.hellos();
  VEIL_ASSIGN_OR_RETURN(auto more, s.drain());
  for (auto& o : more) out.push_back(std::move(o));
  return out;
}

std::vector<Outgoing> Member::State::hellos() {
  randombytes_buf(coin.data(), coin.size());
  coins[id - 1] = coin;
  for (unsigned j = id + 1; j <= m; ++j) randombytes_buf(pair_keys[j - 1].data(), 32);
  // The keys of the PRSS sets whose smallest member is this one (prss_keys may already hold
  // keys from hellos that arrived before start()).
  const std::size_t received = prss_keys.size();
  for (std::uint16_t set : prss_sets(m, d)) {
    if (!(set & (1u << (id - 1)))) continue;
    if (static_cast<unsigned>(std::countr_zero(set)) + 1 == id) {
      PrssKey k;
      k.set = set;
      randombytes_buf(k.key.data(), k.key.size());
      prss_keys.push_back(k);
    }
  }
  std::vector<Outgoing> out;
  for (unsigned j = 1; j <= m; ++j) {
    if (j == id) continue;
    wire::Hello h;
    h.params = params->id;
    h.threshold = t;
    h.member_list_hash = member_list_hash;
    h.coin = coin;
    if (id < j) h.mask_key = pair_keys[j - 1];
    for (std::size_t k = received; k < prss_keys.size(); ++k) {
      if (prss_keys[k].set & (1u << (j - 1))) h.prss_keys.push_back(wire::PrssKey{prss_keys[k].set, prss_keys[k].key});
    }
    auto msg = header(Round::kHello);
    msg.body = h;
    Bytes bytes = wire::encode(msg);
    if (h.mask_key) sodium_memzero(h.mask_key->data(), 32);
    for (auto& k : h.prss_keys) sodium_memzero(k.key.data(), 32);
    send(out, static_cast<std::uint8_t>(j), Round::kHello, std::move(bytes));
  }
  return out;
}

Status Member::State::on_hello(std::uint8_t from, const wire::Hello& h) {
  auto wrong = [&](const std::string& field, const std::string& theirs, const std::string& ours) {
    return fail(from, name(from) + "'s hello disagrees on " + field + ": " + theirs + ", ours " + ours);
  };
  if (h.params != params->id) {
    const Parameters* p = params_by_id(h.params);
    return wrong("the parameter set", p ? std::string(p->name) : "id " + std::to_string(h.params),
                 std::string(params->name));
  }
  if (h.threshold != t) return wrong("the threshold", std::to_string(h.threshold), std::to_string(t));
  if (h.member_list_hash != member_list_hash) {
    return wrong("the member list", hex(h.member_list_hash).substr(0, 16), hex(member_list_hash).substr(0, 16));
  }
  if (h.mask_key.has_value() != (from < id)) {
    return fail(from, name(from) + "'s hello " + (h.mask_key ? "carries" : "lacks") +
                          " the pair's mask key (the member with the smaller id sends it)");
  }
  // Exactly the sets whose smallest member is the sender and that contain us, in order.
  std::vector<std::uint16_t> expected;
  for (std::uint16_t set : prss_sets(m, d)) {
    if ((set & (1u << (id - 1))) && static_cast<unsigned>(std::countr_zero(set)) + 1 == from) expected.push_back(set);
  }
  if (h.prss_keys.size() != expected.size()) {
    return fail(from, name(from) + "'s hello carries " + std::to_string(h.prss_keys.size()) + " PRSS keys, expected " +
                          std::to_string(expected.size()));
  }
  for (std::size_t k = 0; k < expected.size(); ++k) {
    if (h.prss_keys[k].set != expected[k]) {
      return fail(from, name(from) + "'s hello carries a PRSS key for set " + std::to_string(h.prss_keys[k].set) +
                            " where set " + std::to_string(expected[k]) + " was expected");
    }
  }
  coins[from - 1] = h.coin;
  if (h.mask_key) pair_keys[from - 1] = *h.mask_key;
  for (const auto& k : h.prss_keys) prss_keys.push_back(PrssKey{k.set, k.key});
  return {};
}

// ---------------- R1/R2: bits ----------------

Result<std::vector<Outgoing>> Member::State::start_bits() {
  {
    Sha256 h;
    h.update(std::string_view("veil-dkg-v1"));
    h.update(ByteView(&params->id, 1));
    const std::uint8_t tb = static_cast<std::uint8_t>(t);
    h.update(ByteView(&tb, 1));
    h.update(ByteView(member_list_hash.data(), 32));
    for (const auto& c : coins) h.update(ByteView(c.data(), 32));
    session = h.finish();
  }
  std::sort(prss_keys.begin(), prss_keys.end(), [](const PrssKey& a, const PrssKey& b) { return a.set < b.set; });
  prss = std::make_unique<Prss>(id, m, prss_keys, session);
  masks = std::make_unique<PairMasks>(id, pair_keys, session);
  wipe_vector(prss_keys);
  wipe_vector(pair_keys);

  const std::uint64_t n = plan.total();
  shares.resize(n);
  prss->shares(0, n, shares.data());
  bit_words.resize(n);
  const LinearForm ell = additive_form(id, m);
  ThreadPool::shared().parallel_for(0, (n + 4095) / 4096, [&](std::size_t b) {
    const std::size_t end = std::min<std::size_t>(n, (b + 1) * 4096);
    for (std::size_t k = b * 4096; k < end; ++k) bit_words[k] = ell(shares[k] * shares[k] + shares[k]);
  });
  prss.reset();  // every random constant of the run is drawn
  masks->apply128(kBitStream, 0, bit_words.data(), n);
  std::uint8_t* data[] = {reinterpret_cast<std::uint8_t*>(bit_words.data())};
  return contributions(Round::kBitContributions, bit_shapes, data);
}

std::vector<Outgoing> Member::State::contributions(Round r, const std::vector<ObjectShape>& shapes,
                                                   std::uint8_t* const* data) {
  std::vector<Outgoing> out;
  for (unsigned king = 1; king <= m; ++king) {
    if (king == id) continue;
    for (std::size_t o = 0; o < shapes.size(); ++o) {
      const Range range = king_range(shapes[o].words, m, king);
      const std::uint64_t step = chunk_words(shapes[o].word_bytes);
      for (std::uint64_t off = 0; off < range.count; off += step) {
        const std::uint64_t count = std::min(step, range.count - off);
        auto msg = header(r);
        msg.body = wire::Chunk{phase_of(r), wire::Direction::kContribution, static_cast<std::uint32_t>(o),
                               range.first + off, count,
                               ByteView(data[o] + (range.first + off) * shapes[o].word_bytes,
                                        count * shapes[o].word_bytes)};
        send(out, static_cast<std::uint8_t>(king), r, wire::encode(msg));
      }
    }
  }
  return out;
}

std::vector<Outgoing> Member::State::openings(Round r, const std::vector<ObjectShape>& shapes,
                                              std::uint8_t* const* data) {
  std::vector<Outgoing> out;
  for (std::size_t o = 0; o < shapes.size(); ++o) {
    const Range range = king_range(shapes[o].words, m, id);
    const std::uint64_t step = chunk_words(shapes[o].word_bytes);
    for (std::uint64_t off = 0; off < range.count; off += step) {
      const std::uint64_t count = std::min(step, range.count - off);
      auto msg = header(r);
      msg.body = wire::Chunk{phase_of(r), wire::Direction::kOpening, static_cast<std::uint32_t>(o), range.first + off,
                             count,
                             ByteView(data[o] + (range.first + off) * shapes[o].word_bytes,
                                      count * shapes[o].word_bytes)};
      const Bytes bytes = wire::encode(msg);
      for (unsigned j = 1; j <= m; ++j) {
        if (j != id) send(out, static_cast<std::uint8_t>(j), r, bytes);
      }
    }
  }
  return out;
}

Status Member::State::on_chunk(std::uint8_t from, Round r, const wire::Chunk& c) {
  const bool bits = phase_of(r) == wire::Phase::kBits;
  const unsigned wb = (bits ? bit_shapes : body_shapes)[c.object].word_bytes;
  std::uint8_t* base = bits ? reinterpret_cast<std::uint8_t*>(bit_words.data()) : bodies->data(c.object);
  std::uint8_t* dst = base + c.first * wb;
  const std::uint8_t* src = c.words.data();
  if (c.direction == wire::Direction::kOpening) {
    if (bits) {
      for (std::uint64_t k = 0; k < c.count; ++k) {
        if (src[k * 16] & 1) {
          return fail(from, name(from) + " opened an odd v = a^2 + a (bit " + std::to_string(c.first + k) +
                                "), which no honest opening gives");
        }
      }
    }
    std::memcpy(dst, src, c.count * wb);
    return {};
  }
  if (wb == 8) {
    for (std::uint64_t k = 0; k < c.count; ++k) {
      std::uint64_t a, b;
      std::memcpy(&a, dst + 8 * k, 8);
      std::memcpy(&b, src + 8 * k, 8);
      a += b;
      std::memcpy(dst + 8 * k, &a, 8);
    }
  } else {
    for (std::uint64_t k = 0; k < c.count; ++k) {
      u128 a, b;
      std::memcpy(&a, dst + 16 * k, 16);
      std::memcpy(&b, src + 16 * k, 16);
      a += b;
      std::memcpy(dst + 16 * k, &a, 16);
    }
  }
  return {};
}

Result<std::vector<Outgoing>> Member::State::start_bodies() {
  // Our own slice was summed from all contributions: check it before anyone relies on it.
  const Range mine = king_range(plan.total(), m, id);
  for (std::uint64_t k = mine.first; k < mine.first + mine.count; ++k) {
    if (bit_words[k] & 1) {
      return fail(0, "the sum of the bit contributions for this member's slice is odd (bit " + std::to_string(k) +
                         "): a contribution was malformed");
    }
  }
  ThreadPool::shared().parallel_for(0, (shares.size() + 4095) / 4096, [&](std::size_t b) {
    const std::size_t end = std::min<std::size_t>(shares.size(), (b + 1) * 4096);
    for (std::size_t k = b * 4096; k < end; ++k) shares[k] = BitRecipe::of(bit_words[k])->apply(shares[k]);
  });
  bits_done = true;
  wipe_vector(bit_words);
  if (stop_after_bits) return std::vector<Outgoing>{};
  if (bit_shares_observer) bit_shares_observer(shares);

  Key32 noise_seed{};
  randombytes_buf(noise_seed.data(), noise_seed.size());
  auto buffer = contribute_bodies(*params, session, id, m, plan, shares, noise_seed);
  sodium_memzero(noise_seed.data(), noise_seed.size());
  if (!buffer.ok()) return fail(0, "computing this member's body contributions failed: " + buffer.status().message());
  bodies = std::move(*buffer);
  // The w shares are this member's key share; the rest of the bit shares are no longer needed.
  key_share_values = key_share_of(plan, shares);
  wipe_vector(shares);
  std::vector<std::uint8_t*> data;
  for (std::size_t o = 0; o < body_shapes.size(); ++o) {
    if (body_shapes[o].word_bytes == 8) {
      masks->apply64(kBodyStreamBase + static_cast<std::uint32_t>(o), 0,
                     reinterpret_cast<std::uint64_t*>(bodies->data(o)), body_shapes[o].words);
    } else {
      masks->apply128(kBodyStreamBase + static_cast<std::uint32_t>(o), 0, reinterpret_cast<u128*>(bodies->data(o)),
                      body_shapes[o].words);
    }
    data.push_back(bodies->data(o));
  }
  masks.reset();  // the last masked opening is made
  return contributions(Round::kBodyContributions, body_shapes, data.data());
}

// ---------------- R5..R7 ----------------

Result<std::vector<Outgoing>> Member::State::confirm_files() {
  auto files = assemble_bodies(*params, session, *bodies);
  bodies->wipe();
  bodies.reset();
  if (!files.ok()) return fail(0, "assembling the public files failed: " + files.status().message());
  output.public_key = std::move(files->public_key);
  output.server_key = std::move(files->server_key);
  output.squash_key = std::move(files->squash_key);
  output.session = session;
  wire::Confirm c;
  c.public_key = sha256(output.public_key);
  c.server_key = sha256(output.server_key);
  c.squash_key = sha256(output.squash_key);
  c.share_hash = threshold::share_hash(id, key_share_values);
  confirms[id - 1] = c;
  auto msg = header(Round::kConfirm);
  msg.body = c;
  const Bytes bytes = wire::encode(msg);
  std::vector<Outgoing> out;
  for (unsigned j = 1; j <= m; ++j) {
    if (j != id) send(out, static_cast<std::uint8_t>(j), Round::kConfirm, bytes);
  }
  return out;
}

Status Member::State::on_confirm(std::uint8_t from, const wire::Confirm& c) {
  confirms[from - 1] = c;
  return {};
}

Result<std::vector<Outgoing>> Member::State::seal_share() {
  // Every member must hold the same three files; name whoever differs from the majority.
  auto same = [](const wire::Confirm& a, const wire::Confirm& b) {
    return a.public_key == b.public_key && a.server_key == b.server_key && a.squash_key == b.squash_key;
  };
  std::size_t best = 0, best_votes = 0;
  for (std::size_t i = 0; i < m; ++i) {
    std::size_t votes = 0;
    for (std::size_t j = 0; j < m; ++j) votes += same(confirms[i], confirms[j]);
    if (votes > best_votes) best = i, best_votes = votes;
  }
  for (std::size_t j = 0; j < m; ++j) {
    if (!same(confirms[j], confirms[id - 1])) {
      const bool majority = 2 * best_votes > m;
      const std::uint8_t odd = majority ? static_cast<std::uint8_t>(same(confirms[id - 1], confirms[best]) ? j + 1 : id)
                                        : static_cast<std::uint8_t>(j + 1);
      return fail(odd, name(static_cast<std::uint8_t>(j + 1)) + " holds different public files than this member" +
                           (majority ? "; the odd one out is " + name(odd) : "; there is no majority"));
    }
  }
  auto& committee = output.committee;
  committee.params = params;
  committee.threshold = static_cast<std::uint8_t>(t);
  committee.members = members;
  committee.public_key_hash = confirms[id - 1].public_key;
  committee.server_key_hash = confirms[id - 1].server_key;
  committee.squashing_key_hash = confirms[id - 1].squash_key;
  committee.share_hashes.clear();
  for (const auto& c : confirms) committee.share_hashes.push_back(c.share_hash);
  output.committee_bytes = committee.serialize();

  threshold::KeyShare share;
  share.committee = committee;
  share.member = id;
  share.values = std::move(key_share_values);
  Bytes plain = share.serialize();
  share.wipe();
  output.sealed_share.resize(plain.size() + crypto_box_SEALBYTES);
  crypto_box_seal(output.sealed_share.data(), plain.data(), plain.size(), members[id - 1].box.data());
  sodium_memzero(plain.data(), plain.size());

  wire::Sealed s;
  s.committee = sha256(output.committee_bytes);
  s.sealed_share = sha256(output.sealed_share);
  sealed[id - 1] = s;
  auto msg = header(Round::kSealed);
  msg.body = s;
  const Bytes bytes = wire::encode(msg);
  std::vector<Outgoing> out;
  for (unsigned j = 1; j <= m; ++j) {
    if (j != id) send(out, static_cast<std::uint8_t>(j), Round::kSealed, bytes);
  }
  return out;
}

Status Member::State::on_sealed(std::uint8_t from, const wire::Sealed& s) {
  if (s.committee != sha256(output.committee_bytes)) {
    return fail(from, name(from) + " built a different committee.bin (" + hex(s.committee).substr(0, 16) + ")");
  }
  sealed[from - 1] = s;
  return {};
}

Status Member::State::write_hashes_json() {
  nlohmann::json hashes = {{"parameters", std::string(params->name)},
                           {"threshold", t},
                           {"members", m},
                           {"public.key", hex(confirms[id - 1].public_key)},
                           {"server.compressed.key", hex(confirms[id - 1].server_key)},
                           {"squash.key", hex(confirms[id - 1].squash_key)}};
  hashes["committee.bin"] = hex(sealed[id - 1].committee);
  for (unsigned j = 1; j <= m; ++j) hashes["share-" + std::to_string(j) + ".sealed"] = hex(sealed[j - 1].sealed_share);
  output.hashes_json = hashes.dump(2) + "\n";
  hashes_json_hash = sha256(output.hashes_json);
  output_ready = true;
  return {};
}

Status Member::State::on_ready(std::uint8_t from, const wire::Ready& r) {
  if (r.hashes_json != hashes_json_hash) {
    return fail(from, name(from) + " wrote a different hashes.json (" + hex(r.hashes_json).substr(0, 16) + ")");
  }
  return {};
}

Result<std::vector<Outgoing>> Member::confirm_written() {
  auto& s = *state_;
  if (s.failed) return s.failure;
  if (!s.output_ready) return failed_precondition("dkg: confirm_written() before output_ready()");
  if (s.ready_sent) return failed_precondition("dkg: confirm_written() called twice");
  s.ready_sent = true;
  auto msg = s.header(Round::kReady);
  msg.body = wire::Ready{s.hashes_json_hash};
  const Bytes bytes = wire::encode(msg);
  std::vector<Outgoing> out;
  for (unsigned j = 1; j <= s.m; ++j) {
    if (j != s.id) s.send(out, static_cast<std::uint8_t>(j), Round::kReady, bytes);
  }
  return out;
}

// ---------------- receive ----------------

Result<std::vector<Outgoing>> Member::State::complete_round() {
  switch (round) {
    case Round::kHello: {
      round = Round::kBitContributions;
      return start_bits();
    }
    case Round::kBitContributions: {
      round = Round::kBitOpenings;
      std::uint8_t* data[] = {reinterpret_cast<std::uint8_t*>(bit_words.data())};
      return openings(Round::kBitOpenings, bit_shapes, data);
    }
    case Round::kBitOpenings: {
      round = Round::kBodyContributions;
      return start_bodies();
    }
    case Round::kBodyContributions: {
      round = Round::kBodyOpenings;
      std::vector<std::uint8_t*> data;
      for (std::size_t o = 0; o < body_shapes.size(); ++o) data.push_back(bodies->data(o));
      return openings(Round::kBodyOpenings, body_shapes, data.data());
    }
    case Round::kBodyOpenings: {
      round = Round::kConfirm;
      return confirm_files();
    }
    case Round::kConfirm: {
      round = Round::kSealed;
      return seal_share();
    }
    case Round::kSealed: {
      round = Round::kReady;
      VEIL_RETURN_IF_ERROR(write_hashes_json());
      return std::vector<Outgoing>{};
    }
    case Round::kReady:
      break;
  }
  return std::vector<Outgoing>{};
}

Status Member::State::process(std::uint8_t from, const wire::Message& msg) {
  if (msg.round != Round::kHello && msg.session != session) {
    return fail(from, name(from) + " sent a message of another session (" + hex(msg.session).substr(0, 16) +
                          ", ours " + hex(session).substr(0, 16) + ")");
  }
  return std::visit(
      [&](const auto& b) -> Status {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, wire::Hello>) return on_hello(from, b);
        if constexpr (std::is_same_v<T, wire::Chunk>) return on_chunk(from, msg.round, b);
        if constexpr (std::is_same_v<T, wire::Confirm>) return on_confirm(from, b);
        if constexpr (std::is_same_v<T, wire::Sealed>) return on_sealed(from, b);
        if constexpr (std::is_same_v<T, wire::Ready>) return on_ready(from, b);
        return {};
      },
      msg.body);
}

// Completes every round whose messages are all in, processing the early messages each new round
// makes current.
Result<std::vector<Outgoing>> Member::State::drain() {
  std::vector<Outgoing> out;
  while (!failed) {
    // Early messages of the current round, in each sender's order.
    for (unsigned j = 1; j <= m && !failed; ++j) {
      auto& q = peers[j].pending;
      while (!q.empty()) {
        const Bytes bytes = std::move(q.front());
        q.pop_front();
        auto msg = wire::decode(bytes, kMaxMessageBytes);  // decoded and checked once already
        if (msg->round != round) {
          q.push_front(bytes);
          break;
        }
        VEIL_RETURN_IF_ERROR(process(static_cast<std::uint8_t>(j), *msg));
      }
    }
    if (failed) break;
    if (!round_complete() || round == Round::kReady || (stop_after_bits && bits_done)) break;
    auto more = complete_round();
    if (!more.ok()) return more.status();
    for (auto& o : *more) out.push_back(std::move(o));
  }
  if (failed) return failure;
  return out;
}

Result<std::vector<Outgoing>> Member::receive(std::uint8_t from, ByteView bytes) {
  auto& s = *state_;
  if (s.failed) return s.failure;
  if (from == 0 || from > s.m || from == s.id) {
    return invalid_argument("dkg: receive() from member " + std::to_string(from) + ", not another member of " +
                            std::to_string(s.m));
  }
  auto msg = wire::decode(bytes, kMaxMessageBytes);
  if (!msg.ok()) {
    s.count_received(s.round, bytes.size());
    return s.fail(from, s.name(from) + " sent a malformed message in round " + wire::round_name(s.round) + ": " +
                            msg.status().message());
  }
  s.count_received(msg->round, bytes.size());
  if (msg->sender != from) {
    return s.fail(from, s.name(from) + " sent a message claiming to come from member " + std::to_string(msg->sender));
  }
  if (auto* a = std::get_if<wire::Abort>(&msg->body)) {
    if (msg->session != Hash32{} && s.round != Round::kHello && msg->session != s.session) {
      return s.fail(from, s.name(from) + " sent an abort of another session");
    }
    if (a->blamed > s.m) {
      return s.fail(from, s.name(from) + " sent an abort blaming member " + std::to_string(a->blamed) +
                              ", who is not in this committee");
    }
    const std::uint8_t origin = a->blamed == 0 ? from : a->blamed;
    const std::string reason = a->reason.empty() ? "no reason given" : a->reason;
    if (a->blamed == 0) {
      return s.fail(origin, s.name(from) + " aborted the run in round " +
                                wire::round_name(static_cast<Round>(a->round)) + ": " + reason);
    }
    return s.fail(origin, s.name(from) + " reports: " + reason + " (blaming " + s.name(origin) + ")");
  }
  VEIL_RETURN_IF_ERROR(s.check_sequence(from, *msg));
  if (auto* h = std::get_if<wire::Hello>(&msg->body)) {
    // A hello carries the run's keys: use it now and leave no copy of them behind.
    const Status st = s.process(from, *msg);
    if (h->mask_key) sodium_memzero(h->mask_key->data(), 32);
    for (auto& k : h->prss_keys) sodium_memzero(k.key.data(), 32);
    VEIL_RETURN_IF_ERROR(st);
  } else if (msg->round == s.round && s.started) {
    VEIL_RETURN_IF_ERROR(s.process(from, *msg));
  } else {
    s.peers[from].pending.emplace_back(bytes.begin(), bytes.end());
  }
  return s.drain();
}

std::vector<Outgoing> Member::abort_messages(std::uint8_t blamed, std::string_view reason) const {
  const auto& s = *state_;
  std::vector<Outgoing> out;
  auto msg = s.header(s.round);
  msg.session = s.round == Round::kHello ? Hash32{} : s.session;
  msg.body = wire::Abort{blamed, static_cast<std::uint8_t>(s.round),
                         std::string(reason.substr(0, std::min(reason.size(), wire::kMaxReason)))};
  const Bytes bytes = wire::encode(msg);
  for (unsigned j = 1; j <= s.m; ++j) {
    if (j != s.id) out.push_back(Outgoing{static_cast<std::uint8_t>(j), bytes});
  }
  return out;
}

// ---------------- tests ----------------

void MemberTestAccess::stop_after_bits(Member& member) { member.state_->stop_after_bits = true; }
bool MemberTestAccess::bits_done(const Member& member) { return member.state_->bits_done; }
const std::vector<Elem>& MemberTestAccess::bit_shares(const Member& member) { return member.state_->shares; }
const BitPlan& MemberTestAccess::plan(const Member& member) { return member.state_->plan; }
void MemberTestAccess::observe_bit_shares(Member& member, std::function<void(const std::vector<Elem>&)> observer) {
  member.state_->bit_shares_observer = std::move(observer);
}
bool MemberTestAccess::secrets_wiped(const Member& member) {
  const auto& s = *member.state_;
  return s.shares.empty() && s.key_share_values.empty() && s.pair_keys.empty() && s.prss_keys.empty() && !s.prss &&
         !s.masks && !s.bodies;
}

}  // namespace veil::fhe::dkg
