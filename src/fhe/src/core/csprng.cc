#include "core/csprng.h"

#include <sodium.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "veil/common/bytes.h"

namespace veil::fhe::core {

Csprng::Csprng(const Seed& seed, std::uint32_t stream) : key_(seed) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium init failed");
  std::memcpy(nonce_.data(), &stream, sizeof(stream));
}

Csprng::~Csprng() {
  secure_wipe(key_.data(), key_.size());
  secure_wipe(buffer_.data(), buffer_.size());
}

Seed Csprng::os_seed() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium init failed");
  Seed seed;
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

void Csprng::refill() {
  constexpr std::uint32_t kBlocks = sizeof(buffer_) / 64;
  if (counter_ > UINT32_MAX - kBlocks) {  // 256 GiB drawn: move to a fresh nonce word
    std::uint64_t high;
    std::memcpy(&high, nonce_.data() + 4, 8);
    ++high;
    std::memcpy(nonce_.data() + 4, &high, 8);
    counter_ = 0;
  }
  std::memset(buffer_.data(), 0, buffer_.size());
  crypto_stream_chacha20_ietf_xor_ic(buffer_.data(), buffer_.data(), buffer_.size(), nonce_.data(),
                                     counter_, key_.data());
  counter_ += kBlocks;
  pos_ = 0;
}

std::uint64_t Csprng::next_u64() {
  if (pos_ + 8 > buffer_.size()) refill();
  std::uint64_t v;
  std::memcpy(&v, buffer_.data() + pos_, 8);
  pos_ += 8;
  return v;
}

void Csprng::fill_u64(std::uint64_t* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = next_u64();
}

std::uint64_t Csprng::next_bit() {
  if (bits_left_ == 0) {
    bits_ = next_u64();
    bits_left_ = 64;
  }
  std::uint64_t b = bits_ & 1;
  bits_ >>= 1;
  --bits_left_;
  return b;
}

Torus Csprng::tuniform(unsigned bound_log2) {
  // (b+2) uniform bits r: (r >> 1) + (r & 1) is uniform on [0, 2^(b+1)] with half weight at
  // both ends, which is exactly TUniform shifted by 2^b.
  const unsigned bits = bound_log2 + 2;
  const std::uint64_t r = next_u64() >> (64 - bits);
  const std::int64_t v = static_cast<std::int64_t>((r >> 1) + (r & 1)) -
                         (static_cast<std::int64_t>(1) << bound_log2);
  return static_cast<Torus>(v);
}

Torus Csprng::gaussian(double std_dev_torus) {
  // Box-Muller on two 53-bit uniforms (not constant-time; only the optional Gaussian sets use it).
  const double two53 = 9007199254740992.0;
  double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) / (two53 + 1.0);
  double u2 = static_cast<double>(next_u64() >> 11) / two53;
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  double scaled = z * std_dev_torus * 18446744073709551616.0;
  return static_cast<Torus>(static_cast<std::int64_t>(std::llround(scaled)));
}

Torus Csprng::noise(const NoiseDistribution& dist) {
  if (dist.kind == NoiseKind::kTUniform) return tuniform(static_cast<unsigned>(dist.value));
  return gaussian(dist.value);
}

}  // namespace veil::fhe::core
