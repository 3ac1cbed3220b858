// Batched kernel: repeated first-extreme picks (the placement tournament).
#include "integer/batched/helpers.h"

namespace veil::fhe::integer {

using namespace detail;

// The value blocks of a tournament winner's key: blocks from `flag_block` up are public zeros of
// every value (a flag block of its own, or the blocks above the highest non-zero one), and a
// flag folded into the top block is taken out again. Meaningful when the winner is eligible.
RadixCiphertext ServerKey::winner_value(const std::vector<Ciphertext>& key, std::size_t value_blocks,
                                        std::size_t flag_block, bool folded, bool maximise, std::uint64_t weight,
                                        std::uint64_t top_degree) const {
  RadixCiphertext value;
  for (std::size_t k = 0; k < value_blocks; ++k) {
    if (k > flag_block || (k == flag_block && !folded)) {
      value.blocks.push_back(key_->trivial(0));
      continue;
    }
    Ciphertext block = key[k];
    if (k == flag_block) {
      // An eligible winner's flag is weight for a maximum (eligible) and 0 for a minimum.
      if (maximise) key_->scalar_sub_assign(block, weight);
      block.degree = top_degree;
    }
    value.blocks.push_back(std::move(block));
  }
  return value;
}

ServerKey::Picks ServerKey::pick_extremes(const std::vector<const RadixCiphertext*>& values,
                                          const std::vector<const BoolCiphertext*>& eligible, std::size_t rounds,
                                          bool maximise, std::size_t index_blocks, PickOutputs outputs) const {
  const std::uint64_t m = params().message_modulus;
  const std::uint64_t max_noise = params().max_noise_level;
  const std::size_t n = values.size();
  const std::size_t nb = values[0]->blocks.size();
  assert(n > 0 && (eligible.empty() || eligible.size() == n));
  // Without eligibility flags a single round compares the values alone; later rounds need a
  // flag to exclude what earlier rounds picked, so several rounds start from public 1s.
  const bool flagged = !eligible.empty() || rounds > 1;
  // Keys: the values with the eligibility flag above their highest possibly non-zero block,
  // so that integer order is the lexicographic order of (eligible, value) for a maximum and
  // of (not eligible, value) for a minimum. When that block's values stay <= 1 the flag is
  // folded into it with weight degree + 1 (one block fewer to compare and select). Unflagged,
  // the keys are the values' blocks up to the highest possibly non-zero one.
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
  const bool fold = flagged && any && 2 * top_degree + 1 <= m - 1;
  const std::size_t flag_block = fold ? top : (any ? top + 1 : 0);
  const std::uint64_t weight = fold ? top_degree + 1 : 1;
  const std::size_t key_blocks = flagged ? flag_block + 1 : top + 1;
  std::vector<std::vector<Ciphertext>> keys(n);
  std::vector<std::uint64_t> flag_degree(n);
  const Ciphertext everyone = key_->trivial(1);
  for (std::size_t c = 0; c < n; ++c) {
    for (std::size_t k = 0; k < key_blocks; ++k) {
      keys[c].push_back(k < nb ? values[c]->blocks[k] : key_->trivial(0));
    }
    if (!flagged) continue;
    const Ciphertext& eligible_c = eligible.empty() ? everyone : *eligible[c];
    Ciphertext flag = maximise ? eligible_c : key_->scalar_sub_from(1, eligible_c);
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
      // flag (for `found`) and the index are still needed, unless the caller wants the value:
      // the other key blocks are replaced by equal public zeros, which the selection copies
      // without a bootstrap.
      const bool final_level = cur.size() == 2 && !outputs.values;
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
            if (flagged && k == flag_block) continue;
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
    Ciphertext found = key_->trivial(1);
    if (flagged) {
      const auto found_lut = key_->lut([maximise, weight](std::uint64_t x) -> std::uint64_t {
        return (x >= weight) == maximise ? 1 : 0;
      });
      found = std::move(run_public_aware({cur[0].blocks[flag_block]}, {&found_lut})[0][0]);
    }
    Pick pick;
    pick.index.blocks.assign(cur[0].blocks.begin() + static_cast<std::ptrdiff_t>(key_blocks), cur[0].blocks.end());
    pick.found = found;
    if (outputs.values) {
      pick.value = winner_value(cur[0].blocks, nb, flagged ? flag_block : key_blocks, fold, maximise, weight,
                                top_degree);
    }
    result.picks.push_back(std::move(pick));
    // The one-hot excludes this round's pick from the next round, and is the caller's `chosen`.
    if (round + 1 == rounds && !outputs.chosen) break;
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
  }
  if (outputs.chosen) result.chosen = std::move(chosen_sum);
  return result;
}

}  // namespace veil::fhe::integer
