// The DKG's building blocks (dkg_primitives.h; docs/dkg.md section 3).
#include "threshold/dkg_primitives.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "veil/common/thread_pool.h"

namespace veil::fhe::dkg {

static_assert(std::endian::native == std::endian::little, "the DKG's word layout assumes a little-endian host");

namespace {

using threshold::gr::kDegree;

// ChaCha20 (IETF) keystream bytes [offset, offset + len) for `key` and nonce `stream`.
void keystream(const Key32& key, std::uint32_t stream, std::uint64_t offset, std::uint8_t* out, std::size_t len) {
  std::uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  std::memcpy(nonce, &stream, sizeof stream);
  const std::uint64_t block = offset / 64;
  const std::size_t skip = static_cast<std::size_t>(offset % 64);
  if (skip == 0) {
    std::memset(out, 0, len);
    crypto_stream_chacha20_ietf_xor_ic(out, out, len, nonce, static_cast<std::uint32_t>(block), key.data());
    return;
  }
  std::uint8_t head[64] = {};
  crypto_stream_chacha20_ietf_xor_ic(head, head, 64, nonce, static_cast<std::uint32_t>(block), key.data());
  const std::size_t first = std::min(len, 64 - skip);
  std::memcpy(out, head + skip, first);
  if (len > first) {
    std::memset(out + first, 0, len - first);
    crypto_stream_chacha20_ietf_xor_ic(out + first, out + first, len - first, nonce,
                                       static_cast<std::uint32_t>(block + 1), key.data());
  }
}

Key32 derive(const Key32& key, const char* tag, const Hash32& session) {
  std::uint8_t msg[16 + 32];
  std::memcpy(msg, tag, 16);
  std::memcpy(msg + 16, session.data(), 32);
  Key32 out{};
  crypto_generichash(out.data(), out.size(), msg, sizeof msg, key.data(), key.size());
  return out;
}

// Words processed per keystream piece (and per thread-pool task for large ranges).
constexpr std::size_t kPieceWords = 1 << 13;

template <typename Word, typename Apply>
void in_pieces(std::size_t count, Apply&& apply) {
  const std::size_t pieces = (count + kPieceWords - 1) / kPieceWords;
  auto one = [&](std::size_t p) {
    const std::size_t begin = p * kPieceWords;
    const std::size_t n = std::min(kPieceWords, count - begin);
    Word buf[kPieceWords];
    apply(begin, n, buf);
    sodium_memzero(buf, sizeof buf);
  };
  if (pieces <= 2) {
    for (std::size_t p = 0; p < pieces; ++p) one(p);
  } else {
    ThreadPool::shared().parallel_for(0, pieces, one);
  }
}

}  // namespace

// ---------------- ring helpers ----------------

u128 inverse_odd(u128 a) {
  u128 x = a;  // a * a = 1 mod 8 for odd a: 3 correct bits
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;  // 3 -> 6 -> ... -> 192 bits
  return x;
}

std::optional<u128> solve_even_root(u128 v) {
  if (v & 1) return std::nullopt;
  // Newton on g(x) = x^2 + x - v, g'(x) = 2x + 1 odd: from the root 0 mod 2, each step doubles
  // the number of correct low bits (Hensel), 1 -> 128 in 7 steps.
  u128 r = 0;
  for (int i = 0; i < 7; ++i) r -= (r * r + r - v) * inverse_odd(2 * r + 1);
  if (r * r + r != v) return std::nullopt;  // cannot happen for an even v; kept as a guard
  return r;
}

std::optional<BitRecipe> BitRecipe::of(u128 v) {
  const auto r = solve_even_root(v);
  if (!r) return std::nullopt;
  BitRecipe b;
  b.r = *r;
  b.u = inverse_odd(0 - (1 + 2 * *r));
  return b;
}

// ---------------- PRSS ----------------

std::vector<std::uint16_t> prss_sets(unsigned m, unsigned d) {
  std::vector<std::uint16_t> out;
  for (unsigned mask = 1; mask < (1u << m); ++mask) {
    if (std::popcount(mask) == static_cast<int>(m - d)) out.push_back(static_cast<std::uint16_t>(mask));
  }
  return out;
}

Elem prss_coefficient(std::uint16_t set, unsigned id, unsigned m) {
  Elem f = Elem::constant(1);
  const Elem x = Elem::point(id);
  for (unsigned j = 1; j <= m; ++j) {
    if (set & (1u << (j - 1))) continue;
    // (1 - x / alpha_j): alpha_j is a unit (its bits are those of j != 0).
    f = f * (Elem::constant(1) - x * *threshold::gr::inverse(Elem::point(j)));
  }
  return f;
}

u128 prss_prf(const Key32& key, const Hash32& session, std::uint64_t counter) {
  Key32 k = derive(key, "veil-dkg-prss-v1", session);
  u128 out = 0;
  keystream(k, 0, counter * 16, reinterpret_cast<std::uint8_t*>(&out), 16);
  sodium_memzero(k.data(), k.size());
  return out;
}

Prss::Prss(unsigned id, unsigned m, const std::vector<PrssKey>& keys, const Hash32& session) {
  for (const auto& k : keys) {
    Set s;
    s.prf_key = derive(k.key, "veil-dkg-prss-v1", session);
    s.coefficient = prss_coefficient(k.set, id, m);
    sets_.push_back(s);
  }
}

Prss::~Prss() {
  for (auto& s : sets_) sodium_memzero(s.prf_key.data(), s.prf_key.size());
}

void Prss::shares(std::uint64_t first, std::size_t count, Elem* out) const {
  std::fill(out, out + count, Elem{});
  in_pieces<u128>(count, [&](std::size_t begin, std::size_t n, u128* buf) {
    for (const auto& s : sets_) {
      keystream(s.prf_key, 0, (first + begin) * 16, reinterpret_cast<std::uint8_t*>(buf), n * 16);
      for (std::size_t k = 0; k < n; ++k) {
        Elem& o = out[begin + k];
        for (int c = 0; c < kDegree; ++c) o.c[c] += s.coefficient.c[c] * buf[k];
      }
    }
  });
}

// ---------------- pairwise masks ----------------

PairMasks::PairMasks(unsigned id, const std::vector<Key32>& pair_keys, const Hash32& session) : id_(id) {
  for (unsigned j = 1; j <= pair_keys.size(); ++j) {
    if (j == id) continue;
    Peer p;
    p.key = derive(pair_keys[j - 1], "veil-dkg-open-v1", session);
    p.add = id < j;
    peers_.push_back(p);
  }
}

PairMasks::~PairMasks() {
  for (auto& p : peers_) sodium_memzero(p.key.data(), p.key.size());
}

void PairMasks::apply64(std::uint32_t stream, std::uint64_t first, std::uint64_t* words, std::size_t count) const {
  in_pieces<std::uint64_t>(count, [&](std::size_t begin, std::size_t n, std::uint64_t* buf) {
    for (const auto& p : peers_) {
      keystream(p.key, stream, (first + begin) * 8, reinterpret_cast<std::uint8_t*>(buf), n * 8);
      std::uint64_t* w = words + begin;
      if (p.add) {
        for (std::size_t k = 0; k < n; ++k) w[k] += buf[k];
      } else {
        for (std::size_t k = 0; k < n; ++k) w[k] -= buf[k];
      }
    }
  });
}

void PairMasks::apply128(std::uint32_t stream, std::uint64_t first, u128* words, std::size_t count) const {
  in_pieces<u128>(count, [&](std::size_t begin, std::size_t n, u128* buf) {
    for (const auto& p : peers_) {
      keystream(p.key, stream, (first + begin) * 16, reinterpret_cast<std::uint8_t*>(buf), n * 16);
      u128* w = words + begin;
      if (p.add) {
        for (std::size_t k = 0; k < n; ++k) w[k] += buf[k];
      } else {
        for (std::size_t k = 0; k < n; ++k) w[k] -= buf[k];
      }
    }
  });
}

// ---------------- slice kings ----------------

Range king_range(std::uint64_t words, unsigned m, unsigned king) {
  const auto lo = static_cast<std::uint64_t>((static_cast<u128>(words) * (king - 1)) / m);
  const auto hi = static_cast<std::uint64_t>((static_cast<u128>(words) * king) / m);
  return {lo, hi - lo};
}

std::uint64_t chunk_words(unsigned word_bytes) { return (std::uint64_t{4} << 20) / word_bytes; }

}  // namespace veil::fhe::dkg
