// A DKG run's secret keys, which no member holds, rebuilt by a test from the members' shares.
//
// A test-only seam (MemberTestAccess::observe_bit_shares) hands over every member's shares of
// the key bits s (LWE), z (GLWE) and w (noise squashing) just before the body rounds use them;
// each bit is interpolated from t members. This is for tests and benchmarks only: any t members
// could decrypt anyway, and a deployment has no such seam. Then: proofs that the keys are the
// run's (each decrypts what the run's public files encrypt), and the client key they make, on
// which `veil fhe validate`'s bootstrap check runs against the run's own server key.
// Used by fhe_dkg_secrecy_test, fhe_dkg_validate_test and bench/fhe_dkg_validate.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "api/impl.h"
#include "core/squash.h"
#include "dkg_run.h"
#include "threshold/dkg_member_internal.h"
#include "threshold/internal.h"
#include "veil/fhe/diagnostics.h"
#include "veil/fhe/dkg.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::dkg::dkgtest {

using KeyBits = std::vector<core::Torus>;  // one coefficient per word, each 0 or 1

struct RunKeys {
  KeyBits s, z, w;
};

// Shares of the key bits, s then z then w (the bit plan's first s + z + w bits), per member.
using KeyBitShares = std::vector<std::vector<Elem>>;

// The secret of a degree t - 1 sharing from the members in `mask` (bit i - 1 for member i).
inline Elem interpolate(const KeyBitShares& shares, std::size_t bit, unsigned mask) {
  Elem sum;
  for (unsigned i = 1; i <= shares.size(); ++i) {
    if (mask & (1u << (i - 1))) sum = sum + threshold::gr::lagrange_at_zero(i, mask) * shares[i - 1][bit];
  }
  return sum;
}

// Each key bit from the first t members, checked against the last t (a degree t - 1 sharing of
// 0 or 1). Fails the test on any other value.
inline RunKeys interpolate_keys(const KeyBitShares& shares, const BitPlan& plan, unsigned t) {
  const unsigned m = static_cast<unsigned>(shares.size());
  const unsigned first_t = (1u << t) - 1, last_t = first_t << (m - t);
  KeyBits bits(plan.s_count + plan.z_count + plan.w_count);
  for (std::size_t k = 0; k < bits.size(); ++k) {
    const Elem b = interpolate(shares, k, first_t);
    EXPECT_EQ(b, interpolate(shares, k, last_t)) << "key bit " << k << ": shares are not of degree t - 1";
    EXPECT_TRUE(b == Elem::constant(0) || b == Elem::constant(1)) << "key bit " << k << " is not 0 or 1";
    bits[k] = b == Elem::constant(1);
  }
  auto slice = [&](std::uint64_t first, std::uint64_t count) {
    return KeyBits(bits.begin() + static_cast<std::ptrdiff_t>(first),
                   bits.begin() + static_cast<std::ptrdiff_t>(first + count));
  };
  return RunKeys{slice(plan.s_first(), plan.s_count), slice(plan.z_first(), plan.z_count),
                 slice(plan.w_first(), plan.w_count)};
}

// Captures every member's shares of the key bits in a run that has not started. The observers
// hold a pointer to the recorder, so it stays where it was made.
class KeyBitRecorder {
 public:
  explicit KeyBitRecorder(DkgRun& run)
      : plan_(MemberTestAccess::plan(run.members[0])),
        key_bits_(plan_.s_count + plan_.z_count + plan_.w_count),
        shares_(run.members.size()) {
    for (auto& mb : run.members) {
      MemberTestAccess::observe_bit_shares(mb, [this, id = mb.id()](const std::vector<Elem>& all) {
        shares_[id - 1].assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(key_bits_));
      });
    }
  }
  KeyBitRecorder(const KeyBitRecorder&) = delete;
  KeyBitRecorder& operator=(const KeyBitRecorder&) = delete;

  // Whether member `id` handed over its shares.
  bool observed(std::uint8_t id) const { return shares_[id - 1].size() == key_bits_; }
  // After a complete run: the keys, interpolated from the shares of t members.
  RunKeys keys(unsigned t) const { return interpolate_keys(shares_, plan_, t); }

 private:
  BitPlan plan_;
  std::size_t key_bits_;
  KeyBitShares shares_;
};

// ---------------- what the keys make and decrypt ----------------

// A client key whose small key is s and whose GLWE (and so big LWE) key is z.
inline ClientKey client_key_of(const Parameters& params, const KeyBits& s, const KeyBits& z) {
  auto ck = shortint::ClientKey::from_parts(
      params, core::LweSecretKey{s},
      core::GlweSecretKey::from_bits(params.glwe_dimension, params.polynomial_size, z));
  return detail::ClientKeyImpl::wrap(
      std::make_shared<detail::ClientKeyImpl>(detail::ClientKeyImpl{std::move(ck)}));
}

struct RunPublicKeys {
  CompactPublicKey public_key;
  ServerKey server_key;
  threshold::SquashingKey squash_key;
};

inline RunPublicKeys load_public_keys(const Output& o) {
  auto pk = CompactPublicKey::deserialize(o.public_key);
  auto csk = CompressedServerKey::deserialize(o.server_key);
  auto sq = threshold::SquashingKey::deserialize(o.squash_key);
  EXPECT_TRUE(pk.ok() && csk.ok() && sq.ok());
  return RunPublicKeys{*pk, csk->decompress(), *sq};
}

// Each proof encrypts random values with the run's public key, 32 blocks in all, and decrypts
// them through one key; a wrong key decodes each block to a random value (right 1 time in 16).
constexpr std::size_t kProofBlocks = 32;

inline std::vector<std::uint64_t> random_values(std::size_t count, std::uint64_t modulus) {
  std::vector<std::uint64_t> v(count);
  for (auto& x : v) x = run_rng()() % modulus;
  return v;
}

inline KeyBits random_key(std::size_t n) {
  KeyBits k(n);
  for (auto& b : k) b = run_rng()() & 1;
  return k;
}

// z: FheUint16 values from the public key decrypt with a ClientKey whose GLWE key is z (the
// ClientKey's small key s is not used by decryption).
inline bool z_decrypts(const RunPublicKeys& keys, const KeyBits& s, const KeyBits& z) {
  const ClientKey client = client_key_of(keys.public_key.params(), s, z);
  const std::size_t blocks_per_value = 16 / 2;  // 2-bit messages
  bool all = true;
  for (std::uint64_t v : random_values(kProofBlocks / blocks_per_value, 1 << 16)) {
    all &= FheUint16::encrypt(v, keys.public_key).decrypt(client) == v;
  }
  return all;
}

inline std::vector<shortint::Ciphertext> public_blocks(const RunPublicKeys& keys,
                                                       const std::vector<std::uint64_t>& values) {
  return keys.public_key.impl().key.encrypt(values);
}

// s: blocks from the public key, key-switched by the run's server key (big key -> s), have the
// phase v * Delta + small noise under s.
inline bool s_decrypts(const RunPublicKeys& keys, const KeyBits& s) {
  const Parameters& params = keys.public_key.params();
  const auto values = random_values(kProofBlocks, params.message_modulus);
  const auto blocks = public_blocks(keys, values);
  const core::Torus delta = params.delta();
  bool all = true;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    core::LweCiphertext small;
    core::keyswitch(keys.server_key.impl().key.ksk(), blocks[i].ct, small);
    all &= (core::lwe_phase(small, s.data()) + delta / 2) / delta % params.plaintext_modulus() == values[i];
  }
  return all;
}

// w: blocks from the public key, squashed by the run's squash key, decrypt modulo 2^128 under w
// (this also goes through the squash key's own key switch to s and its GGSWs of s under w).
inline bool w_decrypts(const RunPublicKeys& keys, const KeyBits& w) {
  const Parameters& params = keys.public_key.params();
  const auto values = random_values(kProofBlocks, params.message_modulus);
  const auto blocks = public_blocks(keys, values);
  const auto& squash = keys.squash_key.impl_->key;
  const u128 delta = squash.delta();
  bool all = true;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const core::Lwe128 squashed = squash.squash(blocks[i].ct);
    all &= (core::lwe128_phase(squashed, w.data()) + delta / 2) / delta % params.plaintext_modulus() ==
           values[i];
  }
  return all;
}

// ---------------- `veil fhe validate` on a DKG's keys ----------------

// A complete run's public files and the keys rebuilt from its members' shares.
struct ReconstructedRun {
  unsigned threshold = 0, members = 0;
  double dkg_seconds = 0;  // start to the last member's output, all members in this process
  Output output;           // member 1's files (every member's public files are the same)
  RunKeys keys;
};

// Runs a t-of-m DKG on `params` in memory and interpolates its keys. The members (with m copies
// of the files, gigabytes on the default parameters) are gone when it returns. A failed run is
// reported through gtest and gives nullopt.
inline std::optional<ReconstructedRun> run_and_reconstruct(const Parameters& params, unsigned t, unsigned m) {
  ReconstructedRun out;
  out.threshold = t;
  out.members = m;
  DkgRun run(params, t, m);
  if (::testing::Test::HasFailure()) return std::nullopt;
  const KeyBitRecorder recorder(run);
  const auto began = std::chrono::steady_clock::now();
  run.start();
  const bool pumped = run.pump();
  out.dkg_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  EXPECT_TRUE(pumped) << run.failure->second.to_string();
  for (auto& mb : run.members) {
    EXPECT_TRUE(mb.finished()) << "member " << int(mb.id()) << " in round " << mb.round();
    EXPECT_TRUE(recorder.observed(mb.id())) << "member " << int(mb.id()) << "'s shares were not observed";
  }
  if (::testing::Test::HasFailure()) return std::nullopt;
  out.output = run.members[0].output();
  out.keys = recorder.keys(t);
  if (::testing::Test::HasFailure()) return std::nullopt;
  return out;
}

struct DkgValidation {
  ReconstructedRun run;
  ClientKey client;  // from the run's s and z
  ServerKey server;  // the run's server.compressed.key, decompressed
  BootstrapCheck check;
};

// run_and_reconstruct, then check_bootstraps (what `veil fhe validate --pbs` runs) `bootstraps`
// times with the rebuilt client key and the run's own server key.
inline std::optional<DkgValidation> validate_dkg(const Parameters& params, unsigned t, unsigned m,
                                                 std::size_t bootstraps) {
  auto run = run_and_reconstruct(params, t, m);
  if (!run) return std::nullopt;
  auto compressed = CompressedServerKey::deserialize(run->output.server_key);
  EXPECT_TRUE(compressed.ok()) << compressed.status().to_string();
  if (!compressed.ok()) return std::nullopt;
  ClientKey client = client_key_of(params, run->keys.s, run->keys.z);
  DkgValidation out{std::move(*run), std::move(client), compressed->decompress(), {}};
  out.check = check_bootstraps(out.client, out.server, bootstraps);
  return out;
}

}  // namespace veil::fhe::dkg::dkgtest
