#include "veil/swim/wire.h"

#include <cstdlib>
#include <string_view>

namespace veil::swim {
namespace {

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_varint(Bytes& out, std::uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_str(Bytes& out, std::string_view s) {
  put_varint(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

std::size_t str_size(std::size_t len) { return varint_size(len) + len; }

bool has_from(Update::Kind k) { return k == Update::Kind::kSuspect || k == Update::Kind::kDead; }

// A bounds-checked cursor. Every read either succeeds or sets `error` and returns a zero value;
// callers check ok() at the points where a bad value would change control flow.
class Reader {
 public:
  explicit Reader(ByteView bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool at_end() const { return p_ == end_; }
  std::size_t offset(const std::uint8_t* base) const { return static_cast<std::size_t>(p_ - base); }

  std::uint8_t u8() {
    if (!ok()) return 0;
    if (p_ == end_) return fail("truncated: expected a byte"), 0;
    return *p_++;
  }

  std::uint32_t varint() {
    std::uint64_t value = 0;
    for (int i = 0; i < 5; ++i) {
      std::uint8_t b = u8();
      if (!ok()) return 0;
      value |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) return fail("non-canonical varint"), 0;
        if (value > 0xffffffffu) return fail("varint exceeds 32 bits"), 0;
        return static_cast<std::uint32_t>(value);
      }
    }
    return fail("varint longer than 5 bytes"), 0;
  }

  std::string_view str(std::size_t min_len, std::size_t max_len, const char* what) {
    std::uint32_t len = varint();
    if (!ok()) return {};
    if (len < min_len || len > max_len) {
      return fail(std::string(what) + " length " + std::to_string(len) + " out of range [" +
                  std::to_string(min_len) + ", " + std::to_string(max_len) + "]"),
             std::string_view{};
    }
    if (static_cast<std::size_t>(end_ - p_) < len) return fail(std::string("truncated ") + what), std::string_view{};
    std::string_view s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return s;
  }

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::string error_;
};

// Parsed but not yet interned: names are views into the input, so a message that fails
// halfway leaves the Directory untouched.
struct RawUpdate {
  Update::Kind kind;
  std::uint32_t incarnation;
  std::string_view member, from, address, signature;
};
struct RawEntry {
  MemberState state;
  std::uint32_t incarnation;
  std::string_view member;
};

}  // namespace

std::size_t encoded_size(const Update& u, const Directory& d) {
  std::size_t n = 1 + varint_size(u.incarnation) + str_size(d.name(u.member).size());
  if (has_from(u.kind)) n += str_size(d.name(u.from).size());
  if (u.kind == Update::Kind::kAlive) n += str_size(d.address(u.member).size());
  return n + str_size(u.signature.size());
}

std::size_t encoded_size(const Message& m, const Directory& d) {
  std::size_t n = 2;
  switch (m.type) {
    case MessageType::kPing:
    case MessageType::kPingReq:
      n += varint_size(m.seq) + str_size(d.name(m.target).size());
      break;
    case MessageType::kAck:
    case MessageType::kNack:
      n += varint_size(m.seq);
      break;
    case MessageType::kGossip:
      break;
    case MessageType::kPushPull:
      n += 1 + varint_size(m.state.size());
      for (const auto& e : m.state) n += 1 + varint_size(e.incarnation) + str_size(d.name(e.member).size());
      break;
  }
  n += varint_size(m.updates.size());
  for (const auto& u : m.updates) n += encoded_size(u, d);
  return n;
}

void encode(const Message& m, const Directory& d, Bytes& out) {
  out.reserve(out.size() + encoded_size(m, d));
  out.push_back(kWireVersion);
  out.push_back(static_cast<std::uint8_t>(m.type));
  switch (m.type) {
    case MessageType::kPing:
    case MessageType::kPingReq:
      put_varint(out, m.seq);
      put_str(out, d.name(m.target));
      break;
    case MessageType::kAck:
    case MessageType::kNack:
      put_varint(out, m.seq);
      break;
    case MessageType::kGossip:
      break;
    case MessageType::kPushPull:
      out.push_back(static_cast<std::uint8_t>((m.join ? 1 : 0) | (m.reply ? 2 : 0)));
      put_varint(out, static_cast<std::uint32_t>(m.state.size()));
      for (const auto& e : m.state) {
        out.push_back(static_cast<std::uint8_t>(e.state));
        put_varint(out, e.incarnation);
        put_str(out, d.name(e.member));
      }
      break;
  }
  put_varint(out, static_cast<std::uint32_t>(m.updates.size()));
  for (const auto& u : m.updates) {
    out.push_back(static_cast<std::uint8_t>(u.kind));
    put_varint(out, u.incarnation);
    put_str(out, d.name(u.member));
    if (has_from(u.kind)) put_str(out, d.name(u.from));
    if (u.kind == Update::Kind::kAlive) put_str(out, d.address(u.member));
    put_varint(out, static_cast<std::uint32_t>(u.signature.size()));
    out.insert(out.end(), u.signature.begin(), u.signature.end());
  }
}

Bytes encode(const Message& m, const Directory& d) {
  Bytes out;
  encode(m, d, out);
  return out;
}

Result<Message> decode(ByteView bytes, Directory& directory) {
  if (bytes.size() > kMaxMessageBytes) {
    return out_of_range("swim message of " + std::to_string(bytes.size()) + " bytes exceeds the " +
                        std::to_string(kMaxMessageBytes) + "-byte limit");
  }
  Reader r(bytes);
  Message m;
  std::uint8_t version = r.u8();
  std::uint8_t type = r.u8();
  if (!r.ok()) return data_loss("swim message: " + r.error());
  if (version != kWireVersion) {
    return invalid_argument("swim message: unsupported wire version " + std::to_string(version));
  }
  if (type < 1 || type > 6) return invalid_argument("swim message: unknown type " + std::to_string(type));
  m.type = static_cast<MessageType>(type);

  std::string_view target;
  std::vector<RawEntry> entries;
  switch (m.type) {
    case MessageType::kPing:
    case MessageType::kPingReq:
      m.seq = r.varint();
      target = r.str(1, Directory::kMaxNameBytes, "target name");
      break;
    case MessageType::kAck:
    case MessageType::kNack:
      m.seq = r.varint();
      break;
    case MessageType::kGossip:
      break;
    case MessageType::kPushPull: {
      std::uint8_t flags = r.u8();
      if (r.ok() && (flags & ~3u) != 0) r.fail("unknown push-pull flags");
      m.join = flags & 1;
      m.reply = flags & 2;
      std::uint32_t count = r.varint();
      // Each entry takes at least 3 bytes; a larger count cannot be honest.
      if (r.ok() && count > r.remaining() / 3) r.fail("push-pull entry count exceeds message size");
      if (r.ok()) entries.reserve(count);
      for (std::uint32_t i = 0; r.ok() && i < count; ++i) {
        std::uint8_t state = r.u8();
        if (r.ok() && (state < 1 || state > 4)) r.fail("unknown member state " + std::to_string(state));
        std::uint32_t inc = r.varint();
        std::string_view name = r.str(1, Directory::kMaxNameBytes, "member name");
        entries.push_back({static_cast<MemberState>(state), inc, name});
      }
      break;
    }
  }

  std::vector<RawUpdate> updates;
  std::uint32_t count = r.varint();
  if (r.ok() && count > r.remaining() / 4) r.fail("update count exceeds message size");
  if (r.ok()) updates.reserve(count);
  for (std::uint32_t i = 0; r.ok() && i < count; ++i) {
    RawUpdate u{};
    std::uint8_t kind = r.u8();
    if (r.ok() && (kind < 1 || kind > 4)) r.fail("unknown update kind " + std::to_string(kind));
    u.kind = static_cast<Update::Kind>(kind);
    u.incarnation = r.varint();
    u.member = r.str(1, Directory::kMaxNameBytes, "member name");
    if (r.ok() && has_from(u.kind)) u.from = r.str(1, Directory::kMaxNameBytes, "accuser name");
    if (r.ok() && u.kind == Update::Kind::kAlive) u.address = r.str(0, Directory::kMaxAddressBytes, "address");
    if (r.ok()) u.signature = r.str(0, kMaxSignatureBytes, "signature");
    updates.push_back(u);
  }
  if (r.ok() && !r.at_end()) r.fail(std::to_string(r.remaining()) + " trailing bytes");
  if (!r.ok()) {
    return data_loss("swim " + std::string(message_type_name(m.type)) + " message: " + r.error() +
                     " at byte " + std::to_string(r.offset(bytes.data())));
  }

  // Everything parsed: only now touch the directory.
  if (!target.empty()) m.target = directory.intern(target);
  m.state.reserve(entries.size());
  for (const auto& e : entries) m.state.push_back({directory.intern(e.member), e.incarnation, e.state});
  m.updates.reserve(updates.size());
  for (const auto& raw : updates) {
    Update u;
    u.kind = raw.kind;
    u.incarnation = raw.incarnation;
    u.member = directory.intern(raw.member);
    u.from = has_from(raw.kind) ? directory.intern(raw.from) : u.member;
    if (raw.kind == Update::Kind::kAlive) directory.set_address(u.member, raw.address);
    u.signature.assign(raw.signature.begin(), raw.signature.end());
    m.updates.push_back(std::move(u));
  }
  return m;
}

Bytes update_signing_bytes(const Update& u, const Directory& d) {
  std::string_view domain = "veil-swim-update-v1";
  Bytes out(domain.begin(), domain.end());
  out.push_back(static_cast<std::uint8_t>(u.kind));
  append_u32_be(out, u.incarnation);
  put_str(out, d.name(u.member));
  put_str(out, u.from == kNoMember ? std::string_view{} : std::string_view(d.name(u.from)));
  return out;
}

int fuzz_decode_one(const std::uint8_t* data, std::size_t size) {
  Directory directory;
  auto first = decode(ByteView(data, size), directory);
  if (!first.ok()) return 0;
  Bytes again = encode(*first, directory);
  if (again.size() != encoded_size(*first, directory)) std::abort();
  Directory second_directory;
  auto second = decode(again, second_directory);
  if (!second.ok()) std::abort();
  if (encode(*second, second_directory) != again) std::abort();
  return 1;
}

}  // namespace veil::swim
