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

// ----- Additive forms (the DKG, docs/dkg.md section 2) -----
//
// A member's Shamir share y of a value of degree <= m - 1 becomes an additive share (the m
// members' additive shares sum to the value) through l_i(y) = constant coefficient of
// lambda_i * y, with lambda_i the Lagrange coefficient at 0 over all m members. The products
// [x]_i * [y]_i of two degree-d shares are points of a degree-2d polynomial, so with
// m >= 2d + 1 the same l_i turns them into additive shares of x * y.

// The bit mask of members 1..m (lagrange_at_zero's `mask`).
inline unsigned all_members(unsigned m) { return m >= 32 ? ~0u : (1u << m) - 1; }

// lambda_i over all m members: sum_i lambda_i f(alpha_i) = f(0) for deg f <= m - 1.
inline Elem lagrange_all(unsigned i, unsigned m) { return lagrange_at_zero(i, all_members(m)); }

// A Z-linear map GR(2^128, 4) -> Z_2^128 given by four coefficients: y -> sum_k c[k] y.c[k].
struct LinearForm {
  std::array<u128, kDegree> c{};
  u128 operator()(const Elem& y) const { return c[0] * y.c[0] + c[1] * y.c[1] + c[2] * y.c[2] + c[3] * y.c[3]; }
};

// y -> constant coefficient of x * y. Modulo X^4 + X + 1 only X^4 = -X - 1 reaches the
// constant term among X^0..X^6, so (x y)_0 = x_0 y_0 - (x_1 y_3 + x_2 y_2 + x_3 y_1).
inline LinearForm constant_of_product(const Elem& x) { return LinearForm{{x.c[0], 0 - x.c[3], 0 - x.c[2], 0 - x.c[1]}}; }

// Member i's additive functional l_i among members 1..m.
inline LinearForm additive_form(unsigned i, unsigned m) { return constant_of_product(lagrange_all(i, m)); }

// The bilinear form y -> l_i(x * y) for a fixed share x, given lambda = lagrange_all(i, m): one
// Elem product once per x, then four multiplications per y (each s_k z_j product of the
// bootstrapping keys).
inline LinearForm product_form(const Elem& lambda, const Elem& x) { return constant_of_product(lambda * x); }

// Reduction mod 2^64: the ring map Z_2^128 -> Z_2^64 the 64-bit objects use (it commutes with
// every sum and product above, so 64-bit additive shares are the low halves of 128-bit ones).
inline std::uint64_t low64(u128 v) { return static_cast<std::uint64_t>(v); }

}  // namespace veil::fhe::threshold::gr
