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
#include <optional>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"

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
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(const std::array<std::uint8_t, 32>& key) : key_(key), has_key_(true) {}
  ~CipherState() { secure_wipe(key_.data(), key_.size()); }
  CipherState(const CipherState&) = default;
  CipherState& operator=(const CipherState&) = default;

  bool has_key() const { return has_key_; }
  // Appends ciphertext||tag (or the plaintext when no key is set) to *out.
  void encrypt(ByteView ad, ByteView plaintext, Bytes* out);
  // Appends the plaintext to *out; data_loss if authentication fails.
  Status decrypt(ByteView ad, ByteView ciphertext, Bytes* out);

 private:
  std::array<std::uint8_t, 32> key_{};
  std::uint64_t nonce_ = 0;
  bool has_key_ = false;
};

// An established secure channel: seals outgoing bytes into frames, opens incoming frames.
class Session {
 public:
  Session(CipherState send, CipherState recv, PeerId remote, Bytes leftover);
  // Seals `plaintext` into one or more length-prefixed frames appended to *out.
  void seal(ByteView plaintext, Bytes* out);
  // Feeds received bytes; appends whatever plaintext complete frames yield to *plaintext.
  // Fails (data_loss) on a frame that does not authenticate; the session is dead after that.
  Status open(ByteView received, Bytes* plaintext);
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
