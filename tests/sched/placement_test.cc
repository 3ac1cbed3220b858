#include "veil/sched/placement.h"

#include <random>

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

QuantizedTelemetry node(std::uint16_t cpu, std::uint16_t mem, std::uint16_t disk = 100, std::uint16_t gpu = 0,
                        std::uint16_t latency = 10) {
  QuantizedTelemetry t;
  t.free = {cpu, mem, disk, gpu};
  t.latency = latency;
  return t;
}

QuantizedRequest request(std::uint16_t cpu, std::uint16_t mem, std::uint16_t disk = 0, std::uint16_t gpu = 0) {
  QuantizedRequest r;
  r.amount = {cpu, mem, disk, gpu};
  return r;
}

PlacementInput input(std::vector<QuantizedTelemetry> nodes, QuantizedRequest req, PolicyKind kind,
                     std::uint32_t replicas = 1) {
  PlacementInput in;
  in.nodes = std::move(nodes);
  in.request = req;
  in.policy.kind = kind;
  in.replicas = replicas;
  return in;
}

TEST(Quantize, RoundsFreeDownAndRequestsUp) {
  FreeCapacity free{.cpu_millicores = 1999, .memory_mib = 31, .disk_mib = 511, .gpus = 100, .latency_us = 250};
  auto t = quantize_telemetry(free);
  EXPECT_EQ(t.free[kCpu], 199);
  EXPECT_EQ(t.free[kMemory], 1);
  EXPECT_EQ(t.free[kDisk], 1);
  EXPECT_EQ(t.free[kGpu], kMaxGpus);
  EXPECT_EQ(t.latency, 2);
  auto r = quantize_request({.cpu_millicores = 1991, .memory_mib = 17, .disk_mib = 1, .gpus = 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->amount[kCpu], 200);
  EXPECT_EQ(r->amount[kMemory], 2);
  EXPECT_EQ(r->amount[kDisk], 1);
  EXPECT_FALSE(quantize_request({.cpu_millicores = 1'000'000'000}).ok());
  EXPECT_FALSE(quantize_request({.gpus = 65}).ok());
}

TEST(Placement, SpreadPicksMostFreeBinpackLeastFree) {
  std::vector<QuantizedTelemetry> nodes = {node(400, 100), node(900, 300), node(200, 50)};
  EXPECT_EQ(place_plaintext(input(nodes, request(100, 10), PolicyKind::kSpread)).replicas[0], 1u);
  EXPECT_EQ(place_plaintext(input(nodes, request(100, 10), PolicyKind::kBinpack)).replicas[0], 2u);
  // Node 2 no longer fits: binpack takes the next tightest.
  EXPECT_EQ(place_plaintext(input(nodes, request(300, 10), PolicyKind::kBinpack)).replicas[0], 0u);
}

TEST(Placement, TiesGoToTheLowestIndex) {
  std::vector<QuantizedTelemetry> nodes = {node(10, 10), node(500, 500), node(500, 500)};
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kSpread)).replicas[0], 1u);
  nodes[0] = node(500, 500);
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kBinpack)).replicas[0], 0u);
}

// Scores read values at their score grain (placement.h): nodes that differ only below it tie
// (and the lowest index wins), while whether they fit is still decided on the exact values.
TEST(Placement, ScoresRankAtTheScoreGrainAndFitsAreExact) {
  // 0.16 cores (16 units) is the CPU grain: 500 and 510 units score alike, 512 does not.
  std::vector<QuantizedTelemetry> nodes = {node(500, 64), node(510, 64), node(512, 64)};
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kSpread)).replicas[0], 2u);
  nodes[2] = node(511, 64);
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kSpread)).replicas[0], 0u);
  // ... but a request of 505 units fits only the node with 510, however equal the scores.
  EXPECT_EQ(place_plaintext(input(nodes, request(505, 1), PolicyKind::kBinpack)).replicas[0], 1u);
}

// An honest record holds at most 64 GPUs; placement reads the field's low 8 bits (as the FHE
// circuit does, which then skips the top blocks): a record claiming 300 counts as 44, one
// claiming 256 as none, in the filter, the score and the reservation.
TEST(Placement, GpuFieldsAreReadModulo256) {
  ScorePlan plan = score_plan(PlacementPolicy{.kind = PolicyKind::kSpread, .weights = {.cpu = 0, .memory = 0, .gpu = 1}});
  EXPECT_EQ(score(plan, node(0, 0, 0, 64), 0, 1, 0), 64u * kResourceScale[kGpu]);
  EXPECT_EQ(score(plan, node(0, 0, 0, 300), 0, 1, 0), 44u * kResourceScale[kGpu]);
  EXPECT_TRUE(fits(node(10, 10, 10, 300), request(1, 1, 1, 44)));
  EXPECT_FALSE(fits(node(10, 10, 10, 256), request(1, 1, 1, 1)));
  std::vector<QuantizedTelemetry> nodes = {node(10, 10, 10, 300), node(10, 10, 10, 257)};
  Placement chosen;
  chosen.replicas = {0u};
  auto after = reserve(nodes, request(1, 1, 1, 4), chosen);
  EXPECT_EQ(after[0].free[kGpu], 40);  // 44 - 4
  EXPECT_EQ(after[1].free[kGpu], 1);   // not chosen: the field as placement read it
}

TEST(Placement, NoFitIsReportedNotGuessed) {
  std::vector<QuantizedTelemetry> nodes = {node(10, 10), node(20, 5)};
  auto p = place_plaintext(input(nodes, request(15, 8), PolicyKind::kSpread));
  ASSERT_EQ(p.replicas.size(), 1u);
  EXPECT_FALSE(p.replicas[0].has_value());
  // Exactly equal free capacity fits.
  EXPECT_EQ(place_plaintext(input(nodes, request(20, 5), PolicyKind::kSpread)).replicas[0], 1u);
}

TEST(Placement, ReplicasLandOnDistinctNodesAndRunOutCleanly) {
  std::vector<QuantizedTelemetry> nodes = {node(300, 300), node(100, 100), node(200, 200), node(5, 5)};
  auto p = place_plaintext(input(nodes, request(50, 50), PolicyKind::kSpread, 4));
  ASSERT_EQ(p.replicas.size(), 4u);
  EXPECT_EQ(p.replicas[0], 0u);
  EXPECT_EQ(p.replicas[1], 2u);
  EXPECT_EQ(p.replicas[2], 1u);
  EXPECT_FALSE(p.replicas[3].has_value());
}

TEST(Placement, LatencyPolicyTradesLatencyAgainstLoad) {
  // Same free capacity: lower latency wins. Same latency: more free capacity wins.
  std::vector<QuantizedTelemetry> nodes = {node(100, 100, 100, 0, 50), node(100, 100, 100, 0, 5)};
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kLatency)).replicas[0], 1u);
  nodes = {node(100, 100, 100, 0, 5), node(400, 400, 100, 0, 5)};
  EXPECT_EQ(place_plaintext(input(nodes, request(1, 1), PolicyKind::kLatency)).replicas[0], 1u);
}

TEST(Placement, RoundRobinRotatesAndSkipsNodesThatDoNotFit) {
  std::vector<QuantizedTelemetry> nodes = {node(100, 100), node(100, 100), node(1, 1), node(100, 100)};
  auto in = input(nodes, request(10, 10), PolicyKind::kPriorityRoundRobin);
  in.round_robin_offset = 1;
  EXPECT_EQ(place_plaintext(in).replicas[0], 1u);
  in.round_robin_offset = 2;  // node 2 does not fit: the next in rotation wins
  EXPECT_EQ(place_plaintext(in).replicas[0], 3u);
  in.round_robin_offset = 7;  // offset is taken modulo the node count
  EXPECT_EQ(place_plaintext(in).replicas[0], 3u);
}

TEST(Placement, ScoresNeverOverflowThirtyTwoBits) {
  PlacementPolicy policy;
  policy.weights = {kMaxWeight, kMaxWeight, kMaxWeight, kMaxWeight, kMaxWeight};
  for (auto kind : {PolicyKind::kSpread, PolicyKind::kBinpack, PolicyKind::kLatency}) {
    policy.kind = kind;
    ScorePlan plan = score_plan(policy);
    std::uint64_t bound = std::uint64_t{plan.latency_coefficient} * 0xffff;
    for (std::size_t r = 0; r < kResourceCount; ++r) {
      bound += std::uint64_t{plan.resource_coefficient[r]} * (r == kGpu && !plan.complement_free ? kMaxGpus : 0xffff);
    }
    EXPECT_LT(bound, std::uint64_t{1} << 32) << policy_name(kind);
  }
}

TEST(Placement, ReserveSubtractsFromChosenNodesOnly) {
  std::vector<QuantizedTelemetry> nodes = {node(300, 300), node(100, 100)};
  auto req = request(50, 20);
  auto p = place_plaintext(input(nodes, req, PolicyKind::kSpread));
  auto after = reserve(nodes, req, p);
  EXPECT_EQ(after[0].free[kCpu], 250);
  EXPECT_EQ(after[0].free[kMemory], 280);
  EXPECT_EQ(after[1], nodes[1]);
}

// Cross-check the reference against a brute-force restatement of its definition.
TEST(Placement, RandomClustersAgreeWithBruteForce) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 500; ++trial) {
    const std::size_t n = 1 + rng() % 12;
    std::vector<QuantizedTelemetry> nodes;
    for (std::size_t i = 0; i < n; ++i) nodes.push_back(node(rng() % 64, rng() % 64, rng() % 64, rng() % 3, rng() % 64));
    auto req = request(rng() % 40, rng() % 40, rng() % 20, rng() % 2);
    auto kind = static_cast<PolicyKind>(rng() % 4);
    auto in = input(nodes, req, kind, 1 + rng() % 4);
    in.round_robin_offset = rng() % 100;
    in.policy.weights = {static_cast<std::uint32_t>(rng() % 16), 1 + static_cast<std::uint32_t>(rng() % 15),
                         static_cast<std::uint32_t>(rng() % 16), static_cast<std::uint32_t>(rng() % 16),
                         static_cast<std::uint32_t>(rng() % 16)};
    Placement p = place_plaintext(in);
    ScorePlan plan = score_plan(in.policy);
    std::vector<bool> used(n, false);
    for (const auto& choice : p.replicas) {
      // The choice is an unused fitting node and no unused fitting node is strictly better or
      // equally good with a lower index.
      std::vector<std::size_t> candidates;
      for (std::size_t i = 0; i < n; ++i) {
        if (!used[i] && fits(nodes[i], req)) candidates.push_back(i);
      }
      if (!choice) {
        EXPECT_TRUE(candidates.empty());
        continue;
      }
      ASSERT_FALSE(used[*choice]);
      ASSERT_TRUE(fits(nodes[*choice], req));
      auto s = [&](std::size_t i) { return score(plan, nodes[i], i, n, in.round_robin_offset); };
      for (std::size_t i : candidates) {
        bool better = plan.maximise ? s(i) > s(*choice) : s(i) < s(*choice);
        EXPECT_FALSE(better || (s(i) == s(*choice) && i < *choice));
      }
      used[*choice] = true;
    }
  }
}

}  // namespace
}  // namespace veil::sched
