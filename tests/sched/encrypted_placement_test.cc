// The encrypted policies must decide exactly what the plaintext reference decides.
#include "veil/sched/encrypted_placement.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

// One key set for the whole suite: INSECURE test parameters by default, fast enough for many cases.
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

  static EncryptedPlacementInput encrypt(const PlacementInput& in) {
    EncryptedPlacementInput enc;
    for (const auto& t : in.nodes) enc.nodes.push_back(encrypt_telemetry(t, *public_));
    enc.request = in.request;
    enc.policy = in.policy;
    enc.replicas = in.replicas;
    enc.round_robin_offset = in.round_robin_offset;
    return enc;
  }

  static fhe::ClientKey* client_;
  static fhe::ServerKey* server_;
  static fhe::CompactPublicKey* public_;
};

fhe::ClientKey* EncryptedPlacementTest::client_ = nullptr;
fhe::ServerKey* EncryptedPlacementTest::server_ = nullptr;
fhe::CompactPublicKey* EncryptedPlacementTest::public_ = nullptr;

TEST_F(EncryptedPlacementTest, RandomClustersMatchThePlaintextReference) {
  // VEIL_SCHED_SEED picks another series of clusters (for long runs in several pieces).
  const char* seed = std::getenv("VEIL_SCHED_SEED");
  std::mt19937 rng(seed ? static_cast<std::uint32_t>(std::strtoul(seed, nullptr, 10)) : 2026);
  const int trials = cases(24);  // VEIL_SCHED_CASES=300 for a longer run
  for (int trial = 0; trial < trials; ++trial) {
    PlacementInput in = random_cluster(rng, trial);
    EncryptedPlacement enc = place_encrypted(encrypt(in), *server_);
    Placement expected = place_plaintext(in);
    ASSERT_EQ(decrypt_placement(enc, *client_), expected)
        << "trial " << trial << " policy " << policy_name(in.policy.kind) << " nodes " << in.nodes.size();
    ASSERT_EQ(decrypt_telemetry(enc.nodes_after, *client_), reserve(in.nodes, in.request, expected)) << "trial " << trial;
  }
  RecordProperty("cases", trials);
  std::printf("[ cases    ] %d random clusters on %s: every decision and reservation equal\n", trials,
              std::string(params().name).c_str());
}

TEST_F(EncryptedPlacementTest, EveryPolicyHandlesNoFitAndTies) {
  for (int k = 0; k < 4; ++k) {
    PlacementInput in;
    QuantizedTelemetry same;
    same.free = {10, 10, 10, 1};
    same.latency = 3;
    in.nodes = {same, same, same};
    in.policy.kind = static_cast<PolicyKind>(k);
    in.request.amount = {5, 5, 0, 0};
    in.replicas = 2;
    // All tied: replicas land on the lowest indices (round robin: rotation from offset 0).
    EXPECT_EQ(decrypt_placement(place_encrypted(encrypt(in), *server_), *client_), place_plaintext(in))
        << policy_name(in.policy.kind);
    in.request.amount = {11, 1, 0, 0};  // nobody fits
    Placement none = decrypt_placement(place_encrypted(encrypt(in), *server_), *client_);
    ASSERT_EQ(none.replicas.size(), 2u);
    EXPECT_FALSE(none.replicas[0].has_value()) << policy_name(in.policy.kind);
    EXPECT_FALSE(none.replicas[1].has_value()) << policy_name(in.policy.kind);
  }
}

TEST_F(EncryptedPlacementTest, EvaluationIsDeterministic) {
  std::mt19937 rng(7);
  PlacementInput in = random_cluster(rng);
  in.policy.kind = PolicyKind::kSpread;
  EncryptedPlacementInput enc = encrypt(in);
  // Two evaluations, the second with a different thread pool schedule (a round-tripped key).
  Bytes first = serialize_placement_outputs(place_encrypted(enc, *server_));
  auto key_copy = fhe::ServerKey::deserialize(server_->serialize());
  ASSERT_TRUE(key_copy.ok());
  Bytes second = serialize_placement_outputs(place_encrypted(enc, *key_copy));
  EXPECT_EQ(first, second);
}

}  // namespace
}  // namespace veil::sched
