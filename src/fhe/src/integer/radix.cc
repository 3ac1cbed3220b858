#include "integer/radix.h"

#include <algorithm>
#include <cassert>
#include <optional>
#include <thread>

namespace veil::fhe::integer {
namespace {

// Block comparison signs, and carry-propagation states.
constexpr std::uint64_t kLess = 0, kEqual = 1, kGreater = 2;
constexpr std::uint64_t kNone = 0, kGenerate = 1, kPropagate = 2;

std::uint64_t digit(std::uint64_t value, std::uint64_t m, std::size_t i) {
  for (std::size_t k = 0; k < i; ++k) value /= m;
  return value % m;
}

bool final_map(Comparison op, std::uint64_t sign) {
  switch (op) {
    case Comparison::kGt: return sign == kGreater;
    case Comparison::kGe: return sign != kLess;
    case Comparison::kLt: return sign == kLess;
    case Comparison::kLe: return sign != kGreater;
    case Comparison::kEq: return sign == kEqual;
    case Comparison::kNe: return sign != kEqual;
  }
  return false;
}

// Cleans x or y (the noisier first) until their noise levels sum to at most budget.
void fit_noise(const shortint::ServerKey& key, Ciphertext& x, Ciphertext& y, std::uint64_t budget) {
  while (x.noise_level + y.noise_level > budget) {
    if (x.noise_level >= y.noise_level && x.noise_level > 1) {
      x = key.clean(x);
    } else if (y.noise_level > 1) {
      y = key.clean(y);
    } else {
      x = key.clean(x);
      if (x.noise_level + y.noise_level > budget) y = key.clean(y);
      break;
    }
  }
}

}  // namespace

std::size_t blocks_for_bits(const Parameters& params, unsigned bits) {
  std::size_t bits_per_block = 0;
  for (std::uint64_t m = params.message_modulus; m > 1; m >>= 1) ++bits_per_block;
  return (bits + bits_per_block - 1) / bits_per_block;
}

RadixCiphertext encrypt_radix(const shortint::ClientKey& ck, std::uint64_t value, std::size_t num_blocks) {
  RadixCiphertext out;
  const std::uint64_t m = ck.params().message_modulus;
  for (std::size_t i = 0; i < num_blocks; ++i) {
    out.blocks.push_back(ck.encrypt(value % m));
    value /= m;
  }
  return out;
}

std::uint64_t decrypt_radix(const shortint::ClientKey& ck, const RadixCiphertext& ct) {
  const std::uint64_t m = ck.params().message_modulus;
  std::uint64_t value = 0, weight = 1;
  for (const auto& block : ct.blocks) {
    value += ck.decrypt(block) * weight;
    weight *= m;
  }
  return value;
}

ServerKey::ServerKey(const shortint::ServerKey& key, ThreadPool* pool)
    : key_(&key), pool_(pool != nullptr ? pool : &ThreadPool::shared()) {
  const std::uint64_t m = params().message_modulus;
  msg_lut_ = key.lut([m](std::uint64_t x) { return x % m; });
  carry_lut_ = key.lut([m](std::uint64_t x) { return x / m; });
  msg_carry_many_ = key.many_lut({[m](std::uint64_t x) { return x % m; }, [m](std::uint64_t x) { return x / m; }});
  state_many_ = key.many_lut({[m](std::uint64_t x) { return x % m; }, [m](std::uint64_t x) {
                                return x >= m ? kGenerate : x == m - 1 ? kPropagate : kNone;
                              }});
  prefix_lut_ = key.lut([m](std::uint64_t x) {
    const std::uint64_t cur = x / m, prev = x % m;
    return cur == kPropagate ? prev : cur;
  });
  // d = a - b + m for block messages a, b.
  sign_lut_ = key.lut([m](std::uint64_t d) { return d < m ? kLess : d == m ? kEqual : kGreater; });
  ne_lut_ = key.lut([m](std::uint64_t d) -> std::uint64_t { return d != m ? 1 : 0; });
  any_lut_ = key.lut([](std::uint64_t x) -> std::uint64_t { return x != 0 ? 1 : 0; });
  // x = (a - b + m) + 2m * c  ->  c ? (a - b) * Delta : 0, added to b afterwards.
  const Torus delta = params().delta();
  select_lut_ = key.lut_torus(
      [m, delta](std::uint64_t x) -> Torus {
        if (x < 2 * m) return 0;
        const auto d = static_cast<std::int64_t>(x - 2 * m) - static_cast<std::int64_t>(m);
        return static_cast<Torus>(d) * delta;
      },
      m - 1);
  // x = 2 (a - b + m) + c.
  select_lut_unscaled_ = key.lut_torus(
      [m, delta](std::uint64_t x) -> Torus {
        if ((x & 1) == 0) return 0;
        const auto d = static_cast<std::int64_t>(x >> 1) - static_cast<std::int64_t>(m);
        return static_cast<Torus>(d) * delta;
      },
      m - 1);
  bool_scale8_lut_ = key.lut([m](std::uint64_t x) -> std::uint64_t { return x != 0 ? 2 * m : 0; });
}

void ServerKey::parallel(std::size_t count, const std::function<void(std::size_t)>& fn) const {
  if (count == 1) {
    fn(0);
    return;
  }
  pool_->parallel_for(0, count, fn);
}

std::vector<Ciphertext> ServerKey::apply_all(const std::vector<Ciphertext>& inputs,
                                             const std::vector<const shortint::LookupTable*>& luts) const {
  std::vector<Ciphertext> out(inputs.size());
  parallel(inputs.size(), [&](std::size_t i) { out[i] = key_->apply(inputs[i], *luts[i]); });
  return out;
}

RadixCiphertext ServerKey::trivial(std::uint64_t value, std::size_t num_blocks) const {
  RadixCiphertext out;
  const std::uint64_t m = params().message_modulus;
  for (std::size_t i = 0; i < num_blocks; ++i) {
    out.blocks.push_back(key_->trivial(value % m));
    value /= m;
  }
  return out;
}

// ---------------- carry propagation ----------------

RadixCiphertext ServerKey::propagate(std::vector<Ciphertext> blocks) const {
  const std::size_t nb = blocks.size();
  // Threads that really run at once: the workers plus the caller, at most the cores.
  const std::size_t t = std::max<std::size_t>(
      1, std::min<std::size_t>(pool_->size() + 1, std::max(1u, std::thread::hardware_concurrency())));
  auto units = [t](std::size_t count) { return (count + t - 1) / t; };
  std::size_t parallel_units = units(nb) + units(nb - 1);
  for (std::size_t d = 1; d + 1 < nb; d *= 2) parallel_units += units(nb - 1 - d);
  const bool small_degrees = std::all_of(blocks.begin(), blocks.end(), [&](const Ciphertext& b) {
    return b.degree < params().plaintext_modulus() / 2;
  });
  if (small_degrees && nb > 2 && parallel_units < nb) return propagate_parallel(std::move(blocks));
  return propagate_sequential(std::move(blocks));
}

RadixCiphertext ServerKey::propagate_sequential(std::vector<Ciphertext> blocks) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t half = params().plaintext_modulus() / 2;
  RadixCiphertext out;
  out.blocks.resize(blocks.size());
  std::optional<Ciphertext> carry;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    Ciphertext cur = std::move(blocks[i]);
    if (carry) {
      cur = key_->with_noise_at_most(cur, params().max_noise_level - carry->noise_level);
      key_->add_assign(cur, *carry);
      carry.reset();
    }
    if (cur.degree < m) {
      out.blocks[i] = std::move(cur);
    } else if (i + 1 == blocks.size()) {
      out.blocks[i] = key_->apply(cur, msg_lut_);
    } else if (cur.degree < half) {
      auto parts = key_->apply_many(cur, msg_carry_many_);
      out.blocks[i] = std::move(parts[0]);
      carry = std::move(parts[1]);
    } else {
      std::vector<Ciphertext> in{cur, cur};
      auto parts = apply_all(in, {&msg_lut_, &carry_lut_});
      out.blocks[i] = std::move(parts[0]);
      carry = std::move(parts[1]);
    }
  }
  return out;
}

RadixCiphertext ServerKey::propagate_parallel(std::vector<Ciphertext> blocks) const {
  // Kogge-Stone prefix over carry states: a block generates a carry (sum >= m), propagates an
  // incoming one (sum == m - 1) or neither. combine(cur, prev) = cur == propagate ? prev : cur
  // is associative, so log2(nb) levels of bivariate bootstraps resolve every carry.
  const std::size_t nb = blocks.size();
  std::vector<Ciphertext> msg(nb), state(nb);
  parallel(nb, [&](std::size_t i) {
    if (i + 1 == nb) {
      msg[i] = key_->apply(blocks[i], msg_lut_);
      return;
    }
    auto parts = key_->apply_many(blocks[i], i == 0 ? msg_carry_many_ : state_many_);
    msg[i] = std::move(parts[0]);
    state[i] = std::move(parts[1]);
  });
  const std::uint64_t m = params().message_modulus;
  for (std::size_t d = 1; d + 1 < nb; d *= 2) {
    std::vector<Ciphertext> next(state.begin(), state.end());
    parallel(nb - 1 - d, [&](std::size_t k) {
      const std::size_t i = k + d;
      Ciphertext packed = state[i];
      key_->scalar_mul_assign(packed, m);
      key_->add_assign(packed, state[i - d]);
      next[i] = key_->apply(packed, prefix_lut_);
    });
    state = std::move(next);
  }
  RadixCiphertext out;
  out.blocks.resize(nb);
  out.blocks[0] = std::move(msg[0]);
  parallel(nb - 1, [&](std::size_t k) {
    const std::size_t i = k + 1;
    Ciphertext sum = msg[i];
    key_->add_assign(sum, state[i - 1]);
    out.blocks[i] = key_->apply(sum, msg_lut_);
  });
  return out;
}

// ---------------- arithmetic ----------------

RadixCiphertext ServerKey::add(const RadixCiphertext& a, const RadixCiphertext& b) const {
  assert(a.blocks.size() == b.blocks.size());
  std::vector<Ciphertext> sum(a.blocks.size());
  const std::uint64_t budget = params().max_noise_level - 1;  // room for an incoming carry
  for (std::size_t i = 0; i < sum.size(); ++i) {
    Ciphertext x = a.blocks[i];
    Ciphertext y = b.blocks[i];
    fit_noise(*key_, x, y, budget);
    key_->add_assign(x, y);
    sum[i] = std::move(x);
  }
  return propagate(std::move(sum));
}

RadixCiphertext ServerKey::sub(const RadixCiphertext& a, const RadixCiphertext& b) const {
  // a - b = a + ~b + 1 (mod m^nb); ~b is m-1-b per block, linear and exact.
  const std::uint64_t m = params().message_modulus;
  std::vector<Ciphertext> sum(a.blocks.size());
  const std::uint64_t budget = params().max_noise_level - 1;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    Ciphertext x = a.blocks[i];
    Ciphertext y = b.blocks[i];
    fit_noise(*key_, x, y, budget);
    key_->add_assign(x, key_->scalar_sub_from(m - 1, y));
    sum[i] = std::move(x);
  }
  key_->scalar_add_assign(sum[0], 1);
  return propagate(std::move(sum));
}

RadixCiphertext ServerKey::scalar_add(const RadixCiphertext& a, std::uint64_t c) const {
  const std::uint64_t m = params().message_modulus;
  std::vector<Ciphertext> sum = a.blocks;
  bool any = false;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    const std::uint64_t d = digit(c, m, i);
    if (d != 0) {
      key_->scalar_add_assign(sum[i], d);
      any = true;
    }
  }
  if (!any) return a;
  return propagate(std::move(sum));
}

RadixCiphertext ServerKey::scalar_sub(const RadixCiphertext& a, std::uint64_t c) const {
  const std::uint64_t m = params().message_modulus;
  // Two's complement of c modulo m^nb (computed without overflowing 64 bits).
  std::uint64_t neg = 0, weight = 1, borrow = 1;
  for (std::size_t i = 0; i < a.blocks.size(); ++i) {
    std::uint64_t d = (m - 1 - digit(c, m, i)) + borrow;
    borrow = d / m;
    neg += (d % m) * weight;
    weight *= m;
  }
  return scalar_add(a, neg);
}

RadixCiphertext ServerKey::scalar_mul(const RadixCiphertext& a, std::uint64_t c) const {
  const std::uint64_t m = params().message_modulus;
  const std::size_t nb = a.blocks.size();
  // Columns of partial products: a_i * c_j lands in column i + j as (low, high) digits.
  std::vector<std::vector<Ciphertext>> columns(nb);
  struct Job {
    std::size_t column;
    std::size_t block;
    std::uint64_t factor;
  };
  std::vector<Job> jobs;
  for (std::size_t j = 0; j < nb; ++j) {
    const std::uint64_t cj = digit(c, m, j);
    if (cj == 0) continue;
    for (std::size_t i = 0; i + j < nb; ++i) {
      if (cj == 1) {
        columns[i + j].push_back(a.blocks[i]);
      } else {
        jobs.push_back({i + j, i, cj});
      }
    }
  }
  std::vector<shortint::LookupTable> luts(m);
  for (std::uint64_t f = 2; f < m; ++f) {
    luts[f] = key_->many_lut({[m, f](std::uint64_t x) { return (x * f) % m; },
                              [m, f](std::uint64_t x) { return (x * f) / m; }});
  }
  std::vector<std::vector<Ciphertext>> parts(jobs.size());
  parallel(jobs.size(), [&](std::size_t k) { parts[k] = key_->apply_many(a.blocks[jobs[k].block], luts[jobs[k].factor]); });
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    columns[jobs[k].column].push_back(std::move(parts[k][0]));
    if (jobs[k].column + 1 < nb) columns[jobs[k].column + 1].push_back(std::move(parts[k][1]));
  }
  // Reduce columns: sum groups that fit, split each group's sum into message and carry.
  const std::uint64_t half = params().plaintext_modulus() / 2;
  const std::uint64_t max_noise = params().max_noise_level;
  for (;;) {
    struct Group {
      std::size_t column;
      Ciphertext sum;
    };
    std::vector<Group> groups;
    std::vector<std::vector<Ciphertext>> next(nb);
    bool work = false;
    for (std::size_t col = 0; col < nb; ++col) {
      auto& terms = columns[col];
      std::uint64_t total = 0;
      for (const auto& t : terms) total += t.degree;
      if (total < m && !terms.empty()) {  // fits without carry: sum in place
        Ciphertext s = terms[0];
        bool fits = true;
        for (std::size_t k = 1; k < terms.size(); ++k) fits = fits && (s.noise_level + terms[k].noise_level <= max_noise);
        if (fits) {
          for (std::size_t k = 1; k < terms.size(); ++k) key_->add_assign(s, terms[k]);
          next[col].push_back(std::move(s));
          continue;
        }
      }
      std::size_t k = 0;
      while (k < terms.size()) {
        Ciphertext s = terms[k++];
        while (k < terms.size() && s.degree + terms[k].degree < half &&
               s.noise_level + terms[k].noise_level <= max_noise) {
          key_->add_assign(s, terms[k++]);
        }
        if (s.degree < m && terms.size() == 1) {
          next[col].push_back(std::move(s));
        } else {
          groups.push_back({col, std::move(s)});
          work = true;
        }
      }
    }
    if (!work) {
      columns = std::move(next);
      break;
    }
    std::vector<std::vector<Ciphertext>> split(groups.size());
    parallel(groups.size(), [&](std::size_t g) {
      const Ciphertext& s = groups[g].sum;
      if (s.degree < half) {
        split[g] = key_->apply_many(s, msg_carry_many_);
      } else {
        split[g] = {key_->apply(s, msg_lut_), key_->apply(s, carry_lut_)};
      }
    });
    for (std::size_t g = 0; g < groups.size(); ++g) {
      next[groups[g].column].push_back(std::move(split[g][0]));
      if (groups[g].column + 1 < nb && split[g][1].degree > 0) next[groups[g].column + 1].push_back(std::move(split[g][1]));
    }
    columns = std::move(next);
  }
  RadixCiphertext out;
  for (std::size_t col = 0; col < nb; ++col) {
    out.blocks.push_back(columns[col].empty() ? key_->trivial(0) : std::move(columns[col][0]));
  }
  return out;
}

// ---------------- comparisons ----------------

Ciphertext ServerKey::compare_impl(const RadixCiphertext& a, const RadixCiphertext* b, std::uint64_t scalar,
                                   Comparison op, std::uint64_t scale) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t nb = a.blocks.size();
  // d_i = a_i - b_i + m in [1, 2m - 1]: its sign relative to m orders the blocks.
  std::vector<Ciphertext> diffs(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    if (b == nullptr) {
      diffs[i] = key_->with_noise_at_most(a.blocks[i], max_noise);
      key_->scalar_add_assign(diffs[i], m);
      diffs[i].ct.body() -= digit(scalar, m, i) * params().delta();
      diffs[i].degree = 2 * m - 1;
      continue;
    }
    Ciphertext x = a.blocks[i];
    Ciphertext y = b->blocks[i];
    fit_noise(*key_, x, y, max_noise);
    Ciphertext neg = key_->scalar_sub_from(m, y);
    key_->add_assign(x, neg);
    x.degree = 2 * m - 1;
    diffs[i] = std::move(x);
  }
  const bool equality = op == Comparison::kEq || op == Comparison::kNe;
  auto final_lut_for = [&](const std::function<bool(std::uint64_t)>& pred) {
    return key_->lut([&](std::uint64_t x) -> std::uint64_t { return pred(x) ? scale : 0; });
  };
  if (nb == 1) {
    auto lut = final_lut_for([&](std::uint64_t d) {
      return final_map(op, d < m ? kLess : d == m ? kEqual : kGreater);
    });
    return key_->apply(diffs[0], lut);
  }
  if (equality) {
    // ne_i in {0,1}; sums of up to max_noise of them are reduced until one remains.
    std::vector<const shortint::LookupTable*> luts(nb, &ne_lut_);
    std::vector<Ciphertext> flags = apply_all(diffs, luts);
    const std::size_t group = std::min<std::uint64_t>(max_noise, params().plaintext_modulus() - 1);
    for (;;) {
      const std::size_t count = (flags.size() + group - 1) / group;
      std::vector<Ciphertext> sums(count);
      for (std::size_t g = 0; g < count; ++g) {
        sums[g] = flags[g * group];
        for (std::size_t k = g * group + 1; k < std::min(flags.size(), (g + 1) * group); ++k) key_->add_assign(sums[g], flags[k]);
      }
      if (count == 1) {
        auto lut = final_lut_for([&](std::uint64_t s) { return op == Comparison::kEq ? s == 0 : s != 0; });
        return key_->apply(sums[0], lut);
      }
      std::vector<const shortint::LookupTable*> any(count, &any_lut_);
      flags = apply_all(sums, any);
    }
  }
  std::vector<const shortint::LookupTable*> luts(nb, &sign_lut_);
  std::vector<Ciphertext> signs = apply_all(diffs, luts);
  const auto combine = [m](std::uint64_t x) {
    const std::uint64_t hi = x / m, lo = x % m;
    return hi == kEqual ? lo : hi;
  };
  const auto final_lut = final_lut_for([&](std::uint64_t x) { return final_map(op, combine(x)); });
  const auto combine_lut = key_->lut(combine);
  while (signs.size() > 1) {
    const std::size_t pairs = signs.size() / 2;
    const bool last = signs.size() == 2;
    std::vector<Ciphertext> next(pairs + signs.size() % 2);
    parallel(pairs, [&](std::size_t j) {
      Ciphertext packed = signs[2 * j + 1];
      key_->scalar_mul_assign(packed, m);
      key_->add_assign(packed, signs[2 * j]);
      next[j] = key_->apply(packed, last ? final_lut : combine_lut);
    });
    if (signs.size() % 2 == 1) next.back() = std::move(signs.back());
    signs = std::move(next);
  }
  return signs[0];
}

BoolCiphertext ServerKey::compare(const RadixCiphertext& a, const RadixCiphertext& b, Comparison op) const {
  return compare_impl(a, &b, 0, op, 1);
}

BoolCiphertext ServerKey::scalar_compare(const RadixCiphertext& a, std::uint64_t c, Comparison op) const {
  return compare_impl(a, nullptr, c, op, 1);
}

// ---------------- selection ----------------

RadixCiphertext ServerKey::select_scaled(const Ciphertext& cond8, const RadixCiphertext& a,
                                         const RadixCiphertext& b) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t budget = params().max_noise_level - cond8.noise_level;
  const std::size_t nb = a.blocks.size();
  RadixCiphertext out;
  out.blocks.resize(nb);
  parallel(nb, [&](std::size_t i) {
    // Two equal public constants (argmax's unused index blocks) need no bootstrap.
    if (a.blocks[i].noise_level == 0 && b.blocks[i].noise_level == 0 && a.blocks[i].ct.data == b.blocks[i].ct.data) {
      out.blocks[i] = b.blocks[i];
      return;
    }
    Ciphertext x = a.blocks[i];
    Ciphertext y = b.blocks[i];
    fit_noise(*key_, x, y, budget);
    const std::uint64_t out_degree = std::max(x.degree, y.degree);
    Ciphertext packed = x;
    key_->add_assign(packed, key_->scalar_sub_from(m, y));
    key_->add_assign(packed, cond8);
    packed.degree = 4 * m - 1;
    Ciphertext delta = key_->apply(packed, select_lut_);
    // b + (cond ? a - b : 0); the LUT output is a signed multiple of Delta.
    Ciphertext result = y;
    core::lwe_add_assign(result.ct, delta.ct);
    result.noise_level += 1;
    result.degree = out_degree;
    out.blocks[i] = std::move(result);
  });
  return out;
}

RadixCiphertext ServerKey::select(const BoolCiphertext& cond, const RadixCiphertext& a,
                                  const RadixCiphertext& b) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  bool unscaled_fits = cond.noise_level <= 1;
  for (std::size_t i = 0; i < a.blocks.size(); ++i) {
    unscaled_fits = unscaled_fits && 2 * (a.blocks[i].noise_level + b.blocks[i].noise_level) + cond.noise_level <= max_noise;
  }
  if (!unscaled_fits) return select_scaled(key_->apply(cond, bool_scale8_lut_), a, b);
  const std::size_t nb = a.blocks.size();
  RadixCiphertext out;
  out.blocks.resize(nb);
  parallel(nb, [&](std::size_t i) {
    const Ciphertext& x = a.blocks[i];
    const Ciphertext& y = b.blocks[i];
    Ciphertext packed = x;
    key_->add_assign(packed, key_->scalar_sub_from(m, y));
    key_->scalar_mul_assign(packed, 2);
    key_->add_assign(packed, cond);
    packed.degree = 4 * m - 1;
    Ciphertext delta = key_->apply(packed, select_lut_unscaled_);
    Ciphertext result = y;
    core::lwe_add_assign(result.ct, delta.ct);
    result.noise_level += 1;
    result.degree = std::max(x.degree, y.degree);
    out.blocks[i] = std::move(result);
  });
  return out;
}

RadixCiphertext ServerKey::min(const RadixCiphertext& a, const RadixCiphertext& b) const {
  return select_scaled(compare_impl(a, &b, 0, Comparison::kLt, 2 * params().message_modulus), a, b);
}
RadixCiphertext ServerKey::max(const RadixCiphertext& a, const RadixCiphertext& b) const {
  return select_scaled(compare_impl(a, &b, 0, Comparison::kGt, 2 * params().message_modulus), a, b);
}
RadixCiphertext ServerKey::scalar_min(const RadixCiphertext& a, std::uint64_t c) const {
  auto t = trivial(c, a.blocks.size());
  return select_scaled(compare_impl(a, nullptr, c, Comparison::kLt, 2 * params().message_modulus), a, t);
}
RadixCiphertext ServerKey::scalar_max(const RadixCiphertext& a, std::uint64_t c) const {
  auto t = trivial(c, a.blocks.size());
  return select_scaled(compare_impl(a, nullptr, c, Comparison::kGt, 2 * params().message_modulus), a, t);
}

std::pair<RadixCiphertext, RadixCiphertext> ServerKey::arg_extreme(std::span<const RadixCiphertext> values,
                                                                   std::size_t index_blocks, Comparison op) const {
  assert(!values.empty());
  struct Candidate {
    RadixCiphertext value;
    RadixCiphertext index;
  };
  std::vector<Candidate> round;
  for (std::size_t i = 0; i < values.size(); ++i) round.push_back({values[i], trivial(i, index_blocks)});
  const std::uint64_t scale = 2 * params().message_modulus;
  // Tournament: the right candidate (higher indices) wins only when strictly better, so ties
  // keep the lowest index.
  while (round.size() > 1) {
    std::vector<Candidate> next((round.size() + 1) / 2);
    parallel(round.size() / 2, [&](std::size_t j) {
      const Candidate& left = round[2 * j];
      const Candidate& right = round[2 * j + 1];
      Ciphertext cond = compare_impl(right.value, &left.value, 0, op, scale);
      // One select over value and index blocks together, so all their bootstraps run at once.
      RadixCiphertext both_right = right.value, both_left = left.value;
      both_right.blocks.insert(both_right.blocks.end(), right.index.blocks.begin(), right.index.blocks.end());
      both_left.blocks.insert(both_left.blocks.end(), left.index.blocks.begin(), left.index.blocks.end());
      RadixCiphertext chosen = select_scaled(cond, both_right, both_left);
      const std::size_t vb = left.value.blocks.size();
      next[j].value.blocks.assign(chosen.blocks.begin(), chosen.blocks.begin() + static_cast<std::ptrdiff_t>(vb));
      next[j].index.blocks.assign(chosen.blocks.begin() + static_cast<std::ptrdiff_t>(vb), chosen.blocks.end());
    });
    if (round.size() % 2 == 1) next.back() = std::move(round.back());
    round = std::move(next);
  }
  return {std::move(round[0].index), std::move(round[0].value)};
}

std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmax(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return arg_extreme(values, index_blocks, Comparison::kGt);
}
std::pair<RadixCiphertext, RadixCiphertext> ServerKey::argmin(std::span<const RadixCiphertext> values,
                                                              std::size_t index_blocks) const {
  return arg_extreme(values, index_blocks, Comparison::kLt);
}

// ---------------- bitwise and boolean ----------------

namespace {
std::uint64_t bit_op(ServerKey::Bitwise op, std::uint64_t x, std::uint64_t y) {
  switch (op) {
    case ServerKey::Bitwise::kAnd: return x & y;
    case ServerKey::Bitwise::kOr: return x | y;
    case ServerKey::Bitwise::kXor: return x ^ y;
  }
  return 0;
}
}  // namespace

RadixCiphertext ServerKey::bitwise(const RadixCiphertext& a, const RadixCiphertext& b, Bitwise op) const {
  RadixCiphertext out;
  out.blocks.resize(a.blocks.size());
  parallel(a.blocks.size(), [&](std::size_t i) {
    out.blocks[i] = key_->bivariate(a.blocks[i], b.blocks[i], [op](std::uint64_t x, std::uint64_t y) { return bit_op(op, x, y); });
  });
  return out;
}

RadixCiphertext ServerKey::scalar_bitwise(const RadixCiphertext& a, std::uint64_t c, Bitwise op) const {
  const std::uint64_t m = params().message_modulus;
  RadixCiphertext out;
  out.blocks.resize(a.blocks.size());
  parallel(a.blocks.size(), [&](std::size_t i) {
    const std::uint64_t ci = digit(c, m, i);
    if ((op == Bitwise::kAnd && ci == m - 1) || (op != Bitwise::kAnd && ci == 0)) {
      out.blocks[i] = a.blocks[i];
    } else if (op == Bitwise::kAnd && ci == 0) {
      out.blocks[i] = key_->trivial(0);
    } else {
      out.blocks[i] = key_->apply(a.blocks[i], key_->lut([&](std::uint64_t x) { return bit_op(op, x % m, ci); }));
    }
  });
  return out;
}

RadixCiphertext ServerKey::bitnot(const RadixCiphertext& a) const {
  RadixCiphertext out;
  for (const auto& block : a.blocks) out.blocks.push_back(key_->scalar_sub_from(params().message_modulus - 1, block));
  return out;
}

BoolCiphertext ServerKey::bool_and(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x & y; });
}
BoolCiphertext ServerKey::bool_or(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x | y; });
}
BoolCiphertext ServerKey::bool_xor(const BoolCiphertext& a, const BoolCiphertext& b) const {
  return key_->bivariate(a, b, [](std::uint64_t x, std::uint64_t y) { return x ^ y; });
}
BoolCiphertext ServerKey::bool_not(const BoolCiphertext& a) const { return key_->scalar_sub_from(1, a); }

}  // namespace veil::fhe::integer
