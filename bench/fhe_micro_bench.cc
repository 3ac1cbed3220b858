// Micro-benchmarks of the FHE engine's hot paths (default parameters unless named).
// Run: build/bin/fhe_micro_bench  (targets are reported by `veil fhe bench --json`).
#include <benchmark/benchmark.h>

#include <random>

#include "core/bootstrap.h"
#include "core/fft.h"
#include "shortint/shortint.h"
#include "veil/common/thread_pool.h"

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
  core::AlignedVector<std::int32_t> in(2048);
  std::mt19937 r(1);
  for (auto& v : in) v = static_cast<std::int32_t>(r() % 1000);
  core::AlignedVector<double> out(2048);
  for (auto _ : state) {
    fft.forward_i32(in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Fft2048Forward);

void BM_Fft2048Backward(benchmark::State& state) {
  const auto& fft = core::fft_plan(2048);
  core::AlignedVector<double> in(2048, 1.5), work(2048);
  core::AlignedVector<std::uint64_t> out(2048);
  for (auto _ : state) {
    work = in;
    fft.backward(work.data(), out.data(), false);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Fft2048Backward);

// One CMUX of a blind rotation (X^t·acc − acc, its external product with a GGSW, k = 1, one
// level) at polynomial size N = range(0), the GGSW a key-sized array of arbitrary Fourier values
// (the transforms' cost does not depend on them). Compares the 2,048 of the default parameters
// with the 4,096 that every published 2^-128 multi-bit set for 2-bit messages needs.
void BM_CmuxBySize(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const core::Fft& fft = core::fft_plan(n);
  const core::GgswShape shape{1, n, 23, 1};
  std::mt19937_64 r(7);
  core::AlignedVector<double> ggsw(shape.fourier_doubles());
  for (auto& v : ggsw) v = static_cast<double>(static_cast<std::int64_t>(r() >> 11)) - 0x1p52;
  core::AlignedVector<core::Torus> acc(2 * n);
  for (auto& v : acc) v = r();
  std::size_t t = 1;
  for (auto _ : state) {
    core::cmux_rotate(acc.data(), ggsw.data(), shape, t, fft);
    t = (t * 5 + 3) % (2 * n);  // a different rotation each time, never 0
    if (t == 0) t = 1;
    benchmark::DoNotOptimize(acc.data());
  }
}
BENCHMARK(BM_CmuxBySize)->Arg(2048)->Arg(4096);

void BM_KeySwitch(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  core::LweCiphertext out;
  for (auto _ : state) core::keyswitch32(k.sk.ksk(), ct.ct, out);
}
BENCHMARK(BM_KeySwitch)->Unit(benchmark::kMillisecond);

// The 64-bit switch over the full-width key (the squashing key's; the bootstraps' before KS32).
void BM_KeySwitch64(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  core::LweCiphertext out;
  for (auto _ : state) core::keyswitch(k.sk.ksk(), ct.ct, out);
}
BENCHMARK(BM_KeySwitch64)->Unit(benchmark::kMillisecond);

void BM_BlindRotatePbs(benchmark::State& state) {
  const auto& k = keys();
  auto ct = k.ck.encrypt(3);
  core::LweCiphertext small, out;
  core::keyswitch32(k.sk.ksk(), ct.ct, small);
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

// A batch of KS + PBS as the integer layer runs them (all pool threads, keys streamed once
// per batch); items_per_second is bootstraps per second of wall time, and the CPU time per
// iteration divided by the batch size is the cost of one bootstrap.
void BM_KsPbsBatch(benchmark::State& state) {
  const auto& k = keys();
  const auto count = static_cast<std::size_t>(state.range(0));
  std::vector<shortint::Ciphertext> inputs;
  for (std::size_t i = 0; i < count; ++i) inputs.push_back(k.ck.encrypt(i % 4));
  auto lut = k.sk.lut([](std::uint64_t x) { return x; });
  std::vector<const shortint::LookupTable*> luts(count, &lut);
  for (auto _ : state) benchmark::DoNotOptimize(k.sk.apply_batch(inputs, luts, veil::ThreadPool::shared()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}
BENCHMARK(BM_KsPbsBatch)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_KeySwitchBatch(benchmark::State& state) {
  const auto& k = keys();
  const std::size_t count = 32;
  std::vector<shortint::Ciphertext> inputs;
  for (std::size_t i = 0; i < count; ++i) inputs.push_back(k.ck.encrypt(i % 4));
  const auto& ksk = k.sk.ksk();
  const std::size_t per_input = ksk.rows(), cols = ksk.padded_columns();
  std::vector<std::int8_t> digits(count * per_input);
  std::vector<std::uint32_t> accs(count * cols);
  std::vector<const core::LweCiphertext*> in_ptrs;
  std::vector<std::uint32_t*> acc_ptrs;
  for (std::size_t c = 0; c < count; ++c) {
    in_ptrs.push_back(&inputs[c].ct);
    acc_ptrs.push_back(accs.data() + c * cols);
    core::keyswitch_digits(ksk, inputs[c].ct, digits.data() + c * per_input);
  }
  for (auto _ : state) {
    core::keyswitch32_batch_columns(ksk, in_ptrs.data(), acc_ptrs.data(), count, digits.data(), 0, cols);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}
BENCHMARK(BM_KeySwitchBatch)->Unit(benchmark::kMillisecond);

}  // namespace
