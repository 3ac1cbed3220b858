// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title VeilRegistry
/// @notice The shared memory and court of a Veil cluster: who the operators and nodes are, what
///         the cluster agreed to run (FHE keys, decryption committee, scheduling policy, allowed
///         images), and commitments to every deployment that anyone can audit and dispute.
///         Telemetry never touches the chain; only hashes and commitments do.
/// @dev Governance is a flat operator set with a yes-vote quorum and an execution delay. Every
///      change to the operator set starts a new "epoch"; proposals of an older epoch can no longer
///      be voted on or executed, so the votes of a live proposal never exceed the operator count.
///      Every state change emits an event and every refused call reverts with a custom error.
contract VeilRegistry {
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
        ResolveDispute //    abi.encode(uint256 disputeId, bool upheld)
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

    struct Dispute {
        bytes32 assignmentHash;
        bytes32 evidenceHash;
        address challenger;
        uint64 openedAt;
        bool resolved;
        bool upheld;
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
        bytes32 decisionHash,
        bytes32 inputsRoot,
        bytes32[] schedulers
    );
    event DisputeOpened(
        uint256 indexed disputeId, bytes32 indexed assignmentHash, address indexed challenger, bytes32 evidenceHash
    );
    event DisputeResolved(uint256 indexed disputeId, bytes32 indexed assignmentHash, bool upheld);

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

    EnumerableSet.AddressSet private _operators;
    EnumerableSet.Bytes32Set private _nodeIds;
    EnumerableSet.Bytes32Set private _images;
    mapping(bytes32 => Node) private _nodes;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(address => bool)) private _voted;
    mapping(address => mapping(bytes32 => bool)) private _operatorDenies;
    mapping(bytes32 => Deployment) private _deployments;
    mapping(uint256 => Dispute) private _disputes;

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
    ) {
        clusterName = name;
        for (uint256 i = 0; i < operators.length; i++) {
            _addOperator(operators[i]);
        }
        _setGovernance(quorum_, executionDelay_, disputeWindow_);
    }

    // ------------------------------------------------------------------ nodes

    /// @notice Binds a node (hash of its libp2p PeerId) to an operator. The caller must be that
    ///         operator: an operator registers its own nodes, nobody registers for another.
    /// @param peerID keccak256 of the node's libp2p PeerId bytes.
    /// @param operator The operator running the node; must equal msg.sender.
    function registerNode(bytes32 peerID, address operator) external onlyOperator {
        if (operator != msg.sender) revert CallerMustBeOperator(msg.sender, operator);
        if (peerID == bytes32(0)) revert ZeroValue();
        if (_nodes[peerID].operator != address(0)) revert NodeAlreadyRegistered(peerID);
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

    /// @notice Re-activates one of the caller's inactive nodes; the caller must still be an operator.
    function reactivateNode(bytes32 peerID) external onlyOperator {
        Node storage node = _ownNode(peerID);
        if (node.active) revert NodeStateUnchanged(peerID, true);
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

    /// @notice The commitment to one deployment decision, as the contract and the auditors compute it.
    function deploymentCommitment(bytes32 jobId, bytes32 decisionHash, bytes32 inputsRoot, bytes32[] memory schedulers)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(jobId, decisionHash, inputsRoot, schedulers));
    }

    /// @notice Anchors an opaque assignment hash (the seed interface). Prefer `anchorCommitment`,
    ///         which records what the hash commits to.
    /// @return True once anchored; a duplicate reverts with AlreadyAnchored.
    function anchorDeployment(bytes32 assignmentHash) external onlyOperator returns (bool) {
        bytes32[] memory none;
        _anchor(assignmentHash, bytes32(0), bytes32(0), bytes32(0), none);
        return true;
    }

    /// @notice Anchors the commitment to (job, decision, input-ciphertext hashes root, scheduler
    ///         set) and emits every part of it, so auditors can recompute it from the event.
    /// @return assignmentHash The anchored commitment.
    function anchorCommitment(bytes32 jobId, bytes32 decisionHash, bytes32 inputsRoot, bytes32[] calldata schedulers)
        external
        onlyOperator
        returns (bytes32 assignmentHash)
    {
        if (jobId == bytes32(0)) revert ZeroValue();
        assignmentHash = deploymentCommitment(jobId, decisionHash, inputsRoot, schedulers);
        _anchor(assignmentHash, jobId, decisionHash, inputsRoot, schedulers);
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
        emit DeploymentAnchored(assignmentHash, jobId, msg.sender, decisionHash, inputsRoot, schedulers);
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
