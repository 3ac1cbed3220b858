// Typed binding of the VeilRegistry contract (contracts/src/VeilRegistry.sol).
//
// The ABI and creation bytecode are not written here: the build runs forge and embeds
// contracts' build output (VeilRegistry.json) in a generated source, and every call below is
// encoded through that ABI by function name. Only the two Solidity enums are mirrored, because
// ABI JSON carries enums as uint8 without their members; tests check the mirror against the
// deployed contract's behaviour.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/chain/contract.h"
#include "veil/chain/eth_client.h"
#include "veil/chain/evidence.h"
#include "veil/chain/transactor.h"

namespace veil::chain {

class VeilRegistry {
 public:
  // Mirrors VeilRegistry.ProposalKind (same order).
  enum class ProposalKind : std::uint8_t {
    kAddOperator,
    kRemoveOperator,
    kSetPolicy,
    kAllowImage,
    kRevokeImage,
    kSetCommittee,
    kSetClusterKeys,
    kSetGovernance,
    kResolveDispute,
    kSetStakeParams,
  };
  // Mirrors VeilRegistry.DeploymentStatus.
  enum class DeploymentStatus : std::uint8_t { kNone, kAnchored, kDisputed, kUpheld, kCleared };

  // Governance-set stake rules (docs/chain.md, "Stake"). Basis points: 10,000 = 100 %.
  struct StakeParams {
    U256 min_stake_wei;
    std::uint64_t unbonding_delay_s = 0;
    std::uint16_t slash_bps = 0;
    std::uint16_t reporter_bps = 0;  // of the slashed amount, credited to whoever proved the lie
  };

  struct DeployParams {
    std::string cluster_name;
    std::vector<Address> operators;
    std::uint64_t quorum = 1;
    std::uint64_t execution_delay_s = 0;
    std::uint64_t dispute_window_s = 86400;
  };
  struct NodeInfo {
    Hash32 peer_id{};
    Address operator_address;
    bool active = false;
    std::uint64_t registered_at = 0;
  };
  struct Committee {
    std::vector<Address> members;
    std::vector<Hash32> x25519_keys;
    std::uint8_t threshold = 0;
  };
  struct Governance {
    std::uint64_t quorum = 0, execution_delay_s = 0, dispute_window_s = 0, operator_epoch = 0,
                  proposal_count = 0;
  };
  struct ProposalInfo {
    std::uint64_t id = 0;
    ProposalKind kind{};
    Address proposer;
    std::uint64_t epoch = 0, created_at = 0, yes_votes = 0, no_votes = 0;
    bool executed = false;
    Bytes data;
  };
  // What a deployment commitment binds (see VeilRegistry.deploymentCommitment).
  struct Commitment {
    Hash32 job_id{};
    std::uint32_t round = 0;
    Hash32 decision_hash{};
    Hash32 inputs_root{};
    std::vector<Hash32> schedulers;
  };
  struct DeploymentInfo {
    DeploymentStatus status = DeploymentStatus::kNone;
    Address anchored_by;
    std::uint64_t anchored_at = 0;
    Hash32 job_id{};
  };
  // One DeploymentAnchored event.
  struct AnchoredEvent {
    Hash32 assignment_hash{};
    Address anchored_by;
    Commitment commitment;
    std::uint64_t block_number = 0;
    Hash32 transaction_hash{};
  };
  struct DisputeInfo {
    std::uint64_t id = 0;
    Hash32 assignment_hash{}, evidence_hash{};
    Address challenger;
    std::uint64_t opened_at = 0;
    bool resolved = false, upheld = false;
  };

  // forge's output, embedded at build time (generated source).
  static std::string_view abi_json();
  static std::string_view creation_bytecode_hex();
  // The parsed ABI (parsed once; aborts only if the embedded ABI were corrupt).
  static const ContractAbi& abi();

  // Deploys a new registry from `sender`'s account and waits for it.
  static Result<VeilRegistry> deploy(Transactor& sender, const DeployParams& params);

  // A handle on the registry at `address`. `sender` (may be null for read-only use) must
  // outlive the handle. Thread-safe when the client and sender are.
  VeilRegistry(EthClient& client, Address address, Transactor* sender = nullptr)
      : client_(&client), address_(address), sender_(sender) {}

  const Address& address() const { return address_; }

  // ---- writes: each waits for the receipt; reverts give kFailedPrecondition naming the
  //      custom error, e.g. "reverted: NotOperator(caller=0x...)".
  Result<Receipt> register_node(const Hash32& peer_id, const Address& operator_address);
  Result<Receipt> deactivate_node(const Hash32& peer_id);
  Result<Receipt> reactivate_node(const Hash32& peer_id);
  Result<Receipt> exit_node(const Hash32& peer_id);
  Result<Receipt> set_operator_image_acl(const Hash32& digest, bool denied);
  // Returns the new proposal's id (from its ProposalCreated event).
  Result<std::uint64_t> propose(ProposalKind kind, const Bytes& data);
  Result<Receipt> vote(std::uint64_t proposal_id, bool support);
  Result<Receipt> execute(std::uint64_t proposal_id);
  Result<Receipt> anchor_deployment(const Hash32& assignment_hash);
  // Returns the anchored assignment hash (from the DeploymentAnchored event).
  Result<Hash32> anchor_commitment(const Commitment& commitment);
  // Returns the dispute id (from the DisputeOpened event).
  Result<std::uint64_t> open_dispute(const Hash32& assignment_hash, const Hash32& evidence_hash);

  // ---- stake (docs/chain.md, "Stake"); amounts in wei
  Result<Receipt> stake(const U256& wei);             // bonds msg.value
  Result<Receipt> request_unstake(const U256& wei);   // bonded -> unbonding, released after the delay
  Result<Receipt> withdraw();                         // pays unbonding stake once released
  Result<Receipt> withdraw_rewards();                 // pays reporter rewards
  // Submits equivocation evidence (submitEvidence); returns the Slashed event (the operator, wei slashed, reward).
  struct Slash {
    Address operator_address, reporter;
    Hash32 evidence_id{};
    U256 slashed, reward;
  };
  Result<Slash> submit_evidence(const Evidence& evidence);
  // Submits contradiction evidence (submitContradiction); the same Slashed event.
  Result<Slash> submit_contradiction(const Contradiction& contradiction);
  // Anchors the root of `count` commitments (merkle_batch.h).
  Result<Receipt> anchor_batch(const Hash32& root, std::uint32_t count);

  // ---- proposal payloads (abi.encode of what each ProposalKind expects)
  static Bytes operator_payload(const Address& op);
  static Bytes image_payload(const Hash32& digest);
  static Bytes policy_payload(const Hash32& policy_id, const Bytes& params);
  static Bytes committee_payload(const Committee& committee);
  static Bytes cluster_keys_payload(const Hash32& compact_public_key_hash, const Hash32& server_key_hash);
  static Bytes governance_payload(std::uint64_t quorum, std::uint64_t delay_s, std::uint64_t window_s);
  static Bytes resolve_dispute_payload(std::uint64_t dispute_id, bool upheld);
  static Bytes stake_params_payload(const StakeParams& params);

  // ---- reads (eth_call at "latest")
  Result<std::string> cluster_name();
  Result<std::vector<Address>> operators();
  Result<bool> is_operator(const Address& account);
  Result<std::vector<NodeInfo>> nodes();
  Result<NodeInfo> node(const Hash32& peer_id);
  Result<std::vector<Hash32>> allowed_images();
  Result<bool> is_image_allowed(const Hash32& digest);
  Result<bool> is_image_allowed_for(const Hash32& digest, const Address& operator_address);
  Result<Bytes> cluster_policy();                    // abi.encode(policyId, params)
  Result<std::pair<Hash32, Hash32>> cluster_keys();  // (compact public key hash, server key hash)
  Result<Committee> committee();
  Result<Governance> governance();
  Result<ProposalInfo> proposal(std::uint64_t id);
  Result<StakeParams> stake_params();
  Result<U256> stake_of(const Address& account);       // bonded stake, in wei
  Result<bool> is_operator_staked(const Address& op);  // bonded >= minStake
  struct Unbonding {
    U256 amount;
    std::uint64_t release_at = 0;  // unix seconds; withdraw() pays from then on
  };
  Result<Unbonding> unbonding_of(const Address& account);
  Result<U256> rewards_of(const Address& account);
  Result<bool> is_evidence_used(const Hash32& evidence_id);
  // The contract's own EIP-712 digest, to check announcement_digest() against.
  Result<Hash32> announcement_digest_on_chain(const Announcement& announcement);
  // The domain announcements are signed in (chain id from the node, this contract's address).
  Result<RegistryDomain> domain();
  struct BatchInfo {
    Address anchored_by;  // zero when the root was never anchored
    std::uint64_t anchored_at = 0;
    std::uint32_t count = 0;
  };
  Result<BatchInfo> batch(const Hash32& root);
  // The BatchAnchored event of `root` (in [from_block, head]), or nothing when it was never anchored.
  struct BatchAnchoredEvent {
    Hash32 root{};
    Address anchored_by;
    std::uint32_t count = 0;
    std::uint64_t block_number = 0;
    Hash32 transaction_hash{};
  };
  Result<std::optional<BatchAnchoredEvent>> batch_anchored_event(const Hash32& root, std::uint64_t from_block = 0);
  // True when `root` was anchored and `proof` leads from `commitment` to it.
  Result<bool> verify_inclusion(const Hash32& root, const Hash32& commitment, const std::vector<Hash32>& proof);
  Result<DeploymentInfo> deployment(const Hash32& assignment_hash);
  Result<DisputeInfo> dispute(std::uint64_t id);
  // The contract's own commitment computation (deploymentCommitment, a pure function).
  Result<Hash32> commitment_on_chain(const Commitment& commitment);

  // DeploymentAnchored events in [from_block, to_block] (to_block 0: head), optionally one job's.
  Result<std::vector<AnchoredEvent>> anchored_events(std::uint64_t from_block, std::uint64_t to_block = 0,
                                                     std::optional<Hash32> job_id = std::nullopt);

  // Slashed events in [from_block, to_block] (to_block 0: head), oldest first.
  struct SlashedEvent {
    Address operator_address, reporter;
    Hash32 evidence_id{}, job_id{};
    std::uint32_t round = 0;
    U256 slashed, reward;  // wei
    std::uint64_t block_number = 0;
    Hash32 transaction_hash{};
  };
  Result<std::vector<SlashedEvent>> slashed_events(std::uint64_t from_block, std::uint64_t to_block = 0);

  // keccak256(abi.encode(jobId, round, decisionHash, inputsRoot, schedulers)), computed locally.
  static Hash32 commitment_hash(const Commitment& commitment);
  // Names revert data with this contract's custom errors.
  static std::string decode_revert(ByteView data);

 private:
  Result<std::vector<AbiValue>> view(std::string_view function, const std::vector<AbiValue>& args);
  Result<Receipt> transact(std::string_view function, const std::vector<AbiValue>& args, const U256& value = U256(0));
  Result<DecodedEvent> find_event(const Receipt& receipt, std::string_view event_name);
  Result<Slash> slash_of(const Receipt& receipt);  // the Slashed event of a submit_* receipt

  EthClient* client_;
  Address address_;
  Transactor* sender_;
};

// The on-chain key of a node: keccak256 of its libp2p PeerId in canonical text form
// ("12D3Koo..."). Every part that looks nodes up on chain must use this.
Hash32 peer_id_hash(std::string_view peer_id_text);

// "sha256:<64 hex>" <-> 32 bytes. Fails with kInvalidArgument for anything else.
Result<Hash32> parse_image_digest(std::string_view text);
std::string format_image_digest(const Hash32& digest);
std::string_view proposal_kind_name(VeilRegistry::ProposalKind kind);
Result<VeilRegistry::ProposalKind> parse_proposal_kind(std::string_view name);
std::string_view deployment_status_name(VeilRegistry::DeploymentStatus status);

}  // namespace veil::chain
