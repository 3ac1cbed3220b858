// Noise squashing of whole values (veil/fhe/threshold.h: squash): the 64-bit blocks of one or
// more values become 128-bit ciphertexts under the squashing key. Two blocks share one
// bootstrap when their degrees and noise levels allow it (as TFHE-rs packs blocks before its
// noise squashing), a public (trivial) block needs none, and every bootstrap of a batch runs
// on the thread pool at once, so the replicas of a decision cost one batch.
// docs/fhe-threshold.md, "Noise squashing", has the noise arithmetic.
#include <algorithm>
#include <bit>

#include "threshold/internal.h"
#include "veil/common/thread_pool.h"

namespace veil::fhe::threshold {
namespace {

using core::u128;

// The tables a squash uses: `packed` is the identity on a group's packed value
// sum m_i M^i; `digit[i]` reads one block's message and places it at position i of its group.
struct Tables {
  std::vector<u128> packed;
  std::vector<std::vector<u128>> digit;
};

Tables make_tables(const core::NoiseSquashingKey& key, std::size_t group) {
  const u128 delta = key.delta();
  const std::uint64_t m = key.params->message_modulus;
  Tables t;
  t.packed = key.lut([delta](std::uint64_t v) { return static_cast<u128>(v) * delta; });
  std::uint64_t place = 1;
  for (std::size_t i = 0; i < group; ++i, place *= m) {
    t.digit.push_back(key.lut([delta, m, place](std::uint64_t v) { return static_cast<u128>(v % m * place) * delta; }));
  }
  return t;
}

// One 128-bit bootstrap: `input` through `lut`, added to squashed block `block` of value `value`.
struct Bootstrap {
  std::size_t value = 0, block = 0;
  core::LweCiphertext input;
  const std::vector<u128>* lut = nullptr;
};

// A squashed block before its bootstraps are run: the sum of its public blocks' messages,
// already placed and scaled to 2^128.
using PublicParts = std::vector<std::vector<u128>>;  // [value][squashed block]

// M^(b - first): the factor of block b's message within its group.
std::uint64_t place_in_group(const Parameters& p, std::size_t first, std::size_t b) {
  std::uint64_t place = 1;
  for (std::size_t i = first; i < b; ++i) place *= p.message_modulus;
  return place;
}

bool is_trivial(const std::vector<std::uint64_t>& block) {
  return std::all_of(block.begin(), block.end() - 1, [](std::uint64_t w) { return w == 0; });
}

// The blocks [first, last) of `value` whose sum m_first + M m_(first+1) + ... one bootstrap may
// read: every degree below M (no carry spills into the next message) and the noise levels,
// weighted by the same factors, within the budget the parameters' failure probability holds
// for (Parameters::max_noise_level). Public blocks carry no noise.
bool can_pack(const EncryptedValue& value, const std::vector<std::size_t>& secret, std::size_t first) {
  const Parameters& p = *value.params;
  if (value.bounds.size() != value.blocks.size()) return false;
  std::uint64_t level = 0;
  for (std::size_t b : secret) {
    if (value.bounds[b].degree >= p.message_modulus) return false;
    level += value.bounds[b].noise_level * place_in_group(p, first, b);
  }
  return level <= p.max_noise_level;
}

// Plans squashed block `block` (blocks [first, last) of value `v`): adds its bootstraps and
// returns its public part.
u128 plan_block(const core::NoiseSquashingKey& key, const Tables& tables, const EncryptedValue& value, std::size_t v,
                std::size_t block, std::size_t first, std::size_t last, std::vector<Bootstrap>& out) {
  const Parameters& p = *value.params;
  const u128 delta = key.delta();
  u128 public_part = 0;
  std::vector<std::size_t> secret;
  for (std::size_t b = first; b < last; ++b) {
    if (!is_trivial(value.blocks[b])) {
      secret.push_back(b);
      continue;
    }
    const std::uint64_t m = (value.blocks[b].back() + p.delta() / 2) / p.delta() % p.message_modulus;
    public_part += static_cast<u128>(m * place_in_group(p, first, b)) * delta;
  }
  if (secret.size() > 1 && can_pack(value, secret, first)) {
    Bootstrap packed{v, block, core::LweCiphertext(value.blocks[first].size() - 1), &tables.packed};
    for (std::size_t b : secret) {
      const std::uint64_t place = place_in_group(p, first, b);
      for (std::size_t w = 0; w < packed.input.data.size(); ++w) packed.input.data[w] += place * value.blocks[b][w];
    }
    out.push_back(std::move(packed));
    return public_part;
  }
  for (std::size_t b : secret) {
    Bootstrap one{v, block, core::LweCiphertext(), &tables.digit[b - first]};
    one.input.data = value.blocks[b];
    out.push_back(std::move(one));
  }
  return public_part;
}

Status check_value(const core::NoiseSquashingKey& key, const EncryptedValue& value) {
  if (value.params == nullptr || value.params->id != key.params->id) {
    return invalid_argument("the value and the squashing key use different parameter sets");
  }
  if (value.blocks.size() != block_count(value.kind, *value.params)) {
    return invalid_argument("the value has the wrong number of blocks for its kind");
  }
  const std::size_t dim = value.params->big_lwe_dimension();
  for (const auto& b : value.blocks) {
    if (b.size() != dim + 1) return invalid_argument("a block is not under the big key");
  }
  return Status::ok_status();
}

}  // namespace

std::size_t block_count(ValueKind kind, const Parameters& params) {
  if (kind == ValueKind::kBool) return 1;
  const unsigned bits = kind == ValueKind::kUint8 ? 8 : kind == ValueKind::kUint16 ? 16 : 32;
  return bits / static_cast<unsigned>(std::countr_zero(params.message_modulus));
}

std::size_t squash_group(const Parameters& params) { return params.carry_modulus >= params.message_modulus ? 2 : 1; }

std::size_t squashed_block_count(ValueKind kind, const Parameters& params) {
  const std::size_t group = squash_group(params);
  return (block_count(kind, params) + group - 1) / group;
}

Result<std::vector<SquashedValue>> squash(const SquashingKey& key, const std::vector<EncryptedValue>& values) {
  if (key.empty()) return invalid_argument("no squashing key");
  const auto& k = key.impl_->key;
  for (const auto& value : values) VEIL_RETURN_IF_ERROR(check_value(k, value));
  const std::size_t group = squash_group(*k.params);
  const Tables tables = make_tables(k, group);

  std::vector<Bootstrap> bootstraps;
  PublicParts public_parts(values.size());
  for (std::size_t v = 0; v < values.size(); ++v) {
    const std::size_t blocks = values[v].blocks.size();
    for (std::size_t first = 0; first < blocks; first += group) {
      const std::size_t block = first / group;
      public_parts[v].push_back(
          plan_block(k, tables, values[v], v, block, first, std::min(first + group, blocks), bootstraps));
    }
  }
  // A lone bootstrap spreads each CMUX over the pool. Several are dealt to at most one thread
  // per core (more would only stretch the last ones), each CMUX on its own thread (spreading
  // one costs ~50 % more CPU for its hand-offs), and a thread runs its share in lockstep, so
  // that each GGSW of the key comes from memory once for all of them (bench/README.md).
  std::vector<core::Lwe128> results(bootstraps.size());
  ThreadPool& pool = ThreadPool::shared();
  if (bootstraps.size() == 1) {
    results[0] = k.squash(bootstraps[0].input, *bootstraps[0].lut, true);
  } else {
    const std::size_t threads = std::min(bootstraps.size(), pool.size());
    pool.parallel_for(0, threads, [&](std::size_t thread) {
      std::vector<const core::LweCiphertext*> inputs;
      std::vector<const std::vector<u128>*> luts;
      for (std::size_t i = thread; i < bootstraps.size(); i += threads) {
        inputs.push_back(&bootstraps[i].input);
        luts.push_back(bootstraps[i].lut);
      }
      auto outputs = k.squash_lockstep(inputs, luts);
      for (std::size_t j = 0; j < outputs.size(); ++j) results[thread + j * threads] = std::move(outputs[j]);
    });
  }

  // Each squashed block: its bootstraps' outputs summed, plus its public part on the body.
  const std::size_t dim = noise_squashing_for(*k.params).output_dimension();
  std::vector<std::vector<std::vector<u128>>> sums(values.size());
  for (std::size_t v = 0; v < values.size(); ++v) {
    sums[v].assign(public_parts[v].size(), std::vector<u128>(dim + 1, 0));
    for (std::size_t b = 0; b < public_parts[v].size(); ++b) sums[v][b][dim] = public_parts[v][b];
  }
  for (std::size_t i = 0; i < bootstraps.size(); ++i) {
    auto& sum = sums[bootstraps[i].value][bootstraps[i].block];
    for (std::size_t w = 0; w <= dim; ++w) sum[w] += results[i].data[w];
  }
  std::vector<SquashedValue> out(values.size());
  for (std::size_t v = 0; v < values.size(); ++v) {
    out[v].params = values[v].params;
    out[v].value_hash = values[v].hash();
    out[v].squashing_key_hash = key.hash();
    out[v].kind = values[v].kind;
    for (const auto& sum : sums[v]) {
      auto& dst = out[v].blocks.emplace_back(2 * (dim + 1));
      for (std::size_t w = 0; w <= dim; ++w) store128(dst.data() + 2 * w, sum[w]);
    }
  }
  return out;
}

Result<SquashedValue> squash(const SquashingKey& key, const EncryptedValue& value) {
  VEIL_ASSIGN_OR_RETURN(auto out, squash(key, std::vector<EncryptedValue>{value}));
  return std::move(out.front());
}

}  // namespace veil::fhe::threshold
