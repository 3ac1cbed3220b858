// A round over a rendezvous sample: the encrypted decision equals the plaintext reference over
// the same sample, for every policy, with replicas, and across a no-fit round and its widening.
#include <algorithm>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "encrypted_placement_fixture.h"
#include "veil/common/sha256.h"
#include "veil/sched/sampling.h"

namespace veil::sched {
namespace {

using SampledPlacementTest = EncryptedPlacementTest;

std::vector<std::string> peer_ids(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("peer-" + std::to_string(100 + i));  // sorted, as PeerIds are
  return out;
}

// The cluster restricted to the sampled peers, in the pool's order.
PlacementInput restrict_to(const PlacementInput& cluster, const std::vector<std::string>& pool,
                           const std::vector<std::string>& sample) {
  PlacementInput in = cluster;
  in.nodes.clear();
  std::size_t next = 0;
  for (std::size_t i = 0; i < pool.size() && next < sample.size(); ++i) {
    if (pool[i] == sample[next]) {
      in.nodes.push_back(cluster.nodes[i]);
      ++next;
    }
  }
  return in;
}

TEST_F(SampledPlacementTest, EveryPolicyOverASampleMatchesThePlaintextReference) {
  std::mt19937 rng(1818);
  int rounds = 0;
  for (int k = 0; k < 4; ++k) {
    for (std::uint32_t replicas = 1; replicas <= 2; ++replicas) {
      PlacementInput cluster = random_cluster(rng, 7);  // 6-19 nodes
      cluster.policy.kind = static_cast<PolicyKind>(k);
      cluster.replicas = replicas;
      const auto pool = peer_ids(cluster.nodes.size());
      const CandidateCount three{CandidateCount::Kind::kNumber, 3};
      const std::size_t d = candidates_for_round(three, pool.size(), replicas, 0);
      const auto sample = sample_candidates(sha256("job-" + std::to_string(k)), 0, pool, d);
      ASSERT_EQ(sample.size(), d);
      PlacementInput in = restrict_to(cluster, pool, sample);
      in.round_robin_offset %= static_cast<std::uint32_t>(in.nodes.size());
      const Placement expected = place_plaintext(in);
      const EncryptedPlacement enc = place_encrypted(encrypt(in, /*reserve=*/true), *server_);
      EXPECT_EQ(decrypt_placement(enc, *client_), expected) << policy_name(in.policy.kind) << " replicas " << replicas;
      EXPECT_EQ(decrypt_telemetry(enc.nodes_after, *client_), reserve(in.nodes, in.request, expected));
      ++rounds;
    }
  }
  std::printf("[ cases    ] %d sampled rounds on %s: every decision and reservation equal\n", rounds,
              std::string(params().name).c_str());
}

TEST_F(SampledPlacementTest, ANoFitRoundFitsAfterWidening) {
  // 8 nodes, one of which fits; a job whose 2-node sample misses it and whose widened 4-node
  // sample (the same round, so a superset) contains it.
  PlacementInput cluster;
  QuantizedTelemetry small, large;
  small.free = {4, 4, 4, 0};
  large.free = {20, 20, 20, 0};
  cluster.nodes.assign(8, small);
  cluster.nodes[5] = large;
  cluster.request.amount = {10, 10, 0, 0};
  cluster.policy.kind = PolicyKind::kSpread;
  const auto pool = peer_ids(cluster.nodes.size());
  const CandidateCount two{CandidateCount::Kind::kNumber, 2};
  ASSERT_EQ(candidates_for_round(two, pool.size(), 1, 0), 2u);
  ASSERT_EQ(candidates_for_round(two, pool.size(), 1, 1), 4u);
  auto contains_fit = [&](const std::vector<std::string>& s) { return std::find(s.begin(), s.end(), pool[5]) != s.end(); };
  int j = 0;
  while (contains_fit(sample_candidates(sha256("job-" + std::to_string(j)), 0, pool, 2)) ||
         !contains_fit(sample_candidates(sha256("job-" + std::to_string(j)), 0, pool, 4))) {
    ++j;
  }
  const auto job_id = sha256("job-" + std::to_string(j));
  for (std::uint32_t widenings : {0u, 1u}) {
    const std::size_t d = candidates_for_round(two, pool.size(), 1, widenings);
    PlacementInput in = restrict_to(cluster, pool, sample_candidates(job_id, 0, pool, d));
    const Placement expected = place_plaintext(in);
    ASSERT_EQ(expected.replicas.size(), 1u);
    EXPECT_EQ(expected.replicas[0].has_value(), widenings == 1);
    EXPECT_EQ(decrypt_placement(place_encrypted(encrypt(in), *server_), *client_), expected) << "widenings " << widenings;
  }
}

}  // namespace
}  // namespace veil::sched
