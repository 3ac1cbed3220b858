// Addition, subtraction, scalar addition, subtraction and multiplication.
#include "integer/radix_internal.h"

namespace veil::fhe::integer {

using namespace detail;

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

}  // namespace veil::fhe::integer
