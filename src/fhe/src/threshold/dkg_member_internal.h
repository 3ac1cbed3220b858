// Internals of the DKG member (threshold/dkg_member.cc) shared with its tests: the canonical list
// of shared bits, how exact noise is formed from them, and the seam to the share-wise public
// objects (threshold/dkg_keys.h): the opened objects' shapes, the member's contribution, and
// the files assembled from the opened bodies.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "threshold/dkg_primitives.h"
#include "threshold/dkg_wire.h"
#include "threshold/internal.h"
#include "veil/fhe/dkg.h"

namespace veil::fhe::dkg {

// An exact noise object: `values` TUniform(bound_log2) samples, each from bound_log2 + 2 bits.
struct NoiseSpec {
  std::uint64_t values = 0;
  unsigned bound_log2 = 0;
};

// The bits every member draws, in one canonical order (docs/dkg.md, L1): s, z, w, then the
// bits of each exact noise object in turn.
struct BitPlan {
  std::uint64_t s_count = 0, z_count = 0, w_count = 0;
  std::vector<NoiseSpec> noise;

  static BitPlan of(const Parameters& params, const std::vector<NoiseSpec>& noise);
  std::uint64_t s_first() const { return 0; }
  std::uint64_t z_first() const { return s_count; }
  std::uint64_t w_first() const { return s_count + z_count; }
  std::uint64_t noise_first(std::size_t object) const;  // first bit of noise object `object`
  std::uint64_t total() const;
};

// [e] for e ~ TUniform(b) exactly, from the shares of its b + 2 bits.
Elem tuniform_share(const Elem* bits, unsigned bound_log2);

// One opened object: `words` words of `word_bytes` (8: mod 2^64, 16: mod 2^128) bytes.
struct ObjectShape {
  unsigned word_bytes = 8;
  std::uint64_t words = 0;
};

// ---- the seam to threshold/dkg_keys ----

// The exact-noise objects, in bit-plan order.
std::vector<NoiseSpec> exact_noise_specs(const Parameters& params);
// The opened body objects, in wire order.
std::vector<ObjectShape> body_shapes(const Parameters& params);

// The public seeds of the run, derived from the session.
struct Seeds;
// One member's shares, as the body computation takes them.
struct MemberShares;

// A member's body contributions, then (in place) the opened bodies.
class BodyBuffer {
 public:
  virtual ~BodyBuffer() = default;
  virtual std::uint8_t* data(std::size_t object) = 0;
  virtual void wipe() = 0;
};

struct PublicFiles {
  Bytes public_key, server_key, squash_key;
};

// Member `id`'s contribution to every body (before pairwise masks), from its bit shares.
Result<std::unique_ptr<BodyBuffer>> contribute_bodies(const Parameters& params, const Hash32& session, unsigned id,
                                                      unsigned m, const BitPlan& plan, const std::vector<Elem>& bits,
                                                      const Key32& local_noise_seed);
// The three public files from the opened bodies.
Result<PublicFiles> assemble_bodies(const Parameters& params, const Hash32& session, BodyBuffer& opened);

// The member's KeyShare values: its shares of w's bits, (lo, hi) per coefficient.
std::vector<std::uint64_t> key_share_of(const BitPlan& plan, const std::vector<Elem>& bits);

// Tests only: reach into a member.
struct MemberTestAccess {
  // Stop after R2, keeping the bit shares (for tests of R0..R2 alone).
  static void stop_after_bits(Member& member);
  static bool bits_done(const Member& member);
  static const std::vector<Elem>& bit_shares(const Member& member);
  static const BitPlan& plan(const Member& member);
  // Calls `observer` with the member's final bit shares (plan order) just before the body
  // rounds consume them, in a complete run. Whatever it copies is the test's: the member keeps
  // no more than it would without it (secrets_wiped still holds at the end).
  static void observe_bit_shares(Member& member, std::function<void(const std::vector<Elem>&)> observer);
  // No share, PRSS key, mask key or body contribution is left in the member.
  static bool secrets_wiped(const Member& member);
};

}  // namespace veil::fhe::dkg
