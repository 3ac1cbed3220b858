// Keys of the FHE engine (TFHE, after TFHE-rs's high-level API).
//
//  ClientKey          the secret key: encrypts and decrypts. Never leaves its owner.
//  ServerKey          the evaluation key (bootstrapping key in the Fourier domain + key-switching
//                     key): computes on ciphertexts, reveals nothing. About 120 MB with the
//                     default parameters.
//  CompressedServerKey the same with every random mask replaced by a 32-byte seed (about half
//                     the bytes); decompress() before use.
//  CompactPublicKey   ring-LWE public key: anyone encrypts without the secret key (~16 KB).
//
// All four are cheap, copyable handles to immutable shared data. Serialization: every key has
// serialize() and a static deserialize(bytes, options) that checks the magic, format version,
// object kind, parameter set, lengths, and a BLAKE2b checksum, and refuses input larger than
// options.size_limit. Errors are returned as Status (kDataLoss for truncated/corrupted bytes,
// kInvalidArgument for a wrong kind or parameter set, kOutOfRange for the size limit).
//
// Thread safety: handles may be shared and used from any number of threads.
#pragma once

#include <cstddef>
#include <memory>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/params.h"

namespace veil::fhe {

namespace detail {
struct ClientKeyImpl;
struct ServerKeyImpl;
struct CompressedServerKeyImpl;
struct PublicKeyImpl;
}  // namespace detail

struct DeserializeOptions {
  // Input larger than this is refused before any allocation (default 1 GiB).
  std::size_t size_limit = std::size_t{1} << 30;
  // When set, objects of another parameter set are refused.
  const Parameters* expected_params = nullptr;
};

class ClientKey {
 public:
  // Generates a fresh secret key from the OS's randomness. Test parameters are INSECURE.
  static ClientKey generate(const Parameters& params = kParamMessage2Carry2KsPbsTUniform2M128);
  const Parameters& params() const;

  Bytes serialize() const;
  static Result<ClientKey> deserialize(ByteView bytes, const DeserializeOptions& options = {});

  const detail::ClientKeyImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const detail::ClientKeyImpl> impl_;
  friend struct detail::ClientKeyImpl;
};

class ServerKey {
 public:
  // Generates the evaluation key for `client` (through the compressed form).
  static ServerKey generate(const ClientKey& client);
  const Parameters& params() const;

  Bytes serialize() const;
  static Result<ServerKey> deserialize(ByteView bytes, const DeserializeOptions& options = {});

  const detail::ServerKeyImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const detail::ServerKeyImpl> impl_;
  friend struct detail::ServerKeyImpl;
  friend class CompressedServerKey;
};

class CompressedServerKey {
 public:
  static CompressedServerKey generate(const ClientKey& client);
  const Parameters& params() const;
  // Regenerates the masks from the seed and moves the bootstrapping key to the Fourier domain.
  ServerKey decompress() const;

  Bytes serialize() const;
  static Result<CompressedServerKey> deserialize(ByteView bytes, const DeserializeOptions& options = {});

 private:
  std::shared_ptr<const detail::CompressedServerKeyImpl> impl_;
  friend struct detail::CompressedServerKeyImpl;
};

class CompactPublicKey {
 public:
  static CompactPublicKey generate(const ClientKey& client);
  const Parameters& params() const;

  Bytes serialize() const;
  static Result<CompactPublicKey> deserialize(ByteView bytes, const DeserializeOptions& options = {});

  const detail::PublicKeyImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const detail::PublicKeyImpl> impl_;
  friend struct detail::PublicKeyImpl;
};

// The server key used by operators (a + b, a.ge(b), ...) on the calling thread. Operations
// without an explicit key abort with a message when none is set (a programming error, as in
// TFHE-rs). Each thread sets its own.
void set_server_key(const ServerKey& key);
void unset_server_key();
// The calling thread's key, or nullptr.
const ServerKey* current_server_key();

}  // namespace veil::fhe
