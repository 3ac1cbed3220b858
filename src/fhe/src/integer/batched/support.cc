// What the batched kernels share: public blocks evaluated in the clear, batched noise cleaning.
#include "integer/batched/helpers.h"

namespace veil::fhe::integer {

using namespace detail;

std::int64_t ServerKey::public_value(const Ciphertext& c) const {
  if (c.noise_level != 0) return -1;
  // A deserialized block may claim noise level 0: only an all-zero mask makes it public.
  for (std::size_t i = 0; i + 1 < c.ct.data.size(); ++i) {
    if (c.ct.data[i] != 0) return -1;
  }
  const Torus delta = params().delta();
  const Torus body = c.ct.body();
  if (body % delta != 0) return -1;
  const std::uint64_t v = body / delta;
  return v < params().plaintext_modulus() ? static_cast<std::int64_t>(v) : -1;
}

std::vector<std::vector<Ciphertext>> ServerKey::run_public_aware(
    const std::vector<Ciphertext>& inputs, const std::vector<const shortint::LookupTable*>& luts) const {
  const std::uint64_t p = params().plaintext_modulus();
  std::vector<std::vector<Ciphertext>> out(inputs.size());
  std::vector<Ciphertext> secret;
  std::vector<const shortint::LookupTable*> secret_luts;
  std::vector<std::size_t> where;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const shortint::LookupTable& lut = *luts[i];
    const std::int64_t v = public_value(inputs[i]);
    if (v >= 0 && static_cast<std::uint64_t>(v) < p / lut.count && lut.values.size() == lut.count) {
      for (std::size_t r = 0; r < lut.count; ++r) out[i].push_back(key_->trivial(lut.values[r][static_cast<std::size_t>(v)]));
      continue;
    }
    secret.push_back(inputs[i]);
    secret_luts.push_back(luts[i]);
    where.push_back(i);
  }
  auto results = run(secret, secret_luts);
  for (std::size_t k = 0; k < where.size(); ++k) out[where[k]] = std::move(results[k]);
  return out;
}

void ServerKey::clean_many(std::vector<Ciphertext*> targets) const {
  if (targets.empty()) return;
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  const auto identity = key_->lut([](std::uint64_t x) { return x; });
  std::vector<Ciphertext> inputs;
  for (Ciphertext* t : targets) inputs.push_back(*t);
  auto cleaned = apply_all(inputs, std::vector<const shortint::LookupTable*>(inputs.size(), &identity));
  for (std::size_t k = 0; k < targets.size(); ++k) *targets[k] = std::move(cleaned[k]);
}

void ServerKey::fit_noise_many(std::vector<std::pair<Ciphertext*, Ciphertext*>>& pairs, std::uint64_t budget) const {
  for (;;) {
    std::vector<Ciphertext*> targets;
    for (auto& [a, b] : pairs) {
      if (a->noise_level + b->noise_level > budget) targets.push_back(a->noise_level >= b->noise_level ? a : b);
    }
    if (targets.empty()) return;
    clean_many(std::move(targets));
  }
}

}  // namespace veil::fhe::integer
