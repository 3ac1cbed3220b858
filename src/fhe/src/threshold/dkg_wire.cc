// The DKG's message codec (dkg_wire.h).
#include "threshold/dkg_wire.h"

#include <cstring>

namespace veil::fhe::dkg::wire {
namespace {

constexpr std::uint8_t kVarint = 0, kLen = 2;

class Writer {
 public:
  void tag(std::uint32_t field, std::uint8_t type) { raw_varint((static_cast<std::uint64_t>(field) << 3) | type); }
  void varint(std::uint32_t field, std::uint64_t v) {
    tag(field, kVarint);
    raw_varint(v);
  }
  void bytes(std::uint32_t field, const std::uint8_t* p, std::size_t n) {
    tag(field, kLen);
    raw_varint(n);
    out.insert(out.end(), p, p + n);
  }
  void bytes(std::uint32_t field, const Bytes& b) { bytes(field, b.data(), b.size()); }
  void hash(std::uint32_t field, const Hash32& h) { bytes(field, h.data(), h.size()); }
  void raw_varint(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  Bytes out;
};

// Reads the canonical form: the fields of a message in the order the caller asks for them.
class Reader {
 public:
  Reader(ByteView in, const char* what) : in_(in), what_(what) {}

  Status varint(std::uint32_t field, std::uint64_t max, std::uint64_t& v) {
    VEIL_RETURN_IF_ERROR(expect_tag(field, kVarint));
    VEIL_RETURN_IF_ERROR(raw_varint(v));
    if (v > max) return fail("field " + std::to_string(field) + " out of range");
    return {};
  }
  Status bytes(std::uint32_t field, ByteView& v) {
    VEIL_RETURN_IF_ERROR(expect_tag(field, kLen));
    std::uint64_t n = 0;
    VEIL_RETURN_IF_ERROR(raw_varint(n));
    if (n > in_.size() - pos_) return fail("field " + std::to_string(field) + " runs past the end");
    v = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return {};
  }
  Status hash(std::uint32_t field, Hash32& h) {
    ByteView v;
    VEIL_RETURN_IF_ERROR(bytes(field, v));
    if (v.size() != 32) return fail("field " + std::to_string(field) + " is not 32 bytes");
    std::memcpy(h.data(), v.data(), 32);
    return {};
  }
  // True when the next field has this number (for optional and repeated fields).
  bool next_is(std::uint32_t field) const {
    if (pos_ >= in_.size()) return false;
    std::size_t p = pos_;
    std::uint64_t tag = 0;
    for (unsigned shift = 0; p < in_.size() && shift < 35; shift += 7) {
      const std::uint8_t b = in_[p++];
      tag |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return (tag >> 3) == field;
    }
    return false;
  }
  bool done() const { return pos_ == in_.size(); }
  Status finish() const { return done() ? Status{} : fail("unexpected bytes after the last field"); }
  Status fail(const std::string& why) const { return invalid_argument(std::string(what_) + ": " + why); }

 private:
  Status expect_tag(std::uint32_t field, std::uint8_t type) {
    std::uint64_t tag = 0;
    if (done()) return fail("field " + std::to_string(field) + " missing (truncated)");
    VEIL_RETURN_IF_ERROR(raw_varint(tag));
    if (tag != ((static_cast<std::uint64_t>(field) << 3) | type)) {
      return fail("expected field " + std::to_string(field) + ", got field " + std::to_string(tag >> 3) +
                  " of wire type " + std::to_string(tag & 7));
    }
    return {};
  }
  Status raw_varint(std::uint64_t& v) {
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail("truncated varint");
      const std::uint8_t b = in_[pos_++];
      if (shift == 63 && b > 1) return fail("varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (b == 0 && shift > 0) return fail("non-minimal varint");
        return {};
      }
    }
    return fail("varint longer than 10 bytes");
  }

  ByteView in_;
  std::size_t pos_ = 0;
  const char* what_;
};

Bytes encode_hello(const Hello& h) {
  Writer w;
  w.varint(1, h.params);
  w.varint(2, h.threshold);
  w.hash(3, h.member_list_hash);
  w.hash(4, h.coin);
  if (h.mask_key) w.hash(5, *h.mask_key);
  for (const auto& k : h.prss_keys) {
    Writer kw;
    kw.varint(1, k.set);
    kw.hash(2, k.key);
    w.bytes(6, kw.out);
  }
  return std::move(w.out);
}

Result<Hello> decode_hello(ByteView in) {
  Reader r(in, "hello");
  Hello h;
  std::uint64_t v = 0;
  VEIL_RETURN_IF_ERROR(r.varint(1, 0xff, v));
  h.params = static_cast<std::uint8_t>(v);
  VEIL_RETURN_IF_ERROR(r.varint(2, 0xffffffff, v));
  h.threshold = static_cast<std::uint32_t>(v);
  VEIL_RETURN_IF_ERROR(r.hash(3, h.member_list_hash));
  VEIL_RETURN_IF_ERROR(r.hash(4, h.coin));
  if (r.next_is(5)) {
    h.mask_key.emplace();
    VEIL_RETURN_IF_ERROR(r.hash(5, *h.mask_key));
  }
  while (!r.done()) {
    ByteView kb;
    VEIL_RETURN_IF_ERROR(r.bytes(6, kb));
    Reader kr(kb, "hello prss key");
    PrssKey k;
    VEIL_RETURN_IF_ERROR(kr.varint(1, 0x7fff, v));
    k.set = static_cast<std::uint16_t>(v);
    VEIL_RETURN_IF_ERROR(kr.hash(2, k.key));
    VEIL_RETURN_IF_ERROR(kr.finish());
    if (h.prss_keys.size() >= 1u << 15) return r.fail("too many PRSS keys");
    h.prss_keys.push_back(k);
  }
  return h;
}

Bytes encode_chunk(const Chunk& c) {
  Writer w;
  w.varint(1, static_cast<std::uint8_t>(c.phase));
  w.varint(2, static_cast<std::uint8_t>(c.direction));
  w.varint(3, c.object);
  w.varint(4, c.first);
  w.varint(5, c.count);
  w.bytes(6, c.words.data(), c.words.size());
  return std::move(w.out);
}

Result<Chunk> decode_chunk(ByteView in) {
  Reader r(in, "chunk");
  Chunk c;
  std::uint64_t v = 0;
  VEIL_RETURN_IF_ERROR(r.varint(1, 2, v));
  if (v == 0) return r.fail("phase 0");
  c.phase = static_cast<Phase>(v);
  VEIL_RETURN_IF_ERROR(r.varint(2, 2, v));
  if (v == 0) return r.fail("direction 0");
  c.direction = static_cast<Direction>(v);
  VEIL_RETURN_IF_ERROR(r.varint(3, 0xffff, v));
  c.object = static_cast<std::uint32_t>(v);
  VEIL_RETURN_IF_ERROR(r.varint(4, std::uint64_t{1} << 48, c.first));
  VEIL_RETURN_IF_ERROR(r.varint(5, std::uint64_t{1} << 32, c.count));
  VEIL_RETURN_IF_ERROR(r.bytes(6, c.words));
  VEIL_RETURN_IF_ERROR(r.finish());
  if (c.count == 0) return r.fail("zero words");
  const std::uint64_t n = c.words.size();
  const bool ok = c.phase == Phase::kBits ? n == c.count * kBitWordBytes : (n == c.count * 8 || n == c.count * 16);
  if (!ok) return r.fail(std::to_string(n) + " bytes of words for a count of " + std::to_string(c.count));
  return c;
}

template <typename T>
Bytes encode_hashes(const T& h) {
  Writer w;
  if constexpr (std::is_same_v<T, Confirm>) {
    w.hash(1, h.public_key);
    w.hash(2, h.server_key);
    w.hash(3, h.squash_key);
    w.hash(4, h.share_hash);
  } else if constexpr (std::is_same_v<T, Sealed>) {
    w.hash(1, h.committee);
    w.hash(2, h.sealed_share);
  } else {
    w.hash(1, h.hashes_json);
  }
  return std::move(w.out);
}

template <typename T>
Result<T> decode_hashes(ByteView in, const char* what) {
  Reader r(in, what);
  T h;
  if constexpr (std::is_same_v<T, Confirm>) {
    VEIL_RETURN_IF_ERROR(r.hash(1, h.public_key));
    VEIL_RETURN_IF_ERROR(r.hash(2, h.server_key));
    VEIL_RETURN_IF_ERROR(r.hash(3, h.squash_key));
    VEIL_RETURN_IF_ERROR(r.hash(4, h.share_hash));
  } else if constexpr (std::is_same_v<T, Sealed>) {
    VEIL_RETURN_IF_ERROR(r.hash(1, h.committee));
    VEIL_RETURN_IF_ERROR(r.hash(2, h.sealed_share));
  } else {
    VEIL_RETURN_IF_ERROR(r.hash(1, h.hashes_json));
  }
  VEIL_RETURN_IF_ERROR(r.finish());
  return h;
}

Bytes encode_abort(const Abort& a) {
  Writer w;
  w.varint(1, a.blamed);
  w.varint(2, a.round);
  w.bytes(3, reinterpret_cast<const std::uint8_t*>(a.reason.data()), a.reason.size());
  return std::move(w.out);
}

Result<Abort> decode_abort(ByteView in) {
  Reader r(in, "abort");
  Abort a;
  std::uint64_t v = 0;
  VEIL_RETURN_IF_ERROR(r.varint(1, 15, v));
  a.blamed = static_cast<std::uint8_t>(v);
  VEIL_RETURN_IF_ERROR(r.varint(2, kRounds - 1, v));
  a.round = static_cast<std::uint8_t>(v);
  ByteView reason;
  VEIL_RETURN_IF_ERROR(r.bytes(3, reason));
  VEIL_RETURN_IF_ERROR(r.finish());
  if (reason.size() > kMaxReason) return r.fail("reason longer than 256 bytes");
  a.reason = to_string(reason);
  return a;
}

}  // namespace

const char* round_name(Round round) {
  switch (round) {
    case Round::kHello: return "hello";
    case Round::kBitContributions: return "bit contributions";
    case Round::kBitOpenings: return "bit openings";
    case Round::kBodyContributions: return "body contributions";
    case Round::kBodyOpenings: return "body openings";
    case Round::kConfirm: return "confirm";
    case Round::kSealed: return "sealed";
    case Round::kReady: return "ready";
  }
  return "?";
}

Round chunk_round(Phase phase, Direction direction) {
  const unsigned base = phase == Phase::kBits ? 1 : 3;
  return static_cast<Round>(base + (direction == Direction::kOpening ? 1 : 0));
}

Bytes encode(const Message& m) {
  Writer w;
  w.varint(1, m.version);
  w.hash(2, m.session);
  w.varint(3, static_cast<std::uint8_t>(m.round));
  w.varint(4, m.sender);
  std::visit(
      [&w](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Hello>) {
          w.bytes(10, encode_hello(b));
        } else if constexpr (std::is_same_v<T, Chunk>) {
          // The words are most of a chunk: write the sub-message's header, then the words
          // directly, instead of building the sub-message first.
          Bytes sub = encode_chunk(Chunk{b.phase, b.direction, b.object, b.first, b.count, {}});
          sub.pop_back();  // the empty words field's zero length
          sub.pop_back();  // and its tag
          Writer len;
          len.tag(6, kLen);
          len.raw_varint(b.words.size());
          w.tag(11, kLen);
          w.raw_varint(sub.size() + len.out.size() + b.words.size());
          w.out.reserve(w.out.size() + sub.size() + len.out.size() + b.words.size());
          w.out.insert(w.out.end(), sub.begin(), sub.end());
          w.out.insert(w.out.end(), len.out.begin(), len.out.end());
          w.out.insert(w.out.end(), b.words.begin(), b.words.end());
        } else if constexpr (std::is_same_v<T, Confirm>) {
          w.bytes(12, encode_hashes(b));
        } else if constexpr (std::is_same_v<T, Sealed>) {
          w.bytes(13, encode_hashes(b));
        } else if constexpr (std::is_same_v<T, Ready>) {
          w.bytes(14, encode_hashes(b));
        } else {
          w.bytes(15, encode_abort(b));
        }
      },
      m.body);
  return std::move(w.out);
}

Result<Message> decode(ByteView bytes, std::size_t limit) {
  if (bytes.size() > limit) {
    return invalid_argument("message of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                            std::to_string(limit));
  }
  Reader r(bytes, "dkg message");
  Message m;
  std::uint64_t v = 0;
  VEIL_RETURN_IF_ERROR(r.varint(1, 0xffffffff, v));
  m.version = static_cast<std::uint32_t>(v);
  if (m.version != kVersion) {
    return invalid_argument("dkg message: protocol version " + std::to_string(v) + ", this build speaks " +
                            std::to_string(kVersion));
  }
  VEIL_RETURN_IF_ERROR(r.hash(2, m.session));
  VEIL_RETURN_IF_ERROR(r.varint(3, kRounds - 1, v));
  m.round = static_cast<Round>(v);
  VEIL_RETURN_IF_ERROR(r.varint(4, 15, v));
  if (v == 0) return r.fail("sender id 0");
  m.sender = static_cast<std::uint8_t>(v);
  ByteView body;
  if (r.next_is(10)) {
    VEIL_RETURN_IF_ERROR(r.bytes(10, body));
    VEIL_ASSIGN_OR_RETURN(m.body, decode_hello(body));
    if (m.round != Round::kHello) return r.fail("a hello in round " + std::string(round_name(m.round)));
  } else if (r.next_is(11)) {
    VEIL_RETURN_IF_ERROR(r.bytes(11, body));
    VEIL_ASSIGN_OR_RETURN(Chunk c, decode_chunk(body));
    if (chunk_round(c.phase, c.direction) != m.round) {
      return r.fail("a chunk of round " + std::string(round_name(chunk_round(c.phase, c.direction))) + " labelled " +
                    round_name(m.round));
    }
    m.body = c;
  } else if (r.next_is(12)) {
    VEIL_RETURN_IF_ERROR(r.bytes(12, body));
    VEIL_ASSIGN_OR_RETURN(m.body, decode_hashes<Confirm>(body, "confirm"));
    if (m.round != Round::kConfirm) return r.fail("a confirm in round " + std::string(round_name(m.round)));
  } else if (r.next_is(13)) {
    VEIL_RETURN_IF_ERROR(r.bytes(13, body));
    VEIL_ASSIGN_OR_RETURN(m.body, decode_hashes<Sealed>(body, "sealed"));
    if (m.round != Round::kSealed) return r.fail("a sealed in round " + std::string(round_name(m.round)));
  } else if (r.next_is(14)) {
    VEIL_RETURN_IF_ERROR(r.bytes(14, body));
    VEIL_ASSIGN_OR_RETURN(m.body, decode_hashes<Ready>(body, "ready"));
    if (m.round != Round::kReady) return r.fail("a ready in round " + std::string(round_name(m.round)));
  } else if (r.next_is(15)) {
    VEIL_RETURN_IF_ERROR(r.bytes(15, body));
    VEIL_ASSIGN_OR_RETURN(m.body, decode_abort(body));
  } else {
    return r.fail(r.done() ? "no body (truncated)" : "unknown body field");
  }
  VEIL_RETURN_IF_ERROR(r.finish());
  if (m.round == Round::kHello && std::holds_alternative<Hello>(m.body) && m.session != Hash32{}) {
    return r.fail("a hello carries a session id");
  }
  return m;
}

}  // namespace veil::fhe::dkg::wire
