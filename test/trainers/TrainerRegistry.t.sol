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
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientStake.selector, trainer, 200e18, 201e18));
        trainers.requestUnstake(201e18);
        vm.stopPrank();
    }

    function test_withdraw_blockedWhileJobActive() public {
        vm.prank(trainer);
        trainers.stake(200e18);
        trainers.beginJob(trainer);
        vm.prank(trainer);
        trainers.requestUnstake(50e18);
        vm.warp(1_000_000 + COOLDOWN);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.HasActiveJobs.selector, trainer, 1));
        trainers.withdrawStake();
        trainers.endJob(trainer);
        vm.prank(trainer);
        trainers.withdrawStake();
    }

    function test_beginEnd_trackActiveJobs() public {
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientStake.selector, trainer, 0, MIN_STAKE));
        trainers.beginJob(trainer);
        vm.prank(trainer);
        trainers.stake(MIN_STAKE);
        vm.expectEmit();
        emit ITrainerRegistry.ActiveJobsChanged(trainer, 1);
        trainers.beginJob(trainer);
        trainers.beginJob(trainer);
        assertEq(trainers.getTrainer(trainer).activeJobs, 2, "two");
        trainers.endJob(trainer);
        trainers.endJob(trainer);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.NoActiveJobs.selector, trainer));
        trainers.endJob(trainer);
    }

    function test_slash_takesActiveThenUnstaking() public {
        vm.prank(trainer);
        trainers.stake(100e18);
        vm.prank(trainer);
        trainers.requestUnstake(40e18);
        vm.expectEmit();
        emit ITrainerRegistry.Slashed(trainer, address(this), 50e18);
        assertEq(trainers.slash(trainer, 50e18), 50e18, "first");
        ITrainerRegistry.Trainer memory t = trainers.getTrainer(trainer);
        assertEq(t.staked, 10e18, "active left");
        assertEq(t.unstaking, 40e18, "unstaking untouched");
        assertEq(trainers.slash(trainer, 30e18), 30e18, "second");
        t = trainers.getTrainer(trainer);
        assertEq(t.staked, 0, "active gone");
        assertEq(t.unstaking, 20e18, "unstaking cut");
        assertEq(trainers.slash(trainer, 1_000e18), 20e18, "capped");
        assertEq(trainers.slash(trainer, 1), 0, "nothing left");
        assertEq(token.balanceOf(address(this)), 100e18, "slasher received every slashed token");
        assertEq(token.balanceOf(address(trainers)), 0, "registry emptied");
    }

    function test_roleChecks() public {
        bytes32 role = trainers.JOB_MARKET_ROLE();
        bytes memory err = abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        vm.startPrank(stranger);
        vm.expectRevert(err);
        trainers.slash(trainer, 1);
        vm.expectRevert(err);
        trainers.beginJob(trainer);
        vm.expectRevert(err);
        trainers.endJob(trainer);
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
