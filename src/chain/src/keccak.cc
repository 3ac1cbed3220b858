// Keccak-f[1600] sponge with rate 136 bytes (capacity 512 bits) and Keccak's original padding.
#include "veil/chain/keccak.h"

#include <bit>
#include <cstring>

namespace veil::chain {
namespace {

constexpr std::size_t kRate = 136;

constexpr std::array<std::uint64_t, 24> kRoundConstants = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

// Rotation offsets r[x][y] indexed as lane x + 5y.
constexpr std::array<int, 25> kRotations = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                            25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

// Destination lane of lane i under rho-pi: (x, y) -> (y, 2x + 3y), i = x + 5y.
constexpr std::array<int, 25> kPi = [] {
  std::array<int, 25> pi{};
  for (int x = 0; x < 5; ++x) {
    for (int y = 0; y < 5; ++y) pi[x + 5 * y] = y + 5 * ((2 * x + 3 * y) % 5);
  }
  return pi;
}();

void keccak_f(std::array<std::uint64_t, 25>& a) {
  std::array<std::uint64_t, 25> b;
  for (std::uint64_t rc : kRoundConstants) {
    // theta
    std::uint64_t c[5], d[5];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    d[0] = c[4] ^ std::rotl(c[1], 1);
    d[1] = c[0] ^ std::rotl(c[2], 1);
    d[2] = c[1] ^ std::rotl(c[3], 1);
    d[3] = c[2] ^ std::rotl(c[4], 1);
    d[4] = c[3] ^ std::rotl(c[0], 1);
    for (int y = 0; y < 25; y += 5) {
      for (int x = 0; x < 5; ++x) a[y + x] ^= d[x];
    }
    // rho and pi
    for (int i = 0; i < 25; ++i) b[kPi[i]] = std::rotl(a[i], kRotations[i]);
    // chi
    for (int y = 0; y < 25; y += 5) {
      a[y + 0] = b[y + 0] ^ (~b[y + 1] & b[y + 2]);
      a[y + 1] = b[y + 1] ^ (~b[y + 2] & b[y + 3]);
      a[y + 2] = b[y + 2] ^ (~b[y + 3] & b[y + 4]);
      a[y + 3] = b[y + 3] ^ (~b[y + 4] & b[y + 0]);
      a[y + 4] = b[y + 4] ^ (~b[y + 0] & b[y + 1]);
    }
    // iota
    a[0] ^= rc;
  }
}

// Lanes are little-endian; XOR one byte at absolute position `pos` of the rate.
inline void xor_byte(std::array<std::uint64_t, 25>& s, std::size_t pos, std::uint8_t v) {
  s[pos / 8] ^= static_cast<std::uint64_t>(v) << (8 * (pos % 8));
}

}  // namespace

Keccak256::Keccak256() = default;

void Keccak256::update(ByteView data) {
  std::size_t i = 0;
  while (i < data.size()) {
    if (offset_ % 8 == 0 && data.size() - i >= 8) {
      // Whole little-endian lanes at a time: the common case for long inputs.
      std::uint64_t lane = 0;
      for (int b = 7; b >= 0; --b) lane = (lane << 8) | data[i + b];
      state_[offset_ / 8] ^= lane;
      offset_ += 8;
      i += 8;
    } else {
      xor_byte(state_, offset_++, data[i++]);
    }
    if (offset_ == kRate) {
      keccak_f(state_);
      offset_ = 0;
    }
  }
}

Hash32 Keccak256::finish() {
  xor_byte(state_, offset_, 0x01);
  xor_byte(state_, kRate - 1, 0x80);
  keccak_f(state_);
  Hash32 out;
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(state_[i / 8] >> (8 * (i % 8)));
  return out;
}

Hash32 keccak256(ByteView data) {
  Keccak256 h;
  h.update(data);
  return h.finish();
}

}  // namespace veil::chain
