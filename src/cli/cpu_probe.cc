#include "cpu_probe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>

namespace veil::cli {
namespace {

std::string cpuinfo_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return {};
}

#if defined(__x86_64__)

// Seconds a call of `body(iterations)` takes, the best of `runs`.
template <class Body>
double best_seconds(Body body, std::uint64_t iterations, int runs) {
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body(iterations);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

constexpr int kChainPerIteration = 12;  // dependent multiplies per loop iteration
constexpr double kMultiplyLatency = 3;  // cycles of imul r64, r64

// The loop's counter and branch are independent of the chain, so they run beside it; an add
// chain would not do: recent Intel cores fold add-immediate chains at rename (measured: 12 GHz).
void multiply_chain(std::uint64_t iterations) {
  std::uint64_t x = 3;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    asm volatile(
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0"
        : "+r"(x));
  }
}

// Independent accumulators: enough to hide a 4-cycle latency at three FMAs a cycle.
constexpr int kFmasPerIteration = 12;

// clang-format off
#define VEIL_FMA(R, D) "vfmadd231pd %%" R "12, %%" R "13, %%" R D "\n\t"
#define VEIL_FMA12(R)                                                                   \
  VEIL_FMA(R, "0") VEIL_FMA(R, "1") VEIL_FMA(R, "2") VEIL_FMA(R, "3") VEIL_FMA(R, "4")  \
  VEIL_FMA(R, "5") VEIL_FMA(R, "6") VEIL_FMA(R, "7") VEIL_FMA(R, "8") VEIL_FMA(R, "9")  \
  VEIL_FMA(R, "10") VEIL_FMA(R, "11")
#define VEIL_ZERO(R, D) "vxorpd %%" R D ", %%" R D ", %%" R D "\n\t"
#define VEIL_ZERO14(R)                                                                        \
  VEIL_ZERO(R, "0") VEIL_ZERO(R, "1") VEIL_ZERO(R, "2") VEIL_ZERO(R, "3") VEIL_ZERO(R, "4")   \
  VEIL_ZERO(R, "5") VEIL_ZERO(R, "6") VEIL_ZERO(R, "7") VEIL_ZERO(R, "8") VEIL_ZERO(R, "9")   \
  VEIL_ZERO(R, "10") VEIL_ZERO(R, "11") VEIL_ZERO(R, "12") VEIL_ZERO(R, "13")
#define VEIL_CLOBBER14 \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13"
// clang-format on

// Zeros in and out: no denormals, whose microcode assists would measure something else.
__attribute__((target("avx2,fma"))) void fma256_loop(std::uint64_t iterations) {
  asm volatile(VEIL_ZERO14("ymm") ::: VEIL_CLOBBER14);
  for (std::uint64_t i = 0; i < iterations; ++i) asm volatile(VEIL_FMA12("ymm") ::: VEIL_CLOBBER14);
  asm volatile("vzeroupper" ::: VEIL_CLOBBER14);
}

__attribute__((target("avx512f"))) void fma512_loop(std::uint64_t iterations) {
  asm volatile(VEIL_ZERO14("zmm") ::: VEIL_CLOBBER14);
  for (std::uint64_t i = 0; i < iterations; ++i) asm volatile(VEIL_FMA12("zmm") ::: VEIL_CLOBBER14);
  asm volatile("vzeroupper" ::: VEIL_CLOBBER14);
}

#undef VEIL_FMA
#undef VEIL_FMA12
#undef VEIL_ZERO
#undef VEIL_ZERO14
#undef VEIL_CLOBBER14

#endif

}  // namespace

CpuProbe probe_cpu() {
  CpuProbe out;
  out.model = cpuinfo_model();
#if defined(__x86_64__)
  constexpr int kRuns = 5;
  // ~24 M cycles a run: long enough for a turbo clock, short enough for a time slice.
  constexpr std::uint64_t kChainIterations = 2'000'000;
  const double chain_s = best_seconds(multiply_chain, kChainIterations, kRuns);
  const double hz = static_cast<double>(kChainIterations) * kChainPerIteration * kMultiplyLatency / chain_s;
  out.clock_ghz = hz / 1e9;
  constexpr std::uint64_t kFmaIterations = 4'000'000;
  auto per_cycle = [&](void (*loop)(std::uint64_t)) {
    const double seconds = best_seconds(loop, kFmaIterations, kRuns);
    return static_cast<double>(kFmaIterations) * kFmasPerIteration / seconds / hz;
  };
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.fma256_per_cycle = per_cycle(fma256_loop);
  if (__builtin_cpu_supports("avx512f")) out.fma512_per_cycle = per_cycle(fma512_loop);
#endif
  return out;
}

}  // namespace veil::cli
