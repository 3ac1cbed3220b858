// EIP-712 announcements and equivocation evidence (veil/chain/evidence.h).
#include "veil/chain/evidence.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <nlohmann/json.hpp>

#include "veil/chain/keccak.h"

namespace veil::chain {
namespace {

void append(Bytes& out, const Hash32& word) { out.insert(out.end(), word.begin(), word.end()); }

Hash32 keccak_text(std::string_view text) { return keccak256(as_bytes(text)); }

Hash32 word_of(std::uint64_t v) { return U256(v).to_be32(); }

Hash32 word_of(const Address& a) {
  Hash32 w{};
  std::memcpy(w.data() + 12, a.bytes.data(), a.bytes.size());
  return w;
}

// keccak256(abi.encode(EIP712Domain typehash, keccak("VeilRegistry"), keccak("1"), chainId, contract)),
// the domain OpenZeppelin's EIP712("VeilRegistry", "1") builds.
Hash32 domain_separator(const RegistryDomain& domain) {
  Bytes enc;
  append(enc, keccak_text("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"));
  append(enc, keccak_text("VeilRegistry"));
  append(enc, keccak_text("1"));
  append(enc, word_of(domain.chain_id));
  append(enc, word_of(domain.contract));
  return keccak256(enc);
}

Result<Hash32> hash_field(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) return invalid_argument(std::string("evidence: '") + name + "' must be a 0x-hex string");
  auto h = parse_hash(j[name].get<std::string>());
  if (!h.ok()) return invalid_argument(std::string("evidence: '") + name + "': " + h.status().message());
  return h;
}

Result<std::vector<Hash32>> hash_list_field(const nlohmann::json& j, const char* name) {
  constexpr std::size_t kMaxHashes = 1024;  // a scheduler set or a proof of a batch up to 2^1024 leaves
  if (!j.contains(name) || !j[name].is_array() || j[name].size() > kMaxHashes) {
    return invalid_argument(std::string("evidence: '") + name + "' must be an array of at most 1024 0x-hex hashes");
  }
  std::vector<Hash32> out;
  for (const auto& item : j[name]) {
    if (!item.is_string()) return invalid_argument(std::string("evidence: '") + name + "' holds a non-string");
    auto h = parse_hash(item.get<std::string>());
    if (!h.ok()) return invalid_argument(std::string("evidence: '") + name + "': " + h.status().message());
    out.push_back(*h);
  }
  return out;
}

std::vector<std::string> hex_list(const std::vector<Hash32>& hashes) {
  std::vector<std::string> out;
  for (const auto& h : hashes) out.push_back(hash_hex(h));
  return out;
}

// Half the secp256k1 group order: EIP-2 (and OpenZeppelin's ECDSA, which the contract uses)
// refuses a signature whose s is above it, although libsecp256k1 recovers it (to the same
// signer, with the other parity), so a local check must refuse it too.
constexpr std::array<std::uint8_t, 32> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

Result<Address> recover_low_s(const Hash32& digest, const Bytes& signature, const char* name) {
  auto sig = parse_signature_bytes(signature);
  if (!sig.ok()) return invalid_argument(std::string("evidence: '") + name + "': " + sig.status().message());
  if (std::lexicographical_compare(kHalfOrder.begin(), kHalfOrder.end(), sig->s.begin(), sig->s.end())) {
    return invalid_argument(std::string("evidence: '") + name +
                            "' has a high s (above half the curve order, EIP-2); the contract refuses it");
  }
  auto signer = recover_address(digest, *sig);
  if (!signer.ok())
    return invalid_argument(std::string("evidence: '") + name + "': " + signer.status().message());
  return signer;
}

Result<Bytes> signature_field(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) return invalid_argument(std::string("evidence: '") + name + "' must be a 0x-hex string");
  auto b = from_hex(j[name].get<std::string>());
  if (!b.ok() || b->size() != 65) return invalid_argument(std::string("evidence: '") + name + "' must be 65 bytes of hex (r, s, v)");
  return b;
}

Result<nlohmann::json> evidence_object(std::string_view text, const char* kind) {
  VEIL_ASSIGN_OR_RETURN(std::string found, evidence_kind(text));
  if (found != kind) return invalid_argument("evidence: 'kind' is \"" + found + "\", expected \"" + kind + "\"");
  return nlohmann::json::parse(text);
}

Result<std::uint32_t> round_field(const nlohmann::json& j) {
  if (!j.contains("round") || !j["round"].is_number_unsigned() || j["round"].get<std::uint64_t>() > 0xffffffffu) {
    return invalid_argument("evidence: 'round' must be an integer in 0..4294967295");
  }
  return j["round"].get<std::uint32_t>();
}

// A lie is slashed once per (signer, node, job, round), whichever evidence shows it:
// VeilRegistry.evidenceId, abi.encode(address, bytes32, bytes32, uint32).
Hash32 lie_id(const Address& signer, const Hash32& peer_id, const Hash32& job_id, std::uint32_t round) {
  Bytes enc;
  append(enc, word_of(signer));
  append(enc, peer_id);
  append(enc, job_id);
  append(enc, word_of(round));
  return keccak256(enc);
}

}  // namespace

Hash32 announcement_digest(const RegistryDomain& domain, const Announcement& a) {
  Bytes body;
  append(body, keccak_text("Announcement(bytes32 jobId,uint32 round,bytes32 decisionHash,bytes32 peerId,bytes32 inputsRoot)"));
  append(body, a.job_id);
  append(body, word_of(a.round));
  append(body, a.decision_hash);
  append(body, a.peer_id);
  append(body, a.inputs_root);
  Bytes msg = {0x19, 0x01};
  append(msg, domain_separator(domain));
  append(msg, keccak256(body));
  return keccak256(msg);
}

Bytes signature_bytes(const Signature& sig) {
  Bytes out;
  append(out, sig.r);
  append(out, sig.s);
  out.push_back(static_cast<std::uint8_t>(27 + sig.recovery_id));
  return out;
}

Result<Signature> parse_signature_bytes(ByteView bytes) {
  if (bytes.size() != 65) return invalid_argument("a signature is 65 bytes (r, s, v), got " + std::to_string(bytes.size()));
  Signature sig;
  std::memcpy(sig.r.data(), bytes.data(), 32);
  std::memcpy(sig.s.data(), bytes.data() + 32, 32);
  const std::uint8_t v = bytes[64];
  if (v != 27 && v != 28) return invalid_argument("a signature's v must be 27 or 28, got " + std::to_string(v));
  sig.recovery_id = static_cast<std::uint8_t>(v - 27);
  return sig;
}

std::string Evidence::to_json() const {
  nlohmann::ordered_json j = {{"kind", "equivocation"},
                              {"job_id", hash_hex(job_id)},
                              {"round", round},
                              {"peer_id", hash_hex(peer_id)},
                              {"decision_a", hash_hex(decision_a)},
                              {"inputs_root_a", hash_hex(inputs_root_a)},
                              {"signature_a", to_hex_prefixed(signature_a)},
                              {"decision_b", hash_hex(decision_b)},
                              {"inputs_root_b", hash_hex(inputs_root_b)},
                              {"signature_b", to_hex_prefixed(signature_b)}};
  return j.dump(2) + "\n";
}

Result<Evidence> Evidence::from_json(std::string_view text) {
  VEIL_ASSIGN_OR_RETURN(nlohmann::json j, evidence_object(text, "equivocation"));
  Evidence e;
  VEIL_ASSIGN_OR_RETURN(e.job_id, hash_field(j, "job_id"));
  VEIL_ASSIGN_OR_RETURN(e.round, round_field(j));
  VEIL_ASSIGN_OR_RETURN(e.peer_id, hash_field(j, "peer_id"));
  VEIL_ASSIGN_OR_RETURN(e.decision_a, hash_field(j, "decision_a"));
  VEIL_ASSIGN_OR_RETURN(e.inputs_root_a, hash_field(j, "inputs_root_a"));
  VEIL_ASSIGN_OR_RETURN(e.decision_b, hash_field(j, "decision_b"));
  VEIL_ASSIGN_OR_RETURN(e.inputs_root_b, hash_field(j, "inputs_root_b"));
  VEIL_ASSIGN_OR_RETURN(e.signature_a, signature_field(j, "signature_a"));
  VEIL_ASSIGN_OR_RETURN(e.signature_b, signature_field(j, "signature_b"));
  return e;
}

Result<Address> Evidence::signer(const RegistryDomain& domain) const {
  if (decision_a == decision_b) return invalid_argument("evidence: the two decisions are equal; that is not an equivocation");
  if (decision_a == Hash32{} || decision_b == Hash32{}) {
    return invalid_argument("evidence: a zero decision is a scheduler saying it could not evaluate, not a decision");
  }
  VEIL_ASSIGN_OR_RETURN(
      Address a, recover_low_s(announcement_digest(domain, {job_id, round, decision_a, peer_id, inputs_root_a}),
                               signature_a, "signature_a"));
  VEIL_ASSIGN_OR_RETURN(
      Address b, recover_low_s(announcement_digest(domain, {job_id, round, decision_b, peer_id, inputs_root_b}),
                               signature_b, "signature_b"));
  if (a != b) return invalid_argument("evidence: the signatures are by two signers (" + a.to_checksum() + ", " + b.to_checksum() + ")");
  return a;
}

Hash32 Evidence::id(const Address& signer_address) const { return lie_id(signer_address, peer_id, job_id, round); }

std::string Contradiction::to_json() const {
  nlohmann::ordered_json j = {{"kind", "contradiction"},
                              {"job_id", hash_hex(job_id)},
                              {"round", round},
                              {"agreed_decision", hash_hex(agreed_decision)},
                              {"inputs_root", hash_hex(inputs_root)},
                              {"schedulers", hex_list(schedulers)},
                              {"batch_root", hash_hex(batch_root)},
                              {"proof", hex_list(proof)},
                              {"peer_id", hash_hex(peer_id)},
                              {"announced_decision", hash_hex(announced_decision)},
                              {"signature", to_hex_prefixed(signature)}};
  return j.dump(2) + "\n";
}

Result<Contradiction> Contradiction::from_json(std::string_view text) {
  VEIL_ASSIGN_OR_RETURN(nlohmann::json j, evidence_object(text, "contradiction"));
  Contradiction c;
  VEIL_ASSIGN_OR_RETURN(c.job_id, hash_field(j, "job_id"));
  VEIL_ASSIGN_OR_RETURN(c.round, round_field(j));
  VEIL_ASSIGN_OR_RETURN(c.agreed_decision, hash_field(j, "agreed_decision"));
  VEIL_ASSIGN_OR_RETURN(c.inputs_root, hash_field(j, "inputs_root"));
  VEIL_ASSIGN_OR_RETURN(c.schedulers, hash_list_field(j, "schedulers"));
  VEIL_ASSIGN_OR_RETURN(c.batch_root, hash_field(j, "batch_root"));
  VEIL_ASSIGN_OR_RETURN(c.proof, hash_list_field(j, "proof"));
  VEIL_ASSIGN_OR_RETURN(c.peer_id, hash_field(j, "peer_id"));
  VEIL_ASSIGN_OR_RETURN(c.announced_decision, hash_field(j, "announced_decision"));
  VEIL_ASSIGN_OR_RETURN(c.signature, signature_field(j, "signature"));
  return c;
}

Result<Address> Contradiction::signer(const RegistryDomain& domain) const {
  if (announced_decision == Hash32{}) {
    return invalid_argument("evidence: a zero decision is a scheduler saying it could not evaluate, not a decision");
  }
  if (announced_decision == agreed_decision) {
    return invalid_argument("evidence: the announced decision is the agreed one; that is not a contradiction");
  }
  return recover_low_s(announcement_digest(domain, {job_id, round, announced_decision, peer_id, inputs_root}), signature,
                       "signature");
}

Hash32 Contradiction::id(const Address& signer_address) const { return lie_id(signer_address, peer_id, job_id, round); }

Result<std::string> evidence_kind(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("evidence: not a JSON object");
  const auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string() || (*kind != "equivocation" && *kind != "contradiction")) {
    return invalid_argument(
        "evidence: 'kind' must be \"equivocation\" or \"contradiction\" (the lies the contract judges itself)");
  }
  return kind->get<std::string>();
}

}  // namespace veil::chain
