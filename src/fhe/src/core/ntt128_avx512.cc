// The AVX-512 kernels of Ntt128 (core/ntt128.h): every stage 8 butterflies at a time (the
// last ones, whose butterflies are closer than 8 words, on gathered lanes), the point-wise
// sums, the CRT and the gadget decomposition. Compiled with -mavx512f -mavx512dq for this file
// only (CMakeLists.txt) and entered only after a run-time CPU check. Each lane computes the
// residues the scalar code computes, in the same lazy ranges (Harvey's butterflies with
// Shoup's quotient, the high product assembled from 32-bit products), though not always the
// same representative inside a range: every output that leaves Ntt128 is fully reduced, so
// every build gives the same words.
#include "core/ntt128_avx512.h"

#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_epi32() inside its own intrinsics as "(may be) used
// uninitialized" once they are inlined here (a known false positive, as in fft_avx512.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace veil::fhe::core::ntt128_avx512 {
namespace {

// The high 64 bits of x * y per lane, from four 32 x 32 -> 64 products.
inline __m512i mul_high(__m512i x, __m512i y) {
  const __m512i low32 = _mm512_set1_epi64(0xffffffff);
  const __m512i xh = _mm512_srli_epi64(x, 32), yh = _mm512_srli_epi64(y, 32);
  const __m512i ll = _mm512_mul_epu32(x, y);
  const __m512i lh = _mm512_mul_epu32(x, yh);
  const __m512i hl = _mm512_mul_epu32(xh, y);
  const __m512i hh = _mm512_mul_epu32(xh, yh);
  __m512i mid = _mm512_add_epi64(_mm512_srli_epi64(ll, 32), _mm512_and_si512(lh, low32));
  mid = _mm512_add_epi64(mid, _mm512_and_si512(hl, low32));
  __m512i hi = _mm512_add_epi64(hh, _mm512_srli_epi64(lh, 32));
  hi = _mm512_add_epi64(hi, _mm512_srli_epi64(hl, 32));
  return _mm512_add_epi64(hi, _mm512_srli_epi64(mid, 32));
}

// x * w mod p in [0, 2p) for any 64-bit x, ws = floor(w 2^64 / p).
inline __m512i mul_shoup_lazy(__m512i x, __m512i w, __m512i ws, __m512i p) {
  const __m512i q = mul_high(x, ws);
  return _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(q, p));
}

// x >= m ? x - m : x, for x, m < 2^63 (below m the difference wraps above 2^63).
inline __m512i subtract_if_at_least(__m512i x, __m512i m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

// mul_shoup_lazy for the butterflies, cheaper: the high product without the low 32 x 32
// product and the carries out of the middle column is at most 2 below the true quotient, so
// x w - q p lies in [0, 4p) (p < 2^60: no wrap), and one conditional subtraction brings it
// to [0, 2p) as mul_shoup_lazy's. Same residue, same range, 3 multiplications instead of 4.
inline __m512i mul_shoup_butterfly(__m512i x, __m512i w, __m512i ws, __m512i p, __m512i two_p) {
  const __m512i xh = _mm512_srli_epi64(x, 32), wsh = _mm512_srli_epi64(ws, 32);
  __m512i q = _mm512_mul_epu32(xh, wsh);
  q = _mm512_add_epi64(q, _mm512_srli_epi64(_mm512_mul_epu32(x, wsh), 32));
  q = _mm512_add_epi64(q, _mm512_srli_epi64(_mm512_mul_epu32(xh, ws), 32));
  return subtract_if_at_least(_mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(q, p)), two_p);
}

// x - y mod m for x, y in [0, m): below zero the difference wraps above 2^63 and adding m
// brings it back under m.
inline __m512i sub_mod(__m512i x, __m512i y, __m512i m) {
  const __m512i d = _mm512_sub_epi64(x, y);
  return _mm512_min_epu64(d, _mm512_add_epi64(d, m));
}

// x * w mod p in [0, p).
inline __m512i mul_shoup(__m512i x, __m512i w, __m512i ws, __m512i p) {
  return subtract_if_at_least(mul_shoup_lazy(x, w, ws, p), p);
}

// (hi, lo) += (bhi, blo) modulo 2^128, per lane.
inline void add128(__m512i& lo, __m512i& hi, __m512i blo, __m512i bhi) {
  lo = _mm512_add_epi64(lo, blo);
  const __mmask8 carry = _mm512_cmplt_epu64_mask(lo, blo);
  hi = _mm512_add_epi64(hi, bhi);
  hi = _mm512_mask_add_epi64(hi, carry, hi, _mm512_set1_epi64(1));
}

inline __m512i set1(std::uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
inline __m512i load(const std::uint64_t* p) { return _mm512_loadu_si512(p); }
inline void store(std::uint64_t* p, __m512i v) { _mm512_storeu_si512(p, v); }

// Harvey's lazy butterflies, as Ntt128's scalar ones: forward keeps values in [0, 4p), the
// inverse in [0, 2p).
struct ForwardButterfly {
  __m512i p, two_p;
  void operator()(__m512i& x, __m512i& y, __m512i w, __m512i ws) const {
    const __m512i u = subtract_if_at_least(x, two_p);
    const __m512i v = mul_shoup_butterfly(y, w, ws, p, two_p);
    x = _mm512_add_epi64(u, v);
    y = _mm512_add_epi64(_mm512_sub_epi64(u, v), two_p);
  }
};
struct BackwardButterfly {
  __m512i p, two_p;
  void operator()(__m512i& x, __m512i& y, __m512i w, __m512i ws) const {
    const __m512i u = x, v = y;
    x = subtract_if_at_least(_mm512_add_epi64(u, v), two_p);
    y = mul_shoup_butterfly(_mm512_add_epi64(_mm512_sub_epi64(u, v), two_p), w, ws, p, two_p);
  }
};

// A stage of `groups` pairs of half-blocks t >= kLanes words long, pair i at a + 2 i t with
// twiddle w[first + i]: the butterfly on each kLanes-wide column.
template <typename Butterfly>
void wide_stage(std::uint64_t* a, std::size_t groups, std::size_t t, std::size_t first, const std::uint64_t* w,
                const std::uint64_t* ws, const Butterfly& butterfly) {
  for (std::size_t i = 0; i < groups; ++i) {
    std::uint64_t* x = a + 2 * i * t;
    const __m512i wi = _mm512_set1_epi64(static_cast<long long>(w[first + i]));
    const __m512i wsi = _mm512_set1_epi64(static_cast<long long>(ws[first + i]));
    for (std::size_t j = 0; j < t; j += kLanes) {
      __m512i u = load(x + j), v = load(x + t + j);
      butterfly(u, v, wi, wsi);
      store(x + j, u);
      store(x + t + j, v);
    }
  }
}

// A stage whose half-blocks t (4, 2 or 1 words) are shorter than a vector, over all n words:
// 16 words (8 / t pairs) at a time, their x halves gathered into one vector and their y halves
// into another, each lane with its pair's twiddle, and scattered back.
template <typename Butterfly>
void narrow_stage(std::uint64_t* a, std::size_t n, std::size_t t, std::size_t first, const std::uint64_t* w,
                  const std::uint64_t* ws, const Butterfly& butterfly) {
  long long gather_x[kLanes], gather_y[kLanes], twiddle_of[kLanes], scatter[2 * kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    gather_x[l] = static_cast<long long>(2 * t * (l / t) + l % t);
    gather_y[l] = gather_x[l] + static_cast<long long>(t);
    twiddle_of[l] = static_cast<long long>(l / t);
  }
  for (std::size_t q = 0; q < 2 * kLanes; ++q) {  // word q of the 16 comes from lane ... of x or y
    const std::size_t g = q / (2 * t), r = q % (2 * t);
    scatter[q] = static_cast<long long>(r < t ? g * t + r : kLanes + g * t + r - t);
  }
  const __m512i vx = _mm512_loadu_si512(gather_x), vy = _mm512_loadu_si512(gather_y);
  const __m512i vw = _mm512_loadu_si512(twiddle_of);
  const __m512i lo = _mm512_loadu_si512(scatter), hi = _mm512_loadu_si512(scatter + kLanes);
  const std::size_t pairs = kLanes / t;  // per 16 words
  const __mmask8 twiddles = static_cast<__mmask8>((1u << pairs) - 1);
  for (std::size_t base = 0, g = first; base < n; base += 2 * kLanes, g += pairs) {
    const __m512i a0 = load(a + base), a1 = load(a + base + kLanes);
    __m512i x = _mm512_permutex2var_epi64(a0, vx, a1), y = _mm512_permutex2var_epi64(a0, vy, a1);
    const __m512i wi = _mm512_permutexvar_epi64(vw, _mm512_maskz_loadu_epi64(twiddles, w + g));
    const __m512i wsi = _mm512_permutexvar_epi64(vw, _mm512_maskz_loadu_epi64(twiddles, ws + g));
    butterfly(x, y, wi, wsi);
    store(a + base, _mm512_permutex2var_epi64(x, lo, y));
    store(a + base + kLanes, _mm512_permutex2var_epi64(x, hi, y));
  }
}

}  // namespace

bool available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

void reduce_small(const std::int32_t* in, std::uint64_t* out, std::size_t n, std::uint64_t p) {
  const __m512i vp = _mm512_set1_epi64(static_cast<long long>(p));
  for (std::size_t j = 0; j < n; j += kLanes) {
    const __m512i v = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + j)));
    const __mmask8 negative = _mm512_movepi64_mask(v);
    store(out + j, _mm512_mask_add_epi64(v, negative, v, vp));
  }
}

void forward(std::uint64_t* a, std::size_t n, const std::uint64_t* w, const std::uint64_t* ws, std::uint64_t p) {
  const ForwardButterfly butterfly{_mm512_set1_epi64(static_cast<long long>(p)),
                                   _mm512_set1_epi64(static_cast<long long>(2 * p))};
  for (std::size_t m = 1; m < n; m <<= 1) {
    const std::size_t t = n / (2 * m);
    if (t >= kLanes) {
      wide_stage(a, m, t, m, w, ws, butterfly);
    } else {
      narrow_stage(a, n, t, m, w, ws, butterfly);
    }
  }
  for (std::size_t j = 0; j < n; j += kLanes) {  // [0, 4p) -> [0, p)
    store(a + j, subtract_if_at_least(subtract_if_at_least(load(a + j), butterfly.two_p), butterfly.p));
  }
}

void backward(std::uint64_t* a, std::size_t n, const std::uint64_t* w, const std::uint64_t* ws, std::uint64_t p) {
  const BackwardButterfly butterfly{_mm512_set1_epi64(static_cast<long long>(p)),
                                    _mm512_set1_epi64(static_cast<long long>(2 * p))};
  for (std::size_t m = n; m > 1; m >>= 1) {
    const std::size_t t = n / m;
    if (t >= kLanes) {
      wide_stage(a, m / 2, t, m / 2, w, ws, butterfly);
    } else {
      narrow_stage(a, n, t, m / 2, w, ws, butterfly);
    }
  }
}

void product_sum(const std::uint64_t* a, std::size_t a_stride, const std::uint64_t* b, std::size_t b_stride,
                 std::size_t rows, std::uint64_t* out, std::size_t n, std::uint64_t p,
                 const std::uint64_t* fold, const std::uint64_t* fold_shoup) {
  // Split every factor x < 2^60 into 30-bit halves: x y = xh yh 2^60 + (xl yh + xh yl) 2^30 +
  // xl yl, four 32 x 32 -> 64 products whose sums over <= 16 rows stay below 2^64. Each sum is
  // then reduced once with its weight 2^(30 e) (times 2^-64 n^-1) folded into a Shoup product.
  // The key rows stream from memory (a blind rotation's key is 1.22 GB): each is fetched 8
  // lines ahead, which the hardware prefetcher does not do as well for 9 streams (~8 % of a
  // CMUX whose GGSW comes from memory, BM_Cmux128Streaming). A prefetch past the end of a
  // row cannot fault.
  constexpr std::size_t kPrefetchWords = 64;
  const __m512i low30 = set1((std::uint64_t{1} << 30) - 1);
  const __m512i vp = set1(p), two_p = set1(2 * p), four_p = set1(4 * p);
  const __m512i f0 = set1(fold[0]), f1 = set1(fold[1]), f2 = set1(fold[2]);
  const __m512i fs0 = set1(fold_shoup[0]), fs1 = set1(fold_shoup[1]), fs2 = set1(fold_shoup[2]);
  for (std::size_t j = 0; j < n; j += kLanes) {
    __m512i ll = _mm512_setzero_si512(), lh = ll, hl = ll, hh = ll;
    for (std::size_t r = 0; r < rows; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(b + r * b_stride + j + kPrefetchWords), _MM_HINT_T0);
      const __m512i x = load(a + r * a_stride + j), y = load(b + r * b_stride + j);
      const __m512i xl = _mm512_and_si512(x, low30), xh = _mm512_srli_epi64(x, 30);
      const __m512i yl = _mm512_and_si512(y, low30), yh = _mm512_srli_epi64(y, 30);
      ll = _mm512_add_epi64(ll, _mm512_mul_epu32(xl, yl));
      lh = _mm512_add_epi64(lh, _mm512_mul_epu32(xl, yh));
      hl = _mm512_add_epi64(hl, _mm512_mul_epu32(xh, yl));
      hh = _mm512_add_epi64(hh, _mm512_mul_epu32(xh, yh));
    }
    __m512i sum = _mm512_add_epi64(mul_shoup_lazy(ll, f0, fs0, vp), mul_shoup_lazy(hh, f2, fs2, vp));
    sum = _mm512_add_epi64(
        sum, _mm512_add_epi64(mul_shoup_lazy(lh, f1, fs1, vp), mul_shoup_lazy(hl, f1, fs1, vp)));
    sum = subtract_if_at_least(subtract_if_at_least(subtract_if_at_least(sum, four_p), two_p),
                               vp);  // [0, 8p) -> [0, p)
    store(out + j, sum);
  }
}

void decompose(const std::uint64_t* words, std::size_t n, unsigned base_log, std::size_t level,
               std::int32_t* digits) {
  // decompose128 on 8 words at a time, the 128-bit state in a vector of low and one of high
  // halves.
  const unsigned shift = 128 - base_log * static_cast<unsigned>(level) - 1;  // then round off one more bit
  const __m128i right = _mm_cvtsi32_si128(static_cast<int>(shift % 64));
  const __m128i left = _mm_cvtsi32_si128(static_cast<int>(64 - shift % 64));  // 64: no bits cross
  const __m128i digit_right = _mm_cvtsi32_si128(static_cast<int>(base_log));
  const __m128i digit_left = _mm_cvtsi32_si128(static_cast<int>(64 - base_log));
  const __m512i mask = set1((std::uint64_t{1} << base_log) - 1), one = set1(1);
  const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0),
                odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
  for (std::size_t i = 0; i < n; i += kLanes) {
    const __m512i w0 = load(words + 2 * i), w1 = load(words + 2 * i + kLanes);
    __m512i lo = _mm512_permutex2var_epi64(w0, even, w1), hi = _mm512_permutex2var_epi64(w0, odd, w1);
    if (shift >= 64) {
      lo = _mm512_srl_epi64(hi, right);
      hi = _mm512_setzero_si512();
    } else {
      lo = _mm512_or_si512(_mm512_srl_epi64(lo, right), _mm512_sll_epi64(hi, left));
      hi = _mm512_srl_epi64(hi, right);
    }
    // state = (x >> (shift - 1) + 1) >> 1: rounded to the kept bits.
    lo = _mm512_add_epi64(lo, one);
    hi = _mm512_mask_add_epi64(hi, _mm512_cmpeq_epi64_mask(lo, _mm512_setzero_si512()), hi, one);
    lo = _mm512_or_si512(_mm512_srli_epi64(lo, 1), _mm512_slli_epi64(hi, 63));
    hi = _mm512_srli_epi64(hi, 1);
    for (std::size_t j = level; j-- > 0;) {
      // A digit >= B/2 becomes digit - B and carries one into the next.
      const __m512i digit = _mm512_and_si512(lo, mask);
      const __m512i carry = _mm512_srl_epi64(digit, _mm_cvtsi32_si128(static_cast<int>(base_log - 1)));
      const __m512i balanced = _mm512_sub_epi64(digit, _mm512_sll_epi64(carry, digit_right));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(digits + j * n + i), _mm512_cvtepi64_epi32(balanced));
      lo = _mm512_or_si512(_mm512_srl_epi64(lo, digit_right), _mm512_sll_epi64(hi, digit_left));
      hi = _mm512_srl_epi64(hi, digit_right);
      add128(lo, hi, carry, _mm512_setzero_si512());
    }
  }
}

void crt(const std::uint64_t* r0, const std::uint64_t* r1, const std::uint64_t* r2, std::uint64_t* out,
         std::size_t n, const CrtConstants& c, bool accumulate) {
  const __m512i p1 = set1(c.p[0]), p2 = set1(c.p[1]), p3 = set1(c.p[2]), half_p3 = set1(c.p[2] / 2);
  const __m512i c12 = set1(c.c12), c12s = set1(c.c12_shoup), c13 = set1(c.c13), c13s = set1(c.c13_shoup);
  const __m512i c23 = set1(c.c23), c23s = set1(c.c23_shoup);
  const __m512i p1p2_lo = set1(c.p1p2_lo), p1p2_hi = set1(c.p1p2_hi), all_lo = set1(c.all_lo),
                all_hi = set1(c.all_hi);
  const __m512i one = set1(1);
  // Lanes of the low and high halves <-> 8 u128 words (two vectors, low half first).
  const __m512i interleave0 = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i interleave1 = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0),
                odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
  for (std::size_t j = 0; j < n; j += kLanes) {
    // As Ntt128::crt's scalar loop, lane by lane.
    const __m512i x1 = subtract_if_at_least(load(r0 + j), p1);
    const __m512i x2 = subtract_if_at_least(load(r1 + j), p2);
    const __m512i x3 = subtract_if_at_least(load(r2 + j), p3);
    const __m512i y1 = x1;
    const __m512i y2 = mul_shoup(sub_mod(x2, subtract_if_at_least(y1, p2), p2), c12, c12s, p2);
    __m512i t = mul_shoup(sub_mod(x3, subtract_if_at_least(y1, p3), p3), c13, c13s, p3);
    t = sub_mod(t, subtract_if_at_least(y2, p3), p3);
    const __m512i y3 = mul_shoup(t, c23, c23s, p3);
    // x = y1 + p1 y2 + p1 p2 y3 mod 2^128, less P where the integer was negative.
    __m512i lo = y1, hi = _mm512_setzero_si512();
    add128(lo, hi, _mm512_mullo_epi64(p1, y2), mul_high(p1, y2));
    add128(lo, hi, _mm512_mullo_epi64(p1p2_lo, y3),
           _mm512_add_epi64(mul_high(p1p2_lo, y3), _mm512_mullo_epi64(p1p2_hi, y3)));
    const __mmask8 negative = _mm512_cmpgt_epu64_mask(y3, half_p3);
    const __mmask8 borrow = negative & _mm512_cmplt_epu64_mask(lo, all_lo);
    lo = _mm512_mask_sub_epi64(lo, negative, lo, all_lo);
    hi = _mm512_mask_sub_epi64(hi, negative, hi, all_hi);
    hi = _mm512_mask_sub_epi64(hi, borrow, hi, one);
    std::uint64_t* o = out + 2 * j;
    if (accumulate) {
      const __m512i w0 = load(o), w1 = load(o + kLanes);
      add128(lo, hi, _mm512_permutex2var_epi64(w0, even, w1), _mm512_permutex2var_epi64(w0, odd, w1));
    }
    store(o, _mm512_permutex2var_epi64(lo, interleave0, hi));
    store(o + kLanes, _mm512_permutex2var_epi64(lo, interleave1, hi));
  }
}

}  // namespace veil::fhe::core::ntt128_avx512
