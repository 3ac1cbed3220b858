// Noise-squashing micro-benchmarks (issue 10): the exact 128-bit NTT product and one CMUX of
// the squashing blind rotation with the real shape (k = 2, N = 2048, 3 levels of 24 bits).
// A whole squash is 918 (lwe_dimension) CMUXes; `veil keys bench` measures it end to end.
#include <benchmark/benchmark.h>

#include <random>

#include "core/squash.h"

namespace {

using veil::fhe::core::u128;

void BM_Ntt128Forward(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& ntt = veil::fhe::core::ntt128_plan(n);
  std::mt19937 rng(1);
  std::vector<std::int32_t> in(n);
  for (auto& v : in) v = static_cast<std::int32_t>(rng() % (1u << 24)) - (1 << 23);
  std::vector<std::uint64_t> out(ntt.words());
  for (auto _ : state) {
    ntt.forward_i32(in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Ntt128Forward)->Arg(512)->Arg(2048);

void BM_Ntt128Backward(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& ntt = veil::fhe::core::ntt128_plan(n);
  std::vector<u128> acc(ntt.words(), 12345), out(n);
  for (auto _ : state) {
    ntt.backward(acc.data(), out.data(), false);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Ntt128Backward)->Arg(512)->Arg(2048);

void BM_Cmux128(benchmark::State& state) {
  const veil::fhe::core::GgswShape shape{2, 2048, 24, 3};
  const auto& ntt = veil::fhe::core::ntt128_plan(shape.n);
  std::mt19937_64 rng(2);
  // A GGSW-shaped operand of random residues: the timing does not depend on the key.
  std::vector<std::uint64_t> ggsw(shape.rows() * (shape.k + 1) * ntt.words());
  for (std::size_t i = 0; i < ggsw.size(); ++i) ggsw[i] = rng() % ntt.prime(i / shape.n % 3);
  std::vector<u128> acc((shape.k + 1) * shape.n);
  for (auto& v : acc) v = (static_cast<u128>(rng()) << 64) | rng();
  std::size_t t = 1;
  const bool spread = state.range(0) != 0;
  for (auto _ : state) {
    veil::fhe::core::cmux128_rotate(acc.data(), ggsw.data(), shape, t, spread);
    t = t % 4095 + 1;
    benchmark::DoNotOptimize(acc.data());
  }
}
// Arg 1: spread over the thread pool (a lone bootstrap); 0: on the calling thread (a batch).
BENCHMARK(BM_Cmux128)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

// One CMUX after another on the calling thread, each with its own GGSW out of 64 (85 MB, more
// than the caches hold): a blind rotation streams its 1.22 GB key from memory this way, which
// BM_Cmux128's one GGSW, hot in the caches, does not show.
void BM_Cmux128Streaming(benchmark::State& state) {
  const veil::fhe::core::GgswShape shape{2, 2048, 24, 3};
  const auto& ntt = veil::fhe::core::ntt128_plan(shape.n);
  const std::size_t ggsws = 64, words = shape.rows() * (shape.k + 1) * ntt.words();
  std::mt19937_64 rng(2);
  std::vector<std::uint64_t> key(ggsws * words);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = rng() % ntt.prime(i % words / shape.n % 3);
  std::vector<u128> acc((shape.k + 1) * shape.n);
  for (auto& v : acc) v = (static_cast<u128>(rng()) << 64) | rng();
  std::size_t t = 1, g = 0;
  for (auto _ : state) {
    veil::fhe::core::cmux128_rotate(acc.data(), key.data() + g * words, shape, t, false);
    t = t % 4095 + 1;
    g = (g + 1) % ggsws;
    benchmark::DoNotOptimize(acc.data());
  }
}
BENCHMARK(BM_Cmux128Streaming)->Unit(benchmark::kMicrosecond);

}  // namespace
