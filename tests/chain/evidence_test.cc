// Batch trees and equivocation evidence without a chain (the anvil tests check both against the
// contract): every proof of every batch size leads to its root and no other; evidence JSON
// round-trips and names the field it refuses; the signer is recovered, two signers are refused.
#include <gtest/gtest.h>

#include "veil/chain/evidence.h"
#include "veil/chain/keccak.h"
#include "veil/chain/merkle_batch.h"

namespace veil::chain {
namespace {

Hash32 h(std::string_view s) { return keccak256(as_bytes(s)); }

std::vector<Hash32> commitments(std::size_t n) {
  std::vector<Hash32> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(h("commitment " + std::to_string(i)));
  return out;
}

TEST(MerkleBatch, EveryProofOfEveryBatchSizeLeadsToItsRoot) {
  for (std::size_t n = 1; n <= 33; ++n) {
    const auto batch = commitments(n);
    const Hash32 root = batch_root(batch).value();
    for (std::size_t i = 0; i < n; ++i) {
      const auto proof = batch_proof(batch, i).value();
      EXPECT_TRUE(batch_proof_leads_to(root, batch[i], proof)) << "batch of " << n << ", commitment " << i;
      EXPECT_LE(proof.size(), 6u);  // ceil(log2(33))
      EXPECT_FALSE(batch_proof_leads_to(root, h("not in the batch"), proof));
    }
  }
}

TEST(MerkleBatch, OneCommitmentIsItsOwnLeafAndOrderMatters) {
  const auto one = commitments(1);
  EXPECT_EQ(batch_root(one).value(), batch_leaf_hash(one[0]));
  EXPECT_TRUE(batch_proof(one, 0).value().empty());
  auto batch = commitments(4);
  const Hash32 root = batch_root(batch).value();
  std::swap(batch[0], batch[2]);
  EXPECT_NE(batch_root(batch).value(), root);  // a commitment's place is part of the root
}

TEST(MerkleBatch, ALeafCannotPassForAnInnerNode) {
  const auto batch = commitments(2);
  const Hash32 root = batch_root(batch).value();
  // The inner node's preimage is not a commitment: proving "batch[0] ‖ batch[1]" as a leaf fails.
  EXPECT_FALSE(batch_proof_leads_to(root, batch_node_hash(batch_leaf_hash(batch[0]), batch_leaf_hash(batch[1])), {}));
}

TEST(MerkleBatch, BadInputIsAnError) {
  EXPECT_EQ(batch_root({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch_proof(commitments(3), 3).status().code(), StatusCode::kOutOfRange);
}

Evidence equivocation(const PrivateKey& key, const RegistryDomain& domain) {
  Evidence e;
  e.job_id = h("job");
  e.round = 7;
  e.peer_id = h("12D3KooW...");
  e.decision_a = h("decision a");
  e.inputs_root_a = h("inputs");
  e.decision_b = h("decision b");
  e.inputs_root_b = h("other inputs");  // evaluated once per round: any two decisions are a lie
  e.signature_a = signature_bytes(
      key.sign(announcement_digest(domain, {e.job_id, e.round, e.decision_a, e.peer_id, e.inputs_root_a})));
  e.signature_b = signature_bytes(
      key.sign(announcement_digest(domain, {e.job_id, e.round, e.decision_b, e.peer_id, e.inputs_root_b})));
  return e;
}

Contradiction contradiction(const PrivateKey& key, const RegistryDomain& domain) {
  Contradiction c;
  c.job_id = h("job");
  c.round = 2;
  c.agreed_decision = h("the quorum's decision");
  c.inputs_root = h("inputs");
  c.schedulers = {h("scheduler 1"), h("scheduler 2")};
  c.batch_root = h("root");
  c.proof = {h("sibling"), h("uncle")};
  c.peer_id = h("12D3KooW...");
  c.announced_decision = h("a decision nobody else computed");
  c.signature = signature_bytes(
      key.sign(announcement_digest(domain, {c.job_id, c.round, c.announced_decision, c.peer_id, c.inputs_root})));
  return c;
}

TEST(Evidence, RoundTripsThroughJsonAndRecoversTheSigner) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address::parse("0x5FbDB2315678afecb367f032d93F642f64180aa3").value()};
  const Evidence e = equivocation(key, domain);
  const auto back = Evidence::from_json(e.to_json());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->to_json(), e.to_json());
  EXPECT_EQ(back->signer(domain).value(), key.address());
  // The digest binds the domain: the same signatures in another chain's domain name someone else.
  EXPECT_NE(announcement_digest(domain, {e.job_id, e.round, e.decision_a, e.peer_id, e.inputs_root_a}),
            announcement_digest({1, domain.contract}, {e.job_id, e.round, e.decision_a, e.peer_id, e.inputs_root_a}));
  // The digest binds the inputs: the signature names no signer over other inputs.
  Evidence moved = e;
  moved.inputs_root_a = h("inputs of another request");
  EXPECT_NE(moved.signer(domain).value_or(Address{}), key.address());
}

TEST(Evidence, AZeroDecisionIsNeverEvidence) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address{}};
  Evidence e = equivocation(key, domain);
  e.decision_b = Hash32{};  // "could not evaluate"
  e.signature_b = signature_bytes(key.sign(announcement_digest(domain, {e.job_id, e.round, {}, e.peer_id, e.inputs_root_b})));
  EXPECT_NE(e.signer(domain).status().message().find("could not evaluate"), std::string::npos);
}

TEST(Contradiction, RoundTripsThroughJsonAndRecoversTheSigner) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address::parse("0x5FbDB2315678afecb367f032d93F642f64180aa3").value()};
  const Contradiction c = contradiction(key, domain);
  const auto back = Contradiction::from_json(c.to_json());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->to_json(), c.to_json());
  EXPECT_EQ(back->schedulers, c.schedulers);
  EXPECT_EQ(back->proof, c.proof);
  EXPECT_EQ(back->signer(domain).value(), key.address());
  EXPECT_EQ(evidence_kind(c.to_json()).value(), "contradiction");
  EXPECT_FALSE(Evidence::from_json(c.to_json()).ok()) << "a contradiction is not read as an equivocation";
}

TEST(Contradiction, SharesTheLiesIdWithEquivocation) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address{}};
  Contradiction c = contradiction(key, domain);
  Evidence e = equivocation(key, domain);
  e.round = c.round;
  EXPECT_EQ(c.id(key.address()), e.id(key.address())) << "one lie in one round is slashed once, whatever shows it";
}

TEST(Contradiction, AgreeingZeroOrOtherInputsAreNotContradictions) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address{}};
  Contradiction same = contradiction(key, domain);
  same.announced_decision = same.agreed_decision;
  EXPECT_NE(same.signer(domain).status().message().find("not a contradiction"), std::string::npos);
  Contradiction zero = contradiction(key, domain);
  zero.announced_decision = Hash32{};
  EXPECT_NE(zero.signer(domain).status().message().find("could not evaluate"), std::string::npos);
  // Signed over other inputs: recovered against the anchored inputs it names someone else.
  Contradiction other = contradiction(key, domain);
  other.signature = signature_bytes(key.sign(
      announcement_digest(domain, {other.job_id, other.round, other.announced_decision, other.peer_id, h("other")})));
  EXPECT_NE(other.signer(domain).value_or(Address{}), key.address());
}

TEST(Contradiction, MalformedJsonNamesTheField) {
  const auto key = PrivateKey::generate();
  const std::string good = contradiction(key, {1, Address{}}).to_json();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return Contradiction::from_json(s).status().message();
  };
  EXPECT_NE(with("\"schedulers\": [", "\"schedulers\": [1, ").find("'schedulers'"), std::string::npos);
  EXPECT_NE(with("\"proof\": [", "\"proof\": [\"0x12\", ").find("'proof'"), std::string::npos);
  EXPECT_NE(with("\"signature\": \"0x", "\"signature\": \"0x00").find("'signature'"), std::string::npos);
  EXPECT_NE(with("\"contradiction\"", "\"equivocation\"").find("'kind'"), std::string::npos);
  EXPECT_FALSE(evidence_kind("{\"kind\": 3}").ok());
}

TEST(Evidence, TwoSignersOrEqualDecisionsAreNotEvidence) {
  const auto liar = PrivateKey::generate();
  const auto other = PrivateKey::generate();
  const RegistryDomain domain{31337, Address{}};
  Evidence e = equivocation(liar, domain);
  e.signature_b = equivocation(other, domain).signature_b;
  EXPECT_NE(e.signer(domain).status().message().find("two signers"), std::string::npos);
  Evidence same = equivocation(liar, domain);
  same.decision_b = same.decision_a;
  EXPECT_NE(same.signer(domain).status().message().find("not an equivocation"), std::string::npos);
}

// libsecp256k1 recovers (n - s, other parity) to the same signer, but the contract refuses a high
// s; a local check that accepted it would send evidence that reverts.
TEST(Evidence, AHighSSignatureIsRefusedLikeTheContractDoes) {
  const auto key = PrivateKey::generate();
  const RegistryDomain domain{31337, Address{}};
  Evidence e = equivocation(key, domain);
  ASSERT_TRUE(e.signer(domain).ok());
  Signature sig = parse_signature_bytes(e.signature_b).value();
  const U256 order =
      U256::parse("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").value();
  const U256 low_s = U256::from_be_bytes(sig.s).value();
  sig.s = (order - low_s).to_be32();
  sig.recovery_id ^= 1;
  EXPECT_EQ(
      recover_address(announcement_digest(domain, {e.job_id, e.round, e.decision_b, e.peer_id, e.inputs_root_b}), sig)
          .value(),
      key.address())
      << "the malleated signature still recovers to the signer";
  e.signature_b = signature_bytes(sig);
  const auto refused = e.signer(domain);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'signature_b' has a high s"), std::string::npos)
      << refused.status().message();
}

TEST(Evidence, MalformedJsonNamesTheField) {
  const auto key = PrivateKey::generate();
  const std::string good = equivocation(key, {1, Address{}}).to_json();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return Evidence::from_json(s).status().message();
  };
  EXPECT_NE(with("\"equivocation\"", "\"hunch\"").find("'kind'"), std::string::npos);
  EXPECT_NE(with("\"round\": 7", "\"round\": -1").find("'round'"), std::string::npos);
  EXPECT_NE(with("\"round\": 7", "\"round\": 4294967296").find("'round'"), std::string::npos);
  EXPECT_NE(with("\"job_id\": \"0x", "\"job_id\": \"0xzz").find("'job_id'"), std::string::npos);
  EXPECT_NE(with("\"signature_a\": \"0x", "\"signature_a\": \"0x00").find("'signature_a'"), std::string::npos);
  EXPECT_FALSE(Evidence::from_json("[1, 2]").ok());
  EXPECT_FALSE(Evidence::from_json("{").ok());
}

}  // namespace
}  // namespace veil::chain
