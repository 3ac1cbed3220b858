#include "integer/radix.h"

#include <algorithm>
#include <cassert>
#include <map>
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

std::vector<std::vector<Ciphertext>> ServerKey::run(const std::vector<Ciphertext>& inputs,
                                                    const std::vector<const shortint::LookupTable*>& luts) const {
  return key_->apply_batch(inputs, luts, *pool_);
}

std::vector<Ciphertext> ServerKey::apply_all(const std::vector<Ciphertext>& inputs,
                                             const std::vector<const shortint::LookupTable*>& luts) const {
  auto results = run(inputs, luts);
  std::vector<Ciphertext> out(inputs.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::move(results[i][0]);
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
      auto parts = apply_all({cur, cur}, {&msg_lut_, &carry_lut_});
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
  std::vector<const shortint::LookupTable*> luts(nb, &state_many_);
  luts[0] = &msg_carry_many_;
  luts[nb - 1] = &msg_lut_;
  auto first = run(blocks, luts);
  std::vector<Ciphertext> msg(nb), state(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    msg[i] = std::move(first[i][0]);
    if (i + 1 < nb) state[i] = std::move(first[i][1]);
  }
  const std::uint64_t m = params().message_modulus;
  for (std::size_t d = 1; d + 1 < nb; d *= 2) {
    std::vector<Ciphertext> packed;
    for (std::size_t i = d; i + 1 < nb; ++i) {
      Ciphertext p = state[i];
      key_->scalar_mul_assign(p, m);
      key_->add_assign(p, state[i - d]);
      packed.push_back(std::move(p));
    }
    auto next = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &prefix_lut_));
    for (std::size_t i = d; i + 1 < nb; ++i) state[i] = std::move(next[i - d]);
  }
  RadixCiphertext out;
  out.blocks.resize(nb);
  out.blocks[0] = std::move(msg[0]);
  std::vector<Ciphertext> sums;
  for (std::size_t i = 1; i < nb; ++i) {
    Ciphertext sum = msg[i];
    key_->add_assign(sum, state[i - 1]);
    sums.push_back(std::move(sum));
  }
  auto finals = apply_all(sums, std::vector<const shortint::LookupTable*>(sums.size(), &msg_lut_));
  for (std::size_t i = 1; i < nb; ++i) out.blocks[i] = std::move(finals[i - 1]);
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
  std::vector<Ciphertext> job_inputs;
  std::vector<const shortint::LookupTable*> job_luts;
  for (const auto& job : jobs) {
    job_inputs.push_back(a.blocks[job.block]);
    job_luts.push_back(&luts[job.factor]);
  }
  auto parts = run(job_inputs, job_luts);
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
    std::vector<Ciphertext> split_in;
    std::vector<const shortint::LookupTable*> split_luts;
    for (const auto& g : groups) {
      if (g.sum.degree < half) {
        split_in.push_back(g.sum);
        split_luts.push_back(&msg_carry_many_);
      } else {  // too large for the two-function LUT: two bootstraps
        split_in.push_back(g.sum);
        split_luts.push_back(&msg_lut_);
        split_in.push_back(g.sum);
        split_luts.push_back(&carry_lut_);
      }
    }
    auto raw = run(split_in, split_luts);
    std::vector<std::vector<Ciphertext>> split(groups.size());
    for (std::size_t g = 0, r = 0; g < groups.size(); ++g) {
      if (split_luts[r] == &msg_carry_many_) {
        split[g] = std::move(raw[r++]);
      } else {
        split[g] = {std::move(raw[r][0]), std::move(raw[r + 1][0])};
        r += 2;
      }
    }
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
  return compare_many({&a}, {b}, scalar, op, scale)[0];
}

std::vector<Ciphertext> ServerKey::compare_many(const std::vector<const RadixCiphertext*>& as,
                                                const std::vector<const RadixCiphertext*>& bs, std::uint64_t scalar,
                                                Comparison op, std::uint64_t scale) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t pairs = as.size();
  const std::size_t nb = as[0]->blocks.size();
  // d_i = a_i - b_i + m in [1, 2m - 1]: its sign relative to m orders the blocks.
  std::vector<Ciphertext> diffs(pairs * nb);
  for (std::size_t p = 0; p < pairs; ++p) {
    for (std::size_t i = 0; i < nb; ++i) {
      Ciphertext& d = diffs[p * nb + i];
      if (bs[p] == nullptr) {
        d = key_->with_noise_at_most(as[p]->blocks[i], max_noise);
        key_->scalar_add_assign(d, m);
        d.ct.body() -= digit(scalar, m, i) * params().delta();
      } else {
        Ciphertext x = as[p]->blocks[i];
        Ciphertext y = bs[p]->blocks[i];
        fit_noise(*key_, x, y, max_noise);
        key_->add_assign(x, key_->scalar_sub_from(m, y));
        d = std::move(x);
      }
      d.degree = 2 * m - 1;
    }
  }
  const bool equality = op == Comparison::kEq || op == Comparison::kNe;
  auto final_lut_for = [&](const std::function<bool(std::uint64_t)>& pred) {
    return key_->lut([&](std::uint64_t x) -> std::uint64_t { return pred(x) ? scale : 0; });
  };
  if (nb == 1) {
    auto lut = final_lut_for([&](std::uint64_t d) { return final_map(op, d < m ? kLess : d == m ? kEqual : kGreater); });
    return apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &lut));
  }
  if (equality) {
    // ne_i in {0,1}; sums of up to max_noise of them are reduced until one remains per pair.
    std::vector<Ciphertext> flags = apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &ne_lut_));
    std::size_t per_pair = nb;
    const std::size_t group = std::min<std::uint64_t>(max_noise, params().plaintext_modulus() - 1);
    const auto final_lut = final_lut_for([&](std::uint64_t s) { return op == Comparison::kEq ? s == 0 : s != 0; });
    for (;;) {
      const std::size_t count = (per_pair + group - 1) / group;
      std::vector<Ciphertext> sums(pairs * count);
      for (std::size_t p = 0; p < pairs; ++p) {
        for (std::size_t g = 0; g < count; ++g) {
          Ciphertext& sum = sums[p * count + g];
          sum = flags[p * per_pair + g * group];
          for (std::size_t k = g * group + 1; k < std::min(per_pair, (g + 1) * group); ++k) {
            key_->add_assign(sum, flags[p * per_pair + k]);
          }
        }
      }
      const bool last = count == 1;
      flags = apply_all(sums, std::vector<const shortint::LookupTable*>(sums.size(), last ? &final_lut : &any_lut_));
      per_pair = count;
      if (last) return flags;
    }
  }
  std::vector<Ciphertext> signs = apply_all(diffs, std::vector<const shortint::LookupTable*>(diffs.size(), &sign_lut_));
  const auto combine = [m](std::uint64_t x) {
    const std::uint64_t hi = x / m, lo = x % m;
    return hi == kEqual ? lo : hi;
  };
  const auto final_lut = final_lut_for([&](std::uint64_t x) { return final_map(op, combine(x)); });
  const auto combine_lut = key_->lut(combine);
  std::size_t per_pair = nb;
  while (per_pair > 1) {
    const std::size_t halves = per_pair / 2, next_count = halves + per_pair % 2;
    const bool last = per_pair == 2;
    std::vector<Ciphertext> packed;
    for (std::size_t p = 0; p < pairs; ++p) {
      for (std::size_t j = 0; j < halves; ++j) {
        Ciphertext hi = signs[p * per_pair + 2 * j + 1];
        key_->scalar_mul_assign(hi, m);
        key_->add_assign(hi, signs[p * per_pair + 2 * j]);
        packed.push_back(std::move(hi));
      }
    }
    auto combined = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), last ? &final_lut : &combine_lut));
    std::vector<Ciphertext> next(pairs * next_count);
    for (std::size_t p = 0; p < pairs; ++p) {
      for (std::size_t j = 0; j < halves; ++j) next[p * next_count + j] = std::move(combined[p * halves + j]);
      if (per_pair % 2 == 1) next[p * next_count + halves] = std::move(signs[p * per_pair + per_pair - 1]);
    }
    signs = std::move(next);
    per_pair = next_count;
  }
  return signs;
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
  return std::move(select_scaled_many({&cond8}, {&a}, {&b})[0]);
}

std::vector<RadixCiphertext> ServerKey::select_scaled_many(const std::vector<const Ciphertext*>& conds8,
                                                           const std::vector<const RadixCiphertext*>& as,
                                                           const std::vector<const RadixCiphertext*>& bs) const {
  const std::uint64_t m = params().message_modulus;
  std::vector<RadixCiphertext> out(as.size());
  std::vector<Ciphertext> packed;
  struct Slot {
    std::size_t pair, block;
    Ciphertext base;  // b_i, to which the LUT's signed difference is added
    std::uint64_t degree;
  };
  std::vector<Slot> slots;
  for (std::size_t p = 0; p < as.size(); ++p) {
    const std::uint64_t budget = params().max_noise_level - conds8[p]->noise_level;
    out[p].blocks.resize(as[p]->blocks.size());
    for (std::size_t i = 0; i < as[p]->blocks.size(); ++i) {
      const Ciphertext& ai = as[p]->blocks[i];
      const Ciphertext& bi = bs[p]->blocks[i];
      // Two equal public constants (argmax's unused index blocks) need no bootstrap.
      if (ai.noise_level == 0 && bi.noise_level == 0 && ai.ct.data == bi.ct.data) {
        out[p].blocks[i] = bi;
        continue;
      }
      Ciphertext x = ai;
      Ciphertext y = bi;
      fit_noise(*key_, x, y, budget);
      const std::uint64_t degree = std::max(x.degree, y.degree);
      key_->add_assign(x, key_->scalar_sub_from(m, y));
      key_->add_assign(x, *conds8[p]);
      x.degree = 4 * m - 1;
      packed.push_back(std::move(x));
      slots.push_back({p, i, std::move(y), degree});
    }
  }
  auto deltas = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &select_lut_));
  for (std::size_t k = 0; k < slots.size(); ++k) {
    // b + (cond ? a - b : 0); the LUT output is a signed multiple of Delta.
    Ciphertext result = std::move(slots[k].base);
    core::lwe_add_assign(result.ct, deltas[k].ct);
    result.noise_level += 1;
    result.degree = slots[k].degree;
    out[slots[k].pair].blocks[slots[k].block] = std::move(result);
  }
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
  std::vector<Ciphertext> packed(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    Ciphertext x = a.blocks[i];
    key_->add_assign(x, key_->scalar_sub_from(m, b.blocks[i]));
    key_->scalar_mul_assign(x, 2);
    key_->add_assign(x, cond);
    x.degree = 4 * m - 1;
    packed[i] = std::move(x);
  }
  auto deltas = apply_all(packed, std::vector<const shortint::LookupTable*>(nb, &select_lut_unscaled_));
  RadixCiphertext out;
  out.blocks.resize(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    Ciphertext result = b.blocks[i];
    core::lwe_add_assign(result.ct, deltas[i].ct);
    result.noise_level += 1;
    result.degree = std::max(a.blocks[i].degree, b.blocks[i].degree);
    out.blocks[i] = std::move(result);
  }
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
    const std::size_t pairs = round.size() / 2;
    std::vector<const RadixCiphertext*> rights, lefts;
    for (std::size_t j = 0; j < pairs; ++j) {
      rights.push_back(&round[2 * j + 1].value);
      lefts.push_back(&round[2 * j].value);
    }
    // All comparisons of this round in one batch, then all selections (value and index
    // blocks together) in another.
    std::vector<Ciphertext> conds = compare_many(rights, lefts, 0, op, scale);
    std::vector<RadixCiphertext> both_right(pairs), both_left(pairs);
    std::vector<const Ciphertext*> cond_ptrs;
    std::vector<const RadixCiphertext*> rp, lp;
    for (std::size_t j = 0; j < pairs; ++j) {
      both_right[j] = round[2 * j + 1].value;
      both_left[j] = round[2 * j].value;
      both_right[j].blocks.insert(both_right[j].blocks.end(), round[2 * j + 1].index.blocks.begin(),
                                  round[2 * j + 1].index.blocks.end());
      both_left[j].blocks.insert(both_left[j].blocks.end(), round[2 * j].index.blocks.begin(),
                                 round[2 * j].index.blocks.end());
      cond_ptrs.push_back(&conds[j]);
      rp.push_back(&both_right[j]);
      lp.push_back(&both_left[j]);
    }
    std::vector<RadixCiphertext> chosen = select_scaled_many(cond_ptrs, rp, lp);
    std::vector<Candidate> next((round.size() + 1) / 2);
    const std::size_t vb = round[0].value.blocks.size();
    for (std::size_t j = 0; j < pairs; ++j) {
      next[j].value.blocks.assign(chosen[j].blocks.begin(), chosen[j].blocks.begin() + static_cast<std::ptrdiff_t>(vb));
      next[j].index.blocks.assign(chosen[j].blocks.begin() + static_cast<std::ptrdiff_t>(vb), chosen[j].blocks.end());
    }
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
  const auto lut = key_->bivariate_lut([op](std::uint64_t x, std::uint64_t y) { return bit_op(op, x, y); });
  std::vector<Ciphertext> packed;
  for (std::size_t i = 0; i < a.blocks.size(); ++i) packed.push_back(key_->pack_bivariate(a.blocks[i], b.blocks[i]));
  RadixCiphertext out;
  out.blocks = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &lut));
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

RadixCiphertext ServerKey::scalar_shift_right(const RadixCiphertext& a, unsigned bits) const {
  const std::uint64_t m = params().message_modulus;
  unsigned block_bits = 0;
  for (std::uint64_t v = m; v > 1; v >>= 1) ++block_bits;
  const std::size_t nb = a.blocks.size();
  const std::size_t whole = std::min<std::size_t>(bits / block_bits, nb);
  const unsigned rest = bits % block_bits;
  // Whole blocks move down for free; zeros enter at the top as public blocks.
  RadixCiphertext out;
  for (std::size_t i = whole; i < nb; ++i) out.blocks.push_back(a.blocks[i]);
  if (rest != 0 && !out.blocks.empty()) {
    // The remaining bits: block i keeps its own high bits and takes the next block's low bits.
    const auto lut = key_->bivariate_lut([&](std::uint64_t next, std::uint64_t own) {
      return ((next << (block_bits - rest)) | (own >> rest)) % m;
    });
    std::vector<Ciphertext> packed;
    for (std::size_t i = 0; i < out.blocks.size(); ++i) {
      const Ciphertext next = i + 1 < out.blocks.size() ? out.blocks[i + 1] : key_->trivial(0);
      packed.push_back(key_->pack_bivariate(next, out.blocks[i]));
    }
    out.blocks = apply_all(packed, std::vector<const shortint::LookupTable*>(packed.size(), &lut));
  }
  while (out.blocks.size() < nb) out.blocks.push_back(key_->trivial(0));
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

// ---------------- batched kernels ----------------

std::int64_t ServerKey::public_value(const Ciphertext& c) const {
  if (c.noise_level != 0) return -1;
  // A deserialized block may claim noise level 0: only an all-zero mask makes it public.
  for (std::size_t i = 0; i + 1 < c.ct.data.size(); ++i) {
    if (c.ct.data[i] != 0) return -1;
  }
  const Torus delta = params().delta();
  const Torus body = c.ct.body();
  if (body % delta != 0) return -1;
  const std::uint64_t v = body / delta;
  return v < params().plaintext_modulus() ? static_cast<std::int64_t>(v) : -1;
}

std::vector<std::vector<Ciphertext>> ServerKey::run_public_aware(
    const std::vector<Ciphertext>& inputs, const std::vector<const shortint::LookupTable*>& luts) const {
  const std::uint64_t p = params().plaintext_modulus();
  std::vector<std::vector<Ciphertext>> out(inputs.size());
  std::vector<Ciphertext> secret;
  std::vector<const shortint::LookupTable*> secret_luts;
  std::vector<std::size_t> where;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const shortint::LookupTable& lut = *luts[i];
    const std::int64_t v = public_value(inputs[i]);
    if (v >= 0 && static_cast<std::uint64_t>(v) < p / lut.count && lut.values.size() == lut.count) {
      for (std::size_t r = 0; r < lut.count; ++r) out[i].push_back(key_->trivial(lut.values[r][static_cast<std::size_t>(v)]));
      continue;
    }
    secret.push_back(inputs[i]);
    secret_luts.push_back(luts[i]);
    where.push_back(i);
  }
  auto results = run(secret, secret_luts);
  for (std::size_t k = 0; k < where.size(); ++k) out[where[k]] = std::move(results[k]);
  return out;
}

void ServerKey::clean_many(std::vector<Ciphertext*> targets) const {
  if (targets.empty()) return;
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  const auto identity = key_->lut([](std::uint64_t x) { return x; });
  std::vector<Ciphertext> inputs;
  for (Ciphertext* t : targets) inputs.push_back(*t);
  auto cleaned = apply_all(inputs, std::vector<const shortint::LookupTable*>(inputs.size(), &identity));
  for (std::size_t k = 0; k < targets.size(); ++k) *targets[k] = std::move(cleaned[k]);
}

void ServerKey::fit_noise_many(std::vector<std::pair<Ciphertext*, Ciphertext*>>& pairs, std::uint64_t budget) const {
  for (;;) {
    std::vector<Ciphertext*> targets;
    for (auto& [a, b] : pairs) {
      if (a->noise_level + b->noise_level > budget) targets.push_back(a->noise_level >= b->noise_level ? a : b);
    }
    if (targets.empty()) return;
    clean_many(std::move(targets));
  }
}

namespace {

// x * m + y (a bivariate packing); the caller guarantees the noise budget.
Ciphertext pack(const shortint::ServerKey& key, const Ciphertext& hi, const Ciphertext& lo, std::uint64_t weight) {
  Ciphertext x = hi;
  key.scalar_mul_assign(x, weight);
  key.add_assign(x, lo);
  return x;
}

Ciphertext sum_of(const shortint::ServerKey& key, const std::vector<Ciphertext>& terms) {
  Ciphertext s = terms[0];
  for (std::size_t k = 1; k < terms.size(); ++k) key.add_assign(s, terms[k]);
  return s;
}

}  // namespace

std::vector<BoolCiphertext> ServerKey::all_at_least(const std::vector<std::vector<const RadixCiphertext*>>& rows,
                                                    const std::vector<std::uint64_t>& bounds) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t items = rows.size();
  std::vector<BoolCiphertext> out(items);
  // Tables by (group constant, kind): 0 = sign of x against c, 1 = lowest group as a sign in
  // {less, greater}, 2 = a lone group's final bit.
  std::map<std::uint64_t, shortint::LookupTable> tables;
  auto table = [&](std::uint64_t c, int kind) -> const shortint::LookupTable* {
    auto [it, inserted] = tables.try_emplace(c * 4 + static_cast<std::uint64_t>(kind));
    if (inserted) {
      it->second = key_->lut([c, kind](std::uint64_t x) -> std::uint64_t {
        if (kind == 0) return x < c ? kLess : x == c ? kEqual : kGreater;
        if (kind == 1) return x >= c ? kGreater : kLess;
        return x >= c ? 1 : 0;
      });
    }
    return &it->second;
  };
  std::vector<std::size_t> active;
  for (std::size_t r = 0; r < bounds.size(); ++r) {
    if (bounds[r] == 0) continue;
    const std::size_t nb = rows.empty() ? 0 : rows[0][r]->blocks.size();
    std::uint64_t capacity = 1;
    bool overflow = false;
    for (std::size_t k = 0; k < nb && !overflow; ++k) {
      if (capacity > ~std::uint64_t{0} / m) overflow = true; else capacity *= m;
    }
    if (!overflow && bounds[r] >= capacity) {  // no value can reach the bound: public false
      for (auto& o : out) o = key_->trivial(0);
      return out;
    }
    active.push_back(r);
  }
  // One chain of signs per (item, bounded value), most significant group first; the last
  // entry orders the whole value (a bit-like sign: never "equal").
  struct Chain {
    std::size_t item;
    std::vector<Ciphertext> signs;
  };
  std::vector<Chain> chains;
  std::vector<Ciphertext> inputs;
  std::vector<const shortint::LookupTable*> luts;
  std::vector<std::size_t> owner;
  // Copies of the blocks, cleaned where a pair's packing would exceed the noise budget.
  std::vector<std::vector<std::vector<Ciphertext>>> blocks(items);
  std::vector<Ciphertext*> dirty;
  for (std::size_t i = 0; i < items; ++i) {
    blocks[i].resize(active.size());
    for (std::size_t a = 0; a < active.size(); ++a) {
      blocks[i][a] = rows[i][active[a]]->blocks;
      auto& b = blocks[i][a];
      for (std::size_t k = 0; k + 1 < b.size(); k += 2) {
        if (b[k + 1].noise_level * m + b[k].noise_level > max_noise) {
          if (b[k + 1].noise_level > 1) dirty.push_back(&b[k + 1]);
          if (m + b[k].noise_level > max_noise) dirty.push_back(&b[k]);
        }
      }
    }
  }
  clean_many(std::move(dirty));
  for (std::size_t i = 0; i < items; ++i) {
    for (std::size_t a = 0; a < active.size(); ++a) {
      const std::uint64_t bound = bounds[active[a]];
      const auto& b = blocks[i][a];
      const std::size_t groups = (b.size() + 1) / 2;
      std::vector<std::uint64_t> constant(groups);
      std::size_t lowest = groups;
      for (std::size_t g = 0; g < groups; ++g) {
        constant[g] = digit(bound, m, 2 * g) + (2 * g + 1 < b.size() ? m * digit(bound, m, 2 * g + 1) : 0);
        if (constant[g] != 0 && lowest == groups) lowest = g;
      }
      chains.push_back({i, {}});
      for (std::size_t g = groups; g-- > lowest;) {
        inputs.push_back(2 * g + 1 < b.size() ? pack(*key_, b[2 * g + 1], b[2 * g], m) : b[2 * g]);
        luts.push_back(table(constant[g], g > lowest ? 0 : (groups - 1 == lowest ? 2 : 1)));
        owner.push_back(chains.size() - 1);
      }
    }
  }
  auto first = run_public_aware(inputs, luts);
  for (std::size_t k = 0; k < first.size(); ++k) chains[owner[k]].signs.push_back(std::move(first[k][0]));
  // Merge adjacent signs (high, low) -> high == equal ? low : high, up a tree; the final
  // merge yields the bit.
  const auto merge = key_->lut([m](std::uint64_t x) { return x / m == kEqual ? x % m : x / m; });
  const auto merge_final = key_->lut([m](std::uint64_t x) -> std::uint64_t {
    const std::uint64_t s = x / m == kEqual ? x % m : x / m;
    return s == kGreater ? 1 : 0;
  });
  for (;;) {
    inputs.clear();
    luts.clear();
    struct Slot {
      std::size_t chain;
      std::size_t high;
    };
    std::vector<Slot> slots;
    for (std::size_t c = 0; c < chains.size(); ++c) {
      auto& signs = chains[c].signs;
      if (signs.size() < 2) continue;
      for (std::size_t l = signs.size(); l >= 2; l -= 2) {
        inputs.push_back(pack(*key_, signs[l - 2], signs[l - 1], m));
        luts.push_back(signs.size() == 2 ? &merge_final : &merge);
        slots.push_back({c, l - 2});
        if (l < 4) break;
      }
    }
    if (inputs.empty()) break;
    auto merged = run_public_aware(inputs, luts);
    // Rebuild each chain: merged pairs replace their two entries (an odd top entry stays).
    std::map<std::size_t, std::vector<std::pair<std::size_t, Ciphertext>>> by_chain;
    for (std::size_t k = 0; k < slots.size(); ++k) by_chain[slots[k].chain].emplace_back(slots[k].high, std::move(merged[k][0]));
    for (auto& [c, list] : by_chain) {
      auto& signs = chains[c].signs;
      std::vector<Ciphertext> next;
      if (signs.size() % 2 == 1) next.push_back(std::move(signs[0]));
      std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
      for (auto& entry : list) next.push_back(std::move(entry.second));
      signs = std::move(next);
    }
  }
  // AND of each item's bits: sums of up to max_noise bits, tested for "all ones".
  std::vector<std::vector<Ciphertext>> bits(items);
  for (auto& chain : chains) bits[chain.item].push_back(std::move(chain.signs[0]));
  std::map<std::size_t, shortint::LookupTable> all_ones;
  for (;;) {
    inputs.clear();
    luts.clear();
    std::vector<std::size_t> item_of;
    for (std::size_t i = 0; i < items; ++i) {
      if (bits[i].size() < 2) continue;
      std::vector<Ciphertext> rest;
      for (std::size_t k = 0; k < bits[i].size(); k += max_noise) {
        const std::size_t count = std::min<std::size_t>(max_noise, bits[i].size() - k);
        if (count == 1) {
          rest.push_back(bits[i][k]);
          continue;
        }
        auto [it, inserted] = all_ones.try_emplace(count);
        if (inserted) it->second = key_->lut([count](std::uint64_t x) -> std::uint64_t { return x == count ? 1 : 0; });
        inputs.push_back(sum_of(*key_, std::vector<Ciphertext>(bits[i].begin() + static_cast<std::ptrdiff_t>(k),
                                                               bits[i].begin() + static_cast<std::ptrdiff_t>(k + count))));
        luts.push_back(&it->second);
        item_of.push_back(i);
      }
      bits[i] = std::move(rest);
    }
    if (inputs.empty()) break;
    auto anded = run_public_aware(inputs, luts);
    for (std::size_t k = 0; k < anded.size(); ++k) bits[item_of[k]].push_back(std::move(anded[k][0]));
  }
  for (std::size_t i = 0; i < items; ++i) out[i] = bits[i].empty() ? key_->trivial(1) : std::move(bits[i][0]);
  return out;
}

std::vector<RadixCiphertext> ServerKey::dot_products(const std::vector<std::vector<const RadixCiphertext*>>& rows,
                                                     const std::vector<std::uint64_t>& coefficients,
                                                     std::uint64_t constant, std::size_t out_blocks) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t p = params().plaintext_modulus();
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t items = rows.size();
  // columns[i][j]: terms of weight m^j, summed without carrying.
  std::vector<std::vector<std::vector<Ciphertext>>> columns(items, std::vector<std::vector<Ciphertext>>(out_blocks));
  // A block times a chunk v of up to three coefficient digits: the digits of v * x from one
  // many-LUT bootstrap (x < m, so v * x has at most four digits).
  std::map<std::uint64_t, shortint::LookupTable> tables;
  auto table = [&](std::uint64_t v) -> const shortint::LookupTable* {
    auto [it, inserted] = tables.try_emplace(v);
    if (inserted) {
      std::size_t digits = 0;
      for (std::uint64_t top = v * (m - 1); top > 0; top /= m) ++digits;
      const std::size_t count = digits <= 1 ? 1 : digits <= 2 ? 2 : 4;
      std::vector<std::function<std::uint64_t(std::uint64_t)>> fs;
      for (std::size_t t = 0; t < count; ++t) fs.push_back([v, t, m](std::uint64_t x) { return digit(v * x, m, t); });
      it->second = count == 1 ? key_->lut(fs[0]) : key_->many_lut(fs);
    }
    return &it->second;
  };
  struct Job {
    std::size_t item, column;
  };
  std::vector<Job> jobs;
  std::vector<Ciphertext> inputs;
  std::vector<const shortint::LookupTable*> luts;
  for (std::size_t i = 0; i < items; ++i) {
    for (std::size_t r = 0; r < coefficients.size(); ++r) {
      const RadixCiphertext& x = *rows[i][r];
      for (std::size_t j = 0; j < out_blocks;) {
        if (digit(coefficients[r], m, j) == 0) {
          ++j;
          continue;
        }
        const std::size_t len = std::min<std::size_t>(3, out_blocks - j);
        std::uint64_t v = 0;
        for (std::size_t t = len; t-- > 0;) v = v * m + digit(coefficients[r], m, j + t);
        for (std::size_t b = 0; b < x.blocks.size() && b + j < out_blocks; ++b) {
          const Ciphertext& block = x.blocks[b];
          if (block.degree == 0 || public_value(block) == 0) continue;
          if (v == 1) {
            columns[i][b + j].push_back(block);
          } else {
            jobs.push_back({i, b + j});
            inputs.push_back(block);
            luts.push_back(table(v));
          }
        }
        j += len;
      }
    }
    for (std::size_t j = 0; j < out_blocks; ++j) {
      if (digit(constant, m, j) != 0) columns[i][j].push_back(key_->trivial(digit(constant, m, j)));
    }
  }
  auto products = run_public_aware(inputs, luts);
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    for (std::size_t t = 0; t < products[k].size() && jobs[k].column + t < out_blocks; ++t) {
      if (products[k][t].degree > 0) columns[jobs[k].item][jobs[k].column + t].push_back(std::move(products[k][t]));
    }
  }
  // Compaction: every column must take an incoming carry (<= m - 1, noise 1) in the ripple
  // below, so its terms may sum to at most p - m with noise at most max_noise - 1.
  const auto identity = key_->lut([](std::uint64_t x) { return x; });
  const auto msg = key_->lut([m](std::uint64_t x) { return x % m; });
  const auto carry = key_->lut([m](std::uint64_t x) { return x / m; });
  const auto msg_carry = key_->many_lut({[m](std::uint64_t x) { return x % m; }, [m](std::uint64_t x) { return x / m; }});
  auto totals = [](const std::vector<Ciphertext>& terms) {
    std::uint64_t degree = 0, noise = 0;
    for (const auto& t : terms) {
      degree += t.degree;
      noise += t.noise_level;
    }
    return std::pair{degree, noise};
  };
  for (int pass = 0;; ++pass) {
    assert(pass < 64);
    struct Action {
      std::size_t item, column;
      bool split;
      std::size_t first_output;
    };
    std::vector<Action> actions;
    inputs.clear();
    luts.clear();
    for (std::size_t i = 0; i < items; ++i) {
      for (std::size_t j = 0; j < out_blocks; ++j) {
        auto& terms = columns[i][j];
        auto [degree, noise] = totals(terms);
        if (degree <= p - m && noise <= max_noise - 1) continue;
        std::vector<Ciphertext> group, rest;
        std::uint64_t group_degree = 0, group_noise = 0;
        const bool split = degree > p - m;
        // Compaction merges the smallest terms into one; a split takes the largest.
        std::stable_sort(terms.begin(), terms.end(), [split](const Ciphertext& a, const Ciphertext& b) {
          return split ? a.degree > b.degree : a.degree < b.degree;
        });
        for (auto& t : terms) {
          const bool enough = !split && group.size() >= 2 && noise - group_noise + 1 <= max_noise - 1;
          if (!enough && group_degree + t.degree <= p - 1 && group_noise + t.noise_level <= max_noise) {
            group_degree += t.degree;
            group_noise += t.noise_level;
            group.push_back(std::move(t));
          } else {
            rest.push_back(std::move(t));
          }
        }
        terms = std::move(rest);
        const Ciphertext sum = sum_of(*key_, group);
        actions.push_back({i, j, split, inputs.size()});
        if (!split) {
          inputs.push_back(sum);
          luts.push_back(&identity);
        } else if (j + 1 == out_blocks) {
          inputs.push_back(sum);
          luts.push_back(&msg);
        } else if (sum.degree < p / 2) {
          inputs.push_back(sum);
          luts.push_back(&msg_carry);
        } else {
          inputs.push_back(sum);
          luts.push_back(&msg);
          inputs.push_back(sum);
          luts.push_back(&carry);
        }
      }
    }
    if (actions.empty()) break;
    auto results = run_public_aware(inputs, luts);
    for (const auto& a : actions) {
      auto& first = results[a.first_output];
      columns[a.item][a.column].push_back(std::move(first[0]));
      std::optional<Ciphertext> up;
      if (first.size() > 1) up = std::move(first[1]);
      else if (a.split && a.column + 1 < out_blocks) up = std::move(results[a.first_output + 1][0]);
      if (a.split && up && up->degree > 0 && a.column + 1 < out_blocks) columns[a.item][a.column + 1].push_back(std::move(*up));
    }
  }
  // Ripple: each column plus the carry from below, split into its digit and its carry.
  std::vector<RadixCiphertext> out(items);
  for (auto& o : out) o.blocks.resize(out_blocks);
  std::vector<std::optional<Ciphertext>> carries(items);
  for (std::size_t j = 0; j < out_blocks; ++j) {
    inputs.clear();
    luts.clear();
    struct Slot {
      std::size_t item, first;
      bool two;
    };
    std::vector<Slot> slots;
    for (std::size_t i = 0; i < items; ++i) {
      auto& terms = columns[i][j];
      if (carries[i]) terms.push_back(std::move(*carries[i]));
      carries[i].reset();
      if (terms.empty()) {
        out[i].blocks[j] = key_->trivial(0);
        continue;
      }
      if (terms.size() == 1 && terms[0].degree < m) {
        out[i].blocks[j] = std::move(terms[0]);
        continue;
      }
      const Ciphertext sum = sum_of(*key_, terms);
      if (j + 1 == out_blocks) {
        slots.push_back({i, inputs.size(), false});
        inputs.push_back(sum);
        luts.push_back(&msg);
      } else if (sum.degree < p / 2) {
        slots.push_back({i, inputs.size(), false});
        inputs.push_back(sum);
        luts.push_back(&msg_carry);
      } else {
        slots.push_back({i, inputs.size(), true});
        inputs.push_back(sum);
        luts.push_back(&msg);
        inputs.push_back(sum);
        luts.push_back(&carry);
      }
    }
    auto results = run_public_aware(inputs, luts);
    for (const auto& s : slots) {
      out[s.item].blocks[j] = std::move(results[s.first][0]);
      std::optional<Ciphertext> up;
      if (s.two) up = std::move(results[s.first + 1][0]);
      else if (results[s.first].size() > 1) up = std::move(results[s.first][1]);
      if (up && up->degree > 0) carries[s.item] = std::move(*up);
    }
  }
  return out;
}

std::vector<RadixCiphertext> ServerKey::sub_where(const std::vector<const RadixCiphertext*>& values,
                                                  const std::vector<const BoolCiphertext*>& conds,
                                                  const std::vector<std::uint64_t>& amounts, bool no_underflow) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t items = values.size();
  std::vector<RadixCiphertext> out(items);
  std::vector<Ciphertext> cond(items);
  std::vector<std::size_t> lowest(items, 0);
  std::vector<std::size_t> end(items, 0);  // one past the last block the ripple reaches
  std::size_t width = 0;
  // Each block's input is v + m - cond * d - borrow: clean what would exceed the budget.
  std::vector<Ciphertext*> dirty;
  for (std::size_t i = 0; i < items; ++i) {
    out[i] = *values[i];
    cond[i] = *conds[i];
    const std::size_t nb = out[i].blocks.size();
    width = std::max(width, nb);
    lowest[i] = nb;
    for (std::size_t k = 0; k < nb; ++k) {
      if (digit(amounts[i], m, k) != 0) {
        lowest[i] = k;
        break;
      }
    }
    end[i] = nb;
    if (no_underflow) {
      // Public zero blocks above both the value's and the amount's last non-zero digit stay zero.
      while (end[i] > lowest[i] + 1 && public_value(out[i].blocks[end[i] - 1]) == 0 &&
             digit(amounts[i], m, end[i] - 1) == 0) {
        --end[i];
      }
    }
    if (lowest[i] == nb) continue;
    if (cond[i].noise_level * (m - 1) + 2 > max_noise) dirty.push_back(&cond[i]);
  }
  clean_many(dirty);
  dirty.clear();
  for (std::size_t i = 0; i < items; ++i) {
    for (std::size_t k = lowest[i]; k < end[i]; ++k) {
      if (out[i].blocks[k].noise_level + cond[i].noise_level * digit(amounts[i], m, k) + 1 > max_noise) {
        dirty.push_back(&out[i].blocks[k]);
      }
    }
  }
  clean_many(std::move(dirty));
  const auto msg = key_->lut([m](std::uint64_t x) { return x % m; });
  const auto msg_borrow = key_->many_lut({[m](std::uint64_t x) { return x % m; },
                                          [m](std::uint64_t x) -> std::uint64_t { return x < m ? 1 : 0; }});
  std::vector<std::optional<Ciphertext>> borrow(items);
  for (std::size_t k = 0; k < width; ++k) {
    std::vector<Ciphertext> inputs;
    std::vector<const shortint::LookupTable*> luts;
    std::vector<std::size_t> item_of;
    for (std::size_t i = 0; i < items; ++i) {
      const std::size_t nb = end[i];
      if (k < lowest[i] || k >= nb) continue;
      const std::uint64_t d = digit(amounts[i], m, k);
      // w = cond * d + borrow <= m; x = v + (m - w) in [0, 2m - 1].
      std::optional<Ciphertext> w;
      if (d != 0) {
        w = cond[i];
        key_->scalar_mul_assign(*w, d);
      }
      if (borrow[i]) {
        if (w) key_->add_assign(*w, *borrow[i]); else w = *borrow[i];
        borrow[i].reset();
      }
      Ciphertext x = out[i].blocks[k];
      if (w) {
        key_->add_assign(x, key_->scalar_sub_from(m, *w));
      } else {
        key_->scalar_add_assign(x, m);
      }
      x.degree = 2 * m - 1;
      inputs.push_back(std::move(x));
      luts.push_back(k + 1 == nb ? &msg : &msg_borrow);
      item_of.push_back(i);
    }
    if (inputs.empty()) continue;
    auto results = run_public_aware(inputs, luts);
    for (std::size_t s = 0; s < item_of.size(); ++s) {
      const std::size_t i = item_of[s];
      out[i].blocks[k] = std::move(results[s][0]);
      if (results[s].size() > 1 && results[s][1].degree > 0) borrow[i] = std::move(results[s][1]);
    }
  }
  return out;
}

ServerKey::Picks ServerKey::pick_extremes(const std::vector<const RadixCiphertext*>& values,
                                          const std::vector<const BoolCiphertext*>& eligible, std::size_t rounds,
                                          bool maximise, std::size_t index_blocks) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t n = values.size();
  const std::size_t nb = values[0]->blocks.size();
  assert(n > 0 && eligible.size() == n);
  // Keys: the values with the eligibility flag above their highest possibly non-zero block,
  // so that integer order is the lexicographic order of (eligible, value) for a maximum and
  // of (not eligible, value) for a minimum. When that block's values stay <= 1 the flag is
  // folded into it with weight degree + 1 (one block fewer to compare and select).
  std::size_t top = 0;
  bool any = false;
  for (std::size_t k = nb; k-- > 0 && !any;) {
    for (std::size_t c = 0; c < n; ++c) {
      if (public_value(values[c]->blocks[k]) != 0) {
        top = k;
        any = true;
        break;
      }
    }
  }
  std::uint64_t top_degree = 0;
  if (any) {
    for (std::size_t c = 0; c < n; ++c) top_degree = std::max(top_degree, values[c]->blocks[top].degree);
  }
  const bool fold = any && 2 * top_degree + 1 <= m - 1;
  const std::size_t flag_block = fold ? top : (any ? top + 1 : 0);
  const std::uint64_t weight = fold ? top_degree + 1 : 1;
  const std::size_t key_blocks = flag_block + 1;
  std::vector<std::vector<Ciphertext>> keys(n);
  std::vector<std::uint64_t> flag_degree(n);
  for (std::size_t c = 0; c < n; ++c) {
    for (std::size_t k = 0; k < key_blocks; ++k) {
      keys[c].push_back(k < nb ? values[c]->blocks[k] : key_->trivial(0));
    }
    Ciphertext flag = maximise ? *eligible[c] : key_->scalar_sub_from(1, *eligible[c]);
    key_->scalar_mul_assign(flag, weight);
    key_->add_assign(keys[c][flag_block], flag);
    flag_degree[c] = keys[c][flag_block].degree;
  }
  const std::uint64_t scale = 2 * m;
  const auto sign_lut = key_->lut([m](std::uint64_t d) { return d < m ? kLess : d == m ? kEqual : kGreater; });
  const auto gt_lut = key_->lut([m](std::uint64_t d) -> std::uint64_t { return d > m ? 1 : 0; });
  const auto gt_final = key_->many_lut({[m, scale](std::uint64_t d) -> std::uint64_t { return d > m ? scale : 0; },
                                        [m](std::uint64_t d) -> std::uint64_t { return d > m ? 1 : 0; }});
  const auto merge_sign = key_->lut([m](std::uint64_t x) { return x / m == kEqual ? x % m : x / m; });
  auto merge_bit_of = [](std::uint64_t x) -> std::uint64_t {
    const std::uint64_t hi = x / 2, lo = x % 2;
    return hi == kEqual ? lo : (hi == kGreater ? 1 : 0);
  };
  const auto merge_bit = key_->lut(merge_bit_of);
  const auto merge_final = key_->many_lut({[&](std::uint64_t x) -> std::uint64_t { return merge_bit_of(x) * scale; },
                                           [&](std::uint64_t x) -> std::uint64_t { return merge_bit_of(x); }});
  // Public-sign helper.
  auto sign_of = [](std::int64_t a, std::int64_t b) { return a < b ? kLess : a == b ? kEqual : kGreater; };

  Picks result;
  std::vector<Ciphertext> chosen_sum(n, key_->trivial(0));
  struct Candidate {
    std::vector<Ciphertext> blocks;  // key blocks, then index blocks
  };
  for (std::size_t round = 0; round < rounds; ++round) {
    std::vector<Candidate> cur(n);
    for (std::size_t c = 0; c < n; ++c) {
      cur[c].blocks = keys[c];
      auto index = trivial(c, index_blocks);
      for (auto& b : index.blocks) cur[c].blocks.push_back(std::move(b));
    }
    // bits[t][j]: 1 iff the right candidate of pair j won at tournament level t.
    std::vector<std::vector<Ciphertext>> bits;
    std::vector<std::size_t> sizes;
    while (cur.size() > 1) {
      const std::size_t pairs = cur.size() / 2;
      // Orient so that "a > b" means the right candidate wins: for a maximum a is the right
      // one; for a minimum a is the left one. Ties keep the left (lower index).
      std::vector<std::pair<Ciphertext*, Ciphertext*>> noisy;
      for (std::size_t j = 0; j < pairs; ++j) {
        for (std::size_t k = 0; k < cur[2 * j].blocks.size(); ++k) {
          noisy.emplace_back(&cur[2 * j + 1].blocks[k], &cur[2 * j].blocks[k]);
        }
      }
      fit_noise_many(noisy, max_noise - 1);
      // Per pair, the entries still to merge, most significant first: signs, except the
      // last, which is a bit.
      std::vector<std::vector<Ciphertext>> ladders(pairs);
      std::vector<std::optional<bool>> public_bit(pairs);
      std::vector<std::optional<std::uint64_t>> tails(pairs);
      std::vector<Ciphertext> inputs;
      std::vector<const shortint::LookupTable*> luts;
      std::vector<std::size_t> owner;
      for (std::size_t j = 0; j < pairs; ++j) {
        const auto& a = maximise ? cur[2 * j + 1].blocks : cur[2 * j].blocks;
        const auto& b = maximise ? cur[2 * j].blocks : cur[2 * j + 1].blocks;
        std::vector<std::size_t> secret;  // block indices, most significant first
        std::optional<std::uint64_t> public_tail;
        for (std::size_t k = key_blocks; k-- > 0;) {
          const std::int64_t pa = public_value(a[k]), pb = public_value(b[k]);
          if (pa >= 0 && pb >= 0) {
            const std::uint64_t s = sign_of(pa, pb);
            if (s == kEqual) continue;
            public_tail = s;  // decides everything below
            break;
          }
          secret.push_back(k);
        }
        if (secret.empty()) {
          public_bit[j] = public_tail && *public_tail == kGreater;
          continue;
        }
        tails[j] = public_tail;
        for (std::size_t e = 0; e < secret.size(); ++e) {
          const std::size_t k = secret[e];
          Ciphertext d = a[k];
          key_->add_assign(d, key_->scalar_sub_from(m, b[k]));
          d.degree = 2 * m - 1;
          const bool last = e + 1 == secret.size() && !public_tail;
          inputs.push_back(std::move(d));
          luts.push_back(last ? (secret.size() == 1 ? &gt_final : &gt_lut) : &sign_lut);
          owner.push_back(j);
        }
      }
      auto first = run_public_aware(inputs, luts);
      std::vector<std::optional<Ciphertext>> scaled(pairs), bit(pairs);
      {
        std::size_t k = 0;
        for (std::size_t j = 0; j < pairs; ++j) {
          while (k < owner.size() && owner[k] == j) {
            if (first[k].size() == 2) {
              scaled[j] = std::move(first[k][0]);
              bit[j] = std::move(first[k][1]);
            } else {
              ladders[j].push_back(std::move(first[k][0]));
            }
            ++k;
          }
        }
      }
      // A public difference below the secret blocks is the ladder's bit.
      for (std::size_t j = 0; j < pairs; ++j) {
        if (tails[j]) ladders[j].push_back(key_->trivial(*tails[j] == kGreater ? 1 : 0));
      }
      // Merge up each ladder: (sign, bit) -> bit at the bottom, (sign, sign) -> sign above.
      for (;;) {
        inputs.clear();
        luts.clear();
        struct Slot {
          std::size_t pair, high;
        };
        std::vector<Slot> slots;
        for (std::size_t j = 0; j < pairs; ++j) {
          auto& e = ladders[j];
          if (e.size() < 2) continue;
          for (std::size_t l = e.size(); l >= 2; l -= 2) {
            const bool bottom = l == e.size();
            inputs.push_back(pack(*key_, e[l - 2], e[l - 1], bottom ? 2 : m));
            luts.push_back(bottom ? (e.size() == 2 ? &merge_final : &merge_bit) : &merge_sign);
            slots.push_back({j, l - 2});
            if (l < 4) break;
          }
        }
        if (inputs.empty()) break;
        auto merged = run_public_aware(inputs, luts);
        std::map<std::size_t, std::vector<std::pair<std::size_t, std::vector<Ciphertext>>>> by_pair;
        for (std::size_t s = 0; s < slots.size(); ++s) by_pair[slots[s].pair].emplace_back(slots[s].high, std::move(merged[s]));
        for (auto& [j, list] : by_pair) {
          auto& e = ladders[j];
          if (e.size() == 2) {
            scaled[j] = std::move(list[0].second[0]);
            bit[j] = std::move(list[0].second[1]);
            e.clear();
            continue;
          }
          std::vector<Ciphertext> next;
          if (e.size() % 2 == 1) next.push_back(std::move(e[0]));
          std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
          for (auto& entry : list) next.push_back(std::move(entry.second[0]));
          e = std::move(next);
        }
      }
      // Selection: the winner's key and index blocks. After the final comparison only the
      // flag (for `found`) and the index are still needed: the other key blocks are replaced
      // by equal public zeros, which the selection copies without a bootstrap.
      const bool final_level = cur.size() == 2;
      std::vector<const Ciphertext*> conds;
      std::vector<RadixCiphertext> rights, lefts;
      std::vector<std::size_t> selected;
      for (std::size_t j = 0; j < pairs; ++j) {
        if (public_bit[j]) continue;
        conds.push_back(&*scaled[j]);
        rights.push_back({cur[2 * j + 1].blocks});
        lefts.push_back({cur[2 * j].blocks});
        if (final_level) {
          for (std::size_t k = 0; k < key_blocks; ++k) {
            if (k == flag_block) continue;
            rights.back().blocks[k] = key_->trivial(0);
            lefts.back().blocks[k] = key_->trivial(0);
          }
        }
        selected.push_back(j);
      }
      std::vector<const RadixCiphertext*> rp, lp;
      for (std::size_t s = 0; s < selected.size(); ++s) {
        rp.push_back(&rights[s]);
        lp.push_back(&lefts[s]);
      }
      auto chosen = select_scaled_many(conds, rp, lp);
      std::vector<Candidate> next((cur.size() + 1) / 2);
      std::vector<Ciphertext> level_bits(pairs);
      for (std::size_t j = 0, s = 0; j < pairs; ++j) {
        if (public_bit[j]) {
          next[j] = *public_bit[j] ? std::move(cur[2 * j + 1]) : std::move(cur[2 * j]);
          level_bits[j] = key_->trivial(*public_bit[j] ? 1 : 0);
        } else {
          next[j].blocks = std::move(chosen[s++].blocks);
          level_bits[j] = std::move(*bit[j]);
        }
      }
      if (cur.size() % 2 == 1) next.back() = std::move(cur.back());
      sizes.push_back(cur.size());
      bits.push_back(std::move(level_bits));
      cur = std::move(next);
    }
    // found: the winner's flag.
    const Ciphertext& winner_flag = cur[0].blocks[flag_block];
    const auto found_lut = key_->lut([maximise, weight](std::uint64_t x) -> std::uint64_t {
      return (x >= weight) == maximise ? 1 : 0;
    });
    Ciphertext found = std::move(run_public_aware({winner_flag}, {&found_lut})[0][0]);
    Pick pick;
    pick.index.blocks.assign(cur[0].blocks.begin() + static_cast<std::ptrdiff_t>(key_blocks), cur[0].blocks.end());
    pick.found = found;
    // One-hot, top-down: W(level, j) = W(parent) AND (the side j is on won), several levels
    // per bootstrap: [W(ancestor) + sum of matches == 1 + count].
    const std::size_t levels = bits.size();
    std::vector<std::size_t> stops;  // levels where W is materialised, from the top
    stops.push_back(levels);
    for (std::size_t s = levels == 0 ? 0 : (levels - 1) / 4 * 4;; s -= 4) {
      if (s < levels) stops.push_back(s);
      if (s == 0) break;
    }
    std::vector<Ciphertext> w_hi{found};
    std::map<std::size_t, shortint::LookupTable> all_ones;
    for (std::size_t si = 1; si < stops.size(); ++si) {
      const std::size_t hi = stops[si - 1], lo = stops[si];
      const std::size_t count = lo == 0 && levels == 0 ? n : sizes[lo];
      std::vector<Ciphertext> w_lo(count);
      std::vector<Ciphertext> inputs;
      std::vector<const shortint::LookupTable*> luts;
      std::vector<std::size_t> where;
      for (std::size_t j = 0; j < count; ++j) {
        Ciphertext sum = w_hi[j >> (hi - lo)];
        std::size_t matches = 0;
        for (std::size_t t = lo; t < hi; ++t) {
          const std::size_t jt = j >> (t - lo);
          if (jt % 2 == 1) {
            key_->add_assign(sum, bits[t][jt / 2]);
          } else if (jt + 1 < sizes[t]) {
            key_->add_assign(sum, key_->scalar_sub_from(1, bits[t][jt / 2]));
          } else {
            continue;
          }
          ++matches;
        }
        if (matches == 0) {
          w_lo[j] = std::move(sum);
          continue;
        }
        auto [it, inserted] = all_ones.try_emplace(matches + 1);
        if (inserted) it->second = key_->lut([matches](std::uint64_t x) -> std::uint64_t { return x == matches + 1 ? 1 : 0; });
        sum.degree = matches + 1;
        inputs.push_back(std::move(sum));
        luts.push_back(&it->second);
        where.push_back(j);
      }
      auto results = run_public_aware(inputs, luts);
      for (std::size_t k = 0; k < where.size(); ++k) w_lo[where[k]] = std::move(results[k][0]);
      w_hi = std::move(w_lo);
    }
    // w_hi is now per candidate (levels == 0: the single candidate's W is `found`).
    for (std::size_t c = 0; c < n; ++c) {
      key_->add_assign(chosen_sum[c], w_hi[c]);
      chosen_sum[c].degree = 1;
      // Not eligible any more: lower the flag (maximum) or raise it (minimum).
      if (round + 1 < rounds) {
        Ciphertext moved = w_hi[c];
        key_->scalar_mul_assign(moved, weight);
        Ciphertext& flag = keys[c][flag_block];
        if (maximise) {
          core::lwe_sub_assign(flag.ct, moved.ct);
          flag.noise_level += moved.noise_level;
        } else {
          key_->add_assign(flag, moved);
        }
        flag.degree = flag_degree[c];
      }
    }
    result.picks.push_back(std::move(pick));
  }
  result.chosen = std::move(chosen_sum);
  return result;
}

}  // namespace veil::fhe::integer
