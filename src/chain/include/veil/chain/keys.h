// secp256k1 keys, recoverable ECDSA signatures and Ethereum addresses (libsecp256k1).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

// A recoverable ECDSA signature over a 32-byte hash, with low-S (EIP-2).
struct Signature {
  Hash32 r{};
  Hash32 s{};
  std::uint8_t recovery_id = 0;  // 0 or 1 (the y parity of R)
};

// A secp256k1 private key. Move-only; the secret is wiped on destruction. Thread-compatible:
// const methods may be called concurrently.
class PrivateKey {
 public:
  // Fails with kInvalidArgument unless `secret` is 32 bytes in [1, n-1].
  static Result<PrivateKey> from_bytes(ByteView secret);
  // Hex text, with or without 0x, surrounding whitespace ignored.
  static Result<PrivateKey> from_hex(std::string_view text);
  // Reads a key file holding hex text (the format of eth.key_file). Fails with kNotFound when
  // the file cannot be read, kInvalidArgument when its content is not a key.
  static Result<PrivateKey> load_file(const std::string& path);
  // A fresh key from the operating system's CSPRNG.
  static PrivateKey generate();

  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&& other) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  ~PrivateKey();

  // keccak256(uncompressed public key without its 0x04 prefix)[12:].
  Address address() const { return address_; }
  // 64-byte uncompressed public key (x || y).
  const std::array<std::uint8_t, 64>& public_key() const { return public_key_; }
  // Signs a 32-byte digest deterministically (RFC 6979). Never fails for a valid key.
  Signature sign(const Hash32& digest) const;
  // The secret as 0x-hex, for writing key files.
  std::string to_hex() const;

 private:
  PrivateKey() = default;
  std::array<std::uint8_t, 32> secret_{};
  std::array<std::uint8_t, 64> public_key_{};
  Address address_;
};

// Recovers the signer's address from a digest and signature. Fails with kInvalidArgument for
// an invalid signature (s or r out of range, point not on the curve).
Result<Address> recover_address(const Hash32& digest, const Signature& signature);

// The address of a 64-byte uncompressed public key.
Address address_from_public_key(const std::array<std::uint8_t, 64>& public_key);

}  // namespace veil::chain
