// Versioned binary format of every key and ciphertext (see impl.h for the frame layout).
#include <sodium.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "api/impl.h"

namespace veil::fhe {
namespace detail {

static_assert(std::endian::native == std::endian::little, "the wire format is written natively little-endian");

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kClientKey: return "client key";
    case Kind::kServerKey: return "server key";
    case Kind::kCompressedServerKey: return "compressed server key";
    case Kind::kCompactPublicKey: return "compact public key";
    case Kind::kUint8: return "FheUint8";
    case Kind::kUint16: return "FheUint16";
    case Kind::kUint32: return "FheUint32";
    case Kind::kBool: return "FheBool";
  }
  return "unknown object";
}

namespace {
void checksum(const std::uint8_t* data, std::size_t size, std::uint8_t* out) {
  crypto_generichash(out, kChecksumSize, data, size, nullptr, 0);
}
}  // namespace

Bytes frame(Kind kind, const Parameters& params, const Bytes& payload) {
  Bytes out;
  out.reserve(kHeaderSize + payload.size() + kChecksumSize);
  out.insert(out.end(), {'V', 'F', 'H', 'E'});
  out.push_back(static_cast<std::uint8_t>(kFormatVersion & 0xff));
  out.push_back(static_cast<std::uint8_t>(kFormatVersion >> 8));
  out.push_back(static_cast<std::uint8_t>(kind));
  out.push_back(params.id);
  const std::uint64_t len = payload.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
  out.insert(out.end(), payload.begin(), payload.end());
  std::uint8_t sum[kChecksumSize];
  checksum(out.data(), out.size(), sum);
  out.insert(out.end(), sum, sum + kChecksumSize);
  return out;
}

Result<Unframed> unframe(ByteView bytes, Kind kind, const DeserializeOptions& options) {
  const std::string what = kind_name(kind);
  if (bytes.size() > options.size_limit) {
    return out_of_range(what + ": " + std::to_string(bytes.size()) + " bytes exceed the size limit of " +
                        std::to_string(options.size_limit));
  }
  if (bytes.size() < kHeaderSize + kChecksumSize) return data_loss(what + ": truncated (shorter than a header)");
  if (std::memcmp(bytes.data(), "VFHE", 4) != 0) return invalid_argument(what + ": not a veil FHE object (bad magic)");
  const std::uint16_t version = static_cast<std::uint16_t>(bytes[4] | (bytes[5] << 8));
  if (version != kFormatVersion) {
    return invalid_argument(what + ": unsupported format version " + std::to_string(version));
  }
  if (bytes[6] != static_cast<std::uint8_t>(kind)) {
    return invalid_argument("expected a " + what + ", got a " + kind_name(static_cast<Kind>(bytes[6])));
  }
  const Parameters* params = params_by_id(bytes[7]);
  if (params == nullptr) return invalid_argument(what + ": unknown parameter set id " + std::to_string(bytes[7]));
  if (options.expected_params != nullptr && options.expected_params->id != params->id) {
    return invalid_argument(what + ": made with parameter set " + std::string(params->name) + ", expected " +
                            std::string(options.expected_params->name));
  }
  std::uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<std::uint64_t>(bytes[8 + i]) << (8 * i);
  const std::size_t body = bytes.size() - kHeaderSize - kChecksumSize;
  if (len != body) {
    return data_loss(what + ": length field says " + std::to_string(len) + " payload bytes, found " +
                     std::to_string(body) + (len > body ? " (truncated)" : " (trailing bytes)"));
  }
  std::uint8_t sum[kChecksumSize];
  checksum(bytes.data(), kHeaderSize + body, sum);
  if (sodium_memcmp(sum, bytes.data() + kHeaderSize + body, kChecksumSize) != 0) {
    return data_loss(what + ": checksum mismatch (corrupted)");
  }
  return Unframed{params, bytes.subspan(kHeaderSize, body)};
}

void Writer::u32(std::uint32_t v) { raw(reinterpret_cast<const std::uint8_t*>(&v), 4); }
void Writer::u64(std::uint64_t v) { raw(reinterpret_cast<const std::uint8_t*>(&v), 8); }
void Writer::words(const std::vector<std::uint64_t>& v) {
  u64(v.size());
  raw(reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * 8);
}
void Writer::doubles(std::span<const double> v) {
  u64(v.size());
  raw(reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * 8);
}

Status Reader::raw(std::uint8_t* p, std::size_t n) {
  if (in_.size() - pos_ < n) return data_loss("payload truncated");
  std::memcpy(p, in_.data() + pos_, n);
  pos_ += n;
  return {};
}
Status Reader::u8(std::uint8_t& v) { return raw(&v, 1); }
Status Reader::u32(std::uint32_t& v) { return raw(reinterpret_cast<std::uint8_t*>(&v), 4); }
Status Reader::u64(std::uint64_t& v) { return raw(reinterpret_cast<std::uint8_t*>(&v), 8); }
Status Reader::words(std::vector<std::uint64_t>& v, std::size_t expected, const char* what) {
  std::uint64_t count = 0;
  VEIL_RETURN_IF_ERROR(u64(count));
  if (count != expected) {
    return invalid_argument(std::string(what) + ": " + std::to_string(count) + " words, expected " + std::to_string(expected));
  }
  if ((in_.size() - pos_) / 8 < count) return data_loss(std::string(what) + ": truncated");
  v.resize(count);
  return raw(reinterpret_cast<std::uint8_t*>(v.data()), count * 8);
}
Status Reader::doubles(core::AlignedVector<double>& v, std::size_t expected, const char* what) {
  std::uint64_t count = 0;
  VEIL_RETURN_IF_ERROR(u64(count));
  if (count != expected) {
    return invalid_argument(std::string(what) + ": " + std::to_string(count) + " values, expected " + std::to_string(expected));
  }
  if ((in_.size() - pos_) / 8 < count) return data_loss(std::string(what) + ": truncated");
  v.resize(count);
  VEIL_RETURN_IF_ERROR(raw(reinterpret_cast<std::uint8_t*>(v.data()), count * 8));
  for (double d : v) {
    if (!std::isfinite(d)) return invalid_argument(std::string(what) + ": non-finite value");
  }
  return {};
}
Status Reader::finish() const {
  if (pos_ != in_.size()) return data_loss(std::to_string(in_.size() - pos_) + " unexpected trailing payload bytes");
  return {};
}

void write_block(Writer& w, const shortint::Ciphertext& ct) {
  w.u8(static_cast<std::uint8_t>(ct.degree));
  w.u8(static_cast<std::uint8_t>(ct.noise_level));
  w.words(ct.ct.data);
}

Status read_block(Reader& r, const Parameters& params, std::uint64_t max_degree, shortint::Ciphertext& ct) {
  std::uint8_t degree = 0, noise = 0;
  VEIL_RETURN_IF_ERROR(r.u8(degree));
  VEIL_RETURN_IF_ERROR(r.u8(noise));
  if (degree > max_degree) return invalid_argument("block degree " + std::to_string(degree) + " exceeds " + std::to_string(max_degree));
  if (noise > params.max_noise_level) return invalid_argument("block noise level " + std::to_string(noise) + " exceeds the maximum");
  ct.degree = degree;
  ct.noise_level = noise;
  return r.words(ct.ct.data, params.big_lwe_dimension() + 1, "block");
}

}  // namespace detail

// ---------------- keys ----------------

using detail::Kind;

Bytes ClientKey::serialize() const {
  const auto& k = impl_->key;
  detail::Writer w;
  w.u32(static_cast<std::uint32_t>(k.small_key().dimension()));
  for (auto b : k.small_key().bits) w.u8(static_cast<std::uint8_t>(b));
  w.u32(static_cast<std::uint32_t>(k.glwe_key().bits.size()));
  for (auto b : k.glwe_key().bits) w.u8(static_cast<std::uint8_t>(b));
  Bytes payload = w.take();
  Bytes out = detail::frame(Kind::kClientKey, k.params(), payload);
  secure_wipe(payload);
  return out;
}

namespace {
Status read_bits(detail::Reader& r, std::size_t expected, std::vector<core::Torus>& bits, const char* what) {
  std::uint32_t count = 0;
  VEIL_RETURN_IF_ERROR(r.u32(count));
  if (count != expected) return invalid_argument(std::string(what) + " has " + std::to_string(count) + " bits, expected " + std::to_string(expected));
  bits.resize(count);
  for (auto& b : bits) {
    std::uint8_t v = 0;
    VEIL_RETURN_IF_ERROR(r.u8(v));
    if (v > 1) return invalid_argument(std::string(what) + ": key bits must be 0 or 1");
    b = v;
  }
  return {};
}
}  // namespace

Result<ClientKey> ClientKey::deserialize(ByteView bytes, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, detail::unframe(bytes, Kind::kClientKey, options));
  const Parameters& p = *un.params;
  detail::Reader r(un.payload);
  std::vector<core::Torus> small, glwe;
  VEIL_RETURN_IF_ERROR(read_bits(r, p.lwe_dimension, small, "small key"));
  VEIL_RETURN_IF_ERROR(read_bits(r, p.big_lwe_dimension(), glwe, "GLWE key"));
  VEIL_RETURN_IF_ERROR(r.finish());
  auto key = shortint::ClientKey::from_parts(p, core::LweSecretKey{std::move(small)},
                                             core::GlweSecretKey::from_bits(p.glwe_dimension, p.polynomial_size, std::move(glwe)));
  return detail::ClientKeyImpl::wrap(std::make_shared<detail::ClientKeyImpl>(detail::ClientKeyImpl{std::move(key)}));
}

Bytes ServerKey::serialize() const {
  const auto& k = impl_->key;
  detail::Writer w;
  w.doubles(k.bsk().data);
  w.words(k.ksk().data);
  return detail::frame(Kind::kServerKey, k.params(), w.take());
}

Result<ServerKey> ServerKey::deserialize(ByteView bytes, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, detail::unframe(bytes, Kind::kServerKey, options));
  const Parameters& p = *un.params;
  detail::Reader r(un.payload);
  core::FourierBootstrapKey bsk;
  bsk.input_lwe_dimension = p.lwe_dimension;
  bsk.shape = core::GgswShape{p.glwe_dimension, p.polynomial_size, p.pbs_base_log, p.pbs_level};
  VEIL_RETURN_IF_ERROR(r.doubles(bsk.data, p.lwe_dimension * bsk.shape.fourier_doubles(), "bootstrapping key"));
  core::KeySwitchKey ksk;
  ksk.input_dimension = p.big_lwe_dimension();
  ksk.output_dimension = p.lwe_dimension;
  ksk.base_log = p.ks_base_log;
  ksk.level = p.ks_level;
  VEIL_RETURN_IF_ERROR(r.words(ksk.data, ksk.input_dimension * ksk.level * (ksk.output_dimension + 1), "key-switching key"));
  VEIL_RETURN_IF_ERROR(r.finish());
  return detail::ServerKeyImpl::wrap(std::make_shared<detail::ServerKeyImpl>(shortint::ServerKey(p, std::move(bsk), std::move(ksk))));
}

Bytes CompressedServerKey::serialize() const {
  const auto& k = impl_->key;
  detail::Writer w;
  w.raw(k.seed.data(), k.seed.size());
  w.words(k.bsk_bodies);
  w.words(k.ksk_bodies);
  return detail::frame(Kind::kCompressedServerKey, *k.params, w.take());
}

Result<CompressedServerKey> CompressedServerKey::deserialize(ByteView bytes, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, detail::unframe(bytes, Kind::kCompressedServerKey, options));
  const Parameters& p = *un.params;
  detail::Reader r(un.payload);
  shortint::CompressedServerKey k;
  k.params = &p;
  VEIL_RETURN_IF_ERROR(r.raw(k.seed.data(), k.seed.size()));
  const core::GgswShape shape{p.glwe_dimension, p.polynomial_size, p.pbs_base_log, p.pbs_level};
  VEIL_RETURN_IF_ERROR(r.words(k.bsk_bodies, p.lwe_dimension * shape.rows() * p.polynomial_size, "bootstrapping key bodies"));
  VEIL_RETURN_IF_ERROR(r.words(k.ksk_bodies, p.big_lwe_dimension() * p.ks_level, "key-switching key bodies"));
  VEIL_RETURN_IF_ERROR(r.finish());
  return detail::CompressedServerKeyImpl::wrap(std::make_shared<detail::CompressedServerKeyImpl>(detail::CompressedServerKeyImpl{std::move(k)}));
}

Bytes CompactPublicKey::serialize() const {
  const auto& k = impl_->key;
  detail::Writer w;
  w.raw(k.seed().data(), k.seed().size());
  w.words(k.body());
  return detail::frame(Kind::kCompactPublicKey, k.params(), w.take());
}

Result<CompactPublicKey> CompactPublicKey::deserialize(ByteView bytes, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, detail::unframe(bytes, Kind::kCompactPublicKey, options));
  const Parameters& p = *un.params;
  detail::Reader r(un.payload);
  core::Seed seed;
  VEIL_RETURN_IF_ERROR(r.raw(seed.data(), seed.size()));
  std::vector<core::Torus> body;
  VEIL_RETURN_IF_ERROR(r.words(body, p.big_lwe_dimension(), "public key body"));
  VEIL_RETURN_IF_ERROR(r.finish());
  return detail::PublicKeyImpl::wrap(std::make_shared<detail::PublicKeyImpl>(
      detail::PublicKeyImpl{shortint::CompactPublicKey::from_seed_and_body(p, seed, std::move(body))}));
}

// ---------------- ciphertexts ----------------

namespace detail {
namespace {
Kind radix_kind(unsigned bits) { return bits == 8 ? Kind::kUint8 : bits == 16 ? Kind::kUint16 : Kind::kUint32; }
}  // namespace

Bytes radix_serialize(const Radix& value, unsigned bits) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(value.ct.blocks.size()));
  for (const auto& b : value.ct.blocks) write_block(w, b);
  return frame(radix_kind(bits), *value.params, w.take());
}

Result<RadixPtr> radix_deserialize(ByteView bytes, unsigned bits, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe(bytes, radix_kind(bits), options));
  const Parameters& p = *un.params;
  Reader r(un.payload);
  std::uint32_t count = 0;
  VEIL_RETURN_IF_ERROR(r.u32(count));
  const std::size_t want = integer::blocks_for_bits(p, bits);
  if (count != want) return invalid_argument(std::string(kind_name(radix_kind(bits))) + ": " + std::to_string(count) + " blocks, expected " + std::to_string(want));
  auto out = std::make_shared<Radix>();
  out->params = &p;
  out->ct.blocks.resize(count);
  for (auto& b : out->ct.blocks) VEIL_RETURN_IF_ERROR(read_block(r, p, p.message_modulus - 1, b));
  VEIL_RETURN_IF_ERROR(r.finish());
  return RadixPtr(std::move(out));
}

Bytes bool_serialize(const Block& value) {
  Writer w;
  write_block(w, value.ct);
  return frame(Kind::kBool, *value.params, w.take());
}

Result<BlockPtr> bool_deserialize(ByteView bytes, const DeserializeOptions& options) {
  VEIL_ASSIGN_OR_RETURN(auto un, unframe(bytes, Kind::kBool, options));
  Reader r(un.payload);
  auto out = std::make_shared<Block>();
  out->params = un.params;
  VEIL_RETURN_IF_ERROR(read_block(r, *un.params, 1, out->ct));
  VEIL_RETURN_IF_ERROR(r.finish());
  return BlockPtr(std::move(out));
}

}  // namespace detail
}  // namespace veil::fhe
