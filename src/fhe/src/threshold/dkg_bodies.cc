// The seam between the DKG member and the share-wise public objects (dkg_member_internal.h).
// Provisional: the exact-noise list and the body shapes follow docs/dkg.md section 1; the
// body computation arrives with threshold/dkg_keys.
#include "threshold/dkg_member_internal.h"

namespace veil::fhe::dkg {

std::vector<NoiseSpec> exact_noise_specs(const Parameters& params) {
  const std::uint64_t ksk = params.big_lwe_dimension() * params.ks_level;
  const auto lwe = static_cast<unsigned>(params.lwe_noise.value);
  const auto glwe = static_cast<unsigned>(params.glwe_noise.value);
  // Server KSK, squash KSK, public key.
  return {NoiseSpec{ksk, lwe}, NoiseSpec{ksk, lwe}, NoiseSpec{params.big_lwe_dimension(), glwe}};
}

std::vector<ObjectShape> body_shapes(const Parameters& params) {
  const auto& sq = noise_squashing_for(params);
  const std::uint64_t n = params.lwe_dimension, big = params.big_lwe_dimension();
  return {ObjectShape{8, big},
          ObjectShape{8, n * (params.glwe_dimension + 1) * params.pbs_level * params.polynomial_size},
          ObjectShape{8, big * params.ks_level},
          ObjectShape{8, big * params.ks_level},
          ObjectShape{16, n * (sq.glwe_dimension + 1) * sq.level * sq.polynomial_size}};
}

Result<std::unique_ptr<BodyBuffer>> contribute_bodies(const Parameters&, const Hash32&, unsigned, unsigned,
                                                      const BitPlan&, const std::vector<Elem>&, const Key32&) {
  return unimplemented("dkg: the share-wise bodies (threshold/dkg_keys) are not merged yet");
}

Result<PublicFiles> assemble_bodies(const Parameters&, const Hash32&, BodyBuffer&) {
  return unimplemented("dkg: the share-wise bodies (threshold/dkg_keys) are not merged yet");
}

}  // namespace veil::fhe::dkg
