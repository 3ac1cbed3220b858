// Threshold decryption: a committee of n members, any t of whom can decrypt together, replaces
// the single holder of the FHE secret key. See docs/fhe.md ("Threshold decryption") for the
// scheme, its noise budget and its limits, and docs/threat-model.md for the dealer's trust.
//
//   Dealer (key ceremony):  deal(client_key, t, members) -> Committee + one KeyShare per member,
//                           then the client key is dropped (CLI: wiped from memory).
//   Member:                 partial_decrypt(share, member_key, request, value) -> DecryptionShare
//   Anyone (combiner):      combine(committee, request, shares) -> plaintext, or the members
//                           whose shares are wrong.
//
// Secret sharing: Shamir over the Galois ring GR(2^128, 4) = Z_{2^128}[X]/(X^4 + X + 1). Member
// i (1..15) evaluates at the ring element whose coefficients are the bits of i; differences of
// these points are units, so Lagrange interpolation works although 2^128 is not prime. Each bit
// of the squashing key (below) is shared as a constant of the ring. Limit: n <= 15 (GF(16) has
// 15 non-zero points).
//
// Noise squashing: each 64-bit block is first bootstrapped into an LWE ciphertext modulo 2^128
// under the flat key of a binary GLWE key of dimension k*N (k = 2, N = 2048: 4096 bits), with
// noise ~2^65 at that scale instead of the block's ~2^50 * 2^64. The dealer generates that
// key, publishes the SquashingKey (its encryption of the small LWE key) and shares the
// 128-bit key's bits; the 64-bit key is not shared. The flood (2^118 for t = 3) then hides the
// noise by ~50 bits (docs/fhe-threshold.md).
//
// Partial decryption: on the squashed blocks. For every t-subset S of the
// committee that contains member i, the member publishes the constant coefficient of
// lambda_{i,S} * (b - <a, share_i>) plus pairwise masks that cancel inside S plus uniform
// flooding noise in [-2^flood_log2, 2^flood_log2), pseudo-random under a key derived from the
// member's secret: fresh for each request, the same if one request is answered twice. The sum of S's partials is b - <a, s> + noise:
// the phase, so the combiner never learns more than one flooded decryption per subset, and a
// single partial is uniformly masked.
//
// Robust combination: each t-subset of the valid shares decodes on its own. The largest set of
// members all of whose t-subsets decode to the same value, with residual noise inside the
// predicted bound, wins; the members outside it are named. A malicious member that signs a
// deliberately shifted partial is named when m >= t + 2f shares arrive (f wrong ones); random
// corruption, forged or mis-signed shares are named whenever at least t honest shares arrive.
//
// Thread safety: every type is a value; functions are reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/keys.h"
#include "veil/fhe/types.h"

namespace veil::fhe::threshold {

inline constexpr std::size_t kMaxMembers = 15;
using Hash = std::array<std::uint8_t, 32>;  // SHA-256

// A committee member's public identity: Ed25519 (signs decryption shares) and X25519 (receives
// the sealed key share; derives pairwise masks with the other members).
struct MemberPublicKey {
  std::array<std::uint8_t, 32> sign{};
  std::array<std::uint8_t, 32> box{};

  // Text form for `member.pub`: "veil-member-v1 <hex sign> <hex box>\n".
  std::string to_text() const;
  // Parses to_text()'s form; kInvalidArgument on anything else.
  static Result<MemberPublicKey> from_text(std::string_view text);
  bool operator==(const MemberPublicKey&) const = default;
};

// The member's secret half. Wiped on destruction.
class MemberSecretKey {
 public:
  // Fresh keys from the OS's randomness.
  static MemberSecretKey generate();
  const MemberPublicKey& public_key() const { return public_; }
  // 64-byte Ed25519 secret, 32-byte X25519 secret, then the public key: 160 bytes.
  Bytes serialize() const;
  static Result<MemberSecretKey> deserialize(ByteView bytes);
  ~MemberSecretKey();
  MemberSecretKey(const MemberSecretKey&) = default;
  MemberSecretKey& operator=(const MemberSecretKey&) = default;

  const std::array<std::uint8_t, 64>& sign_secret() const { return sign_sk_; }
  const std::array<std::uint8_t, 32>& box_secret() const { return box_sk_; }

 private:
  MemberSecretKey() = default;
  std::array<std::uint8_t, 64> sign_sk_{};
  std::array<std::uint8_t, 32> box_sk_{};
  MemberPublicKey public_;
};

// The public noise-squashing key of a ceremony (KEYS/squash.key): a key-switching key and a
// bootstrapping key (GGSW encryptions modulo 2^128 of the small LWE key bits), masks drawn
// from a seed so the serialized form holds only bodies (default parameters: ~270 MB on the
// wire, ~1.2 GB expanded in memory; test parameters: ~1.6 MB). Immutable; copies share it.
struct SquashingKeyImpl;
class SquashingKey {
 public:
  SquashingKey() = default;
  bool empty() const { return impl_ == nullptr; }
  const Parameters* params() const;
  // "VFHE" framing, kind 0x36: seed, key-switching bodies, bootstrapping bodies.
  Bytes serialize() const;
  // Parses and expands (seconds for the default parameters). kInvalidArgument / kDataLoss on
  // a malformed object.
  static Result<SquashingKey> deserialize(ByteView bytes, std::size_t size_limit = std::size_t{1} << 30);
  // SHA-256 of serialize(), computed once.
  Hash hash() const;

  std::shared_ptr<const SquashingKeyImpl> impl_;
};

// The committee's public description, written by the ceremony (committee.bin) and needed by
// combiners. Member ids are 1..n in the order of `members`.
struct Committee {
  const Parameters* params = nullptr;
  std::uint8_t threshold = 0;
  std::vector<MemberPublicKey> members;
  Hash public_key_hash{};  // SHA-256 of the serialized CompactPublicKey
  Hash server_key_hash{};  // SHA-256 of the serialized (compressed) server key
  Hash squashing_key_hash{};  // SHA-256 of the serialized SquashingKey
  std::vector<Hash> share_hashes;  // SHA-256 of each member's serialized KeyShare (before sealing)

  std::size_t size() const { return members.size(); }
  // Format 2 (kind 0x34). Format 1 (kind 0x30, before noise squashing) is refused with a
  // message saying to run the ceremony again.
  Bytes serialize() const;
  static Result<Committee> deserialize(ByteView bytes, std::size_t size_limit = 1 << 20);
  Hash hash() const;
};

// Flooding bound (log2) used for a committee of threshold t: 2^(120 - ceil(log2 t)), so that t
// floods together stay below 2^120, leaving room for the ciphertext's own noise (~2^65 after
// squashing; the combiner allows up to Delta/16 = 2^119) under the decoding radius Delta/2 = 2^122 of the 2^128
// modulus (4-bit blocks, Delta = 2^123). A combined residual beyond 2^119 + t 2^b marks a
// subset as wrong.
unsigned flood_log2(unsigned threshold);

// One member's secret: the Shamir shares of every squashing-key bit plus the committee it
// belongs to.
struct KeyShare {
  Committee committee;
  std::uint8_t member = 0;  // 1..n
  // k*N (squashing) * 4 words of 128 bits, stored as (lo, hi) pairs: the ring element f_j(alpha_i).
  std::vector<std::uint64_t> values;
  // The public squashing key, attached in memory (not serialized): deal() sets it; after
  // deserialize() the caller attaches SquashingKey::deserialize(KEYS/squash.key) so that the
  // four-argument partial_decrypt can squash. Its hash must match the committee's.
  SquashingKey squashing_key;

  // Format 2 (kind 0x35); format 1 (kind 0x31) is refused with a clear message.
  Bytes serialize() const;
  static Result<KeyShare> deserialize(ByteView bytes, std::size_t size_limit = 64 << 20);
  void wipe();
};

struct Ceremony {
  Committee committee;
  std::vector<KeyShare> shares;  // shares[i] belongs to committee.members[i]
  SquashingKey squashing_key;    // public: written next to the committee (squash.key)
};

// Generates a fresh 128-bit squashing key (k*N binary coefficients), the public SquashingKey
// that bootstraps `key`'s blocks under it, and splits the squashing key into n =
// members.size() shares, any `threshold` of which decrypt; the 128-bit secret is wiped.
// public_key / server_key are the serialized public material whose hashes the committee records.
// kInvalidArgument unless 1 <= threshold <= n <= kMaxMembers and members are distinct.
Result<Ceremony> deal(const ClientKey& key, unsigned threshold, const std::vector<MemberPublicKey>& members,
                      ByteView public_key, ByteView server_key);

// Overwrites the secret material of `key` (and of every copy: the handles share it) with zeros,
// for the dealer once the shares are out. The key decrypts nothing afterwards.
void wipe_client_key(const ClientKey& key);

// A ciphertext to decrypt: its kind and its blocks (64-bit LWE under the big key).
enum class ValueKind : std::uint8_t { kUint8 = 5, kUint16 = 6, kUint32 = 7, kBool = 8 };
const char* value_kind_name(ValueKind kind);

struct EncryptedValue {
  ValueKind kind = ValueKind::kBool;
  const Parameters* params = nullptr;
  Bytes serialized;  // the engine's serialization; its SHA-256 identifies the value
  std::vector<std::vector<std::uint64_t>> blocks;  // mask then body, least significant block first
  // Per block, what the engine tracked (shortint's degree: the largest value it may hold; its
  // noise level: the multiple of a bootstrap's noise it carries). They decide whether two
  // blocks can share one squashing bootstrap. Empty when unknown: then none do.
  struct BlockBound {
    std::uint64_t degree = 0;
    std::uint64_t noise_level = 0;
  };
  std::vector<BlockBound> bounds;

  Hash hash() const;
  // Parses any serialized FheBool / FheUint8/16/32.
  static Result<EncryptedValue> parse(ByteView bytes, const DeserializeOptions& options = {});
  static EncryptedValue of(const FheBool& v);
  static EncryptedValue of(const FheUint8& v);
  static EncryptedValue of(const FheUint16& v);
  static EncryptedValue of(const FheUint32& v);
};

struct DecryptionRequest {
  const Parameters* params = nullptr;
  Hash ciphertext_hash{};
  ValueKind kind = ValueKind::kBool;
  std::string purpose;    // at most 256 bytes, e.g. "decision 17"
  std::string requester;  // at most 256 bytes
  std::array<std::uint8_t, 16> nonce{};  // makes two requests for the same ciphertext distinct

  // A request for `value` with a random nonce.
  static DecryptionRequest for_value(const EncryptedValue& value, std::string purpose, std::string requester);
  Bytes serialize() const;
  static Result<DecryptionRequest> deserialize(ByteView bytes, std::size_t size_limit = 1 << 16);
  Hash hash() const;  // SHA-256 of serialize()
};

struct DecryptionShare {
  const Parameters* params = nullptr;
  std::uint8_t member = 0;
  Hash request_hash{};
  ValueKind kind = ValueKind::kBool;
  std::uint32_t blocks = 0;
  std::vector<std::uint16_t> subsets;  // bit (id-1) set per member; every t-subset holding `member`
  std::vector<std::uint64_t> partials;  // [subset][block] 128-bit values as (lo, hi)
  std::array<std::uint8_t, 64> signature{};  // Ed25519 over the serialization without it

  // Format 2 (kind 0x37: partials of squashed blocks); format 1 (kind 0x33) is refused.
  Bytes serialize() const;
  static Result<DecryptionShare> deserialize(ByteView bytes, std::size_t size_limit = 8 << 20);
  // What the signature covers: a domain tag, the parameter set and every field but the signature.
  Bytes signed_bytes() const;
};

// A value after the noise-squashing bootstrap: LWE ciphertexts modulo 2^128 of dimension k*N
// under the squashing key. Deterministic given the key and the value, so every member computes
// the same (or one party computes it and members that trust it reuse it).
//
// Squashed block j holds the messages of blocks [j g, j g + g), g = squash_group(params) (2
// when a block's carry space holds a second message, as in TFHE-rs), as sum_i m_(j g + i) M^i
// (M = message_modulus) times Delta = 2^127 / p; so a FheUint16 of eight 2-bit blocks squashes
// into four blocks of 4 bits. docs/fhe-threshold.md, "Noise squashing", says how.
struct SquashedValue {
  const Parameters* params = nullptr;
  Hash value_hash{};  // EncryptedValue::hash() of the input
  Hash squashing_key_hash{};
  ValueKind kind = ValueKind::kBool;
  std::vector<std::vector<std::uint64_t>> blocks;  // (k*N + 1) words of 128 bits as (lo, hi)
};
// Blocks of a value that one squashed block holds, and how many squashed blocks a value of
// `kind` has.
std::size_t squash_group(const Parameters& params);
std::size_t squashed_block_count(ValueKind kind, const Parameters& params);
// One 128-bit bootstrap per group of blocks whose degrees and noise levels allow packing them
// (their sum m_0 + M m_1 stays within the noise budget the parameters were designed for),
// otherwise one per block; none for a public (trivial) block. The bootstraps run in parallel on
// the shared thread pool. kInvalidArgument when the key is empty, or the parameter sets or
// shapes differ.
Result<SquashedValue> squash(const SquashingKey& key, const EncryptedValue& value);
// The same for several values at once: every bootstrap of all of them in one parallel batch
// (a decision's replicas), results in the order of `values`.
Result<std::vector<SquashedValue>> squash(const SquashingKey& key, const std::vector<EncryptedValue>& values);

// The member's partial decryption of `value` (squashed) for `request`. kInvalidArgument when
// the request does not name this ciphertext, the parameter sets differ, the squashed value
// was made with another squashing key than the committee's, or `member_key` is not the share's
// member.
Result<DecryptionShare> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                        const DecryptionRequest& request, const SquashedValue& value);
// The same, squashing `value` first with share.squashing_key (kFailedPrecondition when none is
// attached).
Result<DecryptionShare> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                        const DecryptionRequest& request, const EncryptedValue& value);
// The same for several values, requests[i] naming values[i], squashed in one batch.
Result<std::vector<DecryptionShare>> partial_decrypt(const KeyShare& share, const MemberSecretKey& member_key,
                                                     const std::vector<DecryptionRequest>& requests,
                                                     const std::vector<EncryptedValue>& values);

struct CombineResult {
  std::uint64_t value = 0;  // the plaintext (0/1 for FheBool)
  std::vector<std::uint8_t> used;   // members whose shares agree
  struct Wrong {
    std::uint8_t member;
    std::string reason;
  };
  std::vector<Wrong> wrong;  // members named as wrong, with why
  // Per block, the largest |residual noise| / 2^64 seen over the agreeing subsets (log2).
  double max_noise_log2 = 0;
};

// Combines shares for `request`. Returns the plaintext and names wrong members. Errors:
// kFailedPrecondition when fewer than t valid shares remain or the valid shares are
// inconsistent in a way that cannot be attributed (the message names the suspects).
Result<CombineResult> combine(const Committee& committee, const DecryptionRequest& request,
                              const std::vector<DecryptionShare>& shares);
// The same for a request known only by its hash and value kind (as the shares carry them).
Result<CombineResult> combine(const Committee& committee, const Hash& request_hash, ValueKind kind,
                              const std::vector<DecryptionShare>& shares);

}  // namespace veil::fhe::threshold
