// Batched kernel: AND of radix values against public bounds.
#include "integer/batched/helpers.h"

namespace veil::fhe::integer {

using namespace detail;

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

}  // namespace veil::fhe::integer
