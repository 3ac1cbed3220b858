// Radix integers: every operation decrypts to its plaintext result on random and edge inputs.
// Most cases run on the INSECURE test parameters (fhe_integer_test, label unit); built with
// FHE_DEFAULT_PARAMS_SUITE (fhe_integer_default_test, label integration) the file repeats a
// few cases per operation on the default parameters, seconds each.
#include <optional>

#include <gtest/gtest.h>

#include "integer/radix.h"
#include "test_keys.h"

namespace veil::fhe {
namespace {

using integer::Comparison;
using integer::RadixCiphertext;
using testing::rng;

struct Fixture {
  const testing::TestKeys& keys;
  integer::ServerKey sk;
  explicit Fixture(const Parameters& p) : keys(testing::keys_for(p)), sk(keys.server) {}
  RadixCiphertext enc(std::uint64_t v, unsigned bits) const {
    return integer::encrypt_radix(keys.client, v, integer::blocks_for_bits(keys.client.params(), bits));
  }
  std::uint64_t dec(const RadixCiphertext& c) const { return integer::decrypt_radix(keys.client, c); }
  std::uint64_t dec(const integer::BoolCiphertext& c) const { return keys.client.decrypt(c); }
};

// Inputs: edges (0, max, equal operands) first, then random.
std::pair<std::uint64_t, std::uint64_t> inputs(int i, unsigned bits) {
  const std::uint64_t max = bits == 64 ? ~0ull : (1ull << bits) - 1;
  const std::uint64_t r1 = rng()() & max, r2 = rng()() & max;
  switch (i) {
    case 0: return {0, 0};
    case 1: return {max, max};
    case 2: return {0, max};
    case 3: return {max, 0};
    case 4: return {r1, r1};
    default: return {r1, r2};
  }
}

const Parameters& params_for(bool full) {
  return full ? kParamMessage2Carry2KsPbsTUniform2M128 : kParamInsecureTestOnly;
}

void arithmetic(bool full, unsigned bits, int cases) {
  Fixture f(params_for(full));
  const std::uint64_t mask = (1ull << bits) - 1;
  for (int i = 0; i < cases; ++i) {
    auto [x, y] = inputs(i, bits);
    auto a = f.enc(x, bits), b = f.enc(y, bits);
    ASSERT_EQ(f.dec(a), x);
    ASSERT_EQ(f.dec(f.sk.add(a, b)), (x + y) & mask) << x << "+" << y;
    ASSERT_EQ(f.dec(f.sk.sub(a, b)), (x - y) & mask) << x << "-" << y;
    ASSERT_EQ(f.dec(f.sk.scalar_add(a, y)), (x + y) & mask);
    ASSERT_EQ(f.dec(f.sk.scalar_sub(a, y)), (x - y) & mask);
    const std::uint64_t c = rng()() % (i % 2 == 0 ? 8 : mask + 1);
    ASSERT_EQ(f.dec(f.sk.scalar_mul(a, c)), (x * c) & mask) << x << "*" << c;
  }
}

void comparisons(bool full, unsigned bits, int cases) {
  Fixture f(params_for(full));
  for (int i = 0; i < cases; ++i) {
    auto [x, y] = inputs(i, bits);
    auto a = f.enc(x, bits), b = f.enc(y, bits);
    const std::pair<Comparison, bool> ops[] = {{Comparison::kEq, x == y}, {Comparison::kNe, x != y},
                                               {Comparison::kGt, x > y},  {Comparison::kGe, x >= y},
                                               {Comparison::kLt, x < y},  {Comparison::kLe, x <= y}};
    for (auto [op, want] : ops) {
      ASSERT_EQ(f.dec(f.sk.compare(a, b, op)), want ? 1u : 0u) << x << " op" << int(op) << " " << y;
      ASSERT_EQ(f.dec(f.sk.scalar_compare(a, y, op)), want ? 1u : 0u) << x << " sop" << int(op) << " " << y;
    }
    ASSERT_EQ(f.dec(f.sk.min(a, b)), std::min(x, y));
    ASSERT_EQ(f.dec(f.sk.max(a, b)), std::max(x, y));
    ASSERT_EQ(f.dec(f.sk.scalar_min(a, y)), std::min(x, y));
    ASSERT_EQ(f.dec(f.sk.scalar_max(a, y)), std::max(x, y));
  }
}

void select_and_bitwise(bool full, unsigned bits, int cases) {
  Fixture f(params_for(full));
  const std::uint64_t mask = (1ull << bits) - 1;
  for (int i = 0; i < cases; ++i) {
    auto [x, y] = inputs(i, bits);
    auto a = f.enc(x, bits), b = f.enc(y, bits);
    for (std::uint64_t c : {0u, 1u}) {
      auto cond = f.keys.client.encrypt(c);
      ASSERT_EQ(f.dec(f.sk.select(cond, a, b)), c ? x : y);
    }
    // select on a computed condition, and on outputs of earlier selects (noise > 1).
    auto ge = f.sk.compare(a, b, Comparison::kGe);
    auto m1 = f.sk.select(ge, a, b);
    auto m2 = f.sk.select(ge, m1, f.sk.select(ge, a, b));
    ASSERT_EQ(f.dec(m2), std::max(x, y));
    ASSERT_EQ(f.dec(f.sk.bitwise(a, b, integer::ServerKey::Bitwise::kAnd)), x & y);
    ASSERT_EQ(f.dec(f.sk.bitwise(a, b, integer::ServerKey::Bitwise::kOr)), x | y);
    ASSERT_EQ(f.dec(f.sk.bitwise(a, b, integer::ServerKey::Bitwise::kXor)), x ^ y);
    ASSERT_EQ(f.dec(f.sk.scalar_bitwise(a, y, integer::ServerKey::Bitwise::kAnd)), x & y);
    ASSERT_EQ(f.dec(f.sk.scalar_bitwise(a, y, integer::ServerKey::Bitwise::kOr)), x | y);
    ASSERT_EQ(f.dec(f.sk.scalar_bitwise(a, y, integer::ServerKey::Bitwise::kXor)), x ^ y);
    ASSERT_EQ(f.dec(f.sk.bitnot(a)), ~x & mask);
  }
}

void booleans(bool full) {
  Fixture f(params_for(full));
  for (std::uint64_t x : {0u, 1u}) {
    for (std::uint64_t y : {0u, 1u}) {
      auto a = f.keys.client.encrypt(x), b = f.keys.client.encrypt(y);
      ASSERT_EQ(f.dec(f.sk.bool_and(a, b)), x & y);
      ASSERT_EQ(f.dec(f.sk.bool_or(a, b)), x | y);
      ASSERT_EQ(f.dec(f.sk.bool_xor(a, b)), x ^ y);
      ASSERT_EQ(f.dec(f.sk.bool_not(a)), 1 - x);
    }
  }
}

void arg_extremes(bool full, unsigned bits, std::size_t count, int cases) {
  Fixture f(params_for(full));
  const std::uint64_t mask = (1ull << bits) - 1;
  for (int i = 0; i < cases; ++i) {
    std::vector<std::uint64_t> xs(count);
    for (auto& x : xs) x = rng()() & (i % 2 == 0 ? 3 : mask);  // small range: many ties
    if (i == 0) std::fill(xs.begin(), xs.end(), mask);
    std::vector<RadixCiphertext> cts;
    for (auto x : xs) cts.push_back(f.enc(x, bits));
    auto [imax, vmax] = f.sk.argmax(cts, 2);
    auto [imin, vmin] = f.sk.argmin(cts, 2);
    const auto max_it = std::max_element(xs.begin(), xs.end());
    const auto min_it = std::min_element(xs.begin(), xs.end());
    ASSERT_EQ(f.dec(vmax), *max_it);
    ASSERT_EQ(f.dec(imax), static_cast<std::uint64_t>(max_it - xs.begin()));
    ASSERT_EQ(f.dec(vmin), *min_it);
    ASSERT_EQ(f.dec(imin), static_cast<std::uint64_t>(min_it - xs.begin()));
  }
}

// The tournament with eligibility flags, several rounds, and the winners' values: each round
// picks the first extreme among the eligible candidates no earlier round picked, and its value
// is that candidate's. Half the cases declare the top block's degree 1 (values below 2^(bits-1)
// in 2-bit blocks), which folds the flag into that block.
void picks_with_values(bool full, unsigned bits, std::size_t count, int cases) {
  Fixture f(params_for(full));
  const std::uint64_t mask = (1ull << bits) - 1;
  for (int i = 0; i < cases; ++i) {
    const bool fold = i % 2 == 1;
    const bool maximise = i % 4 < 2;
    const std::size_t rounds = 1 + static_cast<std::size_t>(i) % 3;
    std::vector<std::uint64_t> xs(count);
    std::vector<bool> eligible(count);
    for (std::size_t c = 0; c < count; ++c) {
      xs[c] = rng()() & (fold ? mask >> 2 : (i % 3 == 0 ? 3 : mask));
      eligible[c] = rng()() % 4 != 0;
    }
    std::vector<RadixCiphertext> cts;
    std::vector<integer::BoolCiphertext> flags;
    for (std::size_t c = 0; c < count; ++c) {
      cts.push_back(f.enc(xs[c], bits));
      if (fold) cts.back().blocks.back().degree = 1;
      flags.push_back(f.keys.client.encrypt(eligible[c] ? 1 : 0));
    }
    std::vector<const RadixCiphertext*> values;
    std::vector<const integer::BoolCiphertext*> flag_ptrs;
    for (std::size_t c = 0; c < count; ++c) {
      values.push_back(&cts[c]);
      flag_ptrs.push_back(&flags[c]);
    }
    const auto picks = f.sk.pick_extremes(values, flag_ptrs, rounds, maximise, 2,
                                          integer::ServerKey::PickOutputs{.chosen = false, .values = true});
    ASSERT_EQ(picks.picks.size(), rounds);
    std::vector<bool> left = eligible;
    for (std::size_t r = 0; r < rounds; ++r) {
      std::optional<std::size_t> want;
      for (std::size_t c = 0; c < count; ++c) {
        if (left[c] && (!want || (maximise ? xs[c] > xs[*want] : xs[c] < xs[*want]))) want = c;
      }
      const auto& pick = picks.picks[r];
      ASSERT_EQ(f.dec(pick.found), want ? 1u : 0u) << "case " << i << " round " << r;
      if (!want) continue;
      left[*want] = false;
      ASSERT_EQ(f.dec(pick.index), *want) << "case " << i << " round " << r;
      ASSERT_EQ(f.dec(pick.value), xs[*want]) << "case " << i << " round " << r;
    }
  }
}

#ifndef FHE_DEFAULT_PARAMS_SUITE
TEST(FheInteger, PickExtremesWithValues) { picks_with_values(false, 8, 6, 12); }
TEST(FheInteger, ArithmeticU8) { arithmetic(false, 8, 40); }
TEST(FheInteger, ArithmeticU16) { arithmetic(false, 16, 12); }
TEST(FheInteger, ArithmeticU32) { arithmetic(false, 32, 6); }
TEST(FheInteger, ComparisonsU8) { comparisons(false, 8, 24); }
TEST(FheInteger, ComparisonsU16) { comparisons(false, 16, 8); }
TEST(FheInteger, ComparisonsU32) { comparisons(false, 32, 4); }
TEST(FheInteger, SelectBitwiseU8) { select_and_bitwise(false, 8, 30); }
TEST(FheInteger, SelectBitwiseU16) { select_and_bitwise(false, 16, 8); }
TEST(FheInteger, Booleans) { booleans(false); }
TEST(FheInteger, ArgmaxArgminU8) { arg_extremes(false, 8, 5, 10); }
TEST(FheInteger, ArgmaxArgminU16Of8) { arg_extremes(false, 16, 8, 3); }

TEST(FheInteger, CarryStrategiesAgree) {
  Fixture f(params_for(false));
  for (int i = 0; i < 30; ++i) {
    auto [x, y] = inputs(i, 16);
    auto a = f.enc(x, 16), b = f.enc(y, 16);
    std::vector<integer::Ciphertext> sum;
    for (std::size_t k = 0; k < a.blocks.size(); ++k) {
      auto s = a.blocks[k];
      f.keys.server.add_assign(s, b.blocks[k]);
      sum.push_back(s);
    }
    ASSERT_EQ(f.dec(f.sk.propagate_parallel(sum)), (x + y) & 0xffff);
    ASSERT_EQ(f.dec(f.sk.propagate_sequential(sum)), (x + y) & 0xffff);
  }
}

#else
TEST(FheIntegerDefaultParams, Arithmetic) { arithmetic(true, 8, 3); }
TEST(FheIntegerDefaultParams, Comparisons) { comparisons(true, 8, 2); }
TEST(FheIntegerDefaultParams, SelectBitwise) { select_and_bitwise(true, 8, 2); }
TEST(FheIntegerDefaultParams, Booleans) { booleans(true); }
TEST(FheIntegerDefaultParams, Argmax) { arg_extremes(true, 8, 3, 2); }
TEST(FheIntegerDefaultParams, ArgmaxU16Of8) { arg_extremes(true, 16, 8, 1); }
TEST(FheIntegerDefaultParams, PickExtremesWithValues) { picks_with_values(true, 8, 3, 2); }
#endif

}  // namespace
}  // namespace veil::fhe
