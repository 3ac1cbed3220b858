// Signed scheduler announcements and the equivocation evidence that slashes their signer
// (VeilRegistry.submitEvidence; docs/chain.md, "Slashing").
//
// A scheduler's operator signs every decision it announces with its secp256k1 operator key (the
// key the chain already knows as an operator address), as EIP-712 typed data
//   Announcement(bytes32 jobId, uint32 round, bytes32 decisionHash, bytes32 peerId)
// in the domain {name: "VeilRegistry", version: "1", chainId, verifyingContract}. Two such
// signatures by one signer for the same job, round and node with different decision hashes
// are evidence anyone can submit; the contract recovers both signers and slashes.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "veil/chain/keys.h"
#include "veil/chain/types.h"
#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::chain {

// The EIP-712 domain of one deployed registry.
struct RegistryDomain {
  std::uint64_t chain_id = 0;
  Address contract;
};

struct Announcement {
  Hash32 job_id{};
  std::uint32_t round = 0;
  Hash32 decision_hash{};
  Hash32 peer_id{};  // peer_id_hash() of the announcing node
};

// keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(announcement)): what the operator signs and
// what VeilRegistry.announcementDigest returns.
Hash32 announcement_digest(const RegistryDomain& domain, const Announcement& announcement);

// The 65-byte r ‖ s ‖ v (v = 27 or 28) form Solidity's ECDSA.recover takes.
Bytes signature_bytes(const Signature& signature);
Result<Signature> parse_signature_bytes(ByteView bytes);

// Two announcements by one signer for the same (job, round, node) with different decisions.
struct Evidence {
  Hash32 job_id{};
  std::uint32_t round = 0;
  Hash32 peer_id{};
  Hash32 decision_a{};
  Bytes signature_a;  // 65 bytes over announcement_digest(..., decision_a, ...)
  Hash32 decision_b{};
  Bytes signature_b;

  // JSON for `veil dispute submit --evidence FILE`: {"kind": "equivocation", "job_id": "0x..",
  // "round": 3, "peer_id": "0x..", "decision_a": "0x..", "signature_a": "0x..", ...}.
  std::string to_json() const;
  // kInvalidArgument naming the field for anything malformed.
  static Result<Evidence> from_json(std::string_view text);
  // The signer both signatures recover to; kInvalidArgument naming the signature when one is
  // malformed or has a high s (the contract's ECDSA refuses those), when they recover to two
  // signers, or when the decisions are equal (not an equivocation).
  Result<Address> signer(const RegistryDomain& domain) const;
  // VeilRegistry.evidenceId(signer, peerId, jobId, round): the key under which this lie is
  // slashed at most once, whichever pair of conflicting decisions shows it.
  Hash32 id(const Address& signer_address) const;
};

}  // namespace veil::chain
