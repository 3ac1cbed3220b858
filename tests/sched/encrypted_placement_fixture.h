// One FHE key set per suite and random clusters, shared by the tests that compare encrypted
// placements with the plaintext reference (INSECURE test parameters by default).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

#include "veil/sched/encrypted_placement.h"

namespace veil::sched {

class EncryptedPlacementTest : public ::testing::Test {
 protected:
  // VEIL_SCHED_PARAMS=default runs the same cases on the real parameters (minutes per case).
  static const fhe::Parameters& params() {
    const char* name = std::getenv("VEIL_SCHED_PARAMS");
    const fhe::Parameters* chosen = name ? fhe::params_by_name(name) : nullptr;
    return chosen ? *chosen : fhe::kParamInsecureTestOnly;
  }

  static void SetUpTestSuite() {
    client_ = new fhe::ClientKey(fhe::ClientKey::generate(params()));
    server_ = new fhe::ServerKey(fhe::ServerKey::generate(*client_));
    public_ = new fhe::CompactPublicKey(fhe::CompactPublicKey::generate(*client_));
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
    delete public_;
  }

  static int cases(int fallback) {
    const char* env = std::getenv("VEIL_SCHED_CASES");
    return env ? std::atoi(env) : fallback;
  }

  // Random clusters with many near-ties, tight fits and misfits. Odd trials use the full
  // 16-bit range, with free capacities near the request at every scale, so comparisons and
  // carries cross every block; every eighth trial has 6-19 nodes (deeper tournaments).
  static PlacementInput random_cluster(std::mt19937& rng, int trial = 0) {
    PlacementInput in;
    const bool wide = trial % 2 == 1;
    const std::size_t n = trial % 8 == 7 ? 6 + rng() % 14 : 2 + rng() % 4;
    for (auto& a : in.request.amount) {
      a = static_cast<std::uint16_t>(wide ? (rng() % 3 == 0 ? 0 : rng() % 0x10000) : rng() % 6);
    }
    auto near = [&](std::uint16_t anchor) {
      const std::int64_t delta = static_cast<std::int64_t>(rng() % (1u << (rng() % 17)));
      const std::int64_t v = anchor + (rng() % 2 ? delta : -delta);
      return static_cast<std::uint16_t>(std::clamp<std::int64_t>(v, 0, 0xffff));
    };
    for (std::size_t i = 0; i < n; ++i) {
      QuantizedTelemetry t;
      for (std::size_t r = 0; r < kResourceCount; ++r) {
        t.free[r] = wide ? (rng() % 5 == 0 ? in.request.amount[r] : near(in.request.amount[r]))
                         : static_cast<std::uint16_t>(rng() % 12);
      }
      t.latency = static_cast<std::uint16_t>(wide ? rng() % 0x10000 : rng() % 8);
      if (rng() % 4 == 0 && i > 0) t = in.nodes[rng() % i];  // an exact tie
      in.nodes.push_back(t);
    }
    in.policy.kind = static_cast<PolicyKind>(rng() % 4);
    in.policy.weights = {static_cast<std::uint32_t>(rng() % 16), 1 + static_cast<std::uint32_t>(rng() % 15),
                         static_cast<std::uint32_t>(rng() % 3), static_cast<std::uint32_t>(rng() % 3),
                         static_cast<std::uint32_t>(rng() % 16)};
    if (wide && rng() % 2 == 0) {
      for (auto* w : {&in.policy.weights.disk, &in.policy.weights.gpu}) *w = static_cast<std::uint32_t>(rng() % 16);
    }
    in.replicas = 1 + rng() % 3;
    in.round_robin_offset = rng() % 10;
    return in;
  }

  static EncryptedPlacementInput encrypt(const PlacementInput& in, bool reserve = false) {
    EncryptedPlacementInput enc;
    enc.reserve = reserve;
    for (const auto& t : in.nodes) enc.nodes.push_back(encrypt_telemetry(t, *public_));
    enc.request = in.request;
    enc.policy = in.policy;
    enc.replicas = in.replicas;
    enc.round_robin_offset = in.round_robin_offset;
    return enc;
  }

  static inline fhe::ClientKey* client_ = nullptr;
  static inline fhe::ServerKey* server_ = nullptr;
  static inline fhe::CompactPublicKey* public_ = nullptr;
};

}  // namespace veil::sched
