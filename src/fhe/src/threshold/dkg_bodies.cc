// The seam between the DKG member and the share-wise public objects (dkg_member_internal.h,
// threshold/dkg_keys.h): the bit plan's noise objects, the wire order of the opened bodies,
// the member's shares as dkg_keys takes them, and the seeds derived from the session.
#include <sodium.h>

#include "threshold/dkg_keys.h"
#include "threshold/dkg_member_internal.h"

namespace veil::fhe::dkg {

namespace dk = threshold::dkg_keys;

namespace {

NoiseSpec spec_of(const dk::NoiseSpec& s) { return NoiseSpec{s.count, s.bound_log2}; }

// seed = BLAKE2b-256 keyed with the session over a label (docs/dkg.md R0).
std::array<std::uint8_t, 32> seed_of(const Hash32& session, std::string_view label) {
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(label.data()), label.size(),
                     session.data(), session.size());
  return out;
}

dk::Seeds seeds_of(const Hash32& session) {
  dk::Seeds s;
  s.public_key = seed_of(session, "public-key");
  s.server_key = seed_of(session, "server-key");
  s.squash_key = seed_of(session, "squash-key");
  return s;
}

// The opened objects in wire order; must match body_shapes().
class Buffer final : public BodyBuffer {
 public:
  explicit Buffer(dk::Bodies b) : bodies(std::move(b)) {}
  std::uint8_t* data(std::size_t object) override {
    switch (object) {
      case 0: return reinterpret_cast<std::uint8_t*>(bodies.public_key.data());
      case 1: return reinterpret_cast<std::uint8_t*>(bodies.server_bsk.data());
      case 2: return reinterpret_cast<std::uint8_t*>(bodies.server_ksk.data());
      case 3: return reinterpret_cast<std::uint8_t*>(bodies.squash_ksk.data());
      default: return reinterpret_cast<std::uint8_t*>(bodies.squash_bsk.data());
    }
  }
  void wipe() override { bodies.wipe(); }
  dk::Bodies bodies;
};

}  // namespace

std::vector<NoiseSpec> exact_noise_specs(const Parameters& params) {
  return {spec_of(dk::server_ksk_noise_spec(params)), spec_of(dk::squash_ksk_noise_spec(params)),
          spec_of(dk::public_key_noise_spec(params))};
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

Result<std::unique_ptr<BodyBuffer>> contribute_bodies(const Parameters& params, const Hash32& session, unsigned id,
                                                      unsigned m, const BitPlan& plan, const std::vector<Elem>& bits,
                                                      const Key32& local_noise_seed) {
  dk::MemberShares shares;
  shares.lwe.assign(bits.begin() + plan.s_first(), bits.begin() + plan.s_first() + plan.s_count);
  shares.glwe.assign(bits.begin() + plan.z_first(), bits.begin() + plan.z_first() + plan.z_count);
  shares.squash.assign(bits.begin() + plan.w_first(), bits.begin() + plan.w_first() + plan.w_count);
  std::vector<Elem>* noise[] = {&shares.server_ksk_noise, &shares.squash_ksk_noise, &shares.public_key_noise};
  for (std::size_t k = 0; k < plan.noise.size(); ++k) {
    const unsigned per = plan.noise[k].bound_log2 + 2;
    const Elem* first = bits.data() + plan.noise_first(k);
    noise[k]->resize(plan.noise[k].values);
    for (std::uint64_t v = 0; v < plan.noise[k].values; ++v) {
      (*noise[k])[v] = tuniform_share(first + v * per, plan.noise[k].bound_log2);
    }
  }
  auto bodies = dk::contribute(params, seeds_of(session), id, m, shares, local_noise_seed);
  shares.wipe();
  if (!bodies.ok()) return bodies.status();
  auto buffer = std::make_unique<Buffer>(std::move(*bodies));
  const auto shapes = body_shapes(params);
  const std::size_t sizes[] = {buffer->bodies.public_key.size(), buffer->bodies.server_bsk.size(),
                               buffer->bodies.server_ksk.size(), buffer->bodies.squash_ksk.size(),
                               buffer->bodies.squash_bsk.size()};
  for (std::size_t o = 0; o < shapes.size(); ++o) {
    if (sizes[o] != shapes[o].words) {
      buffer->wipe();
      return internal_error("dkg: body object " + std::to_string(o) + " has " + std::to_string(sizes[o]) +
                            " words, the wire expects " + std::to_string(shapes[o].words));
    }
  }
  return std::unique_ptr<BodyBuffer>(std::move(buffer));
}

Result<PublicFiles> assemble_bodies(const Parameters& params, const Hash32& session, BodyBuffer& opened) {
  auto& buffer = static_cast<Buffer&>(opened);
  VEIL_ASSIGN_OR_RETURN(auto files, dk::assemble(params, seeds_of(session), std::move(buffer.bodies)));
  return PublicFiles{std::move(files.public_key), std::move(files.server_key), std::move(files.squash_key)};
}

std::vector<std::uint64_t> key_share_of(const BitPlan& plan, const std::vector<Elem>& bits) {
  std::vector<Elem> w(bits.begin() + plan.w_first(), bits.begin() + plan.w_first() + plan.w_count);
  auto values = dk::key_share_values(w);
  sodium_memzero(w.data(), w.size() * sizeof(Elem));
  return values;
}

}  // namespace veil::fhe::dkg
