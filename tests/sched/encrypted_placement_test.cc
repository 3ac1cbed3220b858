// The encrypted policies must decide exactly what the plaintext reference decides.
#include "veil/sched/encrypted_placement.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "encrypted_placement_fixture.h"
#include "veil/sched/decision.h"

namespace veil::sched {
namespace {

TEST_F(EncryptedPlacementTest, RandomClustersMatchThePlaintextReference) {
  // VEIL_SCHED_SEED picks another series of clusters (for long runs in several pieces).
  const char* seed = std::getenv("VEIL_SCHED_SEED");
  std::mt19937 rng(seed ? static_cast<std::uint32_t>(std::strtoul(seed, nullptr, 10)) : 2026);
  const int trials = cases(24);  // VEIL_SCHED_CASES=300 for a longer run
  for (int trial = 0; trial < trials; ++trial) {
    PlacementInput in = random_cluster(rng, trial);
    // Every third cluster as a node's round evaluates it: no reservation.
    const bool with_reservation = trial % 3 != 2;
    EncryptedPlacement enc = place_encrypted(encrypt(in, with_reservation), *server_);
    Placement expected = place_plaintext(in);
    ASSERT_EQ(decrypt_placement(enc, *client_), expected)
        << "trial " << trial << " policy " << policy_name(in.policy.kind) << " nodes " << in.nodes.size();
    if (with_reservation) {
      ASSERT_EQ(decrypt_telemetry(enc.nodes_after, *client_), reserve(in.nodes, in.request, expected)) << "trial " << trial;
    } else {
      ASSERT_TRUE(enc.nodes_after.empty()) << "trial " << trial;
    }
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

// A round without the reservation publishes the same choices, bit for bit, for fewer bootstraps.
TEST_F(EncryptedPlacementTest, TheReservationLeavesTheChoicesUnchanged) {
  std::mt19937 rng(11);
  PlacementInput in = random_cluster(rng, 7);
  in.policy.kind = PolicyKind::kSpread;
  in.replicas = 2;
  EncryptedPlacementInput round = encrypt(in);
  EncryptedPlacementInput reserving = round;
  reserving.reserve = true;
  const std::uint64_t before = fhe::bootstrap_count();
  const Bytes with = serialize_placement_outputs(place_encrypted(reserving, *server_));
  const std::uint64_t middle = fhe::bootstrap_count();
  const Bytes without = serialize_placement_outputs(place_encrypted(round, *server_));
  const std::uint64_t after = fhe::bootstrap_count();
  // The replica choices come first in both; the reservation only appends the capacities.
  ASSERT_LT(without.size(), with.size());
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin()));
  EXPECT_LT(after - middle, middle - before);
  EXPECT_NE(policy_descriptor(in.policy, 2, 0, true), policy_descriptor(in.policy, 2, 0, false));
}

TEST_F(EncryptedPlacementTest, EvaluationIsDeterministic) {
  std::mt19937 rng(7);
  PlacementInput in = random_cluster(rng);
  in.policy.kind = PolicyKind::kSpread;
  EncryptedPlacementInput enc = encrypt(in, /*reserve=*/true);
  // Two evaluations, the second with a different thread pool schedule (a round-tripped key).
  Bytes first = serialize_placement_outputs(place_encrypted(enc, *server_));
  auto key_copy = fhe::ServerKey::deserialize(server_->serialize());
  ASSERT_TRUE(key_copy.ok());
  Bytes second = serialize_placement_outputs(place_encrypted(enc, *key_copy));
  EXPECT_EQ(first, second);
}

}  // namespace
}  // namespace veil::sched
