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
