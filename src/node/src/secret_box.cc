#include "secret_box.h"

#include <sodium.h>

#include "veil/p2p/identity.h"

namespace veil::node {

nlohmann::json sealed_secrets_json(const std::map<std::string, Bytes>& sealed) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, box] : sealed) out[name] = to_hex(box);
  return out;
}

Result<std::map<std::string, Bytes>> sealed_secrets_from_json(const nlohmann::json& j) {
  std::map<std::string, Bytes> out;
  if (!j.is_object()) return data_loss("sealed secrets must be an object");
  for (const auto& [name, hex] : j.items()) {
    if (!hex.is_string()) return data_loss("sealed secret " + name + " is not hex text");
    auto box = from_hex(hex.get<std::string>());
    if (!box.ok()) return data_loss("sealed secret " + name + ": " + box.status().message());
    out[name] = std::move(*box);
  }
  return out;
}

Result<Bytes> seal_to_peer(const std::string& peer, std::string_view plaintext) {
  VEIL_ASSIGN_OR_RETURN(auto id, p2p::PeerId::parse(peer));
  VEIL_ASSIGN_OR_RETURN(auto key, id.public_key());
  const auto ed25519 = key.raw();
  std::array<std::uint8_t, crypto_box_PUBLICKEYBYTES> x25519{};
  if (crypto_sign_ed25519_pk_to_curve25519(x25519.data(), ed25519.data()) != 0) {
    return invalid_argument(peer + " has no usable Ed25519 key to seal a secret to");
  }
  Bytes sealed(plaintext.size() + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), x25519.data());
  return sealed;
}

SecretOpener::SecretOpener(const sched::Ed25519SecretKey& identity) {
  ready_ = crypto_sign_ed25519_sk_to_curve25519(secret_.data(), identity.data()) == 0 &&
           crypto_sign_ed25519_pk_to_curve25519(public_.data(), identity.data() + 32) == 0;
}

SecretOpener::~SecretOpener() { secure_wipe(secret_.data(), secret_.size()); }

Result<std::string> SecretOpener::open(ByteView sealed) const {
  if (!ready_) return failed_precondition("this node holds no key to open secrets with");
  if (sealed.size() < crypto_box_SEALBYTES) return invalid_argument("a sealed secret is too short");
  std::string plaintext(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plaintext.data()), sealed.data(), sealed.size(), public_.data(),
                           secret_.data()) != 0) {
    return invalid_argument("a secret is not sealed to this node, or was altered");
  }
  return plaintext;
}

Result<std::map<std::string, std::string>> SecretOpener::open_all(const std::map<std::string, Bytes>& sealed) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, box] : sealed) {
    auto value = open(box);
    if (!value.ok()) return value.status().with_context("secret " + name);
    out[name] = std::move(*value);
  }
  return out;
}

}  // namespace veil::node
