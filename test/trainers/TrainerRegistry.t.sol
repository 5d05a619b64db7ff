// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ITrainerRegistry} from "../../contracts/interfaces/ITrainerRegistry.sol";
import {Protocol} from "../utils/Protocol.sol";

contract TrainerRegistryTest is Protocol {
    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        fund(trainer, 1_000e18);
        trainers.grantRole(trainers.JOB_MARKET_ROLE(), address(this));
    }

    function test_stake_addsAndMakesEligible() public {
        assertTrue(!trainers.isEligible(trainer), "not yet");
        vm.expectEmit();
        emit ITrainerRegistry.Staked(trainer, 60e18, 60e18);
        vm.prank(trainer);
        trainers.stake(60e18);
        assertTrue(!trainers.isEligible(trainer), "below min");
        vm.prank(trainer);
        trainers.stake(40e18);
        assertTrue(trainers.isEligible(trainer), "eligible");
        assertEq(trainers.getTrainer(trainer).staked, 100e18, "staked");
        assertEq(token.balanceOf(address(trainers)), 100e18, "escrowed");
        vm.prank(trainer);
        vm.expectRevert(ITrainerRegistry.ZeroAmount.selector);
        trainers.stake(0);
    }

    function test_profile_setAndRead() public {
        vm.expectEmit();
        emit ITrainerRegistry.ProfileUpdated(trainer, "bafyprofile");
        vm.prank(trainer);
        trainers.setProfile("bafyprofile");
        assertEq(trainers.profileOf(trainer), "bafyprofile", "profile");
        vm.expectRevert(ITrainerRegistry.EmptyCID.selector);
        trainers.setProfile("");
    }

    function test_unstake_cooldownThenWithdraw() public {
        vm.startPrank(trainer);
        trainers.stake(300e18);
        vm.expectEmit();
        emit ITrainerRegistry.UnstakeRequested(trainer, 100e18, 100e18, 1_000_000 + COOLDOWN);
        trainers.requestUnstake(100e18);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.CooldownActive.selector, trainer, 1_000_000 + COOLDOWN));
        trainers.withdrawStake();
        vm.warp(1_000_000 + COOLDOWN);
        uint256 before = token.balanceOf(trainer);
        assertEq(trainers.withdrawStake(), 100e18, "withdrawn");
        assertEq(token.balanceOf(trainer) - before, 100e18, "received");
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.NothingToWithdraw.selector, trainer));
        trainers.withdrawStake();
        vm.expectRevert(ITrainerRegistry.ZeroAmount.selector);
        trainers.requestUnstake(0);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientFreeStake.selector, trainer, 200e18, 201e18));
        trainers.requestUnstake(201e18);
        vm.stopPrank();
    }

    function test_collateral_locksPerClaimAndBlocksUnstakingIt() public {
        vm.prank(trainer);
        trainers.stake(200e18);
        vm.expectEmit();
        emit ITrainerRegistry.ActiveJobsChanged(trainer, 1, 150e18);
        trainers.beginJob(trainer, 150e18);
        assertEq(trainers.freeStakeOf(trainer), 50e18, "free");
        assertEq(trainers.getTrainer(trainer).locked, 150e18, "locked");
        // Review finding 1: one stake no longer backs any number of claims.
        vm.expectRevert(
            abi.encodeWithSelector(ITrainerRegistry.InsufficientFreeStake.selector, trainer, 50e18, 150e18)
        );
        trainers.beginJob(trainer, 150e18);
        // Locked collateral cannot be moved out of reach of a slash.
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientFreeStake.selector, trainer, 50e18, 51e18));
        trainers.requestUnstake(51e18);
        vm.prank(trainer);
        trainers.requestUnstake(50e18);
        // Cooled-down stake is never collateral, so an active job does not block its withdrawal.
        vm.warp(1_000_000 + COOLDOWN);
        vm.prank(trainer);
        assertEq(trainers.withdrawStake(), 50e18, "withdrawn beside an active job");
        assertEq(trainers.endJob(trainer, 150e18, 0), 0, "released");
        ITrainerRegistry.Trainer memory t = trainers.getTrainer(trainer);
        assertEq(t.locked, 0, "unlocked");
        assertEq(t.staked, 150e18, "stake intact");
        assertEq(t.activeJobs, 0, "no job");
    }

    function test_beginEnd_trackActiveJobs() public {
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientStake.selector, trainer, 0, MIN_STAKE));
        trainers.beginJob(trainer, 0);
        vm.prank(trainer);
        trainers.stake(MIN_STAKE);
        vm.expectEmit();
        emit ITrainerRegistry.ActiveJobsChanged(trainer, 1, 40e18);
        trainers.beginJob(trainer, 40e18);
        trainers.beginJob(trainer, 60e18);
        assertEq(trainers.getTrainer(trainer).activeJobs, 2, "two");
        assertEq(trainers.freeStakeOf(trainer), 0, "all locked");
        trainers.endJob(trainer, 40e18, 0);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.NoActiveJobs.selector, trainer));
        trainers.endJob(trainer, 61e18, 0);
        trainers.endJob(trainer, 60e18, 0);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.NoActiveJobs.selector, trainer));
        trainers.endJob(trainer, 0, 0);
    }

    function test_endJob_slashesOnlyTheJobsCollateral() public {
        vm.prank(trainer);
        trainers.stake(300e18);
        trainers.beginJob(trainer, 100e18);
        trainers.beginJob(trainer, 100e18);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.PenaltyExceedsCollateral.selector, 101e18, 100e18));
        trainers.endJob(trainer, 100e18, 101e18);
        vm.expectEmit();
        emit ITrainerRegistry.Slashed(trainer, address(this), 25e18);
        assertEq(trainers.endJob(trainer, 100e18, 25e18), 25e18, "partial");
        assertEq(trainers.endJob(trainer, 100e18, 100e18), 100e18, "whole");
        ITrainerRegistry.Trainer memory t = trainers.getTrainer(trainer);
        assertEq(t.staked, 175e18, "stake less both penalties");
        assertEq(t.locked, 0, "nothing locked");
        assertEq(token.balanceOf(address(this)), 125e18, "slasher received every slashed token");
        assertEq(token.balanceOf(address(trainers)), 175e18, "registry holds the rest");
    }

    function testFuzz_lockedNeverExceedsStaked(uint96 stakeAmt, uint96 c1, uint96 c2, uint96 p1, uint96 unstake)
        public
    {
        stakeAmt = uint96(bound(stakeAmt, MIN_STAKE, 1_000e18));
        vm.prank(trainer);
        trainers.stake(stakeAmt);
        c1 = uint96(bound(c1, 0, stakeAmt));
        trainers.beginJob(trainer, c1);
        c2 = uint96(bound(c2, 0, stakeAmt - c1));
        trainers.beginJob(trainer, c2);
        unstake = uint96(bound(unstake, 0, stakeAmt - c1 - c2));
        if (unstake > 0) {
            vm.prank(trainer);
            trainers.requestUnstake(unstake);
        }
        p1 = uint96(bound(p1, 0, c1));
        assertEq(trainers.endJob(trainer, c1, p1), p1, "penalty paid in full");
        ITrainerRegistry.Trainer memory t = trainers.getTrainer(trainer);
        assertLe(t.locked, t.staked, "locked <= staked");
        assertEq(t.locked, c2, "second job still locked");
        assertEq(uint256(t.staked) + t.unstaking + p1, stakeAmt, "conserved");
    }

    function test_roleChecks() public {
        bytes32 role = trainers.JOB_MARKET_ROLE();
        bytes memory err = abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        vm.startPrank(stranger);
        vm.expectRevert(err);
        trainers.beginJob(trainer, 0);
        vm.expectRevert(err);
        trainers.endJob(trainer, 0, 0);
        bytes memory adminErr =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0));
        vm.expectRevert(adminErr);
        trainers.setMinStake(1);
        vm.expectRevert(adminErr);
        trainers.setUnstakeCooldown(1);
        vm.stopPrank();
    }

    function test_adminSetters() public {
        vm.expectEmit();
        emit ITrainerRegistry.MinStakeUpdated(5e18);
        trainers.setMinStake(5e18);
        vm.expectEmit();
        emit ITrainerRegistry.UnstakeCooldownUpdated(1 hours);
        trainers.setUnstakeCooldown(1 hours);
        assertEq(trainers.minStake(), 5e18, "min");
        assertEq(trainers.unstakeCooldown(), 1 hours, "cooldown");
    }
}
