// Shortint: one LWE block carrying a small integer (message + carry), after TFHE-rs `shortint`.
//
// Encoding: a block value v in [0, p), p = message_modulus * carry_modulus, is v * Delta with
// Delta = 2^63 / p; the top bit is padding so that a PBS can evaluate any function. Blocks
// live under the big (GLWE-derived) key; every PBS first key-switches to the small key
// (KS-PBS order, as the default parameters assume).
//
// Degree tracking: `degree` is the largest value the block may hold; operations refuse (via
// assert in callers) or clean up when it would exceed p - 1. Noise tracking: `noise_level` is
// the nominal noise multiple (fresh/PBS output = 1, trivial = 0, add sums, scalar mul
// multiplies); packing operations bootstrap an operand first when the sum would exceed
// `max_noise_level`.
//
// Thread safety: keys are immutable and shareable; operations are const and reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/bootstrap.h"
#include "core/lwe.h"
#include "veil/common/thread_pool.h"
#include "veil/fhe/params.h"

namespace veil::fhe::shortint {

using core::Torus;

struct Ciphertext {
  core::LweCiphertext ct;
  std::uint64_t degree = 0;
  std::uint64_t noise_level = 0;
};

// A block whose mask is replaced by the 32-byte seed it was drawn from (TFHE-rs's seeded /
// compressed ciphertexts): 40 bytes plus metadata instead of 8 * (k*N + 1).
struct CompressedCiphertext {
  core::Seed seed{};
  Torus body = 0;
  std::uint64_t degree = 0;
  // Regenerates the mask (dimension = big LWE dimension of params).
  Ciphertext decompress(const Parameters& params) const;
};

class ClientKey {
 public:
  static ClientKey generate(const Parameters& params);
  static ClientKey from_parts(const Parameters& params, core::LweSecretKey small, core::GlweSecretKey glwe);

  const Parameters& params() const { return *params_; }
  // Encrypts value (< p) under the big key with the GLWE noise.
  Ciphertext encrypt(std::uint64_t value) const;
  // Seeded encryption: the mask comes from a fresh public seed kept in the result.
  CompressedCiphertext encrypt_compressed(std::uint64_t value) const;
  // The block's full value (message and carry) mod p.
  std::uint64_t decrypt_full(const Ciphertext& ct) const;
  // The message part only: decrypt_full % message_modulus.
  std::uint64_t decrypt(const Ciphertext& ct) const { return decrypt_full(ct) % params_->message_modulus; }
  // Raw phase (plaintext + noise) of a block, for noise measurements.
  Torus phase(const Ciphertext& ct) const;

  const core::LweSecretKey& small_key() const { return small_; }
  const core::GlweSecretKey& glwe_key() const { return glwe_; }
  const core::LweSecretKey& big_key() const { return big_; }

 private:
  const Parameters* params_ = nullptr;
  core::LweSecretKey small_;
  core::GlweSecretKey glwe_;
  core::LweSecretKey big_;
};

// A lookup table: the accumulator polynomial and, per input value, the output's degree.
struct LookupTable {
  std::vector<Torus> poly;             // N words
  std::vector<std::uint64_t> degrees;  // per function: largest output value
  std::size_t count = 1;               // functions packed (many-LUT)
  std::vector<std::vector<std::uint64_t>> values;  // [function][input] output values, for degree
};

// The evaluation key: bootstrapping key (Fourier) + key-switching key.
class ServerKey {
 public:
  ServerKey(const Parameters& params, core::FourierBootstrapKey bsk, core::KeySwitchKey ksk);
  const Parameters& params() const { return *params_; }
  const core::FourierBootstrapKey& bsk() const { return bsk_; }
  const core::KeySwitchKey& ksk() const { return ksk_; }
  const core::Fft& fft() const { return *fft_; }

  // LUT for f over [0, p); outputs are reduced mod p and encoded with Delta.
  LookupTable lut(const std::function<std::uint64_t(std::uint64_t)>& f) const;
  // LUT whose output is an arbitrary torus value (e.g. a negative multiple of Delta, so the
  // result can be added to another block); `degree` is the declared output degree.
  LookupTable lut_torus(const std::function<Torus(std::uint64_t)>& f, std::uint64_t degree) const;
  // Many-LUT: evaluates every function in one blind rotation. Inputs must be < p / count
  // (count a power of two).
  LookupTable many_lut(const std::vector<std::function<std::uint64_t(std::uint64_t)>>& fs) const;

  // KS + PBS. The result has noise level 1 and degree max f(x) over x <= input degree.
  Ciphertext apply(const Ciphertext& in, const LookupTable& lut) const;
  std::vector<Ciphertext> apply_many(const Ciphertext& in, const LookupTable& lut) const;

  // Applies luts[c] to inputs[c] for every c (many-LUTs give lut.count outputs) as one batch:
  // the key-switching key is read once (columns split over the pool) and the blind rotations
  // share each read of the bootstrapping key (batch split into one chunk per thread).
  std::vector<std::vector<Ciphertext>> apply_batch(const std::vector<Ciphertext>& inputs,
                                                   const std::vector<const LookupTable*>& luts, ThreadPool& pool) const;

  // The packed block lhs * message_modulus + rhs for a bivariate LUT, cleaning operands whose
  // noise would overflow the budget.
  Ciphertext pack_bivariate(const Ciphertext& lhs, const Ciphertext& rhs) const;
  LookupTable bivariate_lut(const std::function<std::uint64_t(std::uint64_t, std::uint64_t)>& f) const;

  // f(lhs, rhs) on messages: packs lhs * message_modulus + rhs (cleaning operands whose noise
  // would overflow the budget) and bootstraps.
  Ciphertext bivariate(const Ciphertext& lhs, const Ciphertext& rhs,
                       const std::function<std::uint64_t(std::uint64_t, std::uint64_t)>& f) const;
  // Identity PBS: same value, noise level 1.
  Ciphertext clean(const Ciphertext& ct) const;

  Ciphertext trivial(std::uint64_t value) const;
  // Linear operations (no bootstrap): degree and noise level are updated.
  void add_assign(Ciphertext& a, const Ciphertext& b) const;
  void scalar_add_assign(Ciphertext& a, std::uint64_t c) const;
  void scalar_mul_assign(Ciphertext& a, std::uint64_t c) const;
  // a - c, for messages known to be >= c; the degree stays (the caller knows the new bound).
  void scalar_sub_assign(Ciphertext& a, std::uint64_t c) const;
  // c - a, for a.degree <= c: degree becomes c.
  Ciphertext scalar_sub_from(std::uint64_t c, const Ciphertext& a) const;
  // Returns a itself, or a cleaned copy when a.noise_level > budget.
  Ciphertext with_noise_at_most(const Ciphertext& a, std::uint64_t budget) const;

 private:
  LookupTable build(std::size_t count, const std::function<Torus(std::size_t, std::uint64_t)>& f) const;

  const Parameters* params_;
  core::FourierBootstrapKey bsk_;
  core::KeySwitchKey ksk_;
  const core::Fft* fft_;
  LookupTable identity_;
};

// Server key whose random masks are replaced by a 32-byte seed (TFHE-rs's
// CompressedServerKey): about half the bytes for transport. decompress() regenerates them.
struct CompressedServerKey {
  const Parameters* params = nullptr;
  core::Seed seed{};
  std::vector<Torus> bsk_bodies;  // lwe_dimension * rows * N
  std::vector<Torus> ksk_bodies;  // big_lwe_dimension * ks_level

  static CompressedServerKey generate(const ClientKey& ck);
  ServerKey decompress() const;
};

// Programmable bootstraps run by this process so far (all threads).
std::uint64_t bootstrap_count();

// Batches run by apply_batch() so far: how many, their bootstraps, and for each thread count of
// fhe::BatchProfile::kThreads the sums of ceil(width / threads) and of the chunks a batch is
// cut into, and the wall time spent in them (diagnostics.h).
void batch_profile(std::uint64_t& batches, std::uint64_t& bootstraps, std::span<std::uint64_t> steps_at,
                   std::span<std::uint64_t> streams_at, std::uint64_t& batch_wall_ns);

}  // namespace veil::fhe::shortint
