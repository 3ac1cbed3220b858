// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title VeilRegistry
/// @notice The shared memory and court of a Veil cluster: who the operators and nodes are, what
///         the cluster agreed to run (FHE keys, decryption committee, scheduling policy, allowed
///         images), and commitments to every deployment that anyone can audit and dispute.
///         Telemetry never touches the chain; only hashes and commitments do.
/// @dev Governance is a flat operator set with a yes-vote quorum and an execution delay. Every
///      change to the operator set starts a new "epoch"; proposals of an older epoch can no longer
///      be voted on or executed, so the votes of a live proposal never exceed the operator count.
///      Every state change emits an event and every refused call reverts with a custom error.
///      Operators bond ETH as stake; a node registers only while its operator's bonded stake
///      reaches `minStake`. A scheduler announcement is signed (EIP-712, `Announcement`) by the
///      operator's address; two such announcements for one (peerId, jobId, round) with different
///      non-zero decision hashes are proof of equivocation and slash the operator
///      (`submitEvidence`), and so is one announcement whose non-zero decision differs from a
///      settled anchored decision over the same job, round and inputs (`submitContradiction`).
///      Contract ETH balance == totalBonded + totalUnbonding + totalRewardsOwed + totalSlashRetained.
contract VeilRegistry is EIP712 {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    // ------------------------------------------------------------------ types

    /// @notice What a governance proposal changes; its `data` is the ABI encoding noted per kind.
    enum ProposalKind {
        AddOperator, //      abi.encode(address operator)
        RemoveOperator, //   abi.encode(address operator)
        SetPolicy, //        abi.encode(bytes32 policyId, bytes params)
        AllowImage, //       abi.encode(bytes32 sha256Digest)
        RevokeImage, //      abi.encode(bytes32 sha256Digest)
        SetCommittee, //     abi.encode(address[] members, bytes32[] x25519Keys, uint8 threshold)
        SetClusterKeys, //   abi.encode(bytes32 compactPublicKeyHash, bytes32 serverKeyHash)
        SetGovernance, //    abi.encode(uint64 quorum, uint64 executionDelay, uint64 disputeWindow)
        ResolveDispute, //   abi.encode(uint256 disputeId, bool upheld)
        SetStakeParams //    abi.encode(uint256 minStake, uint64 unbondingDelay, uint16 slashBps, uint16 reporterBps)
    }

    /// @notice Lifecycle of an anchored deployment commitment.
    enum DeploymentStatus {
        None,
        Anchored,
        Disputed,
        Upheld, //   a dispute was upheld: the commitment is judged wrong
        Cleared //   a dispute was rejected: the commitment stands
    }

    struct Node {
        address operator;
        bool active;
        uint64 registeredAt;
    }

    struct Proposal {
        ProposalKind kind;
        bool executed;
        address proposer;
        uint64 epoch;
        uint64 createdAt;
        uint64 yesVotes;
        uint64 noVotes;
        bytes data;
    }

    struct Deployment {
        DeploymentStatus status;
        address anchoredBy;
        uint64 anchoredAt;
        bytes32 jobId;
    }

    /// @dev One account's stake that is leaving: released together at `releaseAt`.
    struct Unbonding {
        uint256 amount;
        uint64 releaseAt;
    }

    /// @dev A batch of deployment commitments anchored as one Merkle root (fits one slot).
    struct Batch {
        address anchoredBy;
        uint64 anchoredAt;
        uint32 count;
    }

    struct Dispute {
        bytes32 assignmentHash;
        bytes32 evidenceHash;
        address challenger;
        uint64 openedAt;
        bool resolved;
        bool upheld;
    }

    /// @notice A scheduler's signed decision announcement, as evidence carries it.
    /// @dev `signature` is 65 bytes r ‖ s ‖ v over
    ///      `announcementDigest(jobId, round, decisionHash, peerId, inputsRoot)`; the job, round and
    ///      peer come from the call that carries the announcement.
    struct SignedAnnouncement {
        bytes32 decisionHash;
        bytes32 inputsRoot;
        bytes signature;
    }

    /// @notice An anchored deployment decision: exactly the fields `deploymentCommitment` hashes.
    struct AnchoredDecision {
        bytes32 jobId;
        uint32 round;
        bytes32 decisionHash;
        bytes32 inputsRoot;
        bytes32[] schedulers;
    }

    // ------------------------------------------------------------------ errors

    error NotOperator(address caller);
    error NotNodeOperator(bytes32 peerID, address caller);
    error CallerMustBeOperator(address caller, address operator);
    error ZeroValue();
    error NodeAlreadyRegistered(bytes32 peerID);
    error UnknownNode(bytes32 peerID);
    error NodeStateUnchanged(bytes32 peerID, bool active);
    error UnknownProposal(uint256 id);
    error ProposalStale(uint256 id, uint64 proposalEpoch, uint64 currentEpoch);
    error ProposalAlreadyExecuted(uint256 id);
    error AlreadyVoted(uint256 id, address voter);
    error QuorumNotReached(uint256 id, uint64 yesVotes, uint64 quorum);
    error ExecutionDelayPending(uint256 id, uint64 executableAt);
    error InvalidProposalData(ProposalKind kind);
    error InvalidQuorum(uint64 quorum, uint256 operatorCount);
    error OperatorAlreadyExists(address operator);
    error UnknownOperator(address operator);
    error ImageAlreadyAllowed(bytes32 digest);
    error ImageNotAllowed(bytes32 digest);
    error InvalidCommittee(uint256 members, uint256 keys, uint8 threshold);
    error AlreadyAnchored(bytes32 assignmentHash);
    error UnknownDeployment(bytes32 assignmentHash);
    error DisputeWindowClosed(bytes32 assignmentHash, uint64 closedAt);
    error DeploymentNotDisputable(bytes32 assignmentHash, DeploymentStatus status);
    error UnknownDispute(uint256 disputeId);
    error DisputeAlreadyResolved(uint256 disputeId);
    error InsufficientStake(address operator, uint256 bonded, uint256 minStake);
    error InsufficientBonded(address account, uint256 bonded, uint256 requested);
    error NothingToWithdraw(address account);
    error UnbondingPending(address account, uint64 releaseAt);
    error TransferFailed(address to, uint256 amount);
    error InvalidStakeParams(uint16 slashBps, uint16 reporterBps);
    error InvalidSignature();
    error NotEquivocation(bytes32 decisionHash);
    error EvidenceAlreadyUsed(bytes32 evidenceId);
    error NothingToSlash(address operator);
    error BatchAlreadyAnchored(bytes32 root);
    /// @notice The decision offered as anchored is not a settled anchored commitment (unknown,
    ///         disputed or upheld when anchored alone; not proven into an anchored batch).
    error NotAnchoredDecision(bytes32 commitment);
    /// @notice The announcement does not contradict the anchored decision (same or zero decision hash).
    error NotContradiction(bytes32 decisionHash);
    /// @notice The announcement was made over other inputs than the anchored decision, so it is no lie.
    error InputsDiffer(bytes32 announcedInputsRoot, bytes32 anchoredInputsRoot);

    // ------------------------------------------------------------------ events

    event OperatorAdded(address indexed operator);
    event OperatorRemoved(address indexed operator);
    event NodeRegistered(bytes32 indexed peerID, address indexed operator);
    event NodeDeactivated(bytes32 indexed peerID, address indexed operator);
    event NodeReactivated(bytes32 indexed peerID, address indexed operator);
    event NodeExited(bytes32 indexed peerID, address indexed operator);
    event ProposalCreated(uint256 indexed id, ProposalKind indexed kind, address indexed proposer, bytes data);
    event VoteCast(uint256 indexed id, address indexed voter, bool support, uint64 yesVotes, uint64 noVotes);
    event ProposalExecuted(uint256 indexed id, ProposalKind indexed kind);
    event PolicyChanged(bytes32 indexed policyId, bytes params);
    event ImageAllowed(bytes32 indexed digest);
    event ImageRevoked(bytes32 indexed digest);
    event OperatorImageAclSet(address indexed operator, bytes32 indexed digest, bool denied);
    event CommitteeChanged(address[] members, bytes32[] x25519Keys, uint8 threshold);
    event ClusterKeysChanged(bytes32 compactPublicKeyHash, bytes32 serverKeyHash);
    event GovernanceChanged(uint64 quorum, uint64 executionDelay, uint64 disputeWindow);
    event DeploymentAnchored(
        bytes32 indexed assignmentHash,
        bytes32 indexed jobId,
        address indexed anchoredBy,
        uint32 round,
        bytes32 decisionHash,
        bytes32 inputsRoot,
        bytes32[] schedulers
    );
    event DisputeOpened(
        uint256 indexed disputeId, bytes32 indexed assignmentHash, address indexed challenger, bytes32 evidenceHash
    );
    event DisputeResolved(uint256 indexed disputeId, bytes32 indexed assignmentHash, bool upheld);
    event Staked(address indexed account, uint256 amount, uint256 bonded);
    event UnstakeRequested(address indexed account, uint256 amount, uint256 unbonding, uint64 releaseAt);
    event Withdrawn(address indexed account, uint256 amount);
    event RewardsWithdrawn(address indexed reporter, uint256 amount);
    event StakeParamsChanged(uint256 minStake, uint64 unbondingDelay, uint16 slashBps, uint16 reporterBps);
    event Slashed(
        address indexed operator,
        address indexed reporter,
        bytes32 indexed evidenceId,
        bytes32 jobId,
        uint32 round,
        uint256 slashed,
        uint256 reward
    );
    event BatchAnchored(bytes32 indexed root, address indexed anchoredBy, uint32 count);

    // ------------------------------------------------------------------ state

    /// @notice Human-readable cluster name, fixed at deployment.
    string public clusterName;
    /// @notice Hash of the cluster's FHE compact public key.
    bytes32 public fheCompactPublicKeyHash;
    /// @notice Hash of the cluster's FHE server (evaluation) key.
    bytes32 public fheServerKeyHash;
    /// @notice Identifier of the scheduling policy every scheduler must evaluate.
    bytes32 public policyId;
    /// @notice Policy parameters (opaque to the contract).
    bytes public policyParams;
    /// @notice Yes votes a proposal needs.
    uint64 public quorum;
    /// @notice Seconds between a proposal's creation and its earliest execution.
    uint64 public executionDelay;
    /// @notice Seconds after anchoring during which a commitment can be disputed.
    uint64 public disputeWindow;
    /// @notice Incremented on every change of the operator set.
    uint64 public operatorEpoch;
    /// @notice Number of proposals ever created; ids are 1..proposalCount.
    uint256 public proposalCount;
    /// @notice Number of disputes ever opened; ids are 1..disputeCount.
    uint256 public disputeCount;

    /// @notice EIP-712 type hash of a scheduler's signed decision announcement.
    bytes32 public constant ANNOUNCEMENT_TYPEHASH =
        keccak256("Announcement(bytes32 jobId,uint32 round,bytes32 decisionHash,bytes32 peerId,bytes32 inputsRoot)");
    /// @notice Basis-point denominator of `slashBps` and `reporterBps`.
    uint16 public constant BPS = 10_000;
    /// @notice Bonded stake a node's operator needs to register or reactivate it (0 until governance sets it).
    uint256 public minStake;
    /// @notice Seconds between `requestUnstake` and `withdraw`; the stake stays slashable meanwhile.
    uint64 public unbondingDelay = 7 days;
    /// @notice Share of an equivocator's bonded and unbonding stake taken per proven lie (bps).
    uint16 public slashBps = 5_000;
    /// @notice Share of a slash credited to the reporter (bps); the rest stays locked in the contract.
    uint16 public reporterBps = 1_000;
    /// @notice Sum of all bonded stake.
    uint256 public totalBonded;
    /// @notice Sum of all stake waiting out its unbonding delay.
    uint256 public totalUnbonding;
    /// @notice Sum of reporter rewards not yet withdrawn.
    uint256 public totalRewardsOwed;
    /// @notice Slashed ETH not paid to reporters; no function moves it (burned by locking).
    uint256 public totalSlashRetained;

    EnumerableSet.AddressSet private _operators;
    EnumerableSet.Bytes32Set private _nodeIds;
    EnumerableSet.Bytes32Set private _images;
    mapping(bytes32 => Node) private _nodes;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(address => bool)) private _voted;
    mapping(address => mapping(bytes32 => bool)) private _operatorDenies;
    mapping(bytes32 => Deployment) private _deployments;
    mapping(uint256 => Dispute) private _disputes;

    mapping(address => uint256) private _bonded;
    mapping(address => Unbonding) private _unbonding;
    mapping(address => uint256) private _rewards;
    mapping(bytes32 => bool) private _evidenceUsed;
    mapping(bytes32 => Batch) private _batches;

    address[] private _committeeMembers;
    bytes32[] private _committeeKeys;
    uint8 private _committeeThreshold;

    // ------------------------------------------------------------------ access

    modifier onlyOperator() {
        if (!_operators.contains(msg.sender)) revert NotOperator(msg.sender);
        _;
    }

    /// @param name Cluster name.
    /// @param operators Founding operators (non-zero, distinct).
    /// @param quorum_ Yes votes a proposal needs (1..operators.length).
    /// @param executionDelay_ Seconds before a passed proposal may execute.
    /// @param disputeWindow_ Seconds a deployment commitment stays disputable.
    constructor(
        string memory name,
        address[] memory operators,
        uint64 quorum_,
        uint64 executionDelay_,
        uint64 disputeWindow_
    ) EIP712("VeilRegistry", "1") {
        clusterName = name;
        for (uint256 i = 0; i < operators.length; i++) {
            _addOperator(operators[i]);
        }
        _setGovernance(quorum_, executionDelay_, disputeWindow_);
    }

    // ------------------------------------------------------------------ nodes

    /// @notice Binds a node (hash of its libp2p PeerId) to an operator. The caller must be that
    ///         operator: an operator registers its own nodes, nobody registers for another.
    ///         The operator's bonded stake must be at least `minStake` (InsufficientStake).
    /// @param peerID keccak256 of the node's libp2p PeerId bytes.
    /// @param operator The operator running the node; must equal msg.sender.
    function registerNode(bytes32 peerID, address operator) external onlyOperator {
        if (operator != msg.sender) revert CallerMustBeOperator(msg.sender, operator);
        if (peerID == bytes32(0)) revert ZeroValue();
        if (_nodes[peerID].operator != address(0)) revert NodeAlreadyRegistered(peerID);
        _requireStaked(operator);
        _nodes[peerID] = Node({operator: operator, active: true, registeredAt: uint64(block.timestamp)});
        _nodeIds.add(peerID);
        emit NodeRegistered(peerID, operator);
    }

    /// @notice Marks one of the caller's nodes inactive (kept registered, refused by peers).
    function deactivateNode(bytes32 peerID) external {
        Node storage node = _ownNode(peerID);
        if (!node.active) revert NodeStateUnchanged(peerID, false);
        node.active = false;
        emit NodeDeactivated(peerID, msg.sender);
    }

    /// @notice Re-activates one of the caller's inactive nodes; the caller must still be an operator
    ///         whose bonded stake is at least `minStake`.
    function reactivateNode(bytes32 peerID) external onlyOperator {
        Node storage node = _ownNode(peerID);
        if (node.active) revert NodeStateUnchanged(peerID, true);
        _requireStaked(msg.sender);
        node.active = true;
        emit NodeReactivated(peerID, msg.sender);
    }

    /// @notice Removes one of the caller's nodes from the registry for good.
    function exitNode(bytes32 peerID) external {
        _ownNode(peerID);
        delete _nodes[peerID];
        _nodeIds.remove(peerID);
        emit NodeExited(peerID, msg.sender);
    }

    // ------------------------------------------------------------------ images

    /// @notice Lets an operator refuse a cluster-allowed image on its own nodes (or lift that).
    /// @param digest sha256 image digest (the 32 bytes after `sha256:`).
    /// @param denied True to refuse the image on the caller's nodes.
    function setOperatorImageAcl(bytes32 digest, bool denied) external onlyOperator {
        _operatorDenies[msg.sender][digest] = denied;
        emit OperatorImageAclSet(msg.sender, digest, denied);
    }

    /// @notice True when governance allowed `digest`.
    function isImageAllowed(bytes32 digest) external view returns (bool) {
        return _images.contains(digest);
    }

    /// @notice True when `digest` is allowed by governance and not refused by `operator`.
    function isImageAllowedFor(bytes32 digest, address operator) external view returns (bool) {
        return _images.contains(digest) && !_operatorDenies[operator][digest];
    }

    // ------------------------------------------------------------------ governance

    /// @notice Opens a proposal. The payload is validated now so a malformed one never lingers.
    /// @return id The new proposal's id.
    function propose(ProposalKind kind, bytes calldata data) external onlyOperator returns (uint256 id) {
        _validate(kind, data);
        id = ++proposalCount;
        Proposal storage p = _proposals[id];
        p.kind = kind;
        p.proposer = msg.sender;
        p.epoch = operatorEpoch;
        p.createdAt = uint64(block.timestamp);
        p.data = data;
        emit ProposalCreated(id, kind, msg.sender, data);
    }

    /// @notice Casts the caller's single vote on a live proposal.
    function vote(uint256 id, bool support) external onlyOperator {
        Proposal storage p = _liveProposal(id);
        if (_voted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        _voted[id][msg.sender] = true;
        if (support) p.yesVotes++;
        else p.noVotes++;
        emit VoteCast(id, msg.sender, support, p.yesVotes, p.noVotes);
    }

    /// @notice Applies a proposal that reached the quorum once its delay has passed.
    ///         Any operator may execute; the outcome does not depend on who does.
    function execute(uint256 id) external onlyOperator {
        Proposal storage p = _liveProposal(id);
        if (p.yesVotes < quorum) revert QuorumNotReached(id, p.yesVotes, quorum);
        uint64 executableAt = p.createdAt + executionDelay;
        if (block.timestamp < executableAt) revert ExecutionDelayPending(id, executableAt);
        p.executed = true;
        emit ProposalExecuted(id, p.kind);
        _apply(p.kind, p.data);
    }

    /// @notice Reads a proposal.
    function getProposal(uint256 id)
        external
        view
        returns (
            ProposalKind kind,
            address proposer,
            uint64 epoch,
            uint64 createdAt,
            uint64 yesVotes,
            uint64 noVotes,
            bool executed,
            bytes memory data
        )
    {
        Proposal storage p = _proposals[id];
        if (p.proposer == address(0)) revert UnknownProposal(id);
        return (p.kind, p.proposer, p.epoch, p.createdAt, p.yesVotes, p.noVotes, p.executed, p.data);
    }

    /// @notice True when `voter` has voted on proposal `id`.
    function hasVoted(uint256 id, address voter) external view returns (bool) {
        return _voted[id][voter];
    }

    // ------------------------------------------------------------------ anchoring and disputes

    /// @notice The commitment to one deployment decision, as the contract and the auditors compute it:
    ///         keccak256(abi.encode(jobId, round, decisionHash, inputsRoot, schedulers)).
    /// @param jobId The job the decision is for.
    /// @param round The scheduling round of the job the decision closes (one decision per job and round).
    /// @param decisionHash Hash of the decision the agreeing schedulers announced.
    /// @param inputsRoot Root of the input-ciphertext hashes the schedulers evaluated.
    /// @param schedulers Peer-id hashes of the schedulers whose announcements agreed.
    /// @return The commitment (`assignmentHash` when anchored alone, a leaf's preimage in a batch).
    function deploymentCommitment(
        bytes32 jobId,
        uint32 round,
        bytes32 decisionHash,
        bytes32 inputsRoot,
        bytes32[] memory schedulers
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(jobId, round, decisionHash, inputsRoot, schedulers));
    }

    /// @notice Anchors an opaque assignment hash (the seed interface). Prefer `anchorCommitment`,
    ///         which records what the hash commits to. The event carries round 0 and zero parts,
    ///         so such a hash can never serve as the anchored decision of contradiction evidence.
    /// @return True once anchored; a duplicate reverts with AlreadyAnchored.
    function anchorDeployment(bytes32 assignmentHash) external onlyOperator returns (bool) {
        bytes32[] memory none;
        _anchor(assignmentHash, bytes32(0), 0, bytes32(0), bytes32(0), none);
        return true;
    }

    /// @notice Anchors the commitment to (job, round, decision, input-ciphertext hashes root,
    ///         scheduler set) and emits every part of it, so auditors can recompute it from the event.
    /// @param jobId The job (non-zero).
    /// @param round The job's scheduling round the decision closes.
    /// @param decisionHash Hash of the decision the agreeing schedulers announced.
    /// @param inputsRoot Root of the input-ciphertext hashes the schedulers evaluated.
    /// @param schedulers Peer-id hashes of the agreeing schedulers.
    /// @return assignmentHash The anchored commitment (`deploymentCommitment` of the same arguments).
    function anchorCommitment(
        bytes32 jobId,
        uint32 round,
        bytes32 decisionHash,
        bytes32 inputsRoot,
        bytes32[] calldata schedulers
    ) external onlyOperator returns (bytes32 assignmentHash) {
        if (jobId == bytes32(0)) revert ZeroValue();
        assignmentHash = deploymentCommitment(jobId, round, decisionHash, inputsRoot, schedulers);
        _anchor(assignmentHash, jobId, round, decisionHash, inputsRoot, schedulers);
    }

    /// @notice Challenges an anchored commitment within its dispute window.
    /// @param evidenceHash Hash of the off-chain evidence (e.g. a re-evaluation transcript).
    /// @return disputeId The new dispute's id; governance resolves it with a ResolveDispute proposal.
    function openDispute(bytes32 assignmentHash, bytes32 evidenceHash)
        external
        onlyOperator
        returns (uint256 disputeId)
    {
        Deployment storage d = _deployments[assignmentHash];
        if (d.status == DeploymentStatus.None) revert UnknownDeployment(assignmentHash);
        if (d.status != DeploymentStatus.Anchored) revert DeploymentNotDisputable(assignmentHash, d.status);
        uint64 closesAt = d.anchoredAt + disputeWindow;
        if (block.timestamp > closesAt) revert DisputeWindowClosed(assignmentHash, closesAt);
        d.status = DeploymentStatus.Disputed;
        disputeId = ++disputeCount;
        _disputes[disputeId] = Dispute({
            assignmentHash: assignmentHash,
            evidenceHash: evidenceHash,
            challenger: msg.sender,
            openedAt: uint64(block.timestamp),
            resolved: false,
            upheld: false
        });
        emit DisputeOpened(disputeId, assignmentHash, msg.sender, evidenceHash);
    }

    /// @notice Reads an anchored deployment.
    function getDeployment(bytes32 assignmentHash)
        external
        view
        returns (DeploymentStatus status, address anchoredBy, uint64 anchoredAt, bytes32 jobId)
    {
        Deployment storage d = _deployments[assignmentHash];
        return (d.status, d.anchoredBy, d.anchoredAt, d.jobId);
    }

    /// @notice Reads a dispute.
    function getDispute(uint256 disputeId)
        external
        view
        returns (
            bytes32 assignmentHash,
            bytes32 evidenceHash,
            address challenger,
            uint64 openedAt,
            bool resolved,
            bool upheld
        )
    {
        Dispute storage d = _disputes[disputeId];
        if (d.challenger == address(0)) revert UnknownDispute(disputeId);
        return (d.assignmentHash, d.evidenceHash, d.challenger, d.openedAt, d.resolved, d.upheld);
    }

    // ------------------------------------------------------------------ stake

    /// @notice Bonds the sent ETH as the caller's stake. Anyone may bond (a prospective operator
    ///         can bond before its AddOperator vote); only an operator's stake admits nodes.
    function stake() external payable {
        if (msg.value == 0) revert ZeroValue();
        uint256 bonded = _bonded[msg.sender] + msg.value;
        _bonded[msg.sender] = bonded;
        totalBonded += msg.value;
        emit Staked(msg.sender, msg.value, bonded);
    }

    /// @notice Moves `amount` of the caller's bonded stake into unbonding. All of the caller's
    ///         unbonding stake is released together `unbondingDelay` seconds after the latest
    ///         request, and stays slashable until it is withdrawn.
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroValue();
        uint256 bonded = _bonded[msg.sender];
        if (amount > bonded) revert InsufficientBonded(msg.sender, bonded, amount);
        _bonded[msg.sender] = bonded - amount;
        totalBonded -= amount;
        Unbonding storage u = _unbonding[msg.sender];
        u.amount += amount;
        u.releaseAt = uint64(block.timestamp) + unbondingDelay;
        totalUnbonding += amount;
        emit UnstakeRequested(msg.sender, amount, u.amount, u.releaseAt);
    }

    /// @notice Pays the caller's unbonding stake once its release time has passed.
    /// @return amount The wei sent.
    function withdraw() external returns (uint256 amount) {
        Unbonding storage u = _unbonding[msg.sender];
        amount = u.amount;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (block.timestamp < u.releaseAt) revert UnbondingPending(msg.sender, u.releaseAt);
        delete _unbonding[msg.sender];
        totalUnbonding -= amount;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Pays the caller's reporter rewards (pull payment).
    /// @return amount The wei sent.
    function withdrawRewards() external returns (uint256 amount) {
        amount = _rewards[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _rewards[msg.sender] = 0;
        totalRewardsOwed -= amount;
        emit RewardsWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice The account's bonded stake (excludes unbonding stake).
    function stakeOf(address account) external view returns (uint256) {
        return _bonded[account];
    }

    /// @notice The account's unbonding stake and when `withdraw` can pay it.
    function unbondingOf(address account) external view returns (uint256 amount, uint64 releaseAt) {
        Unbonding storage u = _unbonding[account];
        return (u.amount, u.releaseAt);
    }

    /// @notice Reporter rewards `account` can withdraw.
    function rewardsOf(address account) external view returns (uint256) {
        return _rewards[account];
    }

    /// @notice True when `operator`'s bonded stake is at least `minStake`; nodes gate peers on it.
    function isOperatorStaked(address operator) public view returns (bool) {
        return _bonded[operator] >= minStake;
    }

    // ------------------------------------------------------------------ slashing

    /// @notice The EIP-712 digest an operator signs for a scheduler decision announcement:
    ///         `Announcement(bytes32 jobId,uint32 round,bytes32 decisionHash,bytes32 peerId,bytes32 inputsRoot)`
    ///         under the domain ("VeilRegistry", "1", chain id, this contract).
    /// @param jobId The job the scheduler evaluated.
    /// @param round The job's scheduling round.
    /// @param decisionHash The announced decision's hash (zero: the scheduler could not evaluate).
    /// @param peerId The announcing scheduler's peer-id hash.
    /// @param inputsRoot Root of the input-ciphertext hashes the scheduler evaluated.
    /// @return The digest to sign with the operator's secp256k1 key.
    function announcementDigest(bytes32 jobId, uint32 round, bytes32 decisionHash, bytes32 peerId, bytes32 inputsRoot)
        public
        view
        returns (bytes32)
    {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(ANNOUNCEMENT_TYPEHASH, jobId, round, decisionHash, peerId, inputsRoot))
            );
    }

    /// @notice The id under which one lie (signer, node, job, round) is slashed at most once,
    ///         whether equivocation or contradiction evidence shows it.
    function evidenceId(address signer, bytes32 peerId, bytes32 jobId, uint32 round) public pure returns (bytes32) {
        return keccak256(abi.encode(signer, peerId, jobId, round));
    }

    /// @notice True when the lie `id` (see `evidenceId`) has already been slashed.
    function isEvidenceUsed(bytes32 id) external view returns (bool) {
        return _evidenceUsed[id];
    }

    /// @notice Proves that one signer announced two different decisions for the same node, job and
    ///         round (equivocation), and slashes `slashBps` of the signer's bonded and unbonding
    ///         stake. The caller is credited `reporterBps` of the slash (`withdrawRewards`); the
    ///         rest stays locked. Anyone may report. Each (signer, peerId, jobId, round) is slashed
    ///         at most once. The two announcements may name different inputs roots: an honest
    ///         scheduler evaluates one request per job and round, so two different signed
    ///         decisions for one (job, round, peer) are a lie whatever the inputs. A zero decision
    ///         hash (a scheduler that could not evaluate) is never evidence (NotEquivocation).
    /// @param jobId The job both announcements are for.
    /// @param round The round both announcements are for.
    /// @param peerId The announcing scheduler's peer-id hash.
    /// @param a One announcement, signed over `announcementDigest(jobId, round, a.decisionHash, peerId, a.inputsRoot)`.
    /// @param b The other, signed the same way; both must recover to the same address (InvalidSignature).
    /// @return slashed The wei taken from the signer's stake.
    function submitEvidence(
        bytes32 jobId,
        uint32 round,
        bytes32 peerId,
        SignedAnnouncement calldata a,
        SignedAnnouncement calldata b
    ) external returns (uint256 slashed) {
        if (a.decisionHash == b.decisionHash || a.decisionHash == bytes32(0) || b.decisionHash == bytes32(0)) {
            revert NotEquivocation(a.decisionHash);
        }
        address signer = _recover(announcementDigest(jobId, round, a.decisionHash, peerId, a.inputsRoot), a.signature);
        if (_recover(announcementDigest(jobId, round, b.decisionHash, peerId, b.inputsRoot), b.signature) != signer) {
            revert InvalidSignature();
        }
        slashed = _punish(signer, evidenceId(signer, peerId, jobId, round), jobId, round);
    }

    /// @notice Proves that a scheduler announced a decision that disagrees with an anchored quorum
    ///         decision over the same inputs (contradiction), and slashes its signer exactly as
    ///         `submitEvidence` does (`slashBps`, reporter credited `reporterBps`), under the same
    ///         evidence id: one lie in one round is slashed at most once whichever evidence shows it.
    ///         The anchored decision must be settled: anchored alone with status Anchored or
    ///         Cleared (a disputed or upheld commitment is no settled quorum decision), or proven
    ///         into an anchored batch. The announcement must carry a non-zero decision hash other
    ///         than the anchored one, over the anchored inputs root (a decision over other inputs
    ///         is no lie).
    /// @param anchored The anchored decision; its `deploymentCommitment` is what was anchored.
    /// @param batchRoot Zero when the commitment was anchored alone; else the anchored batch root.
    /// @param proof Sibling hashes from the commitment's leaf up to `batchRoot` (as `verifyInclusion`);
    ///        ignored when `batchRoot` is zero.
    /// @param peerId The announcing scheduler's peer-id hash.
    /// @param announcement The contradicting announcement, signed over `announcementDigest(anchored.jobId,
    ///        anchored.round, announcement.decisionHash, peerId, announcement.inputsRoot)`.
    /// @return slashed The wei taken from the signer's stake.
    function submitContradiction(
        AnchoredDecision calldata anchored,
        bytes32 batchRoot,
        bytes32[] calldata proof,
        bytes32 peerId,
        SignedAnnouncement calldata announcement
    ) external returns (uint256 slashed) {
        bytes32 c = deploymentCommitment(
            anchored.jobId, anchored.round, anchored.decisionHash, anchored.inputsRoot, anchored.schedulers
        );
        if (batchRoot == bytes32(0)) {
            DeploymentStatus st = _deployments[c].status;
            if (st != DeploymentStatus.Anchored && st != DeploymentStatus.Cleared) revert NotAnchoredDecision(c);
        } else if (!_included(batchRoot, c, proof)) {
            revert NotAnchoredDecision(c);
        }
        bytes32 decision = announcement.decisionHash;
        if (decision == bytes32(0) || decision == anchored.decisionHash) revert NotContradiction(decision);
        if (announcement.inputsRoot != anchored.inputsRoot) {
            revert InputsDiffer(announcement.inputsRoot, anchored.inputsRoot);
        }
        address signer = _recover(
            announcementDigest(anchored.jobId, anchored.round, decision, peerId, announcement.inputsRoot),
            announcement.signature
        );
        slashed =
            _punish(signer, evidenceId(signer, peerId, anchored.jobId, anchored.round), anchored.jobId, anchored.round);
    }

    // ------------------------------------------------------------------ batched anchoring

    /// @notice Anchors the Merkle root of `count` deployment commitments in one slot (see
    ///         docs/chain.md for the tree: leaf = keccak256(0x00 ‖ commitment), node =
    ///         keccak256(0x01 ‖ min(a,b) ‖ max(a,b)), an odd node is carried up unchanged).
    /// @return True once anchored; a duplicate root reverts with BatchAlreadyAnchored.
    function anchorBatch(bytes32 root, uint32 count) external onlyOperator returns (bool) {
        if (root == bytes32(0) || count == 0) revert ZeroValue();
        Batch storage b = _batches[root];
        if (b.anchoredBy != address(0)) revert BatchAlreadyAnchored(root);
        b.anchoredBy = msg.sender;
        b.anchoredAt = uint64(block.timestamp);
        b.count = count;
        emit BatchAnchored(root, msg.sender, count);
        return true;
    }

    /// @notice True when `root` is an anchored batch and `proof` leads from `commitment` to it.
    /// @param commitment A deployment commitment (as `deploymentCommitment` computes it), not yet leaf-hashed.
    /// @param proof Sibling hashes from the leaf level up (order within a pair does not matter).
    function verifyInclusion(bytes32 root, bytes32 commitment, bytes32[] calldata proof) external view returns (bool) {
        return _included(root, commitment, proof);
    }

    /// @notice Reads an anchored batch; anchoredBy is zero when the root is unknown.
    function getBatch(bytes32 root) external view returns (address anchoredBy, uint64 anchoredAt, uint32 count) {
        Batch storage b = _batches[root];
        return (b.anchoredBy, b.anchoredAt, b.count);
    }

    /// @notice Leaf hash of a commitment in a batch tree: keccak256(0x00 ‖ commitment).
    function batchLeafHash(bytes32 commitment) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), commitment));
    }

    /// @notice Inner node of a batch tree: keccak256(0x01 ‖ min(a,b) ‖ max(a,b)).
    function batchNodeHash(bytes32 a, bytes32 b) public pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(bytes1(0x01), a, b)) : keccak256(abi.encodePacked(bytes1(0x01), b, a));
    }

    // ------------------------------------------------------------------ reads

    /// @notice The scheduling policy every scheduler must evaluate: abi.encode(policyId, policyParams).
    function getClusterPolicy() external view returns (bytes memory) {
        return abi.encode(policyId, policyParams);
    }

    /// @notice True when `account` is a governance operator.
    function isOperator(address account) external view returns (bool) {
        return _operators.contains(account);
    }

    /// @notice All operators, in no particular order.
    function getOperators() external view returns (address[] memory) {
        return _operators.values();
    }

    /// @notice Peer-ID hashes of all registered nodes (active or not), in no particular order.
    function getNodeIds() external view returns (bytes32[] memory) {
        return _nodeIds.values();
    }

    /// @notice One node's binding; operator is zero when the node is unknown.
    function getNode(bytes32 peerID) external view returns (address operator, bool active, uint64 registeredAt) {
        Node storage n = _nodes[peerID];
        return (n.operator, n.active, n.registeredAt);
    }

    /// @notice All governance-allowed image digests.
    function getAllowedImages() external view returns (bytes32[] memory) {
        return _images.values();
    }

    /// @notice The decryption committee: members, their X25519 keys and the decryption threshold.
    function getCommittee()
        external
        view
        returns (address[] memory members, bytes32[] memory x25519Keys, uint8 threshold)
    {
        return (_committeeMembers, _committeeKeys, _committeeThreshold);
    }

    // ------------------------------------------------------------------ internals

    function _requireStaked(address operator) private view {
        if (!isOperatorStaked(operator)) revert InsufficientStake(operator, _bonded[operator], minStake);
    }

    /// @dev Takes slashBps of both bonded and unbonding stake: unbonding stake is still at risk so
    ///      that requesting an unstake right after a lie does not escape the slash.
    function _slash(address operator) private returns (uint256 slashed) {
        uint256 fromBonded = (_bonded[operator] * slashBps) / BPS;
        Unbonding storage u = _unbonding[operator];
        uint256 fromUnbonding = (u.amount * slashBps) / BPS;
        slashed = fromBonded + fromUnbonding;
        if (slashed == 0) revert NothingToSlash(operator);
        _bonded[operator] -= fromBonded;
        totalBonded -= fromBonded;
        u.amount -= fromUnbonding;
        totalUnbonding -= fromUnbonding;
    }

    /// @dev True when `root` is an anchored batch and `proof` leads from `commitment`'s leaf to it.
    function _included(bytes32 root, bytes32 commitment, bytes32[] calldata proof) private view returns (bool) {
        if (_batches[root].anchoredBy == address(0)) return false;
        bytes32 h = batchLeafHash(commitment);
        for (uint256 i = 0; i < proof.length; i++) {
            h = batchNodeHash(h, proof[i]);
        }
        return h == root;
    }

    /// @dev Slashes `signer` once for the lie `id` (equivocation or contradiction) and credits the
    ///      reporter (msg.sender).
    function _punish(address signer, bytes32 id, bytes32 jobId, uint32 round) private returns (uint256 slashed) {
        if (_evidenceUsed[id]) revert EvidenceAlreadyUsed(id);
        slashed = _slash(signer);
        _evidenceUsed[id] = true;
        uint256 reward = (slashed * reporterBps) / BPS;
        _rewards[msg.sender] += reward;
        totalRewardsOwed += reward;
        totalSlashRetained += slashed - reward;
        emit Slashed(signer, msg.sender, id, jobId, round, slashed, reward);
    }

    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
    }

    /// @dev The last step of a withdrawal: state is already settled, so a re-entering receiver
    ///      finds nothing left to take.
    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    function _ownNode(bytes32 peerID) private view returns (Node storage node) {
        node = _nodes[peerID];
        if (node.operator == address(0)) revert UnknownNode(peerID);
        if (node.operator != msg.sender) revert NotNodeOperator(peerID, msg.sender);
    }

    function _liveProposal(uint256 id) private view returns (Proposal storage p) {
        p = _proposals[id];
        if (p.proposer == address(0)) revert UnknownProposal(id);
        if (p.executed) revert ProposalAlreadyExecuted(id);
        if (p.epoch != operatorEpoch) revert ProposalStale(id, p.epoch, operatorEpoch);
    }

    function _anchor(
        bytes32 assignmentHash,
        bytes32 jobId,
        uint32 round,
        bytes32 decisionHash,
        bytes32 inputsRoot,
        bytes32[] memory schedulers
    ) private {
        if (assignmentHash == bytes32(0)) revert ZeroValue();
        Deployment storage d = _deployments[assignmentHash];
        if (d.status != DeploymentStatus.None) revert AlreadyAnchored(assignmentHash);
        d.status = DeploymentStatus.Anchored;
        d.anchoredBy = msg.sender;
        d.anchoredAt = uint64(block.timestamp);
        d.jobId = jobId;
        emit DeploymentAnchored(assignmentHash, jobId, msg.sender, round, decisionHash, inputsRoot, schedulers);
    }

    /// @dev Checks a payload against the current state so that a proposal that could never be
    ///      executed is refused at creation (state may still change before execution).
    function _validate(ProposalKind kind, bytes calldata data) private view {
        if (kind == ProposalKind.AddOperator || kind == ProposalKind.RemoveOperator) {
            if (data.length != 32) revert InvalidProposalData(kind);
            address who = abi.decode(data, (address));
            if (who == address(0)) revert ZeroValue();
            if (kind == ProposalKind.AddOperator && _operators.contains(who)) revert OperatorAlreadyExists(who);
            if (kind == ProposalKind.RemoveOperator) {
                if (!_operators.contains(who)) revert UnknownOperator(who);
                if (_operators.length() - 1 < quorum) revert InvalidQuorum(quorum, _operators.length() - 1);
            }
        } else if (kind == ProposalKind.AllowImage || kind == ProposalKind.RevokeImage) {
            if (data.length != 32) revert InvalidProposalData(kind);
            if (abi.decode(data, (bytes32)) == bytes32(0)) revert ZeroValue();
        } else if (kind == ProposalKind.SetPolicy) {
            if (data.length < 96) revert InvalidProposalData(kind);
            abi.decode(data, (bytes32, bytes));
        } else if (kind == ProposalKind.SetCommittee) {
            if (data.length < 160) revert InvalidProposalData(kind);
            (address[] memory m, bytes32[] memory k, uint8 t) = abi.decode(data, (address[], bytes32[], uint8));
            _checkCommittee(m, k, t);
        } else if (kind == ProposalKind.SetClusterKeys) {
            if (data.length != 64) revert InvalidProposalData(kind);
        } else if (kind == ProposalKind.SetGovernance) {
            if (data.length != 96) revert InvalidProposalData(kind);
            (uint64 q,,) = abi.decode(data, (uint64, uint64, uint64));
            if (q == 0 || q > _operators.length()) revert InvalidQuorum(q, _operators.length());
        } else if (kind == ProposalKind.ResolveDispute) {
            if (data.length != 64) revert InvalidProposalData(kind);
            (uint256 disputeId,) = abi.decode(data, (uint256, bool));
            Dispute storage d = _disputes[disputeId];
            if (d.challenger == address(0)) revert UnknownDispute(disputeId);
            if (d.resolved) revert DisputeAlreadyResolved(disputeId);
        } else if (kind == ProposalKind.SetStakeParams) {
            if (data.length != 128) revert InvalidProposalData(kind);
            (,, uint16 slash, uint16 reporter) = abi.decode(data, (uint256, uint64, uint16, uint16));
            if (slash > BPS || reporter > BPS) revert InvalidStakeParams(slash, reporter);
        }
    }

    function _apply(ProposalKind kind, bytes memory data) private {
        if (kind == ProposalKind.AddOperator) {
            _addOperator(abi.decode(data, (address)));
        } else if (kind == ProposalKind.RemoveOperator) {
            address who = abi.decode(data, (address));
            if (!_operators.contains(who)) revert UnknownOperator(who);
            if (_operators.length() - 1 < quorum) revert InvalidQuorum(quorum, _operators.length() - 1);
            _operators.remove(who);
            operatorEpoch++;
            emit OperatorRemoved(who);
        } else if (kind == ProposalKind.SetPolicy) {
            (bytes32 id, bytes memory params) = abi.decode(data, (bytes32, bytes));
            policyId = id;
            policyParams = params;
            emit PolicyChanged(id, params);
        } else if (kind == ProposalKind.AllowImage) {
            bytes32 digest = abi.decode(data, (bytes32));
            if (!_images.add(digest)) revert ImageAlreadyAllowed(digest);
            emit ImageAllowed(digest);
        } else if (kind == ProposalKind.RevokeImage) {
            bytes32 digest = abi.decode(data, (bytes32));
            if (!_images.remove(digest)) revert ImageNotAllowed(digest);
            emit ImageRevoked(digest);
        } else if (kind == ProposalKind.SetCommittee) {
            (address[] memory m, bytes32[] memory k, uint8 t) = abi.decode(data, (address[], bytes32[], uint8));
            _checkCommittee(m, k, t);
            _committeeMembers = m;
            _committeeKeys = k;
            _committeeThreshold = t;
            emit CommitteeChanged(m, k, t);
        } else if (kind == ProposalKind.SetClusterKeys) {
            (bytes32 pk, bytes32 sk) = abi.decode(data, (bytes32, bytes32));
            fheCompactPublicKeyHash = pk;
            fheServerKeyHash = sk;
            emit ClusterKeysChanged(pk, sk);
        } else if (kind == ProposalKind.SetGovernance) {
            (uint64 q, uint64 delay, uint64 window) = abi.decode(data, (uint64, uint64, uint64));
            _setGovernance(q, delay, window);
        } else if (kind == ProposalKind.SetStakeParams) {
            (uint256 min, uint64 delay, uint16 slash, uint16 reporter) =
                abi.decode(data, (uint256, uint64, uint16, uint16));
            minStake = min;
            unbondingDelay = delay;
            slashBps = slash;
            reporterBps = reporter;
            emit StakeParamsChanged(min, delay, slash, reporter);
        } else {
            (uint256 disputeId, bool upheld) = abi.decode(data, (uint256, bool));
            Dispute storage d = _disputes[disputeId];
            if (d.resolved) revert DisputeAlreadyResolved(disputeId);
            d.resolved = true;
            d.upheld = upheld;
            _deployments[d.assignmentHash].status = upheld ? DeploymentStatus.Upheld : DeploymentStatus.Cleared;
            emit DisputeResolved(disputeId, d.assignmentHash, upheld);
        }
    }

    function _addOperator(address who) private {
        if (who == address(0)) revert ZeroValue();
        if (!_operators.add(who)) revert OperatorAlreadyExists(who);
        operatorEpoch++;
        emit OperatorAdded(who);
    }

    function _setGovernance(uint64 quorum_, uint64 executionDelay_, uint64 disputeWindow_) private {
        if (quorum_ == 0 || quorum_ > _operators.length()) revert InvalidQuorum(quorum_, _operators.length());
        quorum = quorum_;
        executionDelay = executionDelay_;
        disputeWindow = disputeWindow_;
        emit GovernanceChanged(quorum_, executionDelay_, disputeWindow_);
    }

    function _checkCommittee(address[] memory members, bytes32[] memory keys, uint8 threshold) private pure {
        if (members.length == 0 || members.length != keys.length || threshold == 0 || threshold > members.length) {
            revert InvalidCommittee(members.length, keys.length, threshold);
        }
    }
}
