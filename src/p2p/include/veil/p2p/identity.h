// Peer identity: Ed25519 keys in libp2p's key protobufs, and PeerIds (peer-ids spec).
//
// Wire forms (libp2p/specs peer-ids):
//   PublicKey  { Type = 1 (KeyType, Ed25519 = 1); Data = 2 (32 raw bytes) }
//   PrivateKey { Type = 1; Data = 2 (64 bytes: seed || public key, libsodium's layout) }
//   PeerId     = multihash of the PublicKey protobuf: identity (0x00) when it is at most
//                42 bytes (always for Ed25519), sha2-256 (0x12) otherwise.
//   Text forms: base58btc of the multihash ("12D3KooW…"), or a CIDv1 (codec libp2p-key
//   0x72) in multibase base32 ("bafzaa…").
//
// Thread safety: all types are values; a const KeyPair may be used from several threads.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::p2p {

enum class KeyType : std::uint8_t { kRsa = 0, kEd25519 = 1, kSecp256k1 = 2, kEcdsa = 3 };

// An Ed25519 public key (the only key type this stack signs with or verifies).
class PublicKey {
 public:
  static constexpr std::size_t kSize = 32;
  PublicKey() = default;
  explicit PublicKey(const std::array<std::uint8_t, kSize>& raw) : raw_(raw) {}

  // Parses a libp2p PublicKey protobuf. Fails (invalid_argument / unimplemented) on malformed
  // bytes or on key types other than Ed25519.
  static Result<PublicKey> decode(ByteView protobuf);
  // The PublicKey protobuf (36 bytes for Ed25519).
  Bytes encode() const;

  // True when `signature` is a valid Ed25519 signature of `message` by this key.
  bool verify(ByteView message, ByteView signature) const;

  const std::array<std::uint8_t, kSize>& raw() const { return raw_; }
  friend bool operator==(const PublicKey&, const PublicKey&) = default;

 private:
  std::array<std::uint8_t, kSize> raw_{};
};

// An Ed25519 key pair. The secret is wiped on destruction.
class KeyPair {
 public:
  // A fresh random key pair (libsodium's CSPRNG).
  static KeyPair generate();
  // From a 32-byte seed (deterministic; tests and key derivation).
  static KeyPair from_seed(ByteView seed32);
  // Parses a libp2p PrivateKey protobuf (Ed25519 only; 64-byte or legacy 96-byte data).
  // Fails if the embedded public half does not match the seed.
  static Result<KeyPair> decode_private(ByteView protobuf);
  // The PrivateKey protobuf. Contains the secret: the caller must protect it.
  Bytes encode_private() const;

  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  ~KeyPair();

  const PublicKey& public_key() const { return public_; }
  // A 64-byte Ed25519 signature of `message`.
  Bytes sign(ByteView message) const;

 private:
  KeyPair() = default;
  std::array<std::uint8_t, 64> secret_{};  // libsodium layout: seed || public
  PublicKey public_;
};

class PeerId {
 public:
  PeerId() = default;
  static PeerId from_public_key(const PublicKey& key);
  // Parses a binary multihash (identity or sha2-256). Fails on other hash codes or lengths.
  static Result<PeerId> from_bytes(ByteView multihash);
  // Parses the base58btc form ("12D3KooW…", "Qm…") or a base32 CIDv1 ("bafz…").
  static Result<PeerId> parse(std::string_view text);

  const Bytes& bytes() const { return multihash_; }  // the binary multihash
  std::string to_base58() const;
  std::string to_cid_base32() const;
  std::string to_string() const { return to_base58(); }
  bool empty() const { return multihash_.empty(); }

  // The public key inlined in an identity multihash; not_found for hashed PeerIds.
  Result<PublicKey> public_key() const;
  // True when `key` hashes to this PeerId.
  bool matches(const PublicKey& key) const;

  friend bool operator==(const PeerId&, const PeerId&) = default;
  friend auto operator<=>(const PeerId& a, const PeerId& b) { return a.multihash_ <=> b.multihash_; }

 private:
  Bytes multihash_;
};

// Key files hold the PrivateKey protobuf (the go-libp2p/js-libp2p form) and are created with
// mode 0600. load fails with permission_denied if the file is readable by group or others,
// not_found if it is missing, invalid_argument if it does not parse.
Status save_key_file(const std::filesystem::path& path, const KeyPair& key);
Result<KeyPair> load_key_file(const std::filesystem::path& path);
// Loads `path`, or creates it with a fresh key when it does not exist.
Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path);

}  // namespace veil::p2p

template <>
struct std::hash<veil::p2p::PeerId> {
  std::size_t operator()(const veil::p2p::PeerId& id) const noexcept {
    std::size_t h = 1469598103934665603ull;
    for (auto b : id.bytes()) h = (h ^ b) * 1099511628211ull;
    return h;
  }
};
