// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VeilTest, Vm} from "./utils/VeilTest.sol";
import {VeilRegistry} from "../src/VeilRegistry.sol";

/// Drives the registry with random sequences of calls from operators and outsiders.
contract RegistryHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    VeilRegistry public immutable reg;
    address[] public actors; // operators first, then outsiders
    uint256 public outsiderSuccesses;

    constructor(VeilRegistry reg_, address[] memory actors_) {
        reg = reg_;
        actors = actors_;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function propose(uint256 seed, uint8 kind, bytes32 value) external {
        address who = _actor(seed);
        bytes memory data;
        uint8 k = kind % 4;
        VeilRegistry.ProposalKind pk;
        if (k == 0) (pk, data) = (VeilRegistry.ProposalKind.AllowImage, abi.encode(value));
        else if (k == 1) (pk, data) = (VeilRegistry.ProposalKind.RevokeImage, abi.encode(value));
        else if (k == 2) (pk, data) = (VeilRegistry.ProposalKind.AddOperator, abi.encode(_actor(uint256(value))));
        else (pk, data) = (VeilRegistry.ProposalKind.RemoveOperator, abi.encode(_actor(uint256(value))));
        vm.prank(who);
        try reg.propose(pk, data) {
            if (!reg.isOperator(who)) outsiderSuccesses++;
        } catch {}
    }

    function vote(uint256 seed, uint256 id, bool support) external {
        address who = _actor(seed);
        uint256 count = reg.proposalCount();
        if (count == 0) return;
        vm.prank(who);
        try reg.vote(1 + (id % count), support) {
            if (!reg.isOperator(who)) outsiderSuccesses++;
        } catch {}
    }

    function execute(uint256 seed, uint256 id, uint32 wait) external {
        address who = _actor(seed);
        uint256 count = reg.proposalCount();
        if (count == 0) return;
        vm.warp(block.timestamp + (wait % 7200));
        bool wasOperator = reg.isOperator(who);
        vm.prank(who);
        try reg.execute(1 + (id % count)) {
            if (!wasOperator) outsiderSuccesses++;
        } catch {}
    }

    function registerNode(uint256 seed, bytes32 peer) external {
        address who = _actor(seed);
        vm.prank(who);
        try reg.registerNode(peer, who) {
            if (!reg.isOperator(who)) outsiderSuccesses++;
        } catch {}
    }

    function anchor(uint256 seed, bytes32 h) external {
        address who = _actor(seed);
        vm.prank(who);
        try reg.anchorDeployment(h) {
            if (!reg.isOperator(who)) outsiderSuccesses++;
        } catch {}
    }
}

/// Properties that hold after any sequence of handler calls.
contract VeilRegistryInvariantTest is VeilTest {
    VeilRegistry internal reg;
    RegistryHandler internal handler;

    function setUp() public {
        address[] memory actors = new address[](6);
        for (uint256 i = 0; i < actors.length; i++) {
            actors[i] = address(uint160(0x1000 + i));
        }
        address[] memory ops = new address[](3);
        ops[0] = actors[0];
        ops[1] = actors[1];
        ops[2] = actors[2];
        reg = new VeilRegistry("inv", ops, 2, 600, 3600);
        handler = new RegistryHandler(reg, actors);
    }

    /// forge reads this to aim its random calls at the handler only.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The votes on any live proposal never exceed the number of operators.
    function invariant_VotesNeverExceedOperators() public view {
        uint256 operators = reg.getOperators().length;
        uint64 epoch = reg.operatorEpoch();
        for (uint256 id = 1; id <= reg.proposalCount(); id++) {
            (,, uint64 pEpoch,, uint64 yes, uint64 no, bool executed,) = reg.getProposal(id);
            if (pEpoch == epoch && !executed) vm.assertLe(uint256(yes) + no, operators, "votes > operators");
        }
    }

    /// No call by a non-operator ever succeeds.
    function invariant_UnauthorizedCallsAlwaysRevert() public view {
        vm.assertEq(handler.outsiderSuccesses(), 0, "an outsider changed state");
    }

    /// The quorum stays reachable: 1 <= quorum <= operators.
    function invariant_QuorumReachable() public view {
        uint256 q = reg.quorum();
        vm.assertTrue(q >= 1 && q <= reg.getOperators().length, "quorum out of range");
    }

    /// Every listed node is bound to a non-zero operator.
    function invariant_NodesHaveOperators() public view {
        bytes32[] memory ids = reg.getNodeIds();
        for (uint256 i = 0; i < ids.length; i++) {
            (address op,,) = reg.getNode(ids[i]);
            vm.assertTrue(op != address(0), "orphan node");
        }
    }
}
