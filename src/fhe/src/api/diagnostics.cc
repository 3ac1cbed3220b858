#include "veil/fhe/diagnostics.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>

#include "api/impl.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe {

BootstrapCheck check_bootstraps(const ClientKey& client, const ServerKey& server, std::size_t count) {
  const auto& ck = client.impl().key;
  const auto& sk = server.impl().key;
  const Parameters& p = ck.params();
  const std::uint64_t pm = p.plaintext_modulus();
  const auto start = std::chrono::steady_clock::now();
  constexpr std::size_t kBatch = 64;  // one random table per batch
  const std::size_t batches = (count + kBatch - 1) / kBatch;
  std::atomic<std::size_t> failures{0};
  std::mutex mutex;
  double max_err = 0, sum_sq = 0;
  std::size_t samples = 0;
  ThreadPool::shared().parallel_for(0, batches, [&](std::size_t batch) {
    std::mt19937_64 rng(std::random_device{}() ^ (batch * 0x9E3779B97F4A7C15ull));
    std::vector<std::uint64_t> table(pm);
    for (auto& v : table) v = rng() % pm;
    auto lut = sk.lut([&](std::uint64_t x) { return table[x]; });
    double local_max = 0, local_sq = 0;
    std::size_t local_n = 0;
    for (std::size_t i = batch * kBatch; i < std::min(count, (batch + 1) * kBatch); ++i) {
      const std::uint64_t m = rng() % pm;
      auto out = sk.apply(ck.encrypt(m), lut);
      if (ck.decrypt_full(out) != table[m]) failures.fetch_add(1);
      const auto err = static_cast<double>(static_cast<std::int64_t>(ck.phase(out) - table[m] * p.delta()));
      local_max = std::max(local_max, std::fabs(err));
      local_sq += err * err;
      ++local_n;
    }
    std::lock_guard lock(mutex);
    max_err = std::max(max_err, local_max);
    sum_sq += local_sq;
    samples += local_n;
  });
  BootstrapCheck out;
  out.bootstraps = count;
  out.failures = failures.load();
  out.max_abs_error_log2 = max_err > 0 ? std::log2(max_err) : 0;
  out.error_std_log2 = samples > 0 && sum_sq > 0 ? 0.5 * std::log2(sum_sq / static_cast<double>(samples)) : 0;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::uint64_t bootstrap_once(const ClientKey& client, const ServerKey& server, std::uint64_t value) {
  const auto& ck = client.impl().key;
  const auto& sk = server.impl().key;
  return ck.decrypt_full(sk.clean(ck.encrypt(value)));
}

std::size_t bootstrap_batch(const ClientKey& client, const ServerKey& server, std::size_t count) {
  const auto& ck = client.impl().key;
  const auto& sk = server.impl().key;
  const std::uint64_t p = ck.params().message_modulus;
  std::vector<shortint::Ciphertext> inputs;
  for (std::size_t i = 0; i < count; ++i) inputs.push_back(ck.encrypt(i % p));
  const auto identity = sk.lut([](std::uint64_t x) { return x; });
  const std::vector<const shortint::LookupTable*> luts(count, &identity);
  const auto outputs = sk.apply_batch(inputs, luts, ThreadPool::shared());
  std::size_t correct = 0;
  for (std::size_t i = 0; i < count; ++i) correct += ck.decrypt_full(outputs[i].at(0)) == i % p ? 1 : 0;
  return correct;
}

std::uint64_t bootstrap_count() { return shortint::bootstrap_count(); }

BatchProfile batch_profile() {
  BatchProfile profile;
  shortint::batch_profile(profile.batches, profile.bootstraps, profile.steps_at, profile.streams_at,
                          profile.batch_wall_ns);
  return profile;
}

BatchProfile operator-(const BatchProfile& later, const BatchProfile& earlier) {
  BatchProfile d;
  d.batches = later.batches - earlier.batches;
  d.bootstraps = later.bootstraps - earlier.bootstraps;
  d.batch_wall_ns = later.batch_wall_ns - earlier.batch_wall_ns;
  for (std::size_t i = 0; i < d.steps_at.size(); ++i) {
    d.steps_at[i] = later.steps_at[i] - earlier.steps_at[i];
    d.streams_at[i] = later.streams_at[i] - earlier.streams_at[i];
  }
  return d;
}

const char* fft_backend_name() { return core::default_fft_kernels().name; }

}  // namespace veil::fhe
