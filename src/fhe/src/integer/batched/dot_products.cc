// Batched kernel: dot products with public coefficients.
#include "integer/batched/helpers.h"

namespace veil::fhe::integer {

using namespace detail;

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

}  // namespace veil::fhe::integer
