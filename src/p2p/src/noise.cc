#include "veil/p2p/noise.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "veil/p2p/protobuf.h"

namespace veil::p2p::noise {
namespace {

constexpr std::string_view kNoiseName = "Noise_XX_25519_ChaChaPoly_SHA256";  // exactly 32 bytes
using Key = std::array<std::uint8_t, 32>;

Key hmac(ByteView key, ByteView data1, ByteView data2 = {}) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, data1.data(), data1.size());
  if (!data2.empty()) crypto_auth_hmacsha256_update(&st, data2.data(), data2.size());
  Key out{};
  crypto_auth_hmacsha256_final(&st, out.data());
  return out;
}

// Noise HKDF with two outputs.
std::pair<Key, Key> hkdf2(const Key& ck, ByteView ikm) {
  Key temp = hmac(ck, ikm);
  const std::uint8_t one = 1, two = 2;
  Key o1 = hmac(temp, ByteView(&one, 1));
  Key o2 = hmac(temp, o1, ByteView(&two, 1));
  secure_wipe(temp.data(), temp.size());
  return {o1, o2};
}

// Frames are appended as uint16 BE length || body.
void append_frame(Bytes* out, ByteView body) {
  out->push_back(static_cast<std::uint8_t>(body.size() >> 8));
  out->push_back(static_cast<std::uint8_t>(body.size()));
  out->insert(out->end(), body.begin(), body.end());
}

// Takes one complete frame body off the front of *buf (via *pos), if present.
std::optional<ByteView> next_frame(const Bytes& buf, std::size_t* pos) {
  if (buf.size() - *pos < 2) return std::nullopt;
  std::size_t len = (static_cast<std::size_t>(buf[*pos]) << 8) | buf[*pos + 1];
  if (buf.size() - *pos - 2 < len) return std::nullopt;
  ByteView body(buf.data() + *pos + 2, len);
  *pos += 2 + len;
  return body;
}

}  // namespace

Bytes encode_payload(const HandshakePayload& payload) {
  pb::Writer w;
  if (!payload.identity_key.empty()) w.bytes(1, payload.identity_key);
  if (!payload.identity_sig.empty()) w.bytes(2, payload.identity_sig);
  if (!payload.stream_muxers.empty()) {
    pb::Writer ext;
    for (const auto& m : payload.stream_muxers) ext.string(2, m);
    w.bytes(4, ext.data());
  }
  return w.take();
}

Result<HandshakePayload> decode_payload(ByteView bytes) {
  HandshakePayload out;
  Status st = pb::for_each_bytes_field(bytes, [&out](std::uint32_t number, ByteView payload) -> Status {
    if (number == 1) out.identity_key.assign(payload.begin(), payload.end());
    if (number == 2) out.identity_sig.assign(payload.begin(), payload.end());
    if (number != 4) return {};
    return pb::for_each_bytes_field(payload, [&out](std::uint32_t ext_number, ByteView ext) -> Status {
      if (ext_number == 2) out.stream_muxers.push_back(to_string(ext));
      if (out.stream_muxers.size() > 16) return invalid_argument("noise payload: too many stream muxers");
      return {};
    });
  });
  if (!st.ok()) return st;
  return out;
}

Result<PeerId> verify_payload(const HandshakePayload& payload, ByteView remote_static) {
  auto key = PublicKey::decode(payload.identity_key);
  if (!key.ok()) return permission_denied("noise: remote identity key: " + key.status().message());
  Bytes signed_data(kSignaturePrefix.begin(), kSignaturePrefix.end());
  signed_data.insert(signed_data.end(), remote_static.begin(), remote_static.end());
  if (!key->verify(signed_data, payload.identity_sig)) {
    return permission_denied("noise: remote's signature over its static key is invalid");
  }
  return PeerId::from_public_key(*key);
}

CipherState::CipherState() = default;
CipherState::CipherState(const std::array<std::uint8_t, 32>& key) : key_(key), has_key_(true) {}
CipherState::~CipherState() { secure_wipe(key_.data(), key_.size()); }
CipherState::CipherState(const CipherState& other) : key_(other.key_), nonce_(other.nonce_), has_key_(other.has_key_) {}
CipherState& CipherState::operator=(const CipherState& other) {
  if (this != &other) {
    key_ = other.key_;
    nonce_ = other.nonce_;
    has_key_ = other.has_key_;
    ctx_mode_ = -1;  // the context holds the old key schedule
  }
  return *this;
}

void CipherState::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const { EVP_CIPHER_CTX_free(ctx); }

// A context keyed for this message's nonce. The cipher is only (re)selected when the
// direction changes; later messages just reset key and IV, which is cheap.
evp_cipher_ctx_st* CipherState::context(bool encrypt) {
  if (!ctx_) {
    ctx_.reset(EVP_CIPHER_CTX_new());
    if (!ctx_) throw std::bad_alloc();
    ctx_mode_ = -1;
  }
  std::uint8_t nonce[12] = {};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(nonce_ >> (8 * i));
  int mode = encrypt ? 1 : 0;
  const EVP_CIPHER* cipher = ctx_mode_ == mode ? nullptr : EVP_chacha20_poly1305();
  if (EVP_CipherInit_ex(ctx_.get(), cipher, nullptr, key_.data(), nonce, mode) != 1) std::abort();
  ctx_mode_ = mode;
  return ctx_.get();
}

void CipherState::encrypt_to(ByteView ad, ByteView plaintext, std::uint8_t* out) {
  if (!has_key_) {
    if (!plaintext.empty() && out != plaintext.data()) std::memmove(out, plaintext.data(), plaintext.size());
    return;
  }
  EVP_CIPHER_CTX* ctx = context(true);
  int len = 0;
  bool ok = ad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
  ok = ok && EVP_EncryptUpdate(ctx, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1;
  ok = ok && EVP_EncryptFinal_ex(ctx, out + len, &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), out + plaintext.size()) == 1;
  if (!ok) std::abort();  // only on misuse or allocation failure inside OpenSSL
  ++nonce_;
}

Status CipherState::decrypt_to(ByteView ad, ByteView ciphertext, std::uint8_t* out) {
  if (!has_key_) {
    if (!ciphertext.empty() && out != ciphertext.data()) std::memmove(out, ciphertext.data(), ciphertext.size());
    return {};
  }
  if (ciphertext.size() < kTagSize) return data_loss("noise: ciphertext shorter than its tag");
  std::size_t n = ciphertext.size() - kTagSize;
  // The tag is copied out first: an in-place decryption may overwrite nothing past n, but
  // OpenSSL wants a mutable pointer.
  std::uint8_t tag[kTagSize];
  std::memcpy(tag, ciphertext.data() + n, kTagSize);
  EVP_CIPHER_CTX* ctx = context(false);
  int len = 0;
  bool ok = ad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
  ok = ok && EVP_DecryptUpdate(ctx, out, &len, ciphertext.data(), static_cast<int>(n)) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, out + len, &len) == 1;
  if (!ok) return data_loss("noise: message failed authentication");
  ++nonce_;
  return {};
}

void CipherState::begin_message(ByteView ad) {
  EVP_CIPHER_CTX* ctx = context(true);
  int len = 0;
  if (!ad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1) std::abort();
}

void CipherState::encrypt_piece(ByteView plaintext, std::uint8_t* out) {
  int len = 0;
  if (EVP_EncryptUpdate(ctx_.get(), out, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      static_cast<std::size_t>(len) != plaintext.size()) {
    std::abort();  // ChaCha20 is a stream cipher: OpenSSL writes every byte at once
  }
}

void CipherState::end_message(std::uint8_t* tag) {
  int len = 0;
  std::uint8_t none[1];
  bool ok = EVP_EncryptFinal_ex(ctx_.get(), none, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
  if (!ok) std::abort();
  ++nonce_;
}

void CipherState::encrypt(ByteView ad, ByteView plaintext, Bytes* out) {
  std::size_t at = out->size();
  out->resize(at + plaintext.size() + (has_key_ ? kTagSize : 0));
  encrypt_to(ad, plaintext, out->data() + at);
}

Status CipherState::decrypt(ByteView ad, ByteView ciphertext, Bytes* out) {
  if (has_key_ && ciphertext.size() < kTagSize) return data_loss("noise: ciphertext shorter than its tag");
  std::size_t at = out->size();
  out->resize(at + ciphertext.size() - (has_key_ ? kTagSize : 0));
  Status st = decrypt_to(ad, ciphertext, out->data() + at);
  if (!st.ok()) out->resize(at);
  return st;
}

Session::Session(CipherState send, CipherState recv, PeerId remote, Bytes leftover)
    : send_(std::move(send)), recv_(std::move(recv)), remote_(std::move(remote)), inbox_(std::move(leftover)) {}

void Session::seal_to(ByteView plaintext, std::uint8_t* out) {
  std::size_t pos = 0;
  do {
    std::size_t n = std::min(kMaxPlaintext, plaintext.size() - pos);
    std::size_t len = n + kTagSize;
    out[0] = static_cast<std::uint8_t>(len >> 8);
    out[1] = static_cast<std::uint8_t>(len);
    send_.encrypt_to({}, plaintext.subspan(pos, n), out + 2);
    out += 2 + len;
    pos += n;
  } while (pos < plaintext.size());
}

void Session::seal_to(std::span<const ByteView> parts, std::uint8_t* out) {
  if (parts.size() == 1 || !send_.has_key()) {
    // One part, or no key (tests only): the plain form.
    Bytes joined;
    if (parts.size() != 1) for (ByteView p : parts) joined.insert(joined.end(), p.begin(), p.end());
    seal_to(parts.size() == 1 ? parts[0] : ByteView(joined), out);
    return;
  }
  std::size_t total = 0;
  for (ByteView p : parts) total += p.size();
  std::size_t part = 0, offset = 0;  // read position in parts
  std::size_t done = 0;
  do {
    std::size_t n = std::min(kMaxPlaintext, total - done);
    std::size_t len = n + kTagSize;
    out[0] = static_cast<std::uint8_t>(len >> 8);
    out[1] = static_cast<std::uint8_t>(len);
    std::uint8_t* body = out + 2;
    send_.begin_message({});
    for (std::size_t left = n; left > 0;) {
      while (offset == parts[part].size()) {
        ++part;
        offset = 0;
      }
      std::size_t k = std::min(left, parts[part].size() - offset);
      send_.encrypt_piece(parts[part].subspan(offset, k), body);
      body += k;
      offset += k;
      left -= k;
    }
    send_.end_message(body);
    out += 2 + len;
    done += n;
  } while (done < total);
}

void Session::seal(ByteView plaintext, Bytes* out) {
  std::size_t at = out->size();
  out->resize(at + sealed_size(plaintext.size()));
  seal_to(plaintext, out->data() + at);
}

Status Session::open(ByteView received, Bytes* plaintext) {
  inbox_.insert(inbox_.end(), received.begin(), received.end());
  std::size_t pos = 0;
  while (auto frame = next_frame(inbox_, &pos)) {
    VEIL_RETURN_IF_ERROR(recv_.decrypt({}, *frame, plaintext));
  }
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(pos));
  return {};
}

Result<std::size_t> Session::open_in_place(std::span<std::uint8_t> buffer,
                                           const std::function<Status(ByteView)>& on_plaintext) {
  std::size_t pos = 0;
  while (buffer.size() - pos >= 2) {
    std::size_t len = (static_cast<std::size_t>(buffer[pos]) << 8) | buffer[pos + 1];
    if (buffer.size() - pos - 2 < len) break;
    std::uint8_t* body = buffer.data() + pos + 2;
    VEIL_RETURN_IF_ERROR(recv_.decrypt_to({}, ByteView(body, len), body));
    pos += 2 + len;
    std::size_t plain = len - (recv_.has_key() ? kTagSize : 0);
    if (plain > 0) VEIL_RETURN_IF_ERROR(on_plaintext(ByteView(body, plain)));
  }
  return pos;
}

Handshake::Handshake(const KeyPair& identity, Role role, std::optional<PeerId> expected_remote)
    : identity_(identity), role_(role), expected_(std::move(expected_remote)) {
  if (sodium_init() < 0) std::abort();
  std::memcpy(h_.data(), kNoiseName.data(), 32);
  ck_ = h_;
  mix_hash({});  // empty prologue
  crypto_box_keypair(s_pub_.data(), s_sec_.data());  // X25519 static key, fresh per connection
}

Handshake::~Handshake() {
  secure_wipe(s_sec_.data(), 32);
  secure_wipe(e_sec_.data(), 32);
  secure_wipe(ck_.data(), 32);
}

void Handshake::mix_hash(ByteView data) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, h_.data(), h_.size());
  crypto_hash_sha256_update(&st, data.data(), data.size());
  crypto_hash_sha256_final(&st, h_.data());
}

void Handshake::mix_key(ByteView ikm) {
  auto [ck, k] = hkdf2(ck_, ikm);
  ck_ = ck;
  cipher_ = CipherState(k);
  secure_wipe(k.data(), k.size());
}

Status Handshake::dh(const Key& secret, const Key& pub) {
  Key shared{};
  if (crypto_scalarmult(shared.data(), secret.data(), pub.data()) != 0) {
    return permission_denied("noise: remote sent a low-order X25519 key");
  }
  mix_key(shared);
  secure_wipe(shared.data(), shared.size());
  return {};
}

Bytes Handshake::our_payload() const {
  if (payload_override_) return *payload_override_;
  HandshakePayload p;
  p.identity_key = identity_.public_key().encode();
  Bytes signed_data(kSignaturePrefix.begin(), kSignaturePrefix.end());
  signed_data.insert(signed_data.end(), s_pub_.begin(), s_pub_.end());
  p.identity_sig = identity_.sign(signed_data);
  return encode_payload(p);
}

Status Handshake::accept_payload(ByteView payload) {
  auto decoded = decode_payload(payload);
  if (!decoded.ok()) return permission_denied("noise: bad handshake payload: " + decoded.status().message());
  VEIL_ASSIGN_OR_RETURN(PeerId id, verify_payload(*decoded, rs_));
  if (expected_ && id != *expected_) {
    return permission_denied("noise: dialled " + expected_->to_base58() + " but the remote is " + id.to_base58());
  }
  remote_id_ = id;
  return {};
}

// Writes the next handshake message (message index step_) into *out as a frame.
void Handshake::write_message(ByteView payload, Bytes* out) {
  Bytes msg;
  auto encrypt_and_hash = [&](ByteView plain) {
    std::size_t at = msg.size();
    cipher_.encrypt(h_, plain, &msg);
    mix_hash(ByteView(msg).subspan(at));
  };
  if (step_ == 0) {  // -> e
    crypto_box_keypair(e_pub_.data(), e_sec_.data());
    msg.insert(msg.end(), e_pub_.begin(), e_pub_.end());
    mix_hash(e_pub_);
    encrypt_and_hash(payload);
  } else if (step_ == 1) {  // <- e, ee, s, es
    crypto_box_keypair(e_pub_.data(), e_sec_.data());
    msg.insert(msg.end(), e_pub_.begin(), e_pub_.end());
    mix_hash(e_pub_);
    (void)dh(e_sec_, re_);  // re_ was validated when read
    encrypt_and_hash(s_pub_);
    (void)dh(s_sec_, re_);
    encrypt_and_hash(payload);
  } else {  // -> s, se
    encrypt_and_hash(s_pub_);
    (void)dh(s_sec_, re_);
    encrypt_and_hash(payload);
  }
  append_frame(out, msg);
  ++step_;
}

Status Handshake::read_message(ByteView msg, Bytes* payload) {
  std::size_t pos = 0;
  auto take = [&](std::size_t n) -> Result<ByteView> {
    if (msg.size() - pos < n) return data_loss("noise: handshake message too short");
    ByteView v = msg.subspan(pos, n);
    pos += n;
    return v;
  };
  auto decrypt_and_hash = [&](std::size_t plain_len, Bytes* out) -> Status {
    std::size_t n = plain_len == SIZE_MAX ? msg.size() - pos : plain_len + (cipher_.has_key() ? kTagSize : 0);
    VEIL_ASSIGN_OR_RETURN(ByteView c, take(n));
    VEIL_RETURN_IF_ERROR(cipher_.decrypt(h_, c, out));
    mix_hash(c);
    return {};
  };
  if (step_ == 0) {  // responder reads -> e
    VEIL_ASSIGN_OR_RETURN(ByteView e, take(32));
    std::memcpy(re_.data(), e.data(), 32);
    mix_hash(re_);
    return decrypt_and_hash(SIZE_MAX, payload);
  }
  if (step_ == 1) {  // initiator reads <- e, ee, s, es
    VEIL_ASSIGN_OR_RETURN(ByteView e, take(32));
    std::memcpy(re_.data(), e.data(), 32);
    mix_hash(re_);
    VEIL_RETURN_IF_ERROR(dh(e_sec_, re_));
    Bytes s;
    VEIL_RETURN_IF_ERROR(decrypt_and_hash(32, &s));
    std::memcpy(rs_.data(), s.data(), 32);
    VEIL_RETURN_IF_ERROR(dh(e_sec_, rs_));
    return decrypt_and_hash(SIZE_MAX, payload);
  }
  // responder reads -> s, se
  Bytes s;
  VEIL_RETURN_IF_ERROR(decrypt_and_hash(32, &s));
  std::memcpy(rs_.data(), s.data(), 32);
  VEIL_RETURN_IF_ERROR(dh(e_sec_, rs_));
  return decrypt_and_hash(SIZE_MAX, payload);
}

Bytes Handshake::start() {
  Bytes out;
  if (role_ == Role::kInitiator && step_ == 0) write_message({}, &out);
  return out;
}

Status Handshake::on_bytes(ByteView received, Bytes* send) {
  inbox_.insert(inbox_.end(), received.begin(), received.end());
  std::size_t pos = 0;
  while (!done()) {
    auto frame = next_frame(inbox_, &pos);
    if (!frame) break;
    bool ours_to_read = (role_ == Role::kResponder) == (step_ % 2 == 0);
    if (!ours_to_read) return failed_precondition("noise: unexpected handshake message");
    Bytes payload;
    VEIL_RETURN_IF_ERROR(read_message(*frame, &payload));
    ++step_;
    if (step_ == 2 || step_ == 3) VEIL_RETURN_IF_ERROR(accept_payload(payload));
    if (step_ == 1) write_message(our_payload(), send);        // responder: <- e, ee, s, es
    else if (step_ == 2) write_message(our_payload(), send);   // initiator: -> s, se
  }
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(pos));
  return {};
}

Result<Session> Handshake::finish() {
  if (!done() || !remote_id_) return failed_precondition("noise: handshake not complete");
  auto [k1, k2] = hkdf2(ck_, {});
  CipherState c1(k1), c2(k2);
  secure_wipe(k1.data(), 32);
  secure_wipe(k2.data(), 32);
  Bytes leftover = std::move(inbox_);
  inbox_.clear();
  if (role_ == Role::kInitiator) return Session(c1, c2, *remote_id_, std::move(leftover));
  return Session(c2, c1, *remote_id_, std::move(leftover));
}

}  // namespace veil::p2p::noise
