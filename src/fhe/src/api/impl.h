// What the public handles (veil/fhe/keys.h, types.h) hold, and the wire framing shared by
// every serialized object.
#pragma once

#include <memory>
#include <span>

#include "integer/radix.h"
#include "shortint/public_key.h"
#include "shortint/shortint.h"
#include "veil/fhe/keys.h"
#include "veil/fhe/types.h"

namespace veil::fhe::detail {

struct ClientKeyImpl {
  shortint::ClientKey key;
  static ClientKey wrap(std::shared_ptr<const ClientKeyImpl> impl) {
    ClientKey k;
    k.impl_ = std::move(impl);
    return k;
  }
};

struct ServerKeyImpl {
  explicit ServerKeyImpl(shortint::ServerKey k) : key(std::move(k)), integer(key) {}
  shortint::ServerKey key;
  integer::ServerKey integer;  // points at `key`; the impl never moves (held by shared_ptr)
  static ServerKey wrap(std::shared_ptr<const ServerKeyImpl> impl) {
    ServerKey k;
    k.impl_ = std::move(impl);
    return k;
  }
};

struct CompressedServerKeyImpl {
  shortint::CompressedServerKey key;
  static CompressedServerKey wrap(std::shared_ptr<const CompressedServerKeyImpl> impl) {
    CompressedServerKey k;
    k.impl_ = std::move(impl);
    return k;
  }
};

struct PublicKeyImpl {
  shortint::CompactPublicKey key;
  static CompactPublicKey wrap(std::shared_ptr<const PublicKeyImpl> impl) {
    CompactPublicKey k;
    k.impl_ = std::move(impl);
    return k;
  }
};

struct Radix {
  const Parameters* params;
  integer::RadixCiphertext ct;
};

struct Block {
  const Parameters* params;
  shortint::Ciphertext ct;
};

// ----- wire format -----
// "VFHE" | u16 version | u8 kind | u8 params id | u64 payload length | payload |
// 16-byte BLAKE2b of everything before it. Integers little-endian.
enum class Kind : std::uint8_t {
  kClientKey = 1,
  kServerKey = 2,
  kCompressedServerKey = 3,
  kCompactPublicKey = 4,
  kUint8 = 5,
  kUint16 = 6,
  kUint32 = 7,
  kBool = 8,
};
constexpr std::uint16_t kFormatVersion = 1;
constexpr std::size_t kHeaderSize = 16;
constexpr std::size_t kChecksumSize = 16;

const char* kind_name(Kind kind);
Bytes frame(Kind kind, const Parameters& params, const Bytes& payload);
struct Unframed {
  const Parameters* params;
  ByteView payload;
};
Result<Unframed> unframe(ByteView bytes, Kind kind, const DeserializeOptions& options);

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void words(const std::vector<std::uint64_t>& v);  // u64 count, then the words
  void doubles(std::span<const double> v);          // u64 count, then the doubles
  void raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  Status u8(std::uint8_t& v);
  Status u32(std::uint32_t& v);
  Status u64(std::uint64_t& v);
  // Reads a counted array whose count must equal `expected`.
  Status words(std::vector<std::uint64_t>& v, std::size_t expected, const char* what);
  Status doubles(core::AlignedVector<double>& v, std::size_t expected, const char* what);
  Status raw(std::uint8_t* p, std::size_t n);
  Status finish() const;  // error when bytes remain

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

// Block (shortint ciphertext) codec with the invariant checks of radix/bool values.
void write_block(Writer& w, const shortint::Ciphertext& ct);
Status read_block(Reader& r, const Parameters& params, std::uint64_t max_degree, shortint::Ciphertext& ct);

}  // namespace veil::fhe::detail
