// The DKG's building blocks over GR(2^128, 4) (docs/dkg.md section 3), free of sockets and of
// the key material they are used for:
//
//   - solve_even_root / BitRecipe: "square and solve" random bits in Z_2^128 (3.3);
//   - Prss: pseudo-random secret sharing of random constants (Cramer-Damgard-Ishai, 3.2);
//   - PairMasks: pairwise ChaCha20 masks that cancel in the sum of all members' contributions;
//   - king_range / chunk_words: how an opened object is cut between the slice kings (3.1).
//
// Thread safety: Prss and PairMasks are immutable after construction and may be used from
// several threads at once; everything else is a plain value or a pure function.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "threshold/galois_ring.h"

namespace veil::fhe::dkg {

using threshold::gr::Elem;
using threshold::gr::u128;
using Key32 = std::array<std::uint8_t, 32>;
using Hash32 = std::array<std::uint8_t, 32>;

// ---------------- ring helpers ----------------

// The inverse of an odd a modulo 2^128 (Newton: each step doubles the correct low bits).
u128 inverse_odd(u128 a);

// The even root r of r^2 + r = v in Z_2^128, or nullopt when v is odd (x^2 + x is always even,
// so an odd v cannot come from an honest opening). The other root is -1 - r.
std::optional<u128> solve_even_root(u128 v);

// Member i's additive functional l_i (galois_ring.h: additive_form): for a polynomial f of
// degree <= m - 1 with constant f(0), sum_i l_i(f(alpha_i)) = f(0).
using threshold::gr::additive_form;
using threshold::gr::LinearForm;

// How an opened v = a^2 + a turns a share of a into a share of the bit a mod 2:
// [b] = ([a] - r) * u with r the even root and u = (-(1 + 2r))^-1.
struct BitRecipe {
  u128 r = 0;
  u128 u = 0;
  static std::optional<BitRecipe> of(u128 v);  // nullopt for an odd v
  Elem apply(const Elem& a_share) const { return threshold::gr::scale(a_share - Elem::constant(r), u); }
};

// ---------------- PRSS ----------------

// Every set T of m - d members (bit j-1 for member j), increasing as integers: the PRSS sets.
std::vector<std::uint16_t> prss_sets(unsigned m, unsigned d);
// f_T(alpha_id), where f_T has degree d, f_T(0) = 1 and f_T(alpha_j) = 0 for every j <= m
// outside T.
Elem prss_coefficient(std::uint16_t set, unsigned id, unsigned m);

struct PrssKey {
  std::uint16_t set = 0;
  Key32 key{};
};

// Member `id`'s view of the PRSS: one key per set it belongs to. Random constant number c is
// r_c = sum over all sets T of PRF(k_T, session, c); member id's share is
// sum over T containing id of PRF(k_T, session, c) * f_T(alpha_id), a degree-d sharing of r_c.
class Prss {
 public:
  // `keys` must hold exactly one key for every set containing `id` (checked by the caller).
  Prss(unsigned id, unsigned m, const std::vector<PrssKey>& keys, const Hash32& session);
  ~Prss();  // wipes the derived keys
  Prss(const Prss&) = delete;
  Prss& operator=(const Prss&) = delete;

  // out[k] = this member's share of r_(first + k), k < count.
  void shares(std::uint64_t first, std::size_t count, Elem* out) const;

 private:
  struct Set {
    Key32 prf_key{};
    Elem coefficient;
  };
  std::vector<Set> sets_;
};

// The PRF value of one set (what the sum over all sets reconstructs); for tests.
u128 prss_prf(const Key32& key, const Hash32& session, std::uint64_t counter);

// ---------------- pairwise masks ----------------

// Member `id`'s masks with every other member: sum over j != id of sign * M_(id,j)(stream, w),
// + for the smaller id, - for the larger, so the masks of all m members cancel word by word.
// M is ChaCha20 keyed with BLAKE2b(k_ij ; session, "veil-dkg-open-v1"), the stream number as its
// nonce and the word's byte offset as its position.
class PairMasks {
 public:
  // pair_keys[j - 1] is the run's key shared with member j (this member's own slot is ignored).
  PairMasks(unsigned id, const std::vector<Key32>& pair_keys, const Hash32& session);
  ~PairMasks();
  PairMasks(const PairMasks&) = delete;
  PairMasks& operator=(const PairMasks&) = delete;

  // Adds the masks of words [first, first + count) of `stream` to words (64-bit words).
  void apply64(std::uint32_t stream, std::uint64_t first, std::uint64_t* words, std::size_t count) const;
  // The same for 128-bit words.
  void apply128(std::uint32_t stream, std::uint64_t first, u128* words, std::size_t count) const;

 private:
  struct Peer {
    Key32 key{};
    bool add = true;  // this member's id is the smaller of the pair
  };
  unsigned id_;
  std::vector<Peer> peers_;
};

// ---------------- slice kings ----------------

struct Range {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};
// Member `king`'s (1..m) slice of an object of `words` words: [words*(king-1)/m, words*king/m).
Range king_range(std::uint64_t words, unsigned m, unsigned king);
// Words per chunk so that a chunk's payload stays at or below 4 MiB.
std::uint64_t chunk_words(unsigned word_bytes);

}  // namespace veil::fhe::dkg
