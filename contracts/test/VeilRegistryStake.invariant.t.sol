// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VeilTest, Vm} from "./utils/VeilTest.sol";
import {VeilRegistry} from "../src/VeilRegistry.sol";

/// Drives stake, unstake, withdrawals, equivocation and contradiction evidence with random amounts,
/// signers, reporters and waits.
contract StakeHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    VeilRegistry public immutable reg;
    uint256[] internal keys;
    address[] public actors;
    uint256 public slashes;

    constructor(VeilRegistry reg_, uint256[] memory keys_) {
        reg = reg_;
        keys = keys_;
        for (uint256 i = 0; i < keys_.length; i++) {
            actors.push(vm.addr(keys_[i]));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function stake(uint256 seed, uint256 amount) external {
        address who = actors[seed % actors.length];
        amount = 1 + (amount % 50 ether);
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        reg.stake{value: amount}();
    }

    function requestUnstake(uint256 seed, uint256 amount) external {
        address who = actors[seed % actors.length];
        vm.prank(who);
        try reg.requestUnstake(amount % (reg.stakeOf(who) + 1)) {} catch {}
    }

    function withdraw(uint256 seed, uint32 wait) external {
        address who = actors[seed % actors.length];
        vm.warp(block.timestamp + (wait % 10 days));
        vm.prank(who);
        try reg.withdraw() {} catch {}
    }

    function withdrawRewards(uint256 seed) external {
        address who = actors[seed % actors.length];
        vm.prank(who);
        try reg.withdrawRewards() {} catch {}
    }

    function equivocate(uint256 signerSeed, uint256 reporterSeed, uint8 job, uint32 round, bool sameDecision) external {
        uint256 pk = keys[signerSeed % keys.length];
        bytes32 jobId = keccak256(abi.encode(job % 4));
        round %= 4;
        bytes32 d2 = sameDecision ? keccak256("d1") : keccak256("d2");
        bytes memory sig1 = _sign(pk, jobId, round, keccak256("d1"));
        bytes memory sig2 = _sign(pk, jobId, round, d2);
        vm.prank(actors[reporterSeed % actors.length]);
        try reg.submitEvidence(jobId, round, keccak256("peer"), _ann(keccak256("d1"), sig1), _ann(d2, sig2)) {
            slashes++;
        } catch {}
    }

    /// An operator anchors decision "d1" for a job and round (once), then a signer's announcement
    /// of "d2" (or, when `agree`, of "d1") over the same inputs is offered as contradiction.
    function contradict(uint256 signerSeed, uint256 reporterSeed, uint8 job, uint32 round, bool agree) external {
        uint256 pk = keys[signerSeed % keys.length];
        VeilRegistry.AnchoredDecision memory a;
        a.jobId = keccak256(abi.encode(job % 4));
        a.round = round % 4;
        a.decisionHash = keccak256("d1");
        a.inputsRoot = keccak256("inputs");
        a.schedulers = new bytes32[](1);
        a.schedulers[0] = keccak256("peer");
        vm.prank(actors[0]); // an operator
        try reg.anchorCommitment(a.jobId, a.round, a.decisionHash, a.inputsRoot, a.schedulers) {} catch {}
        bytes32 lie = agree ? keccak256("d1") : keccak256("d2");
        bytes memory sig = _sign(pk, a.jobId, a.round, lie);
        vm.prank(actors[reporterSeed % actors.length]);
        try reg.submitContradiction(a, bytes32(0), new bytes32[](0), keccak256("peer"), _ann(lie, sig)) {
            slashes++;
        } catch {}
    }

    function _sign(uint256 pk, bytes32 jobId, uint32 round, bytes32 decision) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(pk, reg.announcementDigest(jobId, round, decision, keccak256("peer"), keccak256("inputs")));
        return abi.encodePacked(r, s, v);
    }

    function _ann(bytes32 decision, bytes memory sig) internal pure returns (VeilRegistry.SignedAnnouncement memory) {
        return
            VeilRegistry.SignedAnnouncement({decisionHash: decision, inputsRoot: keccak256("inputs"), signature: sig});
    }
}

/// Every wei the registry holds is accounted for, after any sequence of stake operations and slashes.
contract VeilRegistryStakeInvariantTest is VeilTest {
    VeilRegistry internal reg;
    StakeHandler internal handler;

    function setUp() public {
        uint256[] memory keys = new uint256[](5);
        for (uint256 i = 0; i < keys.length; i++) {
            keys[i] = 0x5000 + i;
        }
        address[] memory ops = new address[](3);
        for (uint256 i = 0; i < ops.length; i++) {
            ops[i] = vm.addr(keys[i]);
        }
        reg = new VeilRegistry("inv-stake", ops, 2, 600, 3600);
        handler = new StakeHandler(reg, keys);
    }

    /// forge reads this to aim its random calls at the handler only.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// balance == bonded + unbonding + rewards owed + retained slashes.
    function invariant_BalanceEqualsAccountedStake() public view {
        uint256 accounted = reg.totalBonded() + reg.totalUnbonding() + reg.totalRewardsOwed() + reg.totalSlashRetained();
        vm.assertEq(address(reg).balance, accounted, "balance != accounted");
    }

    /// The totals equal the sums of the per-account figures.
    function invariant_TotalsMatchAccounts() public view {
        uint256 bonded;
        uint256 unbonding;
        uint256 rewards;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address who = handler.actors(i);
            bonded += reg.stakeOf(who);
            (uint256 u,) = reg.unbondingOf(who);
            unbonding += u;
            rewards += reg.rewardsOf(who);
        }
        vm.assertEq(reg.totalBonded(), bonded, "totalBonded");
        vm.assertEq(reg.totalUnbonding(), unbonding, "totalUnbonding");
        vm.assertEq(reg.totalRewardsOwed(), rewards, "totalRewardsOwed");
    }
}
