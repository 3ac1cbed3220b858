#include "shortint/public_key.h"

#include <cassert>

namespace veil::fhe::shortint {
namespace {
constexpr std::uint32_t kPublicMaskStream = 3;

std::vector<double> binary_fft(const core::Fft& fft, const std::vector<Torus>& bits) {
  std::vector<std::int32_t> tmp(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) tmp[i] = static_cast<std::int32_t>(bits[i]);
  std::vector<double> out(bits.size());
  fft.forward_i32(tmp.data(), out.data());
  return out;
}
}  // namespace

CompactPublicKey CompactPublicKey::generate(const ClientKey& ck) {
  const Parameters& p = ck.params();
  const std::size_t n = p.big_lwe_dimension();
  const core::Fft& fft = core::fft_plan(n);
  core::Seed seed = core::Csprng::os_seed();
  core::Csprng mask(seed, kPublicMaskStream);
  std::vector<Torus> a(n);
  mask.fill_u64(a.data(), n);
  core::Csprng noise(core::Csprng::os_seed());
  std::vector<Torus> b(n);
  for (auto& v : b) v = noise.noise(p.glwe_noise);
  fft.mul_exact(a.data(), binary_fft(fft, ck.big_key().bits).data(), b.data(), true);
  return from_seed_and_body(p, seed, std::move(b));
}

CompactPublicKey CompactPublicKey::from_seed_and_body(const Parameters& params, const core::Seed& seed,
                                                      std::vector<Torus> body) {
  CompactPublicKey pk;
  pk.params_ = &params;
  pk.seed_ = seed;
  pk.body_ = std::move(body);
  pk.mask_.resize(pk.body_.size());
  core::Csprng mask(seed, kPublicMaskStream);
  mask.fill_u64(pk.mask_.data(), pk.mask_.size());
  return pk;
}

std::vector<Ciphertext> CompactPublicKey::encrypt(std::span<const std::uint64_t> values) const {
  const Parameters& p = *params_;
  const std::size_t n = body_.size();
  assert(values.size() <= n);
  const core::Fft& fft = core::fft_plan(n);
  thread_local core::Csprng secret(core::Csprng::os_seed());
  // r binary, e1 and e2 noise: mask' = a r + e1, body' = b r + e2 + Delta m. The phase of
  // coefficient i is (e r - e1 s + e2)_i + Delta m_i.
  std::vector<Torus> r(n);
  for (auto& v : r) v = secret.next_bit();
  const auto r_fft = binary_fft(fft, r);
  std::vector<Torus> glwe(2 * n);
  Torus* out_mask = glwe.data();
  Torus* out_body = glwe.data() + n;
  for (std::size_t i = 0; i < n; ++i) out_mask[i] = secret.noise(p.glwe_noise);
  fft.mul_exact(mask_.data(), r_fft.data(), out_mask, true);
  for (std::size_t i = 0; i < n; ++i) out_body[i] = secret.noise(p.glwe_noise);
  fft.mul_exact(body_.data(), r_fft.data(), out_body, true);
  std::vector<Ciphertext> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    out_body[i] += (values[i] % p.message_modulus) * p.delta();
    core::sample_extract(out[i].ct, glwe.data(), 1, n, i);
    out[i].degree = p.message_modulus - 1;
    out[i].noise_level = 1;
  }
  return out;
}

}  // namespace veil::fhe::shortint
