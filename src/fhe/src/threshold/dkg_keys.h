// The DKG's key material (docs/dkg.md sections 1, 4 "Local step L3" and L4): from one member's
// Shamir shares of the secret key bits and of the exact noise values, that member's additive
// contribution to every public body; and, from the opened (summed) bodies, the public files in
// exactly the formats `veil keys ceremony` writes. No protocol here: the PRSS, the shared
// bits, the pairwise masks and the openings are threshold/dkg_member.cc's (the `dkg` branch).
//
// How the protocol uses it (member `id` of m):
//
//   Bodies mine = *contribute(params, seeds, id, m, shares, local_noise_seed);  // L3
//   add the pairwise masks to `mine`, send each king its slice; kings sum (R3, R4)
//   Bodies opened = sum of everyone's `mine`                                      // wrapping
//   PublicFiles files = *assemble(params, seeds, std::move(opened));              // L4
//   KeyShare values = key_share_values(shares.squash)
//
// Conventions (the dealer's, so that the existing serializers and decompressors read the
// result): every public object is seed + bodies, with body = mask . key + noise + plaintext;
// the masks are regenerated here from the agreed seeds with core::Csprng(seed, stream) in the
// order the dealer's code draws them (CompactPublicKey: stream 3 of `public_key`;
// CompressedServerKey: bootstrapping key on stream 1 and key-switching key on stream 2 of
// `server_key`; NoiseSquashingKey: key-switching key on stream 0x5100 and GGSW i of the
// bootstrapping key on stream 0x10000 + i of `squash_key`).
//
// Member i's contribution to a body is l_i(its share of the body): l_i(y) = constant
// coefficient of lambda_i * y with lambda_i the Lagrange coefficient at 0 over all m members
// (galois_ring.h: additive_form, product_form). The s_k * z_j and s_k * w_j products of the
// bootstrapping keys have degree 2d, which needs m >= 2d + 1 (t <= (m + 1) / 2; the caller
// checks). The mask x share products are exact negacyclic products of full-width integers
// (the additive share of a key polynomial is uniform, not binary), computed with the exact
// three-prime NTT (core/ntt128.h): 64-bit operands in one product, 128-bit ones split into
// 64-bit halves (a w mod 2^128 = a_lo w_lo + 2^64 (a_lo w_hi + a_hi w_lo)).
//
// Noise: the public key and both key-switching keys take *exact* shared noise (the members'
// shares of TUniform values the protocol makes from shared bits, docs/dkg.md 3.4); the two
// bootstrapping keys take one local TUniform sample per member and coefficient, drawn here
// from `local_noise_seed`, so their opened noise is the sum of m samples.
//
// For the `dkg` branch: differences from the brief's sketch are (1) contribute() and
// assemble() return Result<> (wrong sizes or ids are refused, not asserted); (2) assemble()
// takes the opened bodies by value (std::move them in: the squash key's are 270 MB);
// (3) key_share_values() lays out a member's KeyShare::values from its [w] shares.
//
// Thread safety: pure functions; contribute() uses the shared thread pool internally.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "threshold/galois_ring.h"
#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/params.h"

namespace veil::fhe::threshold::dkg_keys {

using gr::u128;

// The public seeds the protocol agrees on (docs/dkg.md R0: BLAKE2b of the session).
struct Seeds {
  std::array<std::uint8_t, 32> public_key{}, server_key{}, squash_key{};
};

// Member i's Shamir shares (degree t - 1 over GR(2^128, 4), each value a constant of the ring)
// of every secret the bodies depend on. Sizes for parameter set p (squashing set q =
// noise_squashing_for(p)); check_shapes() says which is wrong.
struct MemberShares {
  std::vector<gr::Elem> lwe;     // s: p.lwe_dimension bits
  std::vector<gr::Elem> glwe;    // z: p.glwe_dimension * p.polynomial_size bits (flat = the big key)
  std::vector<gr::Elem> squash;  // w: q.glwe_dimension * q.polynomial_size bits
  // Exact TUniform noises (public_key_noise_spec() etc.), as two's-complement ring constants
  // (a value -e is 2^128 - e); the protocol makes them from shared bits.
  std::vector<gr::Elem> public_key_noise;  // one per public-key coefficient
  std::vector<gr::Elem> server_ksk_noise;  // one per key-switching-key entry, entry order
  std::vector<gr::Elem> squash_ksk_noise;  // the same for the squashing key's key switch

  // Overwrites every share with zeros.
  void wipe();
};

// How many exact noise values an object needs, and their TUniform bound (log2).
struct NoiseSpec {
  std::size_t count = 0;
  unsigned bound_log2 = 0;
};
// The compact public key: big_lwe_dimension values of TUniform(glwe_noise).
NoiseSpec public_key_noise_spec(const Parameters& params);
// The server key-switching key: big_lwe_dimension * ks_level values of TUniform(lwe_noise).
NoiseSpec server_ksk_noise_spec(const Parameters& params);
// The squashing key's key-switching key: the same shape and distribution.
NoiseSpec squash_ksk_noise_spec(const Parameters& params);

// kInvalidArgument naming the first vector whose size does not fit `params`.
Status check_shapes(const Parameters& params, const MemberShares& shares);

// Every body opened in the body rounds: the 64-bit objects as u64, the squashing bootstrapping
// key as u128. Layouts are the serializers': CompressedServerKey::bsk_bodies
// ([GGSW][row][N]) and ksk_bodies ([input coefficient][level]), CompactPublicKey's body,
// NoiseSquashingKey::ksk_bodies and bsk_bodies.
struct Bodies {
  std::vector<std::uint64_t> public_key;   // big_lwe_dimension
  std::vector<std::uint64_t> server_bsk;   // lwe_dimension * (k + 1) * pbs_level * N
  std::vector<std::uint64_t> server_ksk;   // big_lwe_dimension * ks_level
  std::vector<std::uint64_t> squash_ksk;   // big_lwe_dimension * ks_level
  std::vector<u128> squash_bsk;            // lwe_dimension * (k_q + 1) * level_q * N_q

  // *this += other, word by word (wrapping): how the kings and the tests sum contributions.
  // kInvalidArgument when the shapes differ.
  Status add(const Bodies& other);
  void wipe();
};

// Bodies of the right shapes for `params`, all zero (the protocol sums into it).
Bodies zero_bodies(const Parameters& params);
// True when `b` has zero_bodies(params)'s shapes.
bool has_shapes(const Parameters& params, const Bodies& b);

// Member `id`'s (1..member_count) additive contribution to every body of docs/dkg.md's L3
// table, plus its local noise sample for each bootstrapping-key coefficient (drawn from
// `local_noise_seed`, which the protocol fills from the OS and wipes). Pairwise masks are NOT
// added. The result is secret until masked. kInvalidArgument on a wrong id, member count
// (2..kMaxMembers) or share shape. Cost (default parameters): seconds of CPU, spread over the
// shared thread pool (bench/README.md, "DKG key material").
Result<Bodies> contribute(const Parameters& params, const Seeds& seeds, unsigned id, unsigned member_count,
                          const MemberShares& shares, const std::array<std::uint8_t, 32>& local_noise_seed);

struct PublicFiles {
  Bytes public_key;  // public.key
  Bytes server_key;  // server.compressed.key
  Bytes squash_key;  // squash.key
};

// The serialized public files from the opened bodies: byte for byte what `veil keys
// ceremony` writes for the same seeds and bodies. kInvalidArgument when a shape is wrong.
Result<PublicFiles> assemble(const Parameters& params, const Seeds& seeds, Bodies opened);

// A member's KeyShare::values (threshold.h) from its shares of the squashing key w: per bit,
// the four ring coefficients as (lo, hi) u64 pairs.
std::vector<std::uint64_t> key_share_values(const std::vector<gr::Elem>& squash_shares);

}  // namespace veil::fhe::threshold::dkg_keys
