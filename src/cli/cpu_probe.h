// What one core of this machine does per second and per cycle (`veil bench cpu`).
//
// Speed figures from different machines, or from different draws of a cloud VM, only compare
// through their clocks: the VMs this project runs on report a base clock (BogoMIPS, lscpu's
// "MHz") that says little about the turbo clock a benchmark runs at, and they expose no cycle
// counters to perf. So the clock is measured, from a chain of dependent 64-bit multiplies
// (3 cycles each on every x86-64 core of the last decade, Intel and AMD), and the vector
// units' width from independent fused multiply-adds; the FHE engine's per-bootstrap figures
// become cycles with them (bench/README.md, "Per cycle").
//
// Thread safety: probe_cpu() runs on the calling thread and shares nothing.
#pragma once

#include <optional>
#include <string>

namespace veil::cli {

struct CpuProbe {
  std::string model;  // /proc/cpuinfo's "model name" ("" where it has none)
  // Measured, on the calling thread: the best of a few runs (a turbo clock settles within one).
  std::optional<double> clock_ghz;
  // Independent FMAs retired per cycle of that clock: 256-bit (AVX2+FMA) and 512-bit
  // (AVX-512F), where the CPU has them. Two means two vector FMA units of that width.
  std::optional<double> fma256_per_cycle;
  std::optional<double> fma512_per_cycle;
};

// Takes a fraction of a second (x86-64 only; elsewhere only the model is set).
CpuProbe probe_cpu();

}  // namespace veil::cli
