// Correctness and timing probes of the engine, for `veil fhe validate` and `veil fhe bench`.
//
// Thread safety: reentrant; check_bootstraps() uses ThreadPool::shared().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "veil/fhe/keys.h"

namespace veil::fhe {

struct BootstrapCheck {
  std::size_t bootstraps = 0;
  std::size_t failures = 0;        // outputs that decrypted to a wrong value
  double max_abs_error_log2 = 0;   // largest |phase - expected| seen, log2 (torus 2^64)
  double error_std_log2 = 0;       // standard deviation of the output error, log2
  double seconds = 0;
};

// Runs `count` key-switch + PBS operations with random inputs and random lookup tables on all
// threads, and compares every decryption with the table. Each bootstrap's output is measured,
// so the result also gives the empirical noise after a PBS.
BootstrapCheck check_bootstraps(const ClientKey& client, const ServerKey& server, std::size_t count);

// One key-switch + PBS (identity table) of a fresh encryption of `value`, on the calling
// thread; returns the decrypted output. For timing a single bootstrap.
std::uint64_t bootstrap_once(const ClientKey& client, const ServerKey& server, std::uint64_t value);

// `count` key-switch + PBS (identity table) of fresh encryptions as one batch, the way the
// integer layer runs a level of a circuit (all pool threads, each key read once for the whole
// batch); returns how many outputs decrypted to their input. For timing a batch.
std::size_t bootstrap_batch(const ClientKey& client, const ServerKey& server, std::size_t count);

// Programmable bootstraps run by this process so far, on all threads (a many-LUT bootstrap
// counts once). Benchmarks take differences of it around an operation.
std::uint64_t bootstrap_count();

// How this process's batched bootstraps were grouped: one batch is one level of a batched
// kernel, whose bootstraps are independent. T threads run a batch of w bootstraps in
// ceil(w / T) bootstrap times at best (one contiguous share per thread), so for a computation
// `bootstraps / steps(T)` is the most T threads can speed it up, whatever else limits them.
// A batch is cut into chunks that the threads take in turn, each chunk's rotations reading the
// whole bootstrapping key once together, so streams_at(T) times the key's size is the key
// traffic at T threads.
// Bootstraps outside batches (single ones, see bootstrap_count()) are not in it.
struct BatchProfile {
  static constexpr std::array<std::size_t, 7> kThreads = {1, 2, 4, 8, 16, 32, 64};
  std::uint64_t batches = 0;
  std::uint64_t bootstraps = 0;
  std::array<std::uint64_t, kThreads.size()> steps_at{};    // sum of ceil(w / kThreads[i])
  std::array<std::uint64_t, kThreads.size()> streams_at{};  // chunks of the batches at kThreads[i]
  // Wall time inside batches, summed over batches (batches that run at once, as rounds on
  // several threads would, count each); a computation's wall time less this is what ran
  // outside bootstraps: the serial part that no thread count shortens.
  std::uint64_t batch_wall_ns = 0;

  // The counts of `later` minus those of `earlier` (an operation between two readings).
  friend BatchProfile operator-(const BatchProfile& later, const BatchProfile& earlier);
};
BatchProfile batch_profile();

// Name of the FFT kernels in use ("avx2-fma" or "portable").
const char* fft_backend_name();

}  // namespace veil::fhe
