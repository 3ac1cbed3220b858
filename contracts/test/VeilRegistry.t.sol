// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryTest} from "./utils/RegistryTest.sol";
import {VeilRegistry} from "../src/VeilRegistry.sol";

/// Unit and fuzz tests of VeilRegistry: one scenario per behaviour, every refusal checked by its
/// custom error and arguments.
contract VeilRegistryTest is RegistryTest {
    address internal mallory = address(0xBAD);
    uint64 internal constant WINDOW = 1 days;
    bytes32 internal constant IMAGE = keccak256("busybox");

    function setUp() public {
        alice = address(0xA11CE);
        bob = address(0xB0B);
        carol = address(0xCA401);
        address[] memory ops = new address[](3);
        ops[0] = alice;
        ops[1] = bob;
        ops[2] = carol;
        reg = new VeilRegistry("test-cluster", ops, 2, DELAY, WINDOW);
    }

    function _schedulers() internal pure returns (bytes32[] memory s) {
        s = new bytes32[](2);
        s[0] = keccak256("sched-1");
        s[1] = keccak256("sched-2");
    }

    // ---------------------------------------------------------------- construction

    function test_ConstructorSetsMetadataAndOperators() public view {
        vm.assertEq(keccak256(bytes(reg.clusterName())), keccak256("test-cluster"), "name");
        vm.assertEq(reg.getOperators().length, 3, "operators");
        vm.assertTrue(reg.isOperator(bob), "bob is operator");
        vm.assertFalse(reg.isOperator(mallory), "mallory is not");
        vm.assertEq(uint256(reg.quorum()), 2, "quorum");
        vm.assertEq(uint256(reg.executionDelay()), DELAY, "delay");
        vm.assertEq(uint256(reg.disputeWindow()), WINDOW, "window");
    }

    function test_ConstructorRejectsQuorumAboveOperators() public {
        address[] memory ops = new address[](1);
        ops[0] = alice;
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidQuorum.selector, uint64(2), uint256(1)));
        new VeilRegistry("x", ops, 2, 0, 0);
    }

    function test_ConstructorRejectsDuplicateOperator() public {
        address[] memory ops = new address[](2);
        ops[0] = alice;
        ops[1] = alice;
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.OperatorAlreadyExists.selector, alice));
        new VeilRegistry("x", ops, 1, 0, 0);
    }

    // ---------------------------------------------------------------- nodes

    function test_RegisterNodeBindsPeerToOperator() public {
        bytes32 peer = keccak256("peer-a");
        vm.expectEmit(true, true, false, true);
        emit VeilRegistry.NodeRegistered(peer, alice);
        vm.prank(alice);
        reg.registerNode(peer, alice);
        (address op, bool active,) = reg.getNode(peer);
        vm.assertEq(op, alice, "operator");
        vm.assertTrue(active, "active");
        vm.assertEq(reg.getNodeIds().length, 1, "one node");
    }

    function test_RegisterNodeByNonOperatorReverts() public {
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, mallory));
        reg.registerNode(keccak256("p"), mallory);
    }

    function test_RegisterNodeForAnotherOperatorReverts() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.CallerMustBeOperator.selector, alice, bob));
        reg.registerNode(keccak256("p"), bob);
    }

    function test_RegisterNodeTwiceReverts() public {
        bytes32 peer = keccak256("p");
        vm.prank(alice);
        reg.registerNode(peer, alice);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NodeAlreadyRegistered.selector, peer));
        reg.registerNode(peer, bob);
    }

    function test_NodeDeactivateReactivateExit() public {
        bytes32 peer = keccak256("p");
        vm.startPrank(alice);
        reg.registerNode(peer, alice);
        reg.deactivateNode(peer);
        (, bool active,) = reg.getNode(peer);
        vm.assertFalse(active, "inactive");
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NodeStateUnchanged.selector, peer, false));
        reg.deactivateNode(peer);
        reg.reactivateNode(peer);
        reg.exitNode(peer);
        vm.stopPrank();
        (address op,,) = reg.getNode(peer);
        vm.assertEq(op, address(0), "gone");
        vm.assertEq(reg.getNodeIds().length, 0, "no nodes");
    }

    function test_OnlyTheNodesOperatorManagesIt() public {
        bytes32 peer = keccak256("p");
        vm.prank(alice);
        reg.registerNode(peer, alice);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotNodeOperator.selector, peer, bob));
        reg.exitNode(peer);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.UnknownNode.selector, keccak256("q")));
        reg.deactivateNode(keccak256("q"));
    }

    // ---------------------------------------------------------------- governance

    function test_GovernanceRoundAllowsImage() public {
        vm.prank(alice);
        uint256 id = reg.propose(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
        vm.prank(alice);
        reg.vote(id, true);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.QuorumNotReached.selector, id, uint64(1), uint64(2)));
        reg.execute(id);
        vm.prank(bob);
        reg.vote(id, true);
        uint64 execAt = uint64(block.timestamp) + DELAY;
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ExecutionDelayPending.selector, id, execAt));
        reg.execute(id);
        vm.warp(execAt);
        vm.expectEmit(true, false, false, true);
        emit VeilRegistry.ImageAllowed(IMAGE);
        vm.prank(carol);
        reg.execute(id);
        vm.assertTrue(reg.isImageAllowed(IMAGE), "allowed");
        vm.assertEq(reg.getAllowedImages().length, 1, "listed");
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ProposalAlreadyExecuted.selector, id));
        reg.execute(id);
    }

    function test_RevokeImage() public {
        _pass(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
        _pass(VeilRegistry.ProposalKind.RevokeImage, abi.encode(IMAGE));
        vm.assertFalse(reg.isImageAllowed(IMAGE), "revoked");
    }

    function test_OperatorImageAcl() public {
        _pass(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
        vm.prank(bob);
        reg.setOperatorImageAcl(IMAGE, true);
        vm.assertFalse(reg.isImageAllowedFor(IMAGE, bob), "bob refuses");
        vm.assertTrue(reg.isImageAllowedFor(IMAGE, alice), "alice runs it");
    }

    function test_DoubleVoteReverts() public {
        vm.prank(alice);
        uint256 id = reg.propose(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
        vm.prank(bob);
        reg.vote(id, false);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.AlreadyVoted.selector, id, bob));
        reg.vote(id, true);
    }

    function test_AddOperatorMakesOlderProposalsStale() public {
        vm.prank(alice);
        uint256 pending = reg.propose(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
        _pass(VeilRegistry.ProposalKind.AddOperator, abi.encode(mallory));
        vm.assertTrue(reg.isOperator(mallory), "added");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ProposalStale.selector, pending, uint64(3), uint64(4)));
        reg.vote(pending, true);
    }

    function test_RemoveOperator() public {
        _pass(VeilRegistry.ProposalKind.RemoveOperator, abi.encode(carol));
        vm.assertFalse(reg.isOperator(carol), "removed");
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, carol));
        reg.propose(VeilRegistry.ProposalKind.AllowImage, abi.encode(IMAGE));
    }

    function test_RemoveOperatorBelowQuorumRefused() public {
        _pass(VeilRegistry.ProposalKind.RemoveOperator, abi.encode(carol));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidQuorum.selector, uint64(2), uint256(1)));
        reg.propose(VeilRegistry.ProposalKind.RemoveOperator, abi.encode(bob));
    }

    function test_SetPolicyChangesClusterPolicy() public {
        bytes memory params = abi.encode(uint256(3), "binpack");
        _pass(VeilRegistry.ProposalKind.SetPolicy, abi.encode(bytes32("binpack-v1"), params));
        vm.assertEq(reg.getClusterPolicy(), abi.encode(bytes32("binpack-v1"), params), "policy");
    }

    function test_SetCommitteeAndKeys() public {
        address[] memory m = new address[](2);
        m[0] = alice;
        m[1] = bob;
        bytes32[] memory k = new bytes32[](2);
        k[0] = keccak256("xa");
        k[1] = keccak256("xb");
        _pass(VeilRegistry.ProposalKind.SetCommittee, abi.encode(m, k, uint8(2)));
        (address[] memory gm, bytes32[] memory gk, uint8 t) = reg.getCommittee();
        vm.assertEq(gm.length, 2, "members");
        vm.assertEq(gk[1], k[1], "key");
        vm.assertEq(uint256(t), 2, "threshold");
        _pass(VeilRegistry.ProposalKind.SetClusterKeys, abi.encode(keccak256("pk"), keccak256("sk")));
        vm.assertEq(reg.fheCompactPublicKeyHash(), keccak256("pk"), "pk");
        vm.assertEq(reg.fheServerKeyHash(), keccak256("sk"), "sk");
    }

    function test_InvalidCommitteeRefusedAtProposal() public {
        address[] memory m = new address[](1);
        m[0] = alice;
        bytes32[] memory k = new bytes32[](1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.InvalidCommittee.selector, uint256(1), uint256(1), uint8(2))
        );
        reg.propose(VeilRegistry.ProposalKind.SetCommittee, abi.encode(m, k, uint8(2)));
    }

    function test_MalformedPayloadRefused() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.InvalidProposalData.selector, VeilRegistry.ProposalKind.AllowImage)
        );
        reg.propose(VeilRegistry.ProposalKind.AllowImage, hex"1234");
    }

    function test_SetGovernance() public {
        _pass(VeilRegistry.ProposalKind.SetGovernance, abi.encode(uint64(3), uint64(10), uint64(20)));
        vm.assertEq(uint256(reg.quorum()), 3, "quorum");
        vm.assertEq(uint256(reg.disputeWindow()), 20, "window");
    }

    // ---------------------------------------------------------------- anchoring and disputes

    function test_AnchorCommitmentEmitsItsParts() public {
        bytes32 job = keccak256("job-1");
        bytes32[] memory s = _schedulers();
        bytes32 expected = keccak256(abi.encode(job, uint32(3), keccak256("d"), keccak256("in"), s));
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.DeploymentAnchored(expected, job, alice, 3, keccak256("d"), keccak256("in"), s);
        vm.prank(alice);
        bytes32 h = reg.anchorCommitment(job, 3, keccak256("d"), keccak256("in"), s);
        vm.assertEq(h, expected, "hash");
        (VeilRegistry.DeploymentStatus st, address by,, bytes32 gotJob) = reg.getDeployment(h);
        vm.assertEq(uint256(st), uint256(VeilRegistry.DeploymentStatus.Anchored), "status");
        vm.assertEq(by, alice, "anchoredBy");
        vm.assertEq(gotJob, job, "job");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.AlreadyAnchored.selector, h));
        reg.anchorCommitment(job, 3, keccak256("d"), keccak256("in"), s);
        // The same decision in another round is another commitment.
        vm.prank(bob);
        vm.assertTrue(reg.anchorCommitment(job, 4, keccak256("d"), keccak256("in"), s) != h, "round is bound");
    }

    function test_SeedAnchorDeploymentReturnsTrue() public {
        bytes32[] memory none;
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.DeploymentAnchored(keccak256("a"), bytes32(0), bob, 0, bytes32(0), bytes32(0), none);
        vm.prank(bob);
        vm.assertTrue(reg.anchorDeployment(keccak256("a")), "anchored");
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, mallory));
        reg.anchorDeployment(keccak256("b"));
    }

    function test_DisputeUpheldByGovernance() public {
        vm.prank(alice);
        bytes32 h = reg.anchorCommitment(keccak256("job"), 1, keccak256("d"), keccak256("in"), _schedulers());
        vm.prank(bob);
        uint256 disputeId = reg.openDispute(h, keccak256("evidence"));
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(
                VeilRegistry.DeploymentNotDisputable.selector, h, VeilRegistry.DeploymentStatus.Disputed
            )
        );
        reg.openDispute(h, keccak256("again"));
        _pass(VeilRegistry.ProposalKind.ResolveDispute, abi.encode(disputeId, true));
        (,,,, bool resolved, bool upheld) = reg.getDispute(disputeId);
        vm.assertTrue(resolved && upheld, "upheld");
        (VeilRegistry.DeploymentStatus st,,,) = reg.getDeployment(h);
        vm.assertEq(uint256(st), uint256(VeilRegistry.DeploymentStatus.Upheld), "status");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.DisputeAlreadyResolved.selector, disputeId));
        reg.propose(VeilRegistry.ProposalKind.ResolveDispute, abi.encode(disputeId, false));
    }

    function test_DisputeAfterWindowReverts() public {
        vm.prank(alice);
        reg.anchorDeployment(keccak256("a"));
        uint64 closes = uint64(block.timestamp) + WINDOW;
        vm.warp(closes + 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.DisputeWindowClosed.selector, keccak256("a"), closes));
        reg.openDispute(keccak256("a"), keccak256("e"));
    }

    function test_DisputeUnknownDeploymentReverts() public {
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.UnknownDeployment.selector, keccak256("nope")));
        reg.openDispute(keccak256("nope"), keccak256("e"));
    }

    // ---------------------------------------------------------------- fuzz

    /// Any caller outside the operator set is refused by every mutating entry point.
    function testFuzz_UnauthorizedCallerAlwaysReverts(address caller, bytes32 value, uint8 which) public {
        vm.assume(!reg.isOperator(caller));
        bytes memory err = abi.encodeWithSelector(VeilRegistry.NotOperator.selector, caller);
        vm.prank(caller);
        vm.expectRevert(err);
        uint256 w = which % 7;
        if (w == 0) reg.registerNode(value, caller);
        else if (w == 1) reg.propose(VeilRegistry.ProposalKind.AllowImage, abi.encode(value));
        else if (w == 2) reg.vote(uint256(value), true);
        else if (w == 3) reg.execute(uint256(value));
        else if (w == 4) reg.anchorDeployment(value);
        else if (w == 5) reg.openDispute(value, value);
        else reg.setOperatorImageAcl(value, true);
    }

    /// The on-chain commitment equals the off-chain formula and binds every field.
    function testFuzz_CommitmentMatchesFormula(
        bytes32 job,
        uint32 round,
        bytes32 d,
        bytes32 inputs,
        bytes32 s0,
        bytes32 s1
    ) public view {
        bytes32[] memory s = new bytes32[](2);
        s[0] = s0;
        s[1] = s1;
        bytes32 h = reg.deploymentCommitment(job, round, d, inputs, s);
        vm.assertEq(h, keccak256(abi.encode(job, round, d, inputs, s)), "formula");
        vm.assertTrue(h != reg.deploymentCommitment(job, round, d ^ bytes32(uint256(1)), inputs, s), "binds decision");
        vm.assertTrue(h != reg.deploymentCommitment(job, round ^ 1, d, inputs, s), "binds round");
        vm.assertTrue(h != reg.deploymentCommitment(job, round, d, inputs ^ bytes32(uint256(1)), s), "binds inputs");
    }

    /// Any non-zero peer id can be registered once, by its own operator.
    function testFuzz_RegisterNode(bytes32 peer, uint8 who) public {
        vm.assume(peer != bytes32(0));
        address op = [alice, bob, carol][who % 3];
        vm.prank(op);
        reg.registerNode(peer, op);
        (address got,,) = reg.getNode(peer);
        vm.assertEq(got, op, "bound");
    }

    /// Quorum must lie in 1..operators; anything else is refused when proposed.
    function testFuzz_GovernanceQuorumBounds(uint64 q) public {
        vm.prank(alice);
        if (q == 0 || q > 3) {
            vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidQuorum.selector, q, uint256(3)));
        }
        reg.propose(VeilRegistry.ProposalKind.SetGovernance, abi.encode(q, uint64(0), uint64(0)));
    }
}
