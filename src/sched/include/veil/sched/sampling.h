// Candidate sampling: which nodes a placement round evaluates.
//
// An encrypted decision costs bootstraps in proportion to the nodes it evaluates, so a round
// evaluates d candidates instead of the whole cluster, as Nomad and Sparrow do. The sample is
// public and deterministic: rendezvous (highest-random-weight) hashing over the job id, the
// round and each node's peer id, the same construction that chooses a round's schedulers, so
// every scheduler, committee member and executor derives the same sample from the same live
// members and can check it. A round whose decrypted `found` flag says no candidate fits is
// retried with twice the candidates, up to the whole pool.
//
//   d(round) = min(pool, base · 2^widenings)
//   base     = pool                          for `all` (today's full scan)
//            = max(number, 2·replicas)       for a number
//            = max(kAutoCandidates, 2·replicas) for `auto`
//
// 2·replicas (a slack of `replicas`) is Sparrow's batch sampling: m tasks probe d·m nodes
// with d = 2, so every replica has on average two fitting choices even after the ones before
// it took theirs (anti-affinity works within the sample). kAutoCandidates = 16 comes from the
// placement study (bench/README.md, docs/sched.md): on skewed 1,000- and 10,000-node clusters
// it places as many jobs as the full scan with a small score regret, at a cost independent of
// the cluster's size.
//
// What the sample reveals is in docs/sched.md and docs/threat-model.md: the sample itself is
// public, and a widened round tells everyone that none of the d sampled nodes fitted.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil::sched {

// Candidates of an `auto` round before the replica floor and widening (see above).
inline constexpr std::uint32_t kAutoCandidates = 16;
// The largest number `parse_candidate_count` accepts.
inline constexpr std::uint32_t kMaxCandidateNumber = 4096;
// The domain separator of the sample's weights (the schedulers' is "veil-sched-v1").
inline constexpr std::string_view kSampleDomain = "veil-sample-v1";

// How many candidates a round evaluates: a number, `all` (today's full scan) or `auto`.
struct CandidateCount {
  enum class Kind { kNumber, kAll, kAuto };
  Kind kind = Kind::kAuto;
  std::uint32_t number = 0;  // kNumber: 1..4096
  bool operator==(const CandidateCount&) const = default;
};

// "all", "auto" or a decimal number 1..4096 ("16"). Fails with invalid_argument naming the
// problem (empty, not a number, zero, too large) and the accepted forms.
Result<CandidateCount> parse_candidate_count(std::string_view text);
// "all", "auto" or the number: reads back through parse_candidate_count().
std::string format_candidate_count(const CandidateCount& c);

// The d a round uses over a pool of `pool_size` eligible nodes for `replicas` replicas:
// the base of the table above, doubled once per widening (a no-fit round retried), always
// clamped to pool_size (0 for an empty pool).
std::size_t candidates_for_round(const CandidateCount& c, std::size_t pool_size, std::uint32_t replicas,
                                 std::uint32_t widenings);

// SHA-256(domain || job_id || round as 4 bytes big-endian || peer): the rendezvous weight of
// every public, deterministic choice of nodes — the sample below (kSampleDomain), and in
// src/node a round's schedulers and the order the committee is asked in, each under a domain of
// its own.
std::array<std::uint8_t, 32> rendezvous_weight(std::string_view domain, const std::array<std::uint8_t, 32>& job_id,
                                               std::uint32_t round, std::string_view peer);

// Rendezvous (highest-random-weight) sample: the `d` members of `pool` with the highest
// SHA-256("veil-sample-v1" || job_id || round as 4 bytes big-endian || peer) weights, returned in the ORDER THEY HAVE IN `pool`
// (the round's inputs keep the pool's order). d >= pool.size() returns pool unchanged. Deterministic; no duplicates in pool assumed.
// The chosen set does not depend on the pool's order; a node's membership depends only on its
// own weight against the others', so one node joining or leaving changes at most one member.
std::vector<std::string> sample_candidates(const std::array<std::uint8_t, 32>& job_id, std::uint32_t round,
                                           const std::vector<std::string>& pool, std::size_t d);

}  // namespace veil::sched
