#include "veil/sched/sampling.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "veil/common/bytes.h"
#include "veil/common/sha256.h"

namespace veil::sched {
namespace {

constexpr std::string_view kAcceptedForms = "use all, auto or a number of candidates from 1 to 4096";

// The replica floor of every base: each replica keeps two choices (Sparrow's batch sampling).
std::size_t replica_floor(std::uint32_t replicas) { return 2 * static_cast<std::size_t>(replicas); }

}  // namespace

std::array<std::uint8_t, 32> rendezvous_weight(std::string_view domain, const std::array<std::uint8_t, 32>& job_id,
                                               std::uint32_t round, std::string_view peer) {
  Bytes round_be;
  append_u32_be(round_be, round);
  Sha256 hash;
  hash.update(domain).update(ByteView(job_id.data(), job_id.size())).update(round_be).update(peer);
  return hash.finish();
}

Result<CandidateCount> parse_candidate_count(std::string_view text) {
  if (text == "all") return CandidateCount{CandidateCount::Kind::kAll, 0};
  if (text == "auto") return CandidateCount{CandidateCount::Kind::kAuto, 0};
  if (text.empty()) return invalid_argument("candidates: empty; " + std::string(kAcceptedForms));
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    return invalid_argument("candidates: '" + std::string(text) + "' is too large; " + std::string(kAcceptedForms));
  }
  if (error != std::errc() || end != text.data() + text.size()) {
    return invalid_argument("candidates: '" + std::string(text) + "' is not a number, all or auto; " +
                            std::string(kAcceptedForms));
  }
  if (value == 0) return invalid_argument("candidates: 0 would evaluate no node; " + std::string(kAcceptedForms));
  if (value > kMaxCandidateNumber) {
    return invalid_argument("candidates: " + std::string(text) + " is more than 4096; use all for a full scan");
  }
  return CandidateCount{CandidateCount::Kind::kNumber, static_cast<std::uint32_t>(value)};
}

std::string format_candidate_count(const CandidateCount& c) {
  switch (c.kind) {
    case CandidateCount::Kind::kAll:
      return "all";
    case CandidateCount::Kind::kAuto:
      return "auto";
    case CandidateCount::Kind::kNumber:
      break;
  }
  return std::to_string(c.number);
}

std::size_t candidates_for_round(const CandidateCount& c, std::size_t pool_size, std::uint32_t replicas,
                                 std::uint32_t widenings) {
  std::size_t base = pool_size;
  if (c.kind == CandidateCount::Kind::kNumber) base = std::max<std::size_t>(c.number, replica_floor(replicas));
  if (c.kind == CandidateCount::Kind::kAuto) base = std::max<std::size_t>(kAutoCandidates, replica_floor(replicas));
  // Doubling stops as soon as it reaches the pool, so the shift never overflows.
  for (std::uint32_t w = 0; w < widenings && base < pool_size; ++w) base *= 2;
  return std::min(std::max<std::size_t>(base, 1), pool_size);
}

std::vector<std::string> sample_candidates(const std::array<std::uint8_t, 32>& job_id, std::uint32_t round,
                                           const std::vector<std::string>& pool, std::size_t d) {
  if (d >= pool.size()) return pool;
  struct Weighted {
    Sha256Digest weight;
    std::size_t index;
  };
  std::vector<Weighted> weighted;
  weighted.reserve(pool.size());
  for (std::size_t i = 0; i < pool.size(); ++i) weighted.push_back({rendezvous_weight(kSampleDomain, job_id, round, pool[i]), i});
  // Highest weights first; equal weights (a SHA-256 collision) fall back to the peer id, so
  // the set never depends on the pool's order.
  auto heavier = [&](const Weighted& a, const Weighted& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return pool[a.index] < pool[b.index];
  };
  std::nth_element(weighted.begin(), weighted.begin() + static_cast<std::ptrdiff_t>(d), weighted.end(), heavier);
  std::vector<bool> chosen(pool.size(), false);
  for (std::size_t k = 0; k < d; ++k) chosen[weighted[k].index] = true;
  std::vector<std::string> sample;
  sample.reserve(d);
  for (std::size_t i = 0; i < pool.size(); ++i) {
    if (chosen[i]) sample.push_back(pool[i]);
  }
  return sample;
}

}  // namespace veil::sched
