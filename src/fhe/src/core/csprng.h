// Cryptographically secure generator: ChaCha20 (IETF, libsodium) keystream, read as u64s.
//
// Two roles, as in TFHE-rs: a *secret* generator (keys, noise) seeded from the OS, and a
// *mask* generator for the uniform masks of ciphertexts. A mask generator built from a public
// seed lets a "compressed" object store the 32-byte seed instead of its masks; the receiver
// regenerates the same masks in the same order.
//
// Thread safety: none; use one generator per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "veil/fhe/params.h"

namespace veil::fhe::core {

using Torus = std::uint64_t;
using Seed = std::array<std::uint8_t, 32>;

class Csprng {
 public:
  // `stream` separates independent sequences drawn from one seed (it is the ChaCha20 nonce).
  explicit Csprng(const Seed& seed, std::uint32_t stream = 0);
  ~Csprng();
  Csprng(const Csprng&) = delete;
  Csprng& operator=(const Csprng&) = delete;

  // A generator seeded from the operating system's randomness.
  static Seed os_seed();

  std::uint64_t next_u64();
  void fill_u64(std::uint64_t* out, std::size_t count);
  // Uniform bits {0,1}.
  std::uint64_t next_bit();
  // A noise sample of `dist`, as a two's-complement torus element.
  Torus noise(const NoiseDistribution& dist);
  Torus tuniform(unsigned bound_log2);
  Torus gaussian(double std_dev_torus);

 private:
  void refill();

  Seed key_;
  std::array<std::uint8_t, 12> nonce_{};
  std::uint32_t counter_ = 0;
  std::array<std::uint8_t, 4096> buffer_{};
  std::size_t pos_ = sizeof(buffer_);
  std::uint64_t bits_ = 0;
  unsigned bits_left_ = 0;
};

}  // namespace veil::fhe::core
