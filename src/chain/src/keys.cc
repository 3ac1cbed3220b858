#include "veil/chain/keys.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "veil/chain/keccak.h"
#include "veil/common/read_file.h"

namespace veil::chain {
namespace {

// One context for the process: libsecp256k1 contexts are safe to share once created and
// randomized, and creating one per call is expensive.
const secp256k1_context* context() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    std::array<std::uint8_t, 32> seed{};
    if (getrandom(seed.data(), seed.size(), 0) == static_cast<ssize_t>(seed.size())) {
      // Randomization only hardens against side channels; failure leaves a working context.
      int randomized = secp256k1_context_randomize(c, seed.data());
      (void)randomized;
    }
    return c;
  }();
  return ctx;
}

}  // namespace

Address address_from_public_key(const std::array<std::uint8_t, 64>& public_key) {
  Hash32 h = keccak256(public_key);
  Address a;
  std::copy(h.begin() + 12, h.end(), a.bytes.begin());
  return a;
}

Result<PrivateKey> PrivateKey::from_bytes(ByteView secret) {
  if (secret.size() != 32)
    return invalid_argument("private key must be 32 bytes, got " + std::to_string(secret.size()));
  if (!secp256k1_ec_seckey_verify(context(), secret.data()))
    return invalid_argument("private key is zero or not below the curve order");
  PrivateKey key;
  std::copy(secret.begin(), secret.end(), key.secret_.begin());
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(context(), &pub, key.secret_.data()))
    return internal_error("secp256k1_ec_pubkey_create failed");
  std::array<std::uint8_t, 65> serialized{};
  std::size_t len = serialized.size();
  secp256k1_ec_pubkey_serialize(context(), serialized.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  std::copy(serialized.begin() + 1, serialized.end(), key.public_key_.begin());
  key.address_ = address_from_public_key(key.public_key_);
  return key;
}

Result<PrivateKey> PrivateKey::from_hex(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  auto bytes = veil::from_hex(text);
  if (!bytes.ok()) return invalid_argument("private key is not hex: " + bytes.status().message());
  auto key = from_bytes(*bytes);
  secure_wipe(*bytes);
  return key;
}

Result<PrivateKey> PrivateKey::load_file(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string text, read_file(path, kKeyFile));
  auto key = from_hex(text);
  secure_wipe(text.data(), text.size());
  if (!key.ok()) return invalid_argument("key file '" + path + "': " + key.status().message());
  return key;
}

PrivateKey PrivateKey::generate() {
  for (;;) {
    std::array<std::uint8_t, 32> secret{};
    if (getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) continue;
    auto key = from_bytes(secret);
    secure_wipe(secret.data(), secret.size());
    if (key.ok()) return std::move(key).value();
  }
}

PrivateKey::PrivateKey(PrivateKey&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_), address_(other.address_) {
  secure_wipe(other.secret_.data(), other.secret_.size());
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    address_ = other.address_;
    secure_wipe(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

PrivateKey::~PrivateKey() { secure_wipe(secret_.data(), secret_.size()); }

Signature PrivateKey::sign(const Hash32& digest) const {
  secp256k1_ecdsa_recoverable_signature sig;
  // With the default nonce function (RFC 6979) signing only fails for an invalid key, which
  // from_bytes already excluded.
  (void)secp256k1_ecdsa_sign_recoverable(context(), &sig, digest.data(), secret_.data(), nullptr, nullptr);
  std::array<std::uint8_t, 64> compact{};
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), compact.data(), &recid, &sig);
  Signature out;
  std::copy(compact.begin(), compact.begin() + 32, out.r.begin());
  std::copy(compact.begin() + 32, compact.end(), out.s.begin());
  out.recovery_id = static_cast<std::uint8_t>(recid);
  return out;
}

std::string PrivateKey::to_hex() const { return to_hex_prefixed(secret_); }

Result<Address> recover_address(const Hash32& digest, const Signature& signature) {
  if (signature.recovery_id > 1) return invalid_argument("recovery id must be 0 or 1");
  std::array<std::uint8_t, 64> compact{};
  std::copy(signature.r.begin(), signature.r.end(), compact.begin());
  std::copy(signature.s.begin(), signature.s.end(), compact.begin() + 32);
  secp256k1_ecdsa_recoverable_signature sig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(context(), &sig, compact.data(),
                                                           signature.recovery_id)) {
    return invalid_argument("signature r or s out of range");
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(context(), &pub, &sig, digest.data()))
    return invalid_argument("signature does not recover to a public key");
  std::array<std::uint8_t, 65> serialized{};
  std::size_t len = serialized.size();
  secp256k1_ec_pubkey_serialize(context(), serialized.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  std::array<std::uint8_t, 64> raw{};
  std::copy(serialized.begin() + 1, serialized.end(), raw.begin());
  return address_from_public_key(raw);
}

}  // namespace veil::chain
