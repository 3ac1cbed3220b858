// The Galois ring GR(2^128, 4) = Z_{2^128}[X] / (X^4 + X + 1): the ring over which key bits are
// Shamir-shared. X^4 + X + 1 is irreducible over GF(2), so the ring's residue field is GF(16)
// and an element is a unit exactly when its reduction mod 2 is non-zero. The exceptional points
// alpha_i (i = 1..15, coefficients = the bits of i) reduce to distinct non-zero elements of
// GF(16), so alpha_i - alpha_j is a unit for i != j and Lagrange interpolation is defined.
//
// Thread safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace veil::fhe::threshold::gr {

__extension__ typedef unsigned __int128 u128;

inline constexpr int kDegree = 4;

struct Elem {
  std::array<u128, kDegree> c{};  // c[0] + c[1] X + c[2] X^2 + c[3] X^3

  static Elem constant(u128 v) {
    Elem e;
    e.c[0] = v;
    return e;
  }
  // alpha_i: the exceptional point of member i (1..15); alpha(0) is zero.
  static Elem point(unsigned i) {
    Elem e;
    for (int k = 0; k < kDegree; ++k) e.c[k] = (i >> k) & 1u;
    return e;
  }
  bool operator==(const Elem&) const = default;
};

inline Elem operator+(const Elem& a, const Elem& b) {
  Elem r;
  for (int k = 0; k < kDegree; ++k) r.c[k] = a.c[k] + b.c[k];
  return r;
}
inline Elem operator-(const Elem& a, const Elem& b) {
  Elem r;
  for (int k = 0; k < kDegree; ++k) r.c[k] = a.c[k] - b.c[k];
  return r;
}
inline Elem operator*(const Elem& a, const Elem& b) {
  u128 t[2 * kDegree - 1] = {};
  for (int i = 0; i < kDegree; ++i) {
    for (int j = 0; j < kDegree; ++j) t[i + j] += a.c[i] * b.c[j];
  }
  // X^k = X^(k-4) * X^4 = -X^(k-3) - X^(k-4) modulo X^4 + X + 1.
  for (int k = 2 * kDegree - 2; k >= kDegree; --k) {
    t[k - 3] -= t[k];
    t[k - 4] -= t[k];
  }
  Elem r;
  for (int k = 0; k < kDegree; ++k) r.c[k] = t[k];
  return r;
}
inline Elem scale(const Elem& a, u128 s) {
  Elem r;
  for (int k = 0; k < kDegree; ++k) r.c[k] = a.c[k] * s;
  return r;
}

// The inverse of a unit, or nullopt when a is not one (its reduction mod 2 is zero).
inline std::optional<Elem> inverse(const Elem& a) {
  // Inverse in GF(16) by search, then Newton lifting v <- v (2 - a v): each step doubles the
  // number of correct low bits, 1 -> 128 in 7 steps.
  std::optional<Elem> v;
  for (unsigned cand = 1; cand < 16 && !v; ++cand) {
    const Elem p = a * Elem::point(cand);
    if ((p.c[0] & 1) == 1 && (p.c[1] & 1) == 0 && (p.c[2] & 1) == 0 && (p.c[3] & 1) == 0) v = Elem::point(cand);
  }
  if (!v) return std::nullopt;
  const Elem two = Elem::constant(2);
  for (int step = 0; step < 7; ++step) *v = *v * (two - a * *v);
  return v;
}

// Lagrange coefficient at 0 of member `i` within the member set `mask` (bit (j-1) for member j):
// prod_{j in mask, j != i} alpha_j / (alpha_j - alpha_i).
inline Elem lagrange_at_zero(unsigned i, unsigned mask) {
  Elem num = Elem::constant(1), den = Elem::constant(1);
  for (unsigned j = 1; j <= 15; ++j) {
    if (j == i || !(mask & (1u << (j - 1)))) continue;
    num = num * Elem::point(j);
    den = den * (Elem::point(j) - Elem::point(i));
  }
  return num * *inverse(den);
}

}  // namespace veil::fhe::threshold::gr
