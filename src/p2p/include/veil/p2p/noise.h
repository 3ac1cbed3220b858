// Noise XX for libp2p (libp2p/specs noise/README.md), socket-free.
//
// Protocol name "Noise_XX_25519_ChaChaPoly_SHA256", empty prologue. Every Noise message
// (handshake and transport) travels as uint16 big-endian length || message.
//   -> e
//   <- e, ee, s, es, payload(responder)
//   -> s, se, payload(initiator)
// The payload is NoiseHandshakePayload { identity_key = 1 (PublicKey protobuf);
// identity_sig = 2 (Ed25519 signature of "noise-libp2p-static-key:" || Noise static key);
// extensions = 4 }. A handshake fails unless the signature verifies, and — when the dialer
// knows whom it dials — unless the remote PeerId is the expected one.
//
// Thread safety: none; one object per connection.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX, kept out of this header

namespace veil::p2p::noise {

inline constexpr std::string_view kProtocolId = "/noise";
inline constexpr std::string_view kSignaturePrefix = "noise-libp2p-static-key:";
inline constexpr std::size_t kMaxMessage = 65535;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMaxPlaintext = kMaxMessage - kTagSize;

// The decoded NoiseHandshakePayload.
struct HandshakePayload {
  Bytes identity_key;
  Bytes identity_sig;
  std::vector<std::string> stream_muxers;  // extensions.stream_muxers (informational)
};
Bytes encode_payload(const HandshakePayload& payload);
// Fails on malformed protobuf.
Result<HandshakePayload> decode_payload(ByteView bytes);
// Checks the payload's signature over `remote_static` and returns the PeerId it proves.
Result<PeerId> verify_payload(const HandshakePayload& payload, ByteView remote_static);

// ChaCha20-Poly1305 (IETF) with the Noise nonce: 32 zero bits || 64-bit little-endian counter.
// Choice: the AEAD is OpenSSL's (EVP_chacha20_poly1305), not libsodium's: on the x86-64
// machines we run on OpenSSL's AVX2/AVX-512 code is about 1.6x faster for 64 KiB frames, and
// the transport cipher is what bounds a connection's throughput (see docs/p2p.md).
class CipherState {
 public:
  CipherState();
  explicit CipherState(const std::array<std::uint8_t, 32>& key);
  ~CipherState();
  // Copies carry the key and nonce (each copy then counts on its own), not the OpenSSL context.
  CipherState(const CipherState& other);
  CipherState& operator=(const CipherState& other);

  bool has_key() const { return has_key_; }
  // Appends ciphertext||tag (or the plaintext when no key is set) to *out.
  void encrypt(ByteView ad, ByteView plaintext, Bytes* out);
  // Appends the plaintext to *out; data_loss if authentication fails.
  Status decrypt(ByteView ad, ByteView ciphertext, Bytes* out);
  // Raw forms for the transport's hot path. encrypt_to writes plaintext.size() + kTagSize
  // bytes to `out`; decrypt_to writes ciphertext.size() - kTagSize bytes to `out` (data_loss
  // if authentication fails; `out` then holds garbage). `out` may be exactly the input's
  // address (in place); no other overlap is allowed. Sizes must fit an int.
  void encrypt_to(ByteView ad, ByteView plaintext, std::uint8_t* out);
  Status decrypt_to(ByteView ad, ByteView ciphertext, std::uint8_t* out);
  // encrypt_to for a message given in pieces: begin_message(ad), encrypt_piece() for each
  // piece in order (out and in as for encrypt_to), end_message(tag) writes the kTagSize tag.
  // Needs a key.
  void begin_message(ByteView ad);
  void encrypt_piece(ByteView plaintext, std::uint8_t* out);
  void end_message(std::uint8_t* tag);

 private:
  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  evp_cipher_ctx_st* context(bool encrypt);

  std::array<std::uint8_t, 32> key_{};
  std::uint64_t nonce_ = 0;
  bool has_key_ = false;
  int ctx_mode_ = -1;  // what ctx_ was last initialised for: 1 encrypt, 0 decrypt, -1 nothing
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx_;
};

// An established secure channel: seals outgoing bytes into frames, opens incoming frames.
class Session {
 public:
  Session(CipherState send, CipherState recv, PeerId remote, Bytes leftover);
  // Size of the frames seal() produces for `plaintext_size` bytes (0 bytes still make one
  // empty frame).
  static constexpr std::size_t sealed_size(std::size_t plaintext_size) {
    std::size_t frames = plaintext_size == 0 ? 1 : (plaintext_size + kMaxPlaintext - 1) / kMaxPlaintext;
    return plaintext_size + frames * (2 + kTagSize);
  }
  // Seals `plaintext` into one or more length-prefixed frames appended to *out.
  void seal(ByteView plaintext, Bytes* out);
  // The same, written to `out`, which must hold sealed_size(plaintext.size()) bytes and must
  // not overlap `plaintext`.
  void seal_to(ByteView plaintext, std::uint8_t* out);
  // Gather form: seals the concatenation of `parts` (frames may span parts) to `out`, which
  // must hold sealed_size(total size) bytes and overlap none of them.
  void seal_to(std::span<const ByteView> parts, std::uint8_t* out);
  // Feeds received bytes; appends whatever plaintext complete frames yield to *plaintext.
  // Fails (data_loss) on a frame that does not authenticate; the session is dead after that.
  Status open(ByteView received, Bytes* plaintext);
  // Zero-copy receive: decrypts, in place, every complete frame at the front of `buffer` and
  // calls `on_plaintext` with each frame's plaintext (a view into `buffer`, valid during the
  // call). Returns how many bytes of `buffer` were whole frames; the caller keeps the rest
  // and presents it again, at the front, with more bytes after it. Fails with data_loss on a
  // frame that does not authenticate, or with the first error `on_plaintext` returns. Bytes
  // given to open() that did not complete a frame must first be taken with take_buffered().
  Result<std::size_t> open_in_place(std::span<std::uint8_t> buffer, const std::function<Status(ByteView)>& on_plaintext);
  // Hands over (and forgets) received bytes open() kept because they were not a whole frame.
  Bytes take_buffered() { return std::exchange(inbox_, {}); }
  const PeerId& remote() const { return remote_; }

 private:
  CipherState send_, recv_;
  PeerId remote_;
  Bytes inbox_;
};

enum class Role { kInitiator, kResponder };

// The libp2p XX handshake. Drive it with start() and on_bytes() until done(), then take
// the Session with finish().
class Handshake {
 public:
  // `identity` signs our payload; `expected_remote`, when set, must match the remote PeerId.
  Handshake(const KeyPair& identity, Role role, std::optional<PeerId> expected_remote = std::nullopt);
  ~Handshake();

  // Testing hook: send exactly these payload bytes instead of the signed payload.
  void override_payload_for_testing(Bytes payload) { payload_override_ = std::move(payload); }

  // The frames to send first (the initiator's "-> e"; empty for the responder).
  Bytes start();
  // Feeds received bytes, appending the frames to send in reply to *send. Fails
  // (permission_denied for identity problems, data_loss for crypto/framing) — then abort.
  Status on_bytes(ByteView received, Bytes* send);
  bool done() const { return step_ == 3; }
  // Valid once done(): the secure session and the verified remote PeerId.
  Result<Session> finish();

 private:
  Status read_message(ByteView message, Bytes* payload);
  void write_message(ByteView payload, Bytes* out);
  Bytes our_payload() const;
  Status accept_payload(ByteView payload);
  void mix_hash(ByteView data);
  void mix_key(ByteView ikm);
  Status dh(const std::array<std::uint8_t, 32>& secret, const std::array<std::uint8_t, 32>& pub);

  KeyPair identity_;
  Role role_;
  std::optional<PeerId> expected_;
  std::optional<PeerId> remote_id_;
  std::optional<Bytes> payload_override_;
  int step_ = 0;  // messages processed: 0,1,2,3
  std::array<std::uint8_t, 32> h_{}, ck_{};
  CipherState cipher_;
  std::array<std::uint8_t, 32> s_pub_{}, s_sec_{}, e_pub_{}, e_sec_{}, rs_{}, re_{};
  Bytes inbox_;
};

}  // namespace veil::p2p::noise
