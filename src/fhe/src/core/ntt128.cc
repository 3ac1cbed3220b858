#include "core/ntt128.h"

#include "core/ntt128_avx512.h"

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace veil::fhe::core {
namespace {

std::uint64_t mulmod_slow(std::uint64_t a, std::uint64_t b, std::uint64_t p) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % p);
}

std::uint64_t powmod(std::uint64_t a, std::uint64_t e, std::uint64_t p) {
  std::uint64_t r = 1;
  for (; e != 0; e >>= 1) {
    if (e & 1) r = mulmod_slow(r, a, p);
    a = mulmod_slow(a, a, p);
  }
  return r;
}

// Deterministic Miller-Rabin for 64-bit integers (these bases are exact below 3.3e24).
bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t q : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}) {
    if (n % q == 0) return n == q;
  }
  std::uint64_t d = n - 1;
  unsigned s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  for (std::uint64_t a : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}) {
    std::uint64_t x = powmod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (unsigned r = 1; r < s; ++r) {
      x = mulmod_slow(x, x, n);
      if (x == n - 1) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

std::uint64_t shoup(std::uint64_t w, std::uint64_t p) {
  return static_cast<std::uint64_t>((static_cast<u128>(w) << 64) / p);
}

// x * w mod p for any 64-bit x, with ws = shoup(w, p). Result in [0, p).
inline std::uint64_t mul_shoup(std::uint64_t x, std::uint64_t w, std::uint64_t ws, std::uint64_t p) {
  const std::uint64_t q = static_cast<std::uint64_t>((static_cast<u128>(x) * ws) >> 64);
  std::uint64_t r = x * w - q * p;
  return r >= p ? r - p : r;
}

// x * w mod p up to one extra p: in [0, 2p) (Harvey's lazy form).
inline std::uint64_t mul_shoup_lazy(std::uint64_t x, std::uint64_t w, std::uint64_t ws, std::uint64_t p) {
  const std::uint64_t q = static_cast<std::uint64_t>((static_cast<u128>(x) * ws) >> 64);
  return x * w - q * p;
}

// Montgomery reduction of t < p 2^64: t 2^-64 mod p, in [0, p).
inline std::uint64_t redc(u128 t, std::uint64_t p, std::uint64_t pinv_neg) {
  const std::uint64_t m = static_cast<std::uint64_t>(t) * pinv_neg;
  const u128 u = (t + static_cast<u128>(m) * p) >> 64;
  const std::uint64_t r = static_cast<std::uint64_t>(u);
  return r >= p ? r - p : r;
}

unsigned bit_reverse(std::size_t x, unsigned bits) {
  unsigned r = 0;
  for (unsigned i = 0; i < bits; ++i) r |= static_cast<unsigned>((x >> i) & 1u) << (bits - 1 - i);
  return r;
}

}  // namespace

Ntt128::Ntt128(std::size_t n, bool vector)
    : n_(n), vector_(vector && n >= 2 * ntt128_avx512::kLanes && ntt128_avx512::available()) {
  if (n < 2 || n > (std::size_t{1} << 16) || (n & (n - 1)) != 0) {
    throw std::invalid_argument("Ntt128: size must be a power of two in [2, 2^16]");
  }
  // The three largest primes below 2^60 that are 1 mod 2^17.
  std::size_t found = 0;
  for (std::uint64_t c = ((std::uint64_t{1} << 60) - 1) >> 17; found < kPrimes; --c) {
    const std::uint64_t p = (c << 17) + 1;
    if (is_prime(p)) p_[found++] = p;
  }
  unsigned logn = 0;
  while ((std::size_t{1} << logn) < n) ++logn;
  for (std::size_t i = 0; i < kPrimes; ++i) {
    const std::uint64_t p = p_[i];
    std::uint64_t inv = 1;  // p^-1 mod 2^64 by Newton iteration
    for (int it = 0; it < 7; ++it) inv *= 2 - p * inv;
    pinv_neg_[i] = 0 - inv;
    const std::uint64_t r1 = static_cast<std::uint64_t>((static_cast<u128>(1) << 64) % p);
    r2_[i] = mulmod_slow(r1, r1, p);
    // A primitive 2n-th root of unity psi: g^((p-1)/2n) with psi^n = -1.
    std::uint64_t psi = 0;
    for (std::uint64_t g = 2;; ++g) {
      psi = powmod(g, (p - 1) / (2 * n), p);
      if (powmod(psi, n, p) == p - 1) break;
    }
    const std::uint64_t ipsi = powmod(psi, p - 2, p);
    psi_[i].resize(n);
    psi_shoup_[i].resize(n);
    ipsi_[i].resize(n);
    ipsi_shoup_[i].resize(n);
    for (std::size_t j = 0; j < n; ++j) {
      const unsigned e = logn == 0 ? 0 : bit_reverse(j, logn);
      psi_[i][j] = powmod(psi, e, p);
      psi_shoup_[i][j] = shoup(psi_[i][j], p);
      ipsi_[i][j] = powmod(ipsi, e, p);
      ipsi_shoup_[i][j] = shoup(ipsi_[i][j], p);
    }
    ninv_[i] = powmod(n % p, p - 2, p);
    ninv_shoup_[i] = shoup(ninv_[i], p);
    for (unsigned e = 0; e < 3; ++e) {
      fold_[i][e] = mulmod_slow(powmod(2, p - 1 - 64 + 30 * e, p), ninv_[i], p);  // 2^(p-1) = 1
      fold_shoup_[i][e] = shoup(fold_[i][e], p);
    }
  }
  p1_inv_mod_p2_ = powmod(p_[0] % p_[1], p_[1] - 2, p_[1]);
  p1_inv_mod_p3_ = powmod(p_[0] % p_[2], p_[2] - 2, p_[2]);
  p2_inv_mod_p3_ = powmod(p_[1] % p_[2], p_[2] - 2, p_[2]);
  p1p2_ = static_cast<u128>(p_[0]) * p_[1];
  p_all_mod_2_128_ = p1p2_ * p_[2];
}

void Ntt128::forward_inplace(std::size_t prime, std::uint64_t* a) const {
  // Cooley-Tukey with the negacyclic twist merged into the twiddles (psi powers in
  // bit-reversed order); output in bit-reversed order. Harvey's lazy butterflies keep values
  // in [0, 4p) (p < 2^60, so no overflow) and one pass at the end reduces to [0, p).
  const std::uint64_t p = p_[prime], two_p = 2 * p;
  const std::uint64_t* w = psi_[prime].data();
  const std::uint64_t* ws = psi_shoup_[prime].data();
  if (vector_) ntt128_avx512::forward(a, n_, w, ws, p);
  for (std::size_t m = vector_ ? n_ : 1; m < n_; m <<= 1) {  // the scalar stages otherwise
    const std::size_t t = n_ / (2 * m);
    for (std::size_t i = 0; i < m; ++i) {
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      const std::uint64_t wi = w[m + i], wsi = ws[m + i];
      for (std::size_t j = 0; j < t; ++j) {
        std::uint64_t u = x[j];
        u = u >= two_p ? u - two_p : u;
        const std::uint64_t v = mul_shoup_lazy(y[j], wi, wsi, p);
        x[j] = u + v;
        y[j] = u - v + two_p;
      }
    }
  }
  for (std::size_t j = vector_ ? n_ : 0; j < n_; ++j) {  // the vector transform reduces itself
    std::uint64_t v = a[j];
    v = v >= two_p ? v - two_p : v;
    a[j] = v >= p ? v - p : v;
  }
}

void Ntt128::backward_inplace(std::size_t prime, std::uint64_t* a) const {
  // Gentleman-Sande, bit-reversed input, natural output, lazy: values stay in [0, 2p); the
  // factor n^-1 (and the final reduction) is applied by the caller.
  const std::uint64_t p = p_[prime], two_p = 2 * p;
  const std::uint64_t* w = ipsi_[prime].data();
  const std::uint64_t* ws = ipsi_shoup_[prime].data();
  if (vector_) ntt128_avx512::backward(a, n_, w, ws, p);
  for (std::size_t m = vector_ ? 1 : n_; m > 1; m >>= 1) {  // the scalar stages otherwise
    const std::size_t h = m / 2, t = n_ / m;
    for (std::size_t i = 0; i < h; ++i) {
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      const std::uint64_t wi = w[h + i], wsi = ws[h + i];
      for (std::size_t j = 0; j < t; ++j) {
        const std::uint64_t u = x[j], v = y[j];
        const std::uint64_t s = u + v;
        x[j] = s >= two_p ? s - two_p : s;
        y[j] = mul_shoup_lazy(u - v + two_p, wi, wsi, p);
      }
    }
  }
}

void Ntt128::forward_i32(const std::int32_t* in, std::uint64_t* out) const {
  for (std::size_t i = 0; i < kPrimes; ++i) {
    std::uint64_t* o = out + i * n_;
    const std::uint64_t p = p_[i];
    if (vector_) ntt128_avx512::reduce_small(in, o, n_, p);
    for (std::size_t j = vector_ ? n_ : 0; j < n_; ++j) {
      const std::int64_t v = in[j];
      o[j] = static_cast<std::uint64_t>(v) + (static_cast<std::uint64_t>(v >> 63) & p);  // v mod p, branch-free
    }
    forward_inplace(i, o);
  }
}

void Ntt128::forward_u128(const u128* in, std::uint64_t* out) const {
  for (std::size_t i = 0; i < kPrimes; ++i) {
    std::uint64_t* o = out + i * n_;
    const std::uint64_t p = p_[i], pn = pinv_neg_[i], r2 = r2_[i];
    for (std::size_t j = 0; j < n_; ++j) {
      const u128 v = in[j];
      const std::uint64_t hi = static_cast<std::uint64_t>(v >> 64) % p;
      // (hi 2^64 + lo) 2^-64, then times 2^64 again: v mod p.
      std::uint64_t r = redc(redc((static_cast<u128>(hi) << 64) | static_cast<std::uint64_t>(v), p, pn) * static_cast<u128>(r2), p, pn);
      if (v >> 127) r = r >= r2 ? r - r2 : r + p - r2;  // signed: v - 2^128, and 2^128 = r2 mod p
      o[j] = r;
    }
    forward_inplace(i, o);
  }
}

void Ntt128::forward_i64(const std::int64_t* in, std::uint64_t* out) const {
  for (std::size_t i = 0; i < kPrimes; ++i) {
    std::uint64_t* o = out + i * n_;
    const std::uint64_t p = p_[i], one_shoup = shoup(1, p);
    for (std::size_t j = 0; j < n_; ++j) {
      const std::int64_t v = in[j];
      const std::uint64_t mag = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
      const std::uint64_t r = mul_shoup(mag, 1, one_shoup, p);  // |v| mod p
      o[j] = v < 0 && r != 0 ? p - r : r;
    }
    forward_inplace(i, o);
  }
}

void Ntt128::to_montgomery(std::uint64_t* inout) const {
  for (std::size_t i = 0; i < kPrimes; ++i) {
    std::uint64_t* o = inout + i * n_;
    for (std::size_t j = 0; j < n_; ++j) o[j] = redc(static_cast<u128>(o[j]) * r2_[i], p_[i], pinv_neg_[i]);
  }
}

void Ntt128::mul_acc(u128* acc, const std::uint64_t* a, const std::uint64_t* b_mont) const {
  const std::size_t total = kPrimes * n_;
  for (std::size_t j = 0; j < total; ++j) acc[j] += static_cast<u128>(a[j]) * b_mont[j];
}

void Ntt128::backward(const u128* acc, u128* out, bool accumulate) const {
  // Reduce the 128-bit lanes to residues (REDC divides by 2^64 once, which undoes the
  // Montgomery form of the key side), transform each prime back, scale by n^-1.
  thread_local AlignedVector<std::uint64_t> scratch;
  scratch.resize(kPrimes * n_);
  std::uint64_t* res[kPrimes];
  for (std::size_t i = 0; i < kPrimes; ++i) {
    const u128* lanes = acc + i * n_;
    std::uint64_t* words = scratch.data() + i * n_;
    for (std::size_t j = 0; j < n_; ++j) words[j] = redc(lanes[j], p_[i], pinv_neg_[i]);
    backward_inplace(i, words);
    for (std::size_t j = 0; j < n_; ++j) words[j] = mul_shoup(words[j], ninv_[i], ninv_shoup_[i], p_[i]);
    res[i] = words;
  }
  crt(res, out, accumulate);
}

void Ntt128::product_sum(const std::uint64_t* a, std::size_t a_stride, const std::uint64_t* b,
                         std::size_t b_stride, std::size_t rows, u128* out, bool accumulate) const {
  // Per prime: sum and reduce each word's products at once (n^-1 folded into the reduction),
  // transform back (values in [0, 2p)), then one CRT for the three primes.
  thread_local AlignedVector<std::uint64_t> scratch;
  scratch.resize(kPrimes * n_);
  std::uint64_t* res[kPrimes];
  for (std::size_t i = 0; i < kPrimes; ++i) {
    std::uint64_t* words = scratch.data() + i * n_;
    const std::uint64_t* ai = a + i * n_;
    const std::uint64_t* bi = b + i * n_;
    if (vector_) {
      ntt128_avx512::product_sum(ai, a_stride, bi, b_stride, rows, words, n_, p_[i], fold_[i],
                                 fold_shoup_[i]);
    } else {
      for (std::size_t j = 0; j < n_; ++j) {
        u128 sum = 0;
        for (std::size_t r = 0; r < rows; ++r)
          sum += static_cast<u128>(ai[r * a_stride + j]) * bi[r * b_stride + j];
        words[j] = mul_shoup(redc(sum, p_[i], pinv_neg_[i]), ninv_[i], ninv_shoup_[i], p_[i]);
      }
    }
    backward_inplace(i, words);
    res[i] = words;
  }
  crt(res, out, accumulate);
}

void Ntt128::crt(std::uint64_t* const* res, u128* out, bool accumulate) const {
  const std::uint64_t p1 = p_[0], p2 = p_[1], p3 = p_[2];
  const std::uint64_t c12 = p1_inv_mod_p2_, c12s = shoup(c12, p2);
  const std::uint64_t c13 = p1_inv_mod_p3_, c13s = shoup(c13, p3);
  const std::uint64_t c23 = p2_inv_mod_p3_, c23s = shoup(c23, p3);
  if (vector_) {
    const ntt128_avx512::CrtConstants c{{p1, p2, p3},
                                        c12,
                                        c12s,
                                        c13,
                                        c13s,
                                        c23,
                                        c23s,
                                        static_cast<std::uint64_t>(p1p2_),
                                        static_cast<std::uint64_t>(p1p2_ >> 64),
                                        static_cast<std::uint64_t>(p_all_mod_2_128_),
                                        static_cast<std::uint64_t>(p_all_mod_2_128_ >> 64)};
    static_assert(sizeof(u128) == 2 * sizeof(std::uint64_t));
    ntt128_avx512::crt(res[0], res[1], res[2], reinterpret_cast<std::uint64_t*>(out), n_, c, accumulate);
    return;
  }
  for (std::size_t j = 0; j < n_; ++j) {
    // x = y1 + p1 y2 + p1 p2 y3 from the residues x_i, each first brought into [0, p_i).
    const std::uint64_t x1 = res[0][j] >= p1 ? res[0][j] - p1 : res[0][j];
    const std::uint64_t x2 = res[1][j] >= p2 ? res[1][j] - p2 : res[1][j];
    const std::uint64_t x3 = res[2][j] >= p3 ? res[2][j] - p3 : res[2][j];
    const std::uint64_t y1 = x1;
    const std::uint64_t y1m2 = y1 >= p2 ? y1 - p2 : y1;
    const std::uint64_t y2 = mul_shoup(x2 >= y1m2 ? x2 - y1m2 : x2 + p2 - y1m2, c12, c12s, p2);
    const std::uint64_t y1m3 = y1 >= p3 ? y1 - p3 : y1;
    std::uint64_t t = mul_shoup(x3 >= y1m3 ? x3 - y1m3 : x3 + p3 - y1m3, c13, c13s, p3);
    const std::uint64_t y2m3 = y2 >= p3 ? y2 - p3 : y2;
    t = t >= y2m3 ? t - y2m3 : t + p3 - y2m3;
    const std::uint64_t y3 = mul_shoup(t, c23, c23s, p3);
    u128 x = static_cast<u128>(y1) + static_cast<u128>(p1) * y2 + p1p2_ * y3;
    if (y3 > p3 / 2) x -= p_all_mod_2_128_;  // the integer was negative: x - P
    out[j] = accumulate ? out[j] + x : x;
  }
}

void Ntt128::mul_small(const u128* a, const std::int32_t* b, u128* out) const {
  std::vector<std::uint64_t> fa(words()), fb(words());
  std::vector<u128> acc(words(), 0);
  forward_u128(a, fa.data());
  forward_i32(b, fb.data());
  to_montgomery(fb.data());
  mul_acc(acc.data(), fa.data(), fb.data());
  backward(acc.data(), out, false);
}

const Ntt128& ntt128_plan(std::size_t n) {
  static std::mutex mutex;
  static auto* plans = new std::map<std::size_t, std::unique_ptr<Ntt128>>();
  std::lock_guard lock(mutex);
  auto& slot = (*plans)[n];
  if (!slot) slot = std::make_unique<Ntt128>(n);
  return *slot;
}

}  // namespace veil::fhe::core
