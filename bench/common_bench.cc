#include <benchmark/benchmark.h>

#include <atomic>

#include "veil/common/bytes.h"
#include "veil/common/thread_pool.h"

namespace {

void BM_ToHex(benchmark::State& state) {
  veil::Bytes data(static_cast<std::size_t>(state.range(0)), 0xab);
  for (auto _ : state) benchmark::DoNotOptimize(veil::to_hex(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ToHex)->Arg(32)->Arg(4096);

void BM_FromHex(benchmark::State& state) {
  std::string text = veil::to_hex(veil::Bytes(static_cast<std::size_t>(state.range(0)), 0xcd));
  for (auto _ : state) benchmark::DoNotOptimize(veil::from_hex(text));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FromHex)->Arg(32)->Arg(4096);

// Overhead of dispatching tiny tasks: bounds how fine-grained FHE parallelism can be.
void BM_ParallelForOverhead(benchmark::State& state) {
  veil::ThreadPool& pool = veil::ThreadPool::shared();
  std::atomic<int> sink{0};
  for (auto _ : state) pool.parallel_for(0, static_cast<std::size_t>(state.range(0)), [&](std::size_t) { sink.fetch_add(1, std::memory_order_relaxed); });
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParallelForOverhead)->Arg(8)->Arg(64);

}  // namespace
