// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VeilTest} from "./VeilTest.sol";
import {VeilRegistry} from "../../src/VeilRegistry.sol";

/// @dev Base for tests of one deployed VeilRegistry governed by three operators with a quorum of
///      two: alice and bob vote, carol executes. Each suite's setUp chooses the operators'
///      addresses and deploys `reg` with `DELAY` as its execution delay.
abstract contract RegistryTest is VeilTest {
    VeilRegistry internal reg;
    address internal alice;
    address internal bob;
    address internal carol;
    uint64 internal constant DELAY = 1 hours;

    /// A proposal voted through and past its delay, not yet executed.
    function _passed(VeilRegistry.ProposalKind kind, bytes memory data) internal returns (uint256 id) {
        vm.prank(alice);
        id = reg.propose(kind, data);
        vm.prank(alice);
        reg.vote(id, true);
        vm.prank(bob);
        reg.vote(id, true);
        vm.warp(block.timestamp + DELAY);
    }

    /// A proposal voted through and executed.
    function _pass(VeilRegistry.ProposalKind kind, bytes memory data) internal returns (uint256 id) {
        id = _passed(kind, data);
        vm.prank(carol);
        reg.execute(id);
    }
}
