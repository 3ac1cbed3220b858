// Signed scheduler announcements and the evidence that slashes their signer
// (VeilRegistry.submitEvidence and submitContradiction; docs/chain.md, "Slashing").
//
// A scheduler's operator signs every decision it announces with its secp256k1 operator key (the
// key the chain already knows as an operator address), as EIP-712 typed data
//   Announcement(bytes32 jobId, uint32 round, bytes32 decisionHash, bytes32 peerId, bytes32 inputsRoot)
// in the domain {name: "VeilRegistry", version: "1", chainId, verifyingContract}. Two kinds of
// lie are evidence anyone can submit, and the contract judges both itself:
//   equivocation   two signatures by one signer for the same job, round and node with different
//                  (non-zero) decision hashes;
//   contradiction  one signed decision that differs from the quorum decision anchored for the
//                  same job and round over the same inputs (inputsRoot): evaluation is
//                  deterministic, so an honest scheduler cannot have computed it.
// A zero decision hash is the announcement of a scheduler that could not evaluate: never evidence.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  Hash32 inputs_root{};  // the round's inputs the decision was computed from (node::inputs_root)
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
  Hash32 inputs_root_a{};
  Bytes signature_a;  // 65 bytes over announcement_digest(..., decision_a, ..., inputs_root_a)
  Hash32 decision_b{};
  Hash32 inputs_root_b{};
  Bytes signature_b;

  // JSON for `veil dispute submit --evidence FILE`: {"kind": "equivocation", "job_id": "0x..",
  // "round": 3, "peer_id": "0x..", "decision_a": "0x..", "inputs_root_a": "0x..",
  // "signature_a": "0x..", ...}.
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

// One signed announcement that differs from the quorum decision anchored for its job and round
// over the same inputs.
struct Contradiction {
  // The anchored decision: exactly the fields VeilRegistry.deploymentCommitment hashes.
  Hash32 job_id{};
  std::uint32_t round = 0;
  Hash32 agreed_decision{};
  Hash32 inputs_root{};
  std::vector<Hash32> schedulers;  // peer_id_hash() of the agreeing schedulers
  // Where it is anchored: zero for anchorCommitment, else the anchorBatch root and the
  // inclusion proof (merkle_batch.h) of the commitment.
  Hash32 batch_root{};
  std::vector<Hash32> proof;
  // The lie: the scheduler's announcement for the same job, round and inputs.
  Hash32 peer_id{};
  Hash32 announced_decision{};
  Bytes signature;  // 65 bytes over announcement_digest(job, round, announced, peer, inputs_root)

  // {"kind": "contradiction", "job_id", "round", "agreed_decision", "inputs_root", "schedulers",
  //  "batch_root", "proof", "peer_id", "announced_decision", "signature"}.
  std::string to_json() const;
  static Result<Contradiction> from_json(std::string_view text);
  // The signer; kInvalidArgument when the announced decision is zero or equals the agreed one
  // (not a contradiction) or the signature is malformed or high-s.
  Result<Address> signer(const RegistryDomain& domain) const;
  // The same id space as Evidence::id: one lie in one round is slashed at most once.
  Hash32 id(const Address& signer_address) const;
};

// "equivocation" or "contradiction", from an evidence file's "kind"; kInvalidArgument otherwise.
Result<std::string> evidence_kind(std::string_view text);

}  // namespace veil::chain
