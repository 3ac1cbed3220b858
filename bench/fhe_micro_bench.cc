// Micro-benchmarks of the FHE engine's hot paths (default parameters unless named).
// Run: build/bin/fhe_micro_bench  (targets are reported by `veil fhe bench --json`).
#include <benchmark/benchmark.h>

#include <random>

#include "core/bootstrap.h"
#include "core/fft.h"
#include "shortint/shortint.h"

namespace {

using namespace veil::fhe;

struct Keys {
  shortint::ClientKey ck;
  shortint::ServerKey sk;
};

const Keys& keys() {
  static Keys* k = [] {
    auto ck = shortint::ClientKey::generate(kParamMessage2Carry2KsPbsTUniform2M128);
    auto sk = shortint::CompressedServerKey::generate(ck).decompress();
    return new Keys{std::move(ck), std::move(sk)};
  }();
  return *k;
}

void BM_Fft2048Forward(benchmark::State& state) {
  const auto& fft = core::fft_plan(2048);
  std::vector<std::int32_t> in(2048);
  std::mt19937 r(1);
  for (auto& v : in) v = static_cast<std::int32_t>(r() % 1000);
  std::vector<double> out(2048);
  for (auto _ : state) {
    fft.forward_i32(in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Fft2048Forward);

void BM_Fft2048Backward(benchmark::State& state) {
  const auto& fft = core::fft_plan(2048);
  std::vector<double> in(2048, 1.5), work(2048);
  std::vector<std::uint64_t> out(2048);
  for (auto _ : state) {
    work = in;
    fft.backward(work.data(), out.data(), false);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Fft2048Backward);

void BM_KeySwitch(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  core::LweCiphertext out;
  for (auto _ : state) core::keyswitch(k.sk.ksk(), ct.ct, out);
}
BENCHMARK(BM_KeySwitch)->Unit(benchmark::kMillisecond);

void BM_BlindRotatePbs(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  core::LweCiphertext small, out;
  core::keyswitch(k.sk.ksk(), ct.ct, small);
  auto lut = k.sk.lut([](std::uint64_t x) { return x; });
  for (auto _ : state) core::programmable_bootstrap(out, k.sk.bsk(), small, lut.poly.data(), k.sk.fft());
}
BENCHMARK(BM_BlindRotatePbs)->Unit(benchmark::kMillisecond);

void BM_KsPbs(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  auto lut = k.sk.lut([](std::uint64_t x) { return x; });
  for (auto _ : state) benchmark::DoNotOptimize(k.sk.apply(ct, lut));
}
BENCHMARK(BM_KsPbs)->Unit(benchmark::kMillisecond);

}  // namespace
