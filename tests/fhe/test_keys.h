// Keys shared by the fhe test suites: generated once per process and per parameter set.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "shortint/shortint.h"

namespace veil::fhe::testing {

struct TestKeys {
  shortint::ClientKey client;
  shortint::ServerKey server;
};

inline const TestKeys& keys_for(const Parameters& params) {
  static std::mutex mutex;
  static std::map<std::uint8_t, std::unique_ptr<TestKeys>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[params.id];
  if (!slot) {
    auto ck = shortint::ClientKey::generate(params);
    auto sk = shortint::CompressedServerKey::generate(ck).decompress();
    slot = std::make_unique<TestKeys>(TestKeys{std::move(ck), std::move(sk)});
  }
  return *slot;
}

inline std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

}  // namespace veil::fhe::testing
