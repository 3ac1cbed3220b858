// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryTest} from "./utils/RegistryTest.sol";
import {VeilRegistry} from "../src/VeilRegistry.sol";

/// Re-enters the registry from receive(): tries to withdraw stake and rewards a second time.
contract ReentrantWithdrawer {
    VeilRegistry internal immutable reg;
    uint256 public reentryAttempts;
    uint256 public reentrySuccesses;

    constructor(VeilRegistry reg_) {
        reg = reg_;
    }

    function stake() external payable {
        reg.stake{value: msg.value}();
    }

    function requestUnstake(uint256 amount) external {
        reg.requestUnstake(amount);
    }

    function withdraw() external {
        reg.withdraw();
    }

    function withdrawRewards() external {
        reg.withdrawRewards();
    }

    receive() external payable {
        if (reentryAttempts > 0) return;
        reentryAttempts++;
        try reg.withdraw() {
            reentrySuccesses++;
        } catch {}
        try reg.withdrawRewards() {
            reentrySuccesses++;
        } catch {}
    }
}

/// A stake holder that cannot receive ETH.
contract Unpayable {
    function stakeInto(VeilRegistry reg) external payable {
        reg.stake{value: msg.value}();
    }

    function unstake(VeilRegistry reg, uint256 amount) external {
        reg.requestUnstake(amount);
    }

    function withdrawFrom(VeilRegistry reg) external {
        reg.withdraw();
    }
}

/// Unit and fuzz tests of stake, slashing for equivocation and batched anchoring (issue 22).
contract VeilRegistryStakeTest is RegistryTest {
    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant BOB_PK = 0xB0B;
    uint256 internal constant MALLORY_PK = 0xBAD;
    address internal mallory;
    address internal reporter = address(0x4E9);
    bytes32 internal constant JOB = keccak256("job-1");
    bytes32 internal constant PEER = keccak256("12D3KooWpeer");
    bytes32 internal constant D1 = keccak256("decision-1");
    bytes32 internal constant D2 = keccak256("decision-2");
    bytes32 internal constant IN = keccak256("inputs-1");

    function setUp() public {
        alice = vm.addr(ALICE_PK);
        bob = vm.addr(BOB_PK);
        mallory = vm.addr(MALLORY_PK);
        carol = address(0xCA401);
        address[] memory ops = new address[](3);
        ops[0] = alice;
        ops[1] = bob;
        ops[2] = carol;
        reg = new VeilRegistry("stake-cluster", ops, 2, DELAY, 1 days);
        vm.deal(alice, 100 ether);
        vm.deal(bob, 100 ether);
        vm.deal(mallory, 100 ether);
    }

    // ---------------------------------------------------------------- helpers

    function _setStakeParams(uint256 min, uint64 delay, uint16 slash, uint16 rep) internal {
        _pass(VeilRegistry.ProposalKind.SetStakeParams, abi.encode(min, delay, slash, rep));
    }

    function _stake(address who, uint256 amount) internal {
        vm.prank(who);
        reg.stake{value: amount}();
    }

    /// A signature over an announcement of `decision` evaluated over the inputs IN.
    function _sign(uint256 pk, bytes32 job, uint32 round, bytes32 decision, bytes32 peer)
        internal
        view
        returns (bytes memory)
    {
        return _signOver(pk, job, round, decision, peer, IN);
    }

    function _signOver(uint256 pk, bytes32 job, uint32 round, bytes32 decision, bytes32 peer, bytes32 inputs)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, reg.announcementDigest(job, round, decision, peer, inputs));
        return abi.encodePacked(r, s, v);
    }

    function _ann(bytes32 decision, bytes memory sig) internal pure returns (VeilRegistry.SignedAnnouncement memory) {
        return VeilRegistry.SignedAnnouncement({decisionHash: decision, inputsRoot: IN, signature: sig});
    }

    function _annOver(bytes32 decision, bytes32 inputs, bytes memory sig)
        internal
        pure
        returns (VeilRegistry.SignedAnnouncement memory)
    {
        return VeilRegistry.SignedAnnouncement({decisionHash: decision, inputsRoot: inputs, signature: sig});
    }

    function _equivocate(uint256 pk) internal returns (uint256) {
        bytes memory a = _sign(pk, JOB, 7, D1, PEER);
        bytes memory b = _sign(pk, JOB, 7, D2, PEER);
        vm.prank(reporter);
        return reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, b));
    }

    function _accounted() internal view returns (uint256) {
        return reg.totalBonded() + reg.totalUnbonding() + reg.totalRewardsOwed() + reg.totalSlashRetained();
    }

    // ---------------------------------------------------------------- stake

    function test_DefaultsLeaveRegistrationOpen() public view {
        vm.assertEq(reg.minStake(), 0, "minStake");
        vm.assertEq(uint256(reg.unbondingDelay()), 7 days, "unbonding");
        vm.assertEq(uint256(reg.slashBps()), 5_000, "slash");
        vm.assertEq(uint256(reg.reporterBps()), 1_000, "reporter");
        vm.assertTrue(reg.isOperatorStaked(alice), "staked at minStake 0");
    }

    function test_StakeBondsAndEmits() public {
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.Staked(alice, 3 ether, 3 ether);
        _stake(alice, 3 ether);
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.Staked(alice, 1 ether, 4 ether);
        _stake(alice, 1 ether);
        vm.assertEq(reg.stakeOf(alice), 4 ether, "bonded");
        vm.assertEq(reg.totalBonded(), 4 ether, "total");
        vm.assertEq(address(reg).balance, 4 ether, "balance");
    }

    function test_StakeZeroReverts() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ZeroValue.selector));
        reg.stake{value: 0}();
    }

    function test_RequestUnstakeMovesStakeToUnbonding() public {
        _stake(alice, 5 ether);
        uint64 releaseAt = uint64(block.timestamp) + 7 days;
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.UnstakeRequested(alice, 2 ether, 2 ether, releaseAt);
        vm.prank(alice);
        reg.requestUnstake(2 ether);
        (uint256 amount, uint64 releaseTime) = reg.unbondingOf(alice);
        vm.assertEq(amount, 2 ether, "unbonding");
        vm.assertEq(uint256(releaseTime), releaseAt, "releaseAt");
        vm.assertEq(reg.stakeOf(alice), 3 ether, "bonded");
        vm.assertEq(reg.totalUnbonding(), 2 ether, "total unbonding");
    }

    function test_RequestUnstakeZeroReverts() public {
        _stake(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ZeroValue.selector));
        reg.requestUnstake(0);
    }

    function test_RequestUnstakeAboveBondedReverts() public {
        _stake(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InsufficientBonded.selector, alice, 1 ether, 2 ether));
        reg.requestUnstake(2 ether);
    }

    function test_WithdrawWaitsOutTheUnbondingDelay() public {
        _stake(alice, 5 ether);
        vm.prank(alice);
        reg.requestUnstake(2 ether);
        uint64 releaseAt = uint64(block.timestamp) + 7 days;
        vm.warp(releaseAt - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.UnbondingPending.selector, alice, releaseAt));
        reg.withdraw();
        vm.warp(releaseAt);
        uint256 before = alice.balance;
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.Withdrawn(alice, 2 ether);
        vm.prank(alice);
        vm.assertEq(reg.withdraw(), 2 ether, "returned");
        vm.assertEq(alice.balance - before, 2 ether, "paid");
        vm.assertEq(reg.totalUnbonding(), 0, "total unbonding");
        vm.assertEq(address(reg).balance, 3 ether, "balance");
    }

    function test_WithdrawNothingReverts() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NothingToWithdraw.selector, alice));
        reg.withdraw();
    }

    function test_SecondUnstakeRequestMovesTheReleaseTime() public {
        _stake(alice, 5 ether);
        vm.prank(alice);
        reg.requestUnstake(1 ether);
        vm.warp(block.timestamp + 3 days);
        vm.prank(alice);
        reg.requestUnstake(1 ether);
        (uint256 amount, uint64 releaseTime) = reg.unbondingOf(alice);
        vm.assertEq(amount, 2 ether, "both requests");
        vm.assertEq(uint256(releaseTime), block.timestamp + 7 days, "release from the latest request");
    }

    function test_WithdrawToUnpayableReceiverReverts() public {
        Unpayable u = new Unpayable();
        u.stakeInto{value: 1 ether}(reg);
        u.unstake(reg, 1 ether);
        vm.warp(block.timestamp + 7 days);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.TransferFailed.selector, address(u), 1 ether));
        u.withdrawFrom(reg);
        (uint256 amount,) = reg.unbondingOf(address(u));
        vm.assertEq(amount, 1 ether, "stake kept after a failed transfer");
    }

    function test_ReentrantWithdrawGetsNothingMore() public {
        ReentrantWithdrawer attacker = new ReentrantWithdrawer(reg);
        vm.deal(address(attacker), 0);
        _stake(alice, 10 ether); // other people's money in the contract
        attacker.stake{value: 2 ether}();
        attacker.requestUnstake(2 ether);
        vm.warp(block.timestamp + 7 days);
        attacker.withdraw();
        vm.assertEq(attacker.reentryAttempts(), 1, "receive() re-entered");
        vm.assertEq(attacker.reentrySuccesses(), 0, "re-entry took nothing");
        vm.assertEq(address(attacker).balance, 2 ether, "paid exactly once");
        vm.assertEq(address(reg).balance, 10 ether, "others' stake intact");
        vm.assertEq(address(reg).balance, _accounted(), "balance accounted");
    }

    function test_ReentrantWithdrawRewardsGetsNothingMore() public {
        ReentrantWithdrawer attacker = new ReentrantWithdrawer(reg);
        _stake(alice, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory b = _sign(ALICE_PK, JOB, 7, D2, PEER);
        vm.prank(address(attacker));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, b));
        uint256 reward = reg.rewardsOf(address(attacker));
        vm.assertEq(reward, 0.5 ether, "10% of a 5 ether slash");
        attacker.withdrawRewards();
        vm.assertEq(attacker.reentrySuccesses(), 0, "re-entry took nothing");
        vm.assertEq(address(attacker).balance, reward, "paid exactly once");
        vm.assertEq(address(reg).balance, _accounted(), "balance accounted");
    }

    function testFuzz_StakeUnstakeWithdraw(uint256 amount, uint256 part, uint32 wait) public {
        amount = bound(amount, 1, 100 ether);
        part = bound(part, 1, amount);
        _stake(alice, amount);
        vm.prank(alice);
        reg.requestUnstake(part);
        vm.assertEq(address(reg).balance, _accounted(), "accounted after unstake");
        vm.warp(block.timestamp + wait);
        vm.prank(alice);
        if (wait < 7 days) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    VeilRegistry.UnbondingPending.selector, alice, uint64(block.timestamp - wait) + 7 days
                )
            );
            reg.withdraw();
        } else {
            vm.assertEq(reg.withdraw(), part, "withdrawn");
            vm.assertEq(reg.stakeOf(alice), amount - part, "bonded left");
        }
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
    }

    // ---------------------------------------------------------------- minimum stake and its governance

    function test_RegisterNodeNeedsMinStake() public {
        _setStakeParams(2 ether, 1 days, 5_000, 1_000);
        vm.assertFalse(reg.isOperatorStaked(alice), "not staked yet");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InsufficientStake.selector, alice, 0, 2 ether));
        reg.registerNode(PEER, alice);
        _stake(alice, 2 ether);
        vm.assertTrue(reg.isOperatorStaked(alice), "staked");
        vm.prank(alice);
        reg.registerNode(PEER, alice);
        (address op, bool active,) = reg.getNode(PEER);
        vm.assertEq(op, alice, "registered");
        vm.assertTrue(active, "active");
    }

    function test_ReactivateNodeNeedsMinStake() public {
        vm.prank(alice);
        reg.registerNode(PEER, alice);
        vm.prank(alice);
        reg.deactivateNode(PEER);
        _setStakeParams(1 ether, 1 days, 5_000, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InsufficientStake.selector, alice, 0, 1 ether));
        reg.reactivateNode(PEER);
        _stake(alice, 1 ether);
        vm.prank(alice);
        reg.reactivateNode(PEER);
    }

    function test_SetStakeParamsAppliesAndEmits() public {
        uint256 id = _passed(
            VeilRegistry.ProposalKind.SetStakeParams,
            abi.encode(uint256(3 ether), uint64(2 days), uint16(2_500), uint16(500))
        );
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.StakeParamsChanged(3 ether, 2 days, 2_500, 500);
        vm.prank(carol);
        reg.execute(id);
        vm.assertEq(reg.minStake(), 3 ether, "minStake");
        vm.assertEq(uint256(reg.unbondingDelay()), 2 days, "delay");
        vm.assertEq(uint256(reg.slashBps()), 2_500, "slash");
        vm.assertEq(uint256(reg.reporterBps()), 500, "reporter");
    }

    function test_SetStakeParamsKindIsAppended() public pure {
        // Existing kind numbers are ABI for the C++ client: the new kind comes last.
        vm.assertEq(uint256(VeilRegistry.ProposalKind.ResolveDispute), 8, "ResolveDispute unchanged");
        vm.assertEq(uint256(VeilRegistry.ProposalKind.SetStakeParams), 9, "SetStakeParams appended");
    }

    function test_SetStakeParamsRefusesBadPayloads() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidStakeParams.selector, 10_001, 0));
        reg.propose(
            VeilRegistry.ProposalKind.SetStakeParams, abi.encode(uint256(1), uint64(1), uint16(10_001), uint16(0))
        );
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidStakeParams.selector, 0, 10_001));
        reg.propose(
            VeilRegistry.ProposalKind.SetStakeParams, abi.encode(uint256(1), uint64(1), uint16(0), uint16(10_001))
        );
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.InvalidProposalData.selector, VeilRegistry.ProposalKind.SetStakeParams)
        );
        reg.propose(VeilRegistry.ProposalKind.SetStakeParams, abi.encode(uint256(1), uint64(1), uint16(0)));
        vm.stopPrank();
    }

    function testFuzz_SetStakeParamsBpsBound(uint16 slash, uint16 rep) public {
        vm.prank(alice);
        if (slash > 10_000 || rep > 10_000) {
            vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidStakeParams.selector, slash, rep));
            reg.propose(VeilRegistry.ProposalKind.SetStakeParams, abi.encode(uint256(0), uint64(0), slash, rep));
        } else {
            reg.propose(VeilRegistry.ProposalKind.SetStakeParams, abi.encode(uint256(0), uint64(0), slash, rep));
        }
    }

    // ---------------------------------------------------------------- slashing

    function test_AnnouncementDigestIsTheDocumentedEip712Encoding() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("VeilRegistry"),
                keccak256("1"),
                block.chainid,
                address(reg)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Announcement(bytes32 jobId,uint32 round,bytes32 decisionHash,bytes32 peerId,bytes32 inputsRoot)"
                ),
                JOB,
                uint32(7),
                D1,
                PEER,
                IN
            )
        );
        bytes32 expected = keccak256(abi.encodePacked(hex"1901", domain, structHash));
        vm.assertEq(reg.announcementDigest(JOB, 7, D1, PEER, IN), expected, "digest");
    }

    /// The worked vector of docs/chain.md ("Signing format"): anvil's chain id, the first
    /// contract anvil's account 0 deploys, signed by `cast wallet sign --data` (an independent
    /// EIP-712 implementation).
    function test_DocumentedWorkedVector() public pure {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("VeilRegistry"),
                keccak256("1"),
                uint256(31337),
                address(0x5FbDB2315678afecb367f032d93F642f64180aa3)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Announcement(bytes32 jobId,uint32 round,bytes32 decisionHash,bytes32 peerId,bytes32 inputsRoot)"
                ),
                keccak256("job-1"),
                uint32(7),
                keccak256("decision-1"),
                keccak256("12D3KooWexample"),
                keccak256("inputs-1")
            )
        );
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", domain, structHash));
        vm.assertEq(digest, 0x27406c6153ad69c27d0027c3dff7c22f9d80df225637e3290daea8b740670f49, "digest");
        address signer = ecrecover(
            digest,
            27,
            0x7bfa9a1b4fb3037fc2af2bef3fc8e1b1f95c3960e01121ae5a7d941de92a71c9,
            0x506613d453f3e2e4b2cd731049e1f303a5d674fdc1c7b9f4c6e9ad21a7bff80f
        );
        vm.assertEq(signer, 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, "anvil account 0");
    }

    function test_EquivocationSlashesAndCreditsReporter() public {
        _stake(alice, 10 ether);
        bytes32 id = reg.evidenceId(alice, PEER, JOB, 7);
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.Slashed(alice, reporter, id, JOB, 7, 5 ether, 0.5 ether);
        uint256 slashed = _equivocate(ALICE_PK);
        vm.assertEq(slashed, 5 ether, "50% of bonded");
        vm.assertEq(reg.stakeOf(alice), 5 ether, "bonded left");
        vm.assertEq(reg.rewardsOf(reporter), 0.5 ether, "reporter credit");
        vm.assertEq(reg.totalSlashRetained(), 4.5 ether, "retained");
        vm.assertTrue(reg.isEvidenceUsed(id), "evidence used");
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
        vm.prank(reporter);
        vm.assertEq(reg.withdrawRewards(), 0.5 ether, "reward paid");
        vm.assertEq(reporter.balance, 0.5 ether, "reporter balance");
        vm.prank(reporter);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NothingToWithdraw.selector, reporter));
        reg.withdrawRewards();
    }

    function test_SlashReachesUnbondingStake() public {
        _stake(alice, 10 ether);
        vm.prank(alice);
        reg.requestUnstake(6 ether);
        vm.assertEq(_equivocate(ALICE_PK), 5 ether, "half of 4 bonded + half of 6 unbonding");
        (uint256 unbonding,) = reg.unbondingOf(alice);
        vm.assertEq(unbonding, 3 ether, "unbonding left");
        vm.assertEq(reg.stakeOf(alice), 2 ether, "bonded left");
        vm.warp(block.timestamp + 7 days);
        vm.prank(alice);
        vm.assertEq(reg.withdraw(), 3 ether, "only the rest leaves");
    }

    function test_SlashBelowMinStakeUnstakesTheOperator() public {
        _setStakeParams(6 ether, 1 days, 5_000, 1_000);
        _stake(alice, 10 ether);
        vm.assertTrue(reg.isOperatorStaked(alice), "staked");
        _equivocate(ALICE_PK);
        vm.assertFalse(reg.isOperatorStaked(alice), "gater now refuses alice's nodes");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InsufficientStake.selector, alice, 5 ether, 6 ether));
        reg.registerNode(PEER, alice);
    }

    function test_EvidenceIsUsedOnce() public {
        _stake(alice, 10 ether);
        _equivocate(ALICE_PK);
        bytes32 id = reg.evidenceId(alice, PEER, JOB, 7);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory b = _sign(ALICE_PK, JOB, 7, D2, PEER);
        bytes32 d3 = keccak256("decision-3");
        bytes memory c = _sign(ALICE_PK, JOB, 7, d3, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, b));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitEvidence(JOB, 7, PEER, _ann(D2, b), _ann(D1, a)); // swapped
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(d3, c)); // another pair of the same lie
        // A different round is a different lie.
        bytes memory a8 = _sign(ALICE_PK, JOB, 8, D1, PEER);
        bytes memory b8 = _sign(ALICE_PK, JOB, 8, D2, PEER);
        vm.assertEq(reg.submitEvidence(JOB, 8, PEER, _ann(D1, a8), _ann(D2, b8)), 2.5 ether, "round 8 slashed");
    }

    function test_SameDecisionIsNotEquivocation() public {
        _stake(alice, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotEquivocation.selector, D1));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D1, a));
    }

    function test_TwoSignersAreNotEquivocation() public {
        _stake(alice, 10 ether);
        _stake(bob, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory b = _sign(BOB_PK, JOB, 7, D2, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, b));
    }

    function test_AnnouncementsForDifferentRoundsOrPeersAreNotEvidence() public {
        _stake(alice, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory otherRound = _sign(ALICE_PK, JOB, 8, D2, PEER);
        bytes memory otherPeer = _sign(ALICE_PK, JOB, 7, D2, keccak256("other-peer"));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, otherRound));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, otherPeer));
    }

    function test_MalformedSignatureReverts() public {
        _stake(alice, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, hex"1234"));
        bytes memory zero = new bytes(65);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, zero), _ann(D2, a));
    }

    function test_SignatureForAnotherRegistryIsRejected() public {
        _stake(alice, 10 ether);
        address[] memory ops = new address[](1);
        ops[0] = alice;
        VeilRegistry other = new VeilRegistry("other", ops, 1, 0, 0);
        (uint8 v1, bytes32 r1, bytes32 s1) = vm.sign(ALICE_PK, other.announcementDigest(JOB, 7, D1, PEER, IN));
        (uint8 v2, bytes32 r2, bytes32 s2) = vm.sign(ALICE_PK, other.announcementDigest(JOB, 7, D2, PEER, IN));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, abi.encodePacked(r1, s1, v1)), _ann(D2, abi.encodePacked(r2, s2, v2)));
    }

    function test_NothingToSlashReverts() public {
        bytes32 id = reg.evidenceId(mallory, PEER, JOB, 7);
        bytes memory a = _sign(MALLORY_PK, JOB, 7, D1, PEER);
        bytes memory b = _sign(MALLORY_PK, JOB, 7, D2, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NothingToSlash.selector, mallory));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _ann(D2, b));
        vm.assertFalse(reg.isEvidenceUsed(id), "evidence kept for when stake appears");
        _stake(mallory, 4 ether);
        vm.assertEq(_equivocate(MALLORY_PK), 2 ether, "slashed after staking");
    }

    function testFuzz_EquivocationSlash(
        uint256 pk,
        bytes32 job,
        uint32 round,
        bytes32 d1,
        bytes32 d2,
        uint256 amount,
        uint16 slash,
        uint16 rep
    ) public {
        pk = bound(pk, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(d1 != d2 && d1 != bytes32(0) && d2 != bytes32(0));
        amount = bound(amount, 1 ether, 1000 ether);
        slash = uint16(bound(slash, 1, 10_000));
        rep = uint16(bound(rep, 0, 10_000));
        _setStakeParams(0, 1 days, slash, rep);
        address signer = vm.addr(pk);
        vm.deal(signer, amount);
        _stake(signer, amount);
        bytes memory a = _sign(pk, job, round, d1, PEER);
        bytes memory b = _sign(pk, job, round, d2, PEER);
        vm.prank(reporter);
        uint256 slashed = reg.submitEvidence(job, round, PEER, _ann(d1, a), _ann(d2, b));
        vm.assertEq(slashed, (amount * slash) / 10_000, "slash fraction");
        vm.assertEq(reg.stakeOf(signer), amount - slashed, "bonded left");
        vm.assertEq(reg.rewardsOf(reporter), (slashed * rep) / 10_000, "reward");
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
    }

    function test_EquivocationWithAZeroDecisionIsRefused() public {
        _stake(alice, 10 ether);
        bytes memory z = _sign(ALICE_PK, JOB, 7, bytes32(0), PEER);
        bytes memory b = _sign(ALICE_PK, JOB, 7, D2, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotEquivocation.selector, bytes32(0)));
        reg.submitEvidence(JOB, 7, PEER, _ann(bytes32(0), z), _ann(D2, b));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotEquivocation.selector, D2));
        reg.submitEvidence(JOB, 7, PEER, _ann(D2, b), _ann(bytes32(0), z));
    }

    function test_EquivocationOverTwoInputsRootsSlashes() public {
        // One request per job and round: two signed decisions are a lie whatever inputs they name.
        _stake(alice, 10 ether);
        bytes memory a = _signOver(ALICE_PK, JOB, 7, D1, PEER, IN);
        bytes memory b = _signOver(ALICE_PK, JOB, 7, D2, PEER, IN2);
        vm.prank(reporter);
        vm.assertEq(reg.submitEvidence(JOB, 7, PEER, _annOver(D1, IN, a), _annOver(D2, IN2, b)), 5 ether, "slashed");
    }

    function test_EquivocationSignatureBindsTheInputsRoot() public {
        // A signature over IN2 offered as one over IN recovers some other address.
        _stake(alice, 10 ether);
        bytes memory a = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory b = _signOver(ALICE_PK, JOB, 7, D2, PEER, IN2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, a), _annOver(D2, IN, b));
    }

    // ---------------------------------------------------------------- contradiction

    bytes32 internal constant IN2 = keccak256("inputs-2");

    function _decision(bytes32 job, uint32 round, bytes32 d)
        internal
        pure
        returns (VeilRegistry.AnchoredDecision memory a)
    {
        bytes32[] memory s = new bytes32[](2);
        s[0] = keccak256("sched-a");
        s[1] = keccak256("sched-b");
        a = VeilRegistry.AnchoredDecision({jobId: job, round: round, decisionHash: d, inputsRoot: IN, schedulers: s});
    }

    function _commit(VeilRegistry.AnchoredDecision memory a) internal view returns (bytes32) {
        return reg.deploymentCommitment(a.jobId, a.round, a.decisionHash, a.inputsRoot, a.schedulers);
    }

    /// The quorum decision D1 for (JOB, round 7) over IN, anchored alone by alice.
    function _anchored() internal returns (VeilRegistry.AnchoredDecision memory a) {
        a = _decision(JOB, 7, D1);
        vm.prank(alice);
        reg.anchorCommitment(a.jobId, a.round, a.decisionHash, a.inputsRoot, a.schedulers);
    }

    /// `pk` signs `lie` for the anchored job and round over IN; the reporter submits it.
    function _contradict(
        uint256 pk,
        VeilRegistry.AnchoredDecision memory a,
        bytes32 root,
        bytes32[] memory proof,
        bytes32 lie
    ) internal returns (uint256) {
        VeilRegistry.SignedAnnouncement memory ann = _lie(pk, a, lie);
        vm.prank(reporter);
        return reg.submitContradiction(a, root, proof, PEER, ann);
    }

    /// `pk`'s announcement of `lie` for the anchored job and round over IN. Built before any
    /// expectRevert: signing calls the registry (announcementDigest), which would take the expectation.
    function _lie(uint256 pk, VeilRegistry.AnchoredDecision memory a, bytes32 lie)
        internal
        view
        returns (VeilRegistry.SignedAnnouncement memory)
    {
        return _ann(lie, _sign(pk, a.jobId, a.round, lie, PEER));
    }

    function test_ContradictionOfASingleAnchorSlashes() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32 id = reg.evidenceId(alice, PEER, JOB, 7);
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.Slashed(alice, reporter, id, JOB, 7, 5 ether, 0.5 ether);
        vm.assertEq(_contradict(ALICE_PK, a, bytes32(0), new bytes32[](0), D2), 5 ether, "slashBps of bonded");
        vm.assertEq(reg.stakeOf(alice), 5 ether, "bonded left");
        vm.assertEq(reg.rewardsOf(reporter), 0.5 ether, "reporterBps of the slash");
        vm.assertEq(reg.totalSlashRetained(), 4.5 ether, "retained");
        vm.assertTrue(reg.isEvidenceUsed(id), "evidence used");
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
    }

    function test_ContradictionOfABatchedDecisionSlashes() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _decision(JOB, 7, D1);
        // Five leaves: ours is the last, carried up unchanged past one level.
        bytes32[] memory c = _commitments(5, 55);
        c[4] = _commit(a);
        (bytes32 root, bytes32[][] memory proofs) = _tree(c);
        vm.prank(bob);
        reg.anchorBatch(root, 5);
        vm.assertTrue(reg.verifyInclusion(root, c[4], proofs[4]), "included");
        vm.assertEq(_contradict(ALICE_PK, a, root, proofs[4], D2), 5 ether, "slashed");
        // And a middle leaf of a batch of three.
        _stake(bob, 4 ether);
        VeilRegistry.AnchoredDecision memory b = _decision(keccak256("job-2"), 1, D2);
        bytes32[] memory c3 = _commitments(3, 33);
        c3[1] = _commit(b);
        (bytes32 root3, bytes32[][] memory proofs3) = _tree(c3);
        vm.prank(carol);
        reg.anchorBatch(root3, 3);
        vm.assertEq(_contradict(BOB_PK, b, root3, proofs3[1], D1), 2 ether, "slashed from a middle leaf");
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
    }

    function test_ContradictionNeedsAnAnchoredDecision() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _decision(JOB, 7, D1);
        bytes32 c = _commit(a);
        bytes memory sig = _sign(ALICE_PK, JOB, 7, D2, PEER);
        bytes32[] memory none = new bytes32[](0);
        // Never anchored.
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, bytes32(0), none, PEER, _ann(D2, sig));
        // In a tree whose root was never anchored.
        bytes32[] memory leaves = _commitments(3, 7);
        leaves[0] = c;
        (bytes32 root, bytes32[][] memory proofs) = _tree(leaves);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, root, proofs[0], PEER, _ann(D2, sig));
        // Anchored batch, wrong proof (another leaf's).
        vm.prank(alice);
        reg.anchorBatch(root, 3);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, root, proofs[2], PEER, _ann(D2, sig));
        // Anchored alone but offered with another round: another commitment.
        _anchored();
        VeilRegistry.AnchoredDecision memory r8 = _decision(JOB, 8, D1);
        VeilRegistry.SignedAnnouncement memory lie8 = _lie(ALICE_PK, r8, D2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, _commit(r8)));
        reg.submitContradiction(r8, bytes32(0), none, PEER, lie8);
        // The batch path does not accept a single anchor, nor the single path a batched one.
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, keccak256("unknown-root"), none, PEER, _ann(D2, sig));
        VeilRegistry.AnchoredDecision memory other = _decision(JOB, 9, D1);
        bytes32[] memory l2 = _commitments(2, 8);
        l2[0] = _commit(other);
        (bytes32 root2,) = _tree(l2);
        vm.prank(alice);
        reg.anchorBatch(root2, 2);
        VeilRegistry.SignedAnnouncement memory lie9 = _lie(ALICE_PK, other, D2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, l2[0]));
        reg.submitContradiction(other, bytes32(0), none, PEER, lie9);
        vm.assertEq(reg.stakeOf(alice), 10 ether, "nothing slashed");
    }

    function test_ContradictionOfADisputedOrUpheldDecisionIsRefused() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32 c = _commit(a);
        vm.prank(bob);
        uint256 disputeId = reg.openDispute(c, keccak256("evidence"));
        bytes memory sig = _sign(ALICE_PK, JOB, 7, D2, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, _ann(D2, sig));
        _pass(VeilRegistry.ProposalKind.ResolveDispute, abi.encode(disputeId, true));
        (VeilRegistry.DeploymentStatus st,,,) = reg.getDeployment(c);
        vm.assertEq(uint256(st), uint256(VeilRegistry.DeploymentStatus.Upheld), "upheld");
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotAnchoredDecision.selector, c));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, _ann(D2, sig));
    }

    function test_ContradictionOfAClearedDecisionSlashes() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32 c = _commit(a);
        vm.prank(bob);
        uint256 disputeId = reg.openDispute(c, keccak256("evidence"));
        _pass(VeilRegistry.ProposalKind.ResolveDispute, abi.encode(disputeId, false));
        (VeilRegistry.DeploymentStatus st,,,) = reg.getDeployment(_commit(a));
        vm.assertEq(uint256(st), uint256(VeilRegistry.DeploymentStatus.Cleared), "cleared");
        vm.assertEq(_contradict(ALICE_PK, a, bytes32(0), new bytes32[](0), D2), 5 ether, "slashed");
    }

    function test_AgreeingOrZeroAnnouncementIsNotContradiction() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32[] memory none = new bytes32[](0);
        VeilRegistry.SignedAnnouncement memory same = _lie(ALICE_PK, a, D1);
        VeilRegistry.SignedAnnouncement memory zero = _lie(ALICE_PK, a, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotContradiction.selector, D1));
        reg.submitContradiction(a, bytes32(0), none, PEER, same);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotContradiction.selector, bytes32(0)));
        reg.submitContradiction(a, bytes32(0), none, PEER, zero);
    }

    function test_DecisionOverOtherInputsIsNotContradiction() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes memory sig = _signOver(ALICE_PK, JOB, 7, D2, PEER, IN2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InputsDiffer.selector, IN2, IN));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, _annOver(D2, IN2, sig));
        // Claiming the anchored inputs for that signature frames nobody: it recovers a stranger.
        address stranger = _strangerOf(reg.announcementDigest(JOB, 7, D2, PEER, IN), sig);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NothingToSlash.selector, stranger));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, _ann(D2, sig));
        vm.assertEq(reg.stakeOf(alice), 10 ether, "alice untouched");
    }

    function _strangerOf(bytes32 digest, bytes memory sig) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return ecrecover(digest, v, r, s);
    }

    function test_ContradictionWithABadSignatureReverts() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32[] memory none = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitContradiction(a, bytes32(0), none, PEER, _ann(D2, hex"1234"));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitContradiction(a, bytes32(0), none, PEER, _ann(D2, new bytes(65)));
        // High-s form of a valid signature (malleated): refused.
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_PK, reg.announcementDigest(JOB, 7, D2, PEER, IN));
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s));
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.InvalidSignature.selector));
        reg.submitContradiction(a, bytes32(0), none, PEER, _ann(D2, abi.encodePacked(r, highS, v == 27 ? 28 : 27)));
    }

    function test_ContradictionIsUsedOnce() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        bytes32[] memory none = new bytes32[](0);
        VeilRegistry.SignedAnnouncement memory lie = _lie(ALICE_PK, a, D2);
        VeilRegistry.SignedAnnouncement memory lie3 = _lie(ALICE_PK, a, keccak256("decision-3"));
        reg.submitContradiction(a, bytes32(0), none, PEER, lie);
        bytes32 id = reg.evidenceId(alice, PEER, JOB, 7);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitContradiction(a, bytes32(0), none, PEER, lie);
        // Another lie in the same round is the same lie.
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitContradiction(a, bytes32(0), none, PEER, lie3);
        // And equivocation over it too.
        bytes memory s1 = _sign(ALICE_PK, JOB, 7, D1, PEER);
        bytes memory s2 = _sign(ALICE_PK, JOB, 7, D2, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, id));
        reg.submitEvidence(JOB, 7, PEER, _ann(D1, s1), _ann(D2, s2));
    }

    function test_EquivocationThenContradictionOfTheSameLie() public {
        _stake(alice, 10 ether);
        VeilRegistry.AnchoredDecision memory a = _anchored();
        _equivocate(ALICE_PK); // D1 and D2 for (JOB, 7, PEER)
        VeilRegistry.SignedAnnouncement memory lie = _lie(ALICE_PK, a, D2);
        vm.expectRevert(
            abi.encodeWithSelector(VeilRegistry.EvidenceAlreadyUsed.selector, reg.evidenceId(alice, PEER, JOB, 7))
        );
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, lie);
        vm.assertEq(reg.stakeOf(alice), 5 ether, "slashed once");
    }

    function test_ContradictionByAnUnstakedSignerReverts() public {
        VeilRegistry.AnchoredDecision memory a = _anchored();
        VeilRegistry.SignedAnnouncement memory lie = _lie(MALLORY_PK, a, D2);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NothingToSlash.selector, mallory));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, lie);
        vm.assertFalse(reg.isEvidenceUsed(reg.evidenceId(mallory, PEER, JOB, 7)), "evidence kept");
    }

    function testFuzz_ContradictionSlash(
        uint256 pk,
        bytes32 job,
        uint32 round,
        bytes32 anchoredDecision,
        bytes32 lie,
        uint256 amount,
        uint16 slash,
        uint16 rep
    ) public {
        pk = bound(pk, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(job != bytes32(0) && lie != bytes32(0) && lie != anchoredDecision);
        amount = bound(amount, 1 ether, 1000 ether);
        slash = uint16(bound(slash, 1, 10_000));
        rep = uint16(bound(rep, 0, 10_000));
        _setStakeParams(0, 1 days, slash, rep);
        address signer = vm.addr(pk);
        vm.deal(signer, amount);
        _stake(signer, amount);
        VeilRegistry.AnchoredDecision memory a = _decision(job, round, anchoredDecision);
        vm.prank(alice);
        reg.anchorCommitment(job, round, anchoredDecision, IN, a.schedulers);
        uint256 slashed = _contradict(pk, a, bytes32(0), new bytes32[](0), lie);
        vm.assertEq(slashed, (amount * slash) / 10_000, "slash fraction");
        vm.assertEq(reg.stakeOf(signer), amount - slashed, "bonded left");
        vm.assertEq(reg.rewardsOf(reporter), (slashed * rep) / 10_000, "reward");
        vm.assertEq(address(reg).balance, _accounted(), "accounted");
    }

    function testFuzz_AgreeingAnnouncementIsRefused(bytes32 job, uint32 round, bytes32 d, uint256 pk) public {
        pk = bound(pk, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(job != bytes32(0));
        address signer = vm.addr(pk);
        vm.deal(signer, 1 ether);
        _stake(signer, 1 ether);
        VeilRegistry.AnchoredDecision memory a = _decision(job, round, d);
        vm.prank(alice);
        reg.anchorCommitment(job, round, d, IN, a.schedulers);
        bytes memory sig = _sign(pk, job, round, d, PEER);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotContradiction.selector, d));
        reg.submitContradiction(a, bytes32(0), new bytes32[](0), PEER, _ann(d, sig));
    }

    // ---------------------------------------------------------------- batched anchoring

    /// Builds the documented tree bottom-up and returns the root and every leaf's proof.
    function _tree(bytes32[] memory commitments) internal view returns (bytes32 root, bytes32[][] memory proofs) {
        uint256 n = commitments.length;
        proofs = new bytes32[][](n);
        uint256[] memory pos = new uint256[](n); // each leaf's position in the current level
        uint256[] memory len = new uint256[](n); // proof entries so far
        for (uint256 i = 0; i < n; i++) {
            proofs[i] = new bytes32[](8);
            pos[i] = i;
        }
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            level[i] = reg.batchLeafHash(commitments[i]);
        }
        while (level.length > 1) {
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 j = 0; j < next.length; j++) {
                next[j] = 2 * j + 1 < level.length ? reg.batchNodeHash(level[2 * j], level[2 * j + 1]) : level[2 * j];
            }
            for (uint256 i = 0; i < n; i++) {
                uint256 sibling = pos[i] ^ 1;
                if (sibling < level.length) proofs[i][len[i]++] = level[sibling];
                pos[i] /= 2;
            }
            level = next;
        }
        root = level[0];
        for (uint256 i = 0; i < n; i++) {
            bytes32[] memory p = proofs[i];
            uint256 l = len[i];
            assembly {
                mstore(p, l)
            }
        }
    }

    function _commitments(uint256 n, uint256 seed) internal pure returns (bytes32[] memory c) {
        c = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            c[i] = keccak256(abi.encode(keccak256(abi.encode(seed, i)), bytes32(0), bytes32(0), new bytes32[](0)));
        }
    }

    function _checkBatch(uint256 n, uint256 seed) internal {
        bytes32[] memory c = _commitments(n, seed);
        (bytes32 root, bytes32[][] memory proofs) = _tree(c);
        vm.prank(alice);
        vm.assertTrue(reg.anchorBatch(root, uint32(n)), "anchored");
        for (uint256 i = 0; i < n; i++) {
            vm.assertTrue(reg.verifyInclusion(root, c[i], proofs[i]), "every leaf is included");
            vm.assertFalse(reg.verifyInclusion(root, keccak256(abi.encode(c[i])), proofs[i]), "a foreign leaf is not");
        }
    }

    function test_BatchOfOne() public {
        bytes32[] memory c = _commitments(1, 1);
        (bytes32 root,) = _tree(c);
        vm.assertEq(root, reg.batchLeafHash(c[0]), "root of one leaf is its leaf hash");
        _checkBatch(1, 1);
    }

    function test_BatchOfTwo() public {
        _checkBatch(2, 2);
    }

    function test_BatchOfThree() public {
        bytes32[] memory c = _commitments(3, 3);
        (bytes32 root,) = _tree(c);
        bytes32 expected = reg.batchNodeHash(
            reg.batchNodeHash(reg.batchLeafHash(c[0]), reg.batchLeafHash(c[1])), reg.batchLeafHash(c[2])
        );
        vm.assertEq(root, expected, "the odd leaf is carried up unchanged");
        _checkBatch(3, 3);
    }

    function test_BatchOfThirtyTwo() public {
        _checkBatch(32, 32);
    }

    function testFuzz_BatchInclusion(uint256 n, uint256 seed) public {
        _checkBatch(bound(n, 1, 40), seed);
    }

    function test_BatchEmitsAndRecords() public {
        bytes32 root = keccak256("root");
        vm.expectEmit(true, true, true, true);
        emit VeilRegistry.BatchAnchored(root, bob, 32);
        vm.prank(bob);
        reg.anchorBatch(root, 32);
        (address by, uint64 anchoredAt, uint32 count) = reg.getBatch(root);
        vm.assertEq(by, bob, "anchoredBy");
        vm.assertEq(uint256(anchoredAt), block.timestamp, "anchoredAt");
        vm.assertEq(uint256(count), 32, "count");
    }

    function test_AnchorBatchRefusals() public {
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.NotOperator.selector, mallory));
        reg.anchorBatch(keccak256("r"), 1);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ZeroValue.selector));
        reg.anchorBatch(bytes32(0), 1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.ZeroValue.selector));
        reg.anchorBatch(keccak256("r"), 0);
        reg.anchorBatch(keccak256("r"), 1);
        vm.expectRevert(abi.encodeWithSelector(VeilRegistry.BatchAlreadyAnchored.selector, keccak256("r")));
        reg.anchorBatch(keccak256("r"), 2);
        vm.stopPrank();
    }

    function test_UnanchoredRootVerifiesNothing() public view {
        bytes32[] memory c = _commitments(2, 9);
        (bytes32 root, bytes32[][] memory proofs) = _tree(c);
        vm.assertFalse(reg.verifyInclusion(root, c[0], proofs[0]), "root not anchored");
    }

    function test_InnerNodeIsNotALeaf() public {
        // Domain separation: the hash of two leaves, offered as a commitment, proves nothing.
        bytes32[] memory c = _commitments(4, 4);
        (bytes32 root,) = _tree(c);
        vm.prank(alice);
        reg.anchorBatch(root, 4);
        bytes32 inner = reg.batchNodeHash(reg.batchLeafHash(c[0]), reg.batchLeafHash(c[1]));
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = reg.batchNodeHash(reg.batchLeafHash(c[2]), reg.batchLeafHash(c[3]));
        vm.assertEq(reg.batchNodeHash(inner, proof[0]), root, "inner node is on the path");
        vm.assertFalse(reg.verifyInclusion(root, inner, proof), "but is not a leaf");
    }

    /// Amortised anchoring cost: one anchorBatch of 32 commitments (execution gas of the call;
    /// a transaction adds 21,000 + calldata, see docs/chain.md).
    function test_AnchorBatchGasPerDeployment() public {
        bytes32[] memory c = _commitments(32, 77);
        (bytes32 root,) = _tree(c);
        vm.prank(alice);
        uint256 before = gasleft();
        reg.anchorBatch(root, 32);
        uint256 used = before - gasleft();
        vm.assertLe(used / 32, 5_000, "amortised gas per deployment");
    }
}
