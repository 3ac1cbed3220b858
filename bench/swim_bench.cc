// SWIM micro-benchmarks: wire codec and the simulator's throughput. Measured, never asserted.
#include <benchmark/benchmark.h>

#include "veil/swim/sim.h"
#include "veil/swim/wire.h"

namespace {

using namespace veil::swim;

Message sample_gossip(Directory& dir) {
  Message m;
  m.type = MessageType::kPing;
  m.seq = 123456;
  m.target = dir.intern("12D3KooWTargetPeerIdxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  for (int i = 0; i < 8; ++i) {
    MemberId id = dir.intern("12D3KooWMember" + std::to_string(i) + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    m.updates.push_back({Update::Kind::kSuspect, id, 7, m.target, veil::Bytes(64, 0x11)});
  }
  return m;
}

void BM_SwimEncode(benchmark::State& state) {
  Directory dir;
  Message m = sample_gossip(dir);
  veil::Bytes out;
  for (auto _ : state) {
    out.clear();
    encode(m, dir, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_SwimEncode);

void BM_SwimDecode(benchmark::State& state) {
  Directory dir;
  veil::Bytes bytes = encode(sample_gossip(dir), dir);
  for (auto _ : state) {
    auto m = decode(bytes, dir);
    benchmark::DoNotOptimize(m.ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_SwimDecode);

// Simulated member-periods per second of host time (converged cluster, 1 crash, 1% loss).
void BM_SwimSimulator(benchmark::State& state) {
  for (auto _ : state) {
    SimOptions o;
    o.members = static_cast<int>(state.range(0));
    o.periods = 30;
    o.kill = 1;
    o.loss = 0.01;
    auto r = run_simulation(o);
    benchmark::DoNotOptimize(r.ok());
  }
  state.counters["member_periods_per_s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * 30.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SwimSimulator)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
