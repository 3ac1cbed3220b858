// DKG key material (issue 16, docs/dkg.md section 6): one member's contribute() on the default
// parameters (3 members), i.e. its share of every body of the five public objects, dominated by
// the exact 128-bit mask x share products of the squashing bootstrapping key (16.9 M bodies).
// Process CPU time counts the shared thread pool's workers too. The shares are random ring
// elements: the cost does not depend on their values.
#include <benchmark/benchmark.h>

#include <random>

#include "core/csprng.h"
#include "threshold/dkg_keys.h"

namespace {

namespace dk = veil::fhe::threshold::dkg_keys;
using veil::fhe::threshold::gr::Elem;

std::vector<Elem> random_shares(std::size_t n, std::mt19937_64& rng) {
  std::vector<Elem> out(n);
  for (auto& e : out) {
    for (auto& c : e.c) c = (static_cast<veil::fhe::threshold::gr::u128>(rng()) << 64) | rng();
  }
  return out;
}

void BM_DkgContributeDefault(benchmark::State& state) {
  const auto& p = veil::fhe::kParamMessage2Carry2KsPbsTUniform2M128;
  std::mt19937_64 rng(7);
  dk::MemberShares shares;
  shares.lwe = random_shares(p.lwe_dimension, rng);
  shares.glwe = random_shares(p.big_lwe_dimension(), rng);
  shares.squash = random_shares(veil::fhe::noise_squashing_for(p).output_dimension(), rng);
  shares.public_key_noise = random_shares(dk::public_key_noise_spec(p).count, rng);
  shares.server_ksk_noise = random_shares(dk::server_ksk_noise_spec(p).count, rng);
  shares.squash_ksk_noise = random_shares(dk::squash_ksk_noise_spec(p).count, rng);
  const dk::Seeds seeds{veil::fhe::core::Csprng::os_seed(), veil::fhe::core::Csprng::os_seed(),
                        veil::fhe::core::Csprng::os_seed()};
  for (auto _ : state) {
    auto bodies = dk::contribute(p, seeds, 1, 3, shares, veil::fhe::core::Csprng::os_seed());
    if (!bodies.ok()) state.SkipWithError(bodies.status().message().c_str());
    benchmark::DoNotOptimize(bodies->squash_bsk.data());
  }
}
BENCHMARK(BM_DkgContributeDefault)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->Repetitions(3)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
