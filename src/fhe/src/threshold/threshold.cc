// Threshold decryption: dealing, partial decryption, robust combination, wire types.
// The scheme and its noise budget are described in veil/fhe/threshold.h and docs/fhe.md.
#include "veil/fhe/threshold.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "api/impl.h"
#include "threshold/galois_ring.h"
#include "threshold/internal.h"
#include "veil/common/sha256.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe::threshold {

using gr::Elem;
using gr::u128;

namespace {

// Object kinds of the threshold layer inside the engine's "VFHE" framing. Format 2 (noise
// squashing: shares of the 128-bit squashing key, partials of squashed blocks) took new kinds;
// the format-1 kinds are recognised only to refuse them with a clear message.
constexpr auto kKindCommittee = static_cast<detail::Kind>(0x34);
constexpr auto kKindKeyShare = static_cast<detail::Kind>(0x35);
constexpr auto kKindRequest = static_cast<detail::Kind>(0x32);  // unchanged by format 2
constexpr auto kKindSquashingKey = static_cast<detail::Kind>(0x36);
constexpr auto kKindShare = static_cast<detail::Kind>(0x37);
constexpr std::uint8_t kKindCommitteeV1 = 0x30, kKindKeyShareV1 = 0x31, kKindShareV1 = 0x33;
constexpr std::size_t kMaxText = 256;

Result<detail::Unframed> unframe_as(ByteView bytes, detail::Kind kind, const char* name, std::size_t limit) {
  if (bytes.size() > 7 && std::memcmp(bytes.data(), "VFHE", 4) == 0) {
    const std::uint8_t k = bytes[6];
    if (k == kKindCommitteeV1 || k == kKindKeyShareV1 || k == kKindShareV1) {
      return invalid_argument(std::string(name) +
                              ": threshold format 1 (made before noise squashing) is no longer accepted; " +
                              (k == kKindShareV1 ? "partial-decrypt again with this version"
                                                 : "run `veil keys ceremony` again for format 2"));
    }
  }
  if (bytes.size() > 7 && std::memcmp(bytes.data(), "VFHE", 4) == 0 && bytes[6] != static_cast<std::uint8_t>(kind)) {
    return invalid_argument(std::string("expected a ") + name + ", got object kind " + std::to_string(bytes[6]));
  }
  auto r = detail::unframe(bytes, kind, DeserializeOptions{limit, nullptr});
  if (!r.ok()) return Status(r.status().code(), std::string(name) + ": " + r.status().message());
  return r;
}

void write_text(detail::Writer& w, const std::string& s) {
  w.u32(static_cast<std::uint32_t>(s.size()));
  w.raw(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
Status read_text(detail::Reader& r, std::string& s, const char* what) {
  std::uint32_t len = 0;
  VEIL_RETURN_IF_ERROR(r.u32(len));
  if (len > kMaxText) return invalid_argument(std::string(what) + " longer than 256 bytes");
  s.resize(len);
  return r.raw(reinterpret_cast<std::uint8_t*>(s.data()), len);
}

template <std::size_t N>
void write_fixed(detail::Writer& w, const std::array<std::uint8_t, N>& a) {
  w.raw(a.data(), N);
}

bool valid_kind(std::uint8_t k) { return k >= 5 && k <= 8; }


// The t-subsets of {1..n} (bit j-1 for member j) that contain `member`, in increasing order.
std::vector<std::uint16_t> subsets_with(unsigned member, unsigned t, unsigned n) {
  std::vector<std::uint16_t> out;
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if (std::popcount(mask) == static_cast<int>(t) && (mask & (1u << (member - 1)))) {
      out.push_back(static_cast<std::uint16_t>(mask));
    }
  }
  return out;
}


// Pairwise mask key of members i and j from X25519: both derive the same 32 bytes.
Result<std::array<std::uint8_t, 32>> pair_key(const MemberSecretKey& me, unsigned my_id, const MemberPublicKey& other,
                                              unsigned other_id) {
  std::array<std::uint8_t, 32> shared{};
  if (crypto_scalarmult(shared.data(), me.box_secret().data(), other.box.data()) != 0) {
    return invalid_argument("member " + std::to_string(other_id) + " has an invalid X25519 key");
  }
  const auto& lo = my_id < other_id ? me.public_key().box : other.box;
  const auto& hi = my_id < other_id ? other.box : me.public_key().box;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, shared.data(), shared.size());
  crypto_generichash_update(&st, lo.data(), lo.size());
  crypto_generichash_update(&st, hi.data(), hi.size());
  std::array<std::uint8_t, 32> key{};
  crypto_generichash_final(&st, key.data(), key.size());
  sodium_memzero(shared.data(), shared.size());
  return key;
}

u128 pair_mask(const std::array<std::uint8_t, 32>& key, const Hash& request, std::uint16_t subset, std::uint32_t block) {
  std::uint8_t msg[16 + 32 + 2 + 4];
  std::memcpy(msg, "veil-thr-mask-v1", 16);
  std::memcpy(msg + 16, request.data(), 32);
  std::memcpy(msg + 48, &subset, 2);
  std::memcpy(msg + 50, &block, 4);
  std::uint64_t out[2];
  crypto_generichash(reinterpret_cast<unsigned char*>(out), 16, msg, sizeof msg, key.data(), key.size());
  return load128(out);
}

// The member's flooding key: BLAKE2b keyed with its Ed25519 seed (secret), domain-separated.
std::array<std::uint8_t, 32> flood_key(const MemberSecretKey& member) {
  static constexpr char kTag[] = "veil-thr-flood-key-v1";
  std::array<std::uint8_t, 32> key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(kTag), sizeof kTag - 1,
                     member.sign_secret().data(), 32);
  return key;
}

// Uniform in [-2^b, 2^b) as a 128-bit two's-complement value, pseudo-random per (request,
// subset, block) under the member's secret flooding key: fresh for every request (requests
// carry a nonce), and identical if the member answers the same request twice, so re-asking
// cannot average the flood away.
u128 flood_noise(const std::array<std::uint8_t, 32>& key, const Hash& request, std::uint16_t subset,
                 std::uint32_t block, unsigned b) {
  std::uint8_t msg[17 + 32 + 2 + 4];
  std::memcpy(msg, "veil-thr-flood-v1", 17);
  std::memcpy(msg + 17, request.data(), 32);
  std::memcpy(msg + 49, &subset, 2);
  std::memcpy(msg + 51, &block, 4);
  std::uint64_t r[2];
  crypto_generichash(reinterpret_cast<unsigned char*>(r), 16, msg, sizeof msg, key.data(), key.size());
  const u128 span = static_cast<u128>(1) << (b + 1);
  return (load128(r) & (span - 1)) - (static_cast<u128>(1) << b);
}

}  // namespace

Hash share_hash(std::uint8_t member, const std::vector<std::uint64_t>& values) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  static constexpr char kTag[] = "veil-keyshare-v2";
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(kTag), sizeof kTag - 1);
  crypto_hash_sha256_update(&st, &member, 1);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(values.data()), values.size() * 8);
  Hash h;
  crypto_hash_sha256_final(&st, h.data());
  return h;
}

// ---------------- members ----------------

std::string MemberPublicKey::to_text() const {
  return "veil-member-v1 " + to_hex(ByteView(sign.data(), sign.size())) + " " + to_hex(ByteView(box.data(), box.size())) +
         "\n";
}

Result<MemberPublicKey> MemberPublicKey::from_text(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  constexpr std::string_view kPrefix = "veil-member-v1 ";
  if (text.substr(0, kPrefix.size()) != kPrefix || text.size() != kPrefix.size() + 64 + 1 + 64 || text[kPrefix.size() + 64] != ' ') {
    return invalid_argument("not a member public key (expected 'veil-member-v1 <64 hex> <64 hex>')");
  }
  MemberPublicKey k;
  VEIL_ASSIGN_OR_RETURN(k.sign, fixed_from_hex<32>(text.substr(kPrefix.size(), 64)));
  VEIL_ASSIGN_OR_RETURN(k.box, fixed_from_hex<32>(text.substr(kPrefix.size() + 65, 64)));
  return k;
}

MemberSecretKey MemberSecretKey::generate() {
  MemberSecretKey k;
  crypto_sign_keypair(k.public_.sign.data(), k.sign_sk_.data());
  crypto_box_keypair(k.public_.box.data(), k.box_sk_.data());
  return k;
}

Bytes MemberSecretKey::serialize() const {
  Bytes out;
  out.insert(out.end(), sign_sk_.begin(), sign_sk_.end());
  out.insert(out.end(), box_sk_.begin(), box_sk_.end());
  out.insert(out.end(), public_.sign.begin(), public_.sign.end());
  out.insert(out.end(), public_.box.begin(), public_.box.end());
  return out;
}

Result<MemberSecretKey> MemberSecretKey::deserialize(ByteView bytes) {
  if (bytes.size() != 160) return invalid_argument("member secret key: expected 160 bytes, got " + std::to_string(bytes.size()));
  MemberSecretKey k;
  std::memcpy(k.sign_sk_.data(), bytes.data(), 64);
  std::memcpy(k.box_sk_.data(), bytes.data() + 64, 32);
  std::memcpy(k.public_.sign.data(), bytes.data() + 96, 32);
  std::memcpy(k.public_.box.data(), bytes.data() + 128, 32);
  // The halves must belong together: an Ed25519 secret key ends with its public key, and the
  // X25519 public key is the base-point multiple of the secret.
  std::array<std::uint8_t, 32> box_pk{};
  crypto_scalarmult_base(box_pk.data(), k.box_sk_.data());
  if (std::memcmp(k.sign_sk_.data() + 32, k.public_.sign.data(), 32) != 0 || box_pk != k.public_.box) {
    return invalid_argument("member secret key: the secret and public halves do not match");
  }
  return k;
}

MemberSecretKey::~MemberSecretKey() {
  sodium_memzero(sign_sk_.data(), sign_sk_.size());
  sodium_memzero(box_sk_.data(), box_sk_.size());
}

// ---------------- committee and key shares ----------------

unsigned flood_log2(unsigned threshold) {
  const unsigned t = std::max(1u, threshold);
  return 120 - static_cast<unsigned>(std::bit_width(t - 1));
}

Bytes Committee::serialize() const {
  detail::Writer w;
  w.u8(threshold);
  w.u8(static_cast<std::uint8_t>(members.size()));
  for (const auto& m : members) {
    write_fixed(w, m.sign);
    write_fixed(w, m.box);
  }
  write_fixed(w, public_key_hash);
  write_fixed(w, server_key_hash);
  write_fixed(w, squashing_key_hash);
  for (const auto& h : share_hashes) write_fixed(w, h);
  return detail::frame(kKindCommittee, *params, w.take());
}

Result<Committee> Committee::deserialize(ByteView bytes, std::size_t size_limit) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe_as(bytes, kKindCommittee, "committee", size_limit));
  detail::Reader r(un.payload);
  Committee c;
  c.params = un.params;
  std::uint8_t n = 0;
  VEIL_RETURN_IF_ERROR(r.u8(c.threshold));
  VEIL_RETURN_IF_ERROR(r.u8(n));
  if (n == 0 || n > kMaxMembers || c.threshold == 0 || c.threshold > n) {
    return invalid_argument("committee: threshold " + std::to_string(c.threshold) + " of " + std::to_string(n) +
                            " members is not 1 <= t <= n <= 15");
  }
  c.members.resize(n);
  for (auto& m : c.members) {
    VEIL_RETURN_IF_ERROR(r.raw(m.sign.data(), 32));
    VEIL_RETURN_IF_ERROR(r.raw(m.box.data(), 32));
  }
  VEIL_RETURN_IF_ERROR(r.raw(c.public_key_hash.data(), 32));
  VEIL_RETURN_IF_ERROR(r.raw(c.server_key_hash.data(), 32));
  VEIL_RETURN_IF_ERROR(r.raw(c.squashing_key_hash.data(), 32));
  c.share_hashes.resize(n);
  for (auto& h : c.share_hashes) VEIL_RETURN_IF_ERROR(r.raw(h.data(), 32));
  VEIL_RETURN_IF_ERROR(r.finish());
  return c;
}

Hash Committee::hash() const {
  const Bytes b = serialize();
  return sha256(b);
}

Bytes KeyShare::serialize() const {
  detail::Writer w;
  const Bytes c = committee.serialize();
  w.u64(c.size());
  w.raw(c.data(), c.size());
  w.u8(member);
  w.words(values);
  return detail::frame(kKindKeyShare, *committee.params, w.take());
}

Result<KeyShare> KeyShare::deserialize(ByteView bytes, std::size_t size_limit) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe_as(bytes, kKindKeyShare, "key share", size_limit));
  detail::Reader r(un.payload);
  std::uint64_t clen = 0;
  VEIL_RETURN_IF_ERROR(r.u64(clen));
  if (clen > un.payload.size()) return data_loss("key share: committee length beyond the payload");
  Bytes cbytes(clen);
  VEIL_RETURN_IF_ERROR(r.raw(cbytes.data(), cbytes.size()));
  KeyShare s;
  VEIL_ASSIGN_OR_RETURN(s.committee, Committee::deserialize(cbytes));
  if (s.committee.params != un.params) return invalid_argument("key share: committee of another parameter set");
  VEIL_RETURN_IF_ERROR(r.u8(s.member));
  if (s.member == 0 || s.member > s.committee.size()) return invalid_argument("key share: member id out of range");
  VEIL_RETURN_IF_ERROR(
      r.words(s.values, noise_squashing_for(*un.params).output_dimension() * 2 * gr::kDegree, "share values"));
  VEIL_RETURN_IF_ERROR(r.finish());
  if (share_hash(s.member, s.values) != s.committee.share_hashes[s.member - 1]) {
    return invalid_argument("key share: values do not match the committee's recorded hash for member " +
                            std::to_string(s.member));
  }
  return s;
}

void KeyShare::wipe() {
  if (!values.empty()) sodium_memzero(values.data(), values.size() * 8);
}

Result<Ceremony> deal(const ClientKey& key, unsigned threshold, const std::vector<MemberPublicKey>& members,
                      ByteView public_key, ByteView server_key) {
  const auto& sq = noise_squashing_for(key.params());
  core::Csprng secret(core::Csprng::os_seed());
  auto squash_key = core::GlweSecretKey128::generate(sq.glwe_dimension, sq.polynomial_size, secret);
  auto out = deal_with_squash_key(key, squash_key, threshold, members, public_key, server_key);
  squash_key.wipe();
  return out;
}

Result<Ceremony> deal_with_squash_key(const ClientKey& key, const core::GlweSecretKey128& squash_key, unsigned threshold,
                                      const std::vector<MemberPublicKey>& members, ByteView public_key,
                                      ByteView server_key) {
  const std::size_t n = members.size();
  if (n == 0 || n > kMaxMembers) return invalid_argument("a committee has 1 to 15 members, got " + std::to_string(n));
  if (threshold == 0 || threshold > n) {
    return invalid_argument("threshold must be between 1 and " + std::to_string(n) + ", got " + std::to_string(threshold));
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      if (members[i].sign == members[j].sign || members[i].box == members[j].box) {
        return invalid_argument("members " + std::to_string(i + 1) + " and " + std::to_string(j + 1) + " share a key");
      }
    }
  }
  const auto& ck = key.impl().key;
  if (squash_key.bits.size() != noise_squashing_for(key.params()).output_dimension()) {
    return invalid_argument("squashing key of the wrong dimension for these parameters");
  }
  const auto& bits = squash_key.bits;
  const std::size_t dim = bits.size();
  Ceremony out;
  {
    auto impl = std::make_shared<SquashingKeyImpl>();
    impl->key = core::NoiseSquashingKey::generate(key.params(), ck.small_key(), ck.big_key(), squash_key);
    out.squashing_key.impl_ = impl;
    impl->hash = sha256(out.squashing_key.serialize());
  }
  out.committee.params = &key.params();
  out.committee.threshold = static_cast<std::uint8_t>(threshold);
  out.committee.members = members;
  out.committee.public_key_hash = sha256(public_key);
  out.committee.server_key_hash = sha256(server_key);
  out.committee.squashing_key_hash = out.squashing_key.hash();
  out.shares.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.shares[i].member = static_cast<std::uint8_t>(i + 1);
    out.shares[i].values.assign(dim * 2 * gr::kDegree, 0);
  }
  std::vector<Elem> coeffs(threshold);  // f(Y) = s + r_1 Y + ... + r_{t-1} Y^{t-1}
  std::vector<Elem> points(n);
  for (std::size_t i = 0; i < n; ++i) points[i] = Elem::point(static_cast<unsigned>(i + 1));
  for (std::size_t j = 0; j < dim; ++j) {
    coeffs[0] = Elem::constant(bits[j]);
    if (threshold > 1) randombytes_buf(coeffs.data() + 1, (threshold - 1) * sizeof(Elem));
    for (std::size_t i = 0; i < n; ++i) {
      Elem y = coeffs[threshold - 1];
      for (std::size_t k = threshold - 1; k-- > 0;) y = y * points[i] + coeffs[k];
      std::uint64_t* dst = out.shares[i].values.data() + j * 2 * gr::kDegree;
      for (int c = 0; c < gr::kDegree; ++c) store128(dst + 2 * c, y.c[c]);
    }
  }
  sodium_memzero(coeffs.data(), coeffs.size() * sizeof(Elem));
  for (std::size_t i = 0; i < n; ++i) {
    out.committee.share_hashes.push_back(share_hash(static_cast<std::uint8_t>(i + 1), out.shares[i].values));
  }
  for (auto& s : out.shares) {
    s.committee = out.committee;
    s.squashing_key = out.squashing_key;
  }
  return out;
}

// ---------------- the squashing key ----------------

const Parameters* SquashingKey::params() const { return impl_ ? impl_->key.params : nullptr; }

Bytes SquashingKey::serialize() const {
  if (!impl_) return {};
  static_assert(std::endian::native == std::endian::little, "the 128-bit bodies are written in memory order");
  const auto& k = impl_->key;
  detail::Writer w;
  w.raw(k.seed.data(), k.seed.size());
  w.words(k.ksk_bodies);
  w.u64(k.bsk_bodies.size());
  w.raw(reinterpret_cast<const std::uint8_t*>(k.bsk_bodies.data()), k.bsk_bodies.size() * sizeof(u128));
  return detail::frame(kKindSquashingKey, *k.params, w.take());
}

Result<SquashingKey> SquashingKey::deserialize(ByteView bytes, std::size_t size_limit) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe_as(bytes, kKindSquashingKey, "squashing key", size_limit));
  const Parameters& p = *un.params;
  const auto& sq = noise_squashing_for(p);
  detail::Reader r(un.payload);
  core::Seed seed{};
  VEIL_RETURN_IF_ERROR(r.raw(seed.data(), seed.size()));
  std::vector<std::uint64_t> ksk;
  VEIL_RETURN_IF_ERROR(r.words(ksk, p.big_lwe_dimension() * p.ks_level, "key-switching bodies"));
  std::uint64_t count = 0;
  VEIL_RETURN_IF_ERROR(r.u64(count));
  const std::size_t want = p.lwe_dimension * (sq.glwe_dimension + 1) * sq.level * sq.polynomial_size;
  if (count != want) {
    return invalid_argument("squashing key: " + std::to_string(count) + " bootstrapping bodies, expected " +
                            std::to_string(want));
  }
  std::vector<u128> bsk(want);
  VEIL_RETURN_IF_ERROR(r.raw(reinterpret_cast<std::uint8_t*>(bsk.data()), want * sizeof(u128)));
  VEIL_RETURN_IF_ERROR(r.finish());
  auto impl = std::make_shared<SquashingKeyImpl>();
  impl->key = core::NoiseSquashingKey::expand(p, seed, std::move(ksk), std::move(bsk));
  impl->hash = sha256(bytes);
  SquashingKey out;
  out.impl_ = std::move(impl);
  return out;
}

Hash SquashingKey::hash() const { return impl_ ? impl_->hash : Hash{}; }

void wipe_client_key(const ClientKey& key) {
  // The key's impl was created mutable and is only exposed as const; zeroing it in place is
  // the point (every handle shares it).
  auto& k = const_cast<shortint::ClientKey&>(key.impl().key);
  auto wipe_words = [](const std::vector<core::Torus>& v) {
    auto& w = const_cast<std::vector<core::Torus>&>(v);
    if (!w.empty()) sodium_memzero(w.data(), w.size() * sizeof(core::Torus));
  };
  wipe_words(k.small_key().bits);
  wipe_words(k.big_key().bits);
  wipe_words(k.glwe_key().bits);
  auto& fft = const_cast<core::AlignedVector<double>&>(k.glwe_key().fft);
  if (!fft.empty()) sodium_memzero(fft.data(), fft.size() * sizeof(double));
}

// ---------------- values and requests ----------------

const char* value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kUint8: return "FheUint8";
    case ValueKind::kUint16: return "FheUint16";
    case ValueKind::kUint32: return "FheUint32";
    case ValueKind::kBool: return "FheBool";
  }
  return "unknown";
}

Hash EncryptedValue::hash() const { return sha256(serialized); }

namespace {
template <typename V>
EncryptedValue of_radix(const V& v, ValueKind kind) {
  EncryptedValue e;
  e.kind = kind;
  e.params = v.raw().params;
  e.serialized = v.serialize();
  for (const auto& b : v.raw().ct.blocks) {
    e.blocks.push_back(b.ct.data);
    e.bounds.push_back({b.degree, b.noise_level});
  }
  return e;
}
}  // namespace

EncryptedValue EncryptedValue::of(const FheBool& v) {
  EncryptedValue e;
  e.kind = ValueKind::kBool;
  e.params = v.raw().params;
  e.serialized = v.serialize();
  e.blocks.push_back(v.raw().ct.ct.data);
  e.bounds.push_back({v.raw().ct.degree, v.raw().ct.noise_level});
  return e;
}
EncryptedValue EncryptedValue::of(const FheUint8& v) { return of_radix(v, ValueKind::kUint8); }
EncryptedValue EncryptedValue::of(const FheUint16& v) { return of_radix(v, ValueKind::kUint16); }
EncryptedValue EncryptedValue::of(const FheUint32& v) { return of_radix(v, ValueKind::kUint32); }

Result<EncryptedValue> EncryptedValue::parse(ByteView bytes, const DeserializeOptions& options) {
  const int kind = bytes.size() > 6 ? bytes[6] : 0;
  auto wrap = [&](auto r) -> Result<EncryptedValue> {
    if (!r.ok()) return r.status();
    return of(r.value());
  };
  switch (kind) {
    case 5: return wrap(FheUint8::deserialize(bytes, options));
    case 6: return wrap(FheUint16::deserialize(bytes, options));
    case 7: return wrap(FheUint32::deserialize(bytes, options));
    case 8: return wrap(FheBool::deserialize(bytes, options));
    default: return invalid_argument("not an encrypted FheBool/FheUint8/16/32 value");
  }
}

DecryptionRequest DecryptionRequest::for_value(const EncryptedValue& value, std::string purpose, std::string requester) {
  DecryptionRequest r;
  r.params = value.params;
  r.ciphertext_hash = value.hash();
  r.kind = value.kind;
  r.purpose = std::move(purpose);
  r.requester = std::move(requester);
  if (r.purpose.size() > kMaxText) r.purpose.resize(kMaxText);
  if (r.requester.size() > kMaxText) r.requester.resize(kMaxText);
  randombytes_buf(r.nonce.data(), r.nonce.size());
  return r;
}

Bytes DecryptionRequest::serialize() const {
  detail::Writer w;
  write_fixed(w, ciphertext_hash);
  w.u8(static_cast<std::uint8_t>(kind));
  write_text(w, purpose);
  write_text(w, requester);
  write_fixed(w, nonce);
  return detail::frame(kKindRequest, *params, w.take());
}

Result<DecryptionRequest> DecryptionRequest::deserialize(ByteView bytes, std::size_t size_limit) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe_as(bytes, kKindRequest, "decryption request", size_limit));
  detail::Reader r(un.payload);
  DecryptionRequest q;
  q.params = un.params;
  VEIL_RETURN_IF_ERROR(r.raw(q.ciphertext_hash.data(), 32));
  std::uint8_t kind = 0;
  VEIL_RETURN_IF_ERROR(r.u8(kind));
  if (!valid_kind(kind)) return invalid_argument("decryption request: unknown value kind " + std::to_string(kind));
  q.kind = static_cast<ValueKind>(kind);
  VEIL_RETURN_IF_ERROR(read_text(r, q.purpose, "purpose"));
  VEIL_RETURN_IF_ERROR(read_text(r, q.requester, "requester"));
  VEIL_RETURN_IF_ERROR(r.raw(q.nonce.data(), q.nonce.size()));
  VEIL_RETURN_IF_ERROR(r.finish());
  return q;
}

Hash DecryptionRequest::hash() const { return sha256(serialize()); }

// ---------------- decryption shares ----------------

namespace {
void write_share_body(detail::Writer& w, const DecryptionShare& s) {
  w.u8(s.member);
  write_fixed(w, s.request_hash);
  w.u8(static_cast<std::uint8_t>(s.kind));
  w.u32(s.blocks);
  w.u32(static_cast<std::uint32_t>(s.subsets.size()));
  for (std::uint16_t m : s.subsets) {
    w.u8(static_cast<std::uint8_t>(m & 0xff));
    w.u8(static_cast<std::uint8_t>(m >> 8));
  }
  w.words(s.partials);
}
}  // namespace

Bytes DecryptionShare::signed_bytes() const {
  detail::Writer w;
  // v3: squashed blocks pack two 2-bit blocks each (a FheUint16 share holds 4 blocks, not 8),
  // so a v2 signature must not verify over a v3 share (issue 17).
  static constexpr char kTag[] = "veil-decryption-share-v3";
  w.raw(reinterpret_cast<const std::uint8_t*>(kTag), sizeof kTag - 1);
  w.u8(params->id);
  write_share_body(w, *this);
  return w.take();
}

Bytes DecryptionShare::serialize() const {
  detail::Writer w;
  write_share_body(w, *this);
  write_fixed(w, signature);
  return detail::frame(kKindShare, *params, w.take());
}

Result<DecryptionShare> DecryptionShare::deserialize(ByteView bytes, std::size_t size_limit) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe_as(bytes, kKindShare, "decryption share", size_limit));
  detail::Reader r(un.payload);
  DecryptionShare s;
  s.params = un.params;
  VEIL_RETURN_IF_ERROR(r.u8(s.member));
  VEIL_RETURN_IF_ERROR(r.raw(s.request_hash.data(), 32));
  std::uint8_t kind = 0;
  VEIL_RETURN_IF_ERROR(r.u8(kind));
  if (!valid_kind(kind)) return invalid_argument("decryption share: unknown value kind " + std::to_string(kind));
  s.kind = static_cast<ValueKind>(kind);
  VEIL_RETURN_IF_ERROR(r.u32(s.blocks));
  if (s.blocks != squashed_block_count(s.kind, *s.params)) return invalid_argument("decryption share: block count does not match the kind");
  std::uint32_t count = 0;
  VEIL_RETURN_IF_ERROR(r.u32(count));
  if (count == 0 || count > 3432) return invalid_argument("decryption share: " + std::to_string(count) + " subsets (1..3432)");
  s.subsets.resize(count);
  for (auto& m : s.subsets) {
    std::uint8_t lo = 0, hi = 0;
    VEIL_RETURN_IF_ERROR(r.u8(lo));
    VEIL_RETURN_IF_ERROR(r.u8(hi));
    m = static_cast<std::uint16_t>(lo | (hi << 8));
  }
  VEIL_RETURN_IF_ERROR(r.words(s.partials, std::size_t{count} * s.blocks * 2, "partials"));
  VEIL_RETURN_IF_ERROR(r.raw(s.signature.data(), s.signature.size()));
  VEIL_RETURN_IF_ERROR(r.finish());
  return s;
}

namespace {
Status check_squashing_key(const KeyShare& share) {
  if (share.squashing_key.empty()) {
    return failed_precondition("the key share has no squashing key attached (load the ceremony's squash.key)");
  }
  if (share.squashing_key.hash() != share.committee.squashing_key_hash) {
    return invalid_argument("the attached squashing key is not the committee's");
  }
  return Status::ok_status();
}
}  // namespace

Result<DecryptionShare> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                        const DecryptionRequest& request, const EncryptedValue& value) {
  VEIL_RETURN_IF_ERROR(check_squashing_key(share));
  VEIL_ASSIGN_OR_RETURN(auto squashed, squash(share.squashing_key, value));
  return partial_decrypt(share, member_key, request, squashed);
}

Result<std::vector<DecryptionShare>> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                                     const std::vector<DecryptionRequest>& requests,
                                                     const std::vector<EncryptedValue>& values) {
  if (requests.size() != values.size()) return invalid_argument("one request per value is needed");
  VEIL_RETURN_IF_ERROR(check_squashing_key(share));
  VEIL_ASSIGN_OR_RETURN(auto squashed, squash(share.squashing_key, values));
  std::vector<DecryptionShare> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    VEIL_ASSIGN_OR_RETURN(auto s, partial_decrypt(share, member_key, requests[i], squashed[i]));
    out.push_back(std::move(s));
  }
  return out;
}

Result<DecryptionShare> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                        const DecryptionRequest& request, const SquashedValue& value) {
  const Committee& com = share.committee;
  const Parameters& params = *com.params;
  if (value.params == nullptr || value.params->id != params.id || request.params == nullptr || request.params->id != params.id) {
    return invalid_argument("the ciphertext, the request and the key share use different parameter sets");
  }
  if (value.squashing_key_hash != com.squashing_key_hash) {
    return invalid_argument("the value was squashed with another squashing key than the committee's");
  }
  if (request.ciphertext_hash != value.value_hash) return invalid_argument("the request names another ciphertext");
  if (request.kind != value.kind) return invalid_argument("the request names another value kind");
  const unsigned i = share.member, t = com.threshold, n = static_cast<unsigned>(com.size());
  if (i == 0 || i > n || !(member_key.public_key() == com.members[i - 1])) {
    return invalid_argument("this member key does not belong to the key share's member");
  }
  const std::size_t dim = noise_squashing_for(params).output_dimension();
  if (share.values.size() != dim * 2 * gr::kDegree) return invalid_argument("key share has the wrong size");
  const std::size_t blocks = squashed_block_count(value.kind, params);
  if (value.blocks.size() != blocks) return invalid_argument("the value has the wrong number of squashed blocks");
  for (const auto& b : value.blocks) {
    if (b.size() != (dim + 1) * 2) return invalid_argument("a block is not a squashed ciphertext");
  }

  // g = b - <a, share> in GR(2^128, 4), on the squashed block (modulus 2^128).
  std::vector<Elem> g(blocks);
  for (std::size_t k = 0; k < blocks; ++k) {
    const auto& ct = value.blocks[k];
    Elem acc;
    for (std::size_t j = 0; j < dim; ++j) {
      const u128 a = load128(ct.data() + 2 * j);
      const std::uint64_t* sh = share.values.data() + j * 2 * gr::kDegree;
      for (int c = 0; c < gr::kDegree; ++c) acc.c[c] += a * load128(sh + 2 * c);
    }
    g[k] = Elem::constant(load128(ct.data() + 2 * dim)) - acc;
  }

  std::vector<std::array<std::uint8_t, 32>> keys(n + 1);
  for (unsigned j = 1; j <= n; ++j) {
    if (j == i) continue;
    VEIL_ASSIGN_OR_RETURN(keys[j], pair_key(member_key, i, com.members[j - 1], j));
  }
  const Hash rh = request.hash();
  const unsigned b = flood_log2(t);
  auto fkey = flood_key(member_key);

  DecryptionShare out;
  out.params = &params;
  out.member = static_cast<std::uint8_t>(i);
  out.request_hash = rh;
  out.kind = value.kind;
  out.blocks = static_cast<std::uint32_t>(blocks);
  out.subsets = subsets_with(i, t, n);
  out.partials.resize(out.subsets.size() * blocks * 2);
  for (std::size_t si = 0; si < out.subsets.size(); ++si) {
    const std::uint16_t mask = out.subsets[si];
    const Elem lambda = gr::lagrange_at_zero(i, mask);
    for (std::size_t k = 0; k < blocks; ++k) {
      u128 y = (lambda * g[k]).c[0];
      for (unsigned j = 1; j <= n; ++j) {
        if (j == i || !(mask & (1u << (j - 1)))) continue;
        const u128 m = pair_mask(keys[j], rh, mask, static_cast<std::uint32_t>(k));
        y = i < j ? y + m : y - m;
      }
      y += flood_noise(fkey, rh, mask, static_cast<std::uint32_t>(k), b);
      store128(out.partials.data() + (si * blocks + k) * 2, y);
    }
  }
  for (auto& k : keys) sodium_memzero(k.data(), k.size());
  sodium_memzero(fkey.data(), fkey.size());
  sodium_memzero(g.data(), g.size() * sizeof(Elem));
  const Bytes msg = out.signed_bytes();
  crypto_sign_detached(out.signature.data(), nullptr, msg.data(), msg.size(), member_key.sign_secret().data());
  return out;
}

// ---------------- combination ----------------

Result<CombineResult> combine(const Committee& committee, const DecryptionRequest& request,
                              const std::vector<DecryptionShare>& shares) {
  if (request.params == nullptr || request.params->id != committee.params->id) {
    return invalid_argument("the request and the committee use different parameter sets");
  }
  return combine(committee, request.hash(), request.kind, shares);
}

Result<CombineResult> combine(const Committee& committee, const Hash& rh, ValueKind kind,
                              const std::vector<DecryptionShare>& shares) {
  const Parameters& params = *committee.params;
  const unsigned t = committee.threshold, n = static_cast<unsigned>(committee.size());
  const std::size_t blocks = squashed_block_count(kind, params);
  struct {
    ValueKind kind;
  } request{kind};
  CombineResult result;
  auto name = [&](unsigned member, std::string why) {
    for (const auto& w : result.wrong) {
      if (w.member == member) return;
    }
    result.wrong.push_back({static_cast<std::uint8_t>(member), std::move(why)});
  };

  // 1. Shares that cannot be right on their own: unknown member, bad signature, other request.
  std::vector<const DecryptionShare*> valid(n + 1, nullptr);
  std::vector<bool> equivocated(n + 1, false);
  for (const auto& s : shares) {
    if (s.member == 0 || s.member > n) {
      name(s.member, "no such member in the committee");
      continue;
    }
    if (s.params == nullptr || s.params->id != params.id) {
      name(s.member, "share made with another parameter set");
      continue;
    }
    const Bytes msg = s.signed_bytes();
    if (crypto_sign_verify_detached(s.signature.data(), msg.data(), msg.size(), committee.members[s.member - 1].sign.data()) != 0) {
      name(s.member, "signature does not verify with the member's Ed25519 key (forged or corrupted)");
      continue;
    }
    if (s.request_hash != rh) {
      name(s.member, "signed share answers another request");
      continue;
    }
    if (s.kind != request.kind || s.blocks != blocks || s.subsets != subsets_with(s.member, t, n) ||
        s.partials.size() != s.subsets.size() * blocks * 2) {
      name(s.member, "signed share has the wrong shape for this committee");
      continue;
    }
    if (valid[s.member] != nullptr && valid[s.member]->partials != s.partials) equivocated[s.member] = true;
    valid[s.member] = &s;
  }
  unsigned present = 0;
  for (unsigned m = 1; m <= n; ++m) {
    if (equivocated[m]) {
      name(m, "signed two different shares for the same request");
      valid[m] = nullptr;
    }
    if (valid[m] != nullptr) present |= 1u << (m - 1);
  }
  if (std::popcount(present) < static_cast<int>(t)) {
    std::string msg = std::to_string(std::popcount(present)) + " valid shares, " + std::to_string(t) + " needed";
    for (const auto& w : result.wrong) msg += "; member " + std::to_string(w.member) + ": " + w.reason;
    return failed_precondition(msg);
  }

  // 2. Decode every t-subset of the valid members on its own.
  std::vector<std::unordered_map<std::uint16_t, std::size_t>> index(n + 1);
  for (unsigned m = 1; m <= n; ++m) {
    if (valid[m] == nullptr) continue;
    for (std::size_t si = 0; si < valid[m]->subsets.size(); ++si) index[m][valid[m]->subsets[si]] = si;
  }
  const int shift = std::countr_zero(params.delta()) + 64;  // log2 of Delta at 2^128
  const u128 delta = static_cast<u128>(1) << shift;
  // Honest residual: squashed noise (~2^65, far below the Delta / 16 = 2^119 allowed here) plus
  // t floods (docs/fhe-threshold.md).
  const u128 bound = (delta >> 4) + static_cast<u128>(t) * (static_cast<u128>(1) << flood_log2(t));
  std::vector<std::vector<std::uint64_t>> labels;  // distinct decoded block vectors
  std::unordered_map<std::uint16_t, int> label_of;  // subset -> label index, -1 when out of bound
  std::unordered_map<std::uint16_t, u128> noise_of;
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if ((mask & present) != mask || std::popcount(mask) != static_cast<int>(t)) continue;
    std::vector<std::uint64_t> decoded(blocks);
    bool in_bound = true;
    u128 worst = 0;
    for (std::size_t k = 0; k < blocks; ++k) {
      u128 v = 0;
      for (unsigned m = 1; m <= n; ++m) {
        if (!(mask & (1u << (m - 1)))) continue;
        v += load128(valid[m]->partials.data() + (index[m].at(static_cast<std::uint16_t>(mask)) * blocks + k) * 2);
      }
      const u128 rounded = (v + delta / 2) >> shift;
      decoded[k] = static_cast<std::uint64_t>(rounded % params.plaintext_modulus());
      const u128 residual = v - (rounded << shift);
      const u128 mag = (residual >> 127) ? -residual : residual;
      worst = std::max(worst, mag);
      if (mag > bound) in_bound = false;
    }
    noise_of[static_cast<std::uint16_t>(mask)] = worst;
    if (!in_bound) {
      label_of[static_cast<std::uint16_t>(mask)] = -1;
      continue;
    }
    auto it = std::find(labels.begin(), labels.end(), decoded);
    label_of[static_cast<std::uint16_t>(mask)] = static_cast<int>(it - labels.begin());
    if (it == labels.end()) labels.push_back(std::move(decoded));
  }

  // 3. The largest member set all of whose t-subsets agree (and are in bound) wins.
  auto consistent = [&](unsigned set) -> int {
    int label = -2;
    for (unsigned sub = set; sub != 0; sub = (sub - 1) & set) {
      if (std::popcount(sub) != static_cast<int>(t)) continue;
      const int l = label_of.at(static_cast<std::uint16_t>(sub));
      if (l < 0 || (label != -2 && l != label)) return -1;
      label = l;
    }
    return label;
  };
  for (int size = std::popcount(present); size >= static_cast<int>(t); --size) {
    std::vector<std::pair<unsigned, int>> winners;
    for (unsigned set = present;; set = (set - 1) & present) {
      if (std::popcount(set) == size) {
        const int l = consistent(set);
        if (l >= 0) winners.emplace_back(set, l);
      }
      if (set == 0) break;
    }
    if (winners.empty()) continue;
    if (winners.size() > 1) {
      unsigned suspects = 0;
      for (const auto& w : winners) suspects |= present & ~w.first;
      std::string msg = "the shares disagree and cannot be attributed with " + std::to_string(std::popcount(present)) +
                        " shares (a deliberately wrong share is named only when at least t + 2 x (wrong shares) arrive); "
                        "suspect members:";
      for (unsigned m = 1; m <= n; ++m) {
        if (suspects & (1u << (m - 1))) msg += " " + std::to_string(m);
      }
      for (const auto& w : result.wrong) msg += "; member " + std::to_string(w.member) + ": " + w.reason;
      return failed_precondition(msg);
    }
    const auto [set, label] = winners.front();
    const auto& decoded = labels[static_cast<std::size_t>(label)];
    // Squashed block k holds the messages of up to `group` blocks, M^group values in all.
    const std::size_t group = std::min(squash_group(params), block_count(kind, params));
    const unsigned bits_per_block = static_cast<unsigned>(std::countr_zero(params.message_modulus)) * group;
    for (std::size_t k = 0; k < blocks; ++k) {
      result.value |= (decoded[k] & ((std::uint64_t{1} << bits_per_block) - 1)) << (k * bits_per_block);
    }
    u128 worst = 0;
    for (unsigned sub = set; sub != 0; sub = (sub - 1) & set) {
      if (std::popcount(sub) == static_cast<int>(t)) worst = std::max(worst, noise_of.at(static_cast<std::uint16_t>(sub)));
    }
    result.max_noise_log2 = worst == 0 ? -64.0 : std::log2(static_cast<double>(worst)) - 64.0;
    for (unsigned m = 1; m <= n; ++m) {
      if (set & (1u << (m - 1))) {
        result.used.push_back(static_cast<std::uint8_t>(m));
      } else if (present & (1u << (m - 1))) {
        name(m, "partial decryption disagrees with the " + std::to_string(size) + " members that agree");
      }
    }
    return result;
  }
  std::string msg = "no t valid shares decode consistently";
  for (const auto& w : result.wrong) msg += "; member " + std::to_string(w.member) + ": " + w.reason;
  return failed_precondition(msg);
}

}  // namespace veil::fhe::threshold
