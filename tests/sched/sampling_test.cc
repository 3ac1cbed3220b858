// Candidate sampling: the rendezvous sample, the d of a round and the candidate-count syntax.
#include "veil/sched/sampling.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "veil/common/sha256.h"

namespace veil::sched {
namespace {

std::array<std::uint8_t, 32> job(int n) { return sha256("job-" + std::to_string(n)); }

std::vector<std::string> peers(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("12D3KooPeer" + std::to_string(1000 + i));
  return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST(SampleCandidates, IsDeterministicAndPicksD) {
  const auto pool = peers(100);
  const auto a = sample_candidates(job(1), 0, pool, 10);
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(a, sample_candidates(job(1), 0, pool, 10));
  EXPECT_EQ(as_set(a).size(), 10u);  // no duplicates
  EXPECT_NE(a, sample_candidates(job(2), 0, pool, 10));  // another job, another sample
  EXPECT_NE(a, sample_candidates(job(1), 1, pool, 10));  // another round, another sample
}

TEST(SampleCandidates, KeepsThePoolsOrder) {
  const auto pool = peers(50);
  const auto sample = sample_candidates(job(3), 2, pool, 7);
  std::vector<std::size_t> positions;
  for (const auto& peer : sample) {
    positions.push_back(static_cast<std::size_t>(std::find(pool.begin(), pool.end(), peer) - pool.begin()));
  }
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  EXPECT_LT(positions.back(), pool.size());
}

TEST(SampleCandidates, DAtLeastThePoolReturnsThePool) {
  const auto pool = peers(5);
  EXPECT_EQ(sample_candidates(job(4), 0, pool, 5), pool);
  EXPECT_EQ(sample_candidates(job(4), 0, pool, 500), pool);
  EXPECT_TRUE(sample_candidates(job(4), 0, {}, 3).empty());
  EXPECT_TRUE(sample_candidates(job(4), 0, pool, 0).empty());
}

TEST(SampleCandidates, TheSetDoesNotDependOnThePoolsOrder) {
  auto pool = peers(64);
  std::mt19937 rng(18);
  for (int j = 0; j < 20; ++j) {
    const auto expected = as_set(sample_candidates(job(j), 0, pool, 9));
    std::shuffle(pool.begin(), pool.end(), rng);
    EXPECT_EQ(as_set(sample_candidates(job(j), 0, pool, 9)), expected) << "job " << j;
  }
}

TEST(SampleCandidates, AWiderSampleContainsTheNarrowerOne) {
  const auto pool = peers(200);
  for (int j = 0; j < 10; ++j) {
    const auto narrow = as_set(sample_candidates(job(j), 0, pool, 8));
    const auto wide = as_set(sample_candidates(job(j), 0, pool, 16));
    EXPECT_TRUE(std::includes(wide.begin(), wide.end(), narrow.begin(), narrow.end())) << "job " << j;
  }
}

TEST(SampleCandidates, EveryNodeIsChosenAboutEquallyOften) {
  // 64 nodes, d = 8, 4,000 jobs: 500 selections expected per node. Fixed job ids, so the
  // statistic is a constant; the bound (chi-square, 63 degrees of freedom: mean 63, 99.9th
  // percentile ~104) only fails if the weights are biased.
  const auto pool = peers(64);
  std::map<std::string, int> count;
  const int jobs = 4000;
  for (int j = 0; j < jobs; ++j) {
    for (const auto& peer : sample_candidates(job(j), 0, pool, 8)) ++count[peer];
  }
  const double expected = jobs * 8.0 / 64.0;
  double chi2 = 0;
  for (const auto& peer : pool) {
    const double diff = count[peer] - expected;
    chi2 += diff * diff / expected;
    EXPECT_GT(count[peer], expected * 0.75) << peer;
    EXPECT_LT(count[peer], expected * 1.25) << peer;
  }
  EXPECT_LT(chi2, 104.0);
}

TEST(CandidatesForRound, FollowsTheRule) {
  const CandidateCount all{CandidateCount::Kind::kAll, 0};
  const CandidateCount automatic{};
  const CandidateCount four{CandidateCount::Kind::kNumber, 4};
  EXPECT_EQ(candidates_for_round(all, 1000, 1, 0), 1000u);
  EXPECT_EQ(candidates_for_round(four, 1000, 1, 0), 4u);
  EXPECT_EQ(candidates_for_round(four, 1000, 3, 0), 6u);  // 2·replicas floor
  EXPECT_EQ(candidates_for_round(automatic, 1000, 1, 0), kAutoCandidates);
  EXPECT_EQ(candidates_for_round(automatic, 1000, 12, 0), 24u);
}

TEST(CandidatesForRound, WideningDoublesUpToThePool) {
  const CandidateCount four{CandidateCount::Kind::kNumber, 4};
  EXPECT_EQ(candidates_for_round(four, 1000, 1, 1), 8u);
  EXPECT_EQ(candidates_for_round(four, 1000, 1, 3), 32u);
  EXPECT_EQ(candidates_for_round(four, 1000, 1, 8), 1000u);
  EXPECT_EQ(candidates_for_round(four, 1000, 1, 4'000'000'000u), 1000u);  // no overflow
  EXPECT_EQ(candidates_for_round(CandidateCount{}, 1000, 1, 2), 64u);
}

TEST(CandidatesForRound, IsClampedToThePool) {
  const CandidateCount big{CandidateCount::Kind::kNumber, 4096};
  EXPECT_EQ(candidates_for_round(big, 10, 1, 0), 10u);
  EXPECT_EQ(candidates_for_round(CandidateCount{}, 5, 1, 0), 5u);
  EXPECT_EQ(candidates_for_round(CandidateCount{}, 0, 1, 0), 0u);
  EXPECT_EQ(candidates_for_round(CandidateCount{CandidateCount::Kind::kNumber, 2}, 3, 4, 0), 3u);
}

TEST(CandidateCount, ParsesAndFormats) {
  for (const char* text : {"all", "auto", "1", "16", "4096"}) {
    auto parsed = parse_candidate_count(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    EXPECT_EQ(format_candidate_count(*parsed), text);
    EXPECT_EQ(*parse_candidate_count(format_candidate_count(*parsed)), *parsed);
  }
  EXPECT_EQ(parse_candidate_count("16")->number, 16u);
  EXPECT_EQ(parse_candidate_count("all")->kind, CandidateCount::Kind::kAll);
}

TEST(CandidateCount, RejectsWithTheReason) {
  auto message = [](std::string_view text) {
    auto parsed = parse_candidate_count(text);
    EXPECT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << text;
    return std::string(parsed.status().message());
  };
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("0").find("no node"), std::string::npos);
  EXPECT_NE(message("4097").find("more than 4096"), std::string::npos);
  EXPECT_NE(message("99999999999999999999999").find("too large"), std::string::npos);
  for (const char* bad : {"-1", "+3", "16x", " 16", "ALL", "1e3", "0x10", "all "}) {
    EXPECT_NE(message(bad).find("not a number"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace veil::sched
