// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IAccessRegistry} from "../../contracts/interfaces/IAccessRegistry.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {ITrainerRegistry} from "../../contracts/interfaces/ITrainerRegistry.sol";
import {Protocol} from "../utils/Protocol.sol";

contract JobMarketTest is Protocol {
    uint256 internal net;
    uint128 internal constant BUDGET = 1_000e18;
    uint128 internal constant FEE = 100e18; // 10 %
    bytes32 internal constant ROOT = keccak256("root");
    /// @dev A claim locks the whole budget by default (collateralBps 10,000 > the SLASH floor).
    uint256 internal constant COLLATERAL = BUDGET;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        net = makeDatanet(IDatanetRegistry.AccessPolicy.Approval, 0, 2);
        vm.prank(alice);
        access.grantAccess(net, builder, 2_000_000, 10);
        fund(builder, 10_000e18);
        stakeTrainer(trainer);
    }

    function _post() internal returns (uint256 jobId) {
        vm.prank(builder);
        jobId = market.postJob(jobRequest(net, BUDGET));
    }

    function _claimed() internal returns (uint256 jobId) {
        jobId = _post();
        vm.prank(trainer);
        market.claimJob(jobId);
    }

    function _submitted() internal returns (uint256 jobId) {
        jobId = _claimed();
        vm.prank(trainer);
        market.submitResult(jobId, result(ROOT, 1e18));
    }

    function _status(uint256 jobId) internal view returns (uint256) {
        return uint256(market.getJob(jobId).status);
    }

    function test_post_escrowsAndConsumesAccess() public {
        IJobMarket.JobRequest memory r = jobRequest(net, BUDGET);
        vm.expectEmit();
        emit IJobMarket.JobPosted(1, builder, "bafyspec", baseModel, 0, r.datanetIds, r.versions, BUDGET, FEE, 1 days);
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.poster, builder, "poster");
        assertEq(job.budget, BUDGET, "budget");
        assertEq(job.dataFee, FEE, "fee");
        assertEq(_status(jobId), uint256(IJobMarket.JobStatus.Open), "open");
        assertEq(token.balanceOf(address(market)), BUDGET, "escrow");
        assertEq(access.getGrant(net, builder).usesLeft, 9, "use consumed");
        (uint256[] memory ids, uint32[] memory versions) = market.getJobDatanets(jobId);
        assertEq(ids[0], net, "datanet");
        assertEq(versions[0], 1, "version");
        assertEq(market.jobCount(), 1, "count");
    }

    function test_post_withParentModel() public {
        uint256 parent = mintModel(ROOT, 1e18);
        IJobMarket.JobRequest memory r = jobRequest(net, BUDGET);
        r.parentModelId = parent;
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        assertEq(market.getJob(jobId).parentModelId, parent, "parent");
        uint32 other = models.registerBaseModel("other", "bafyother");
        r.baseModelId = other;
        vm.prank(builder);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.ParentModelMismatch.selector, parent, other, baseModel));
        market.postJob(r);
    }

    function test_post_revertsOnBadRequest() public {
        IJobMarket.JobRequest memory r = jobRequest(net, 0);
        vm.startPrank(builder);
        vm.expectRevert(IJobMarket.ZeroBudget.selector);
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.duration = 1;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidDuration.selector, 1, 60, 90 days));
        market.postJob(r);
        r.duration = 91 days;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidDuration.selector, 91 days, 60, 90 days));
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.specCID = "";
        vm.expectRevert(IJobMarket.EmptyCID.selector);
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.baseModelId = 9;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InactiveBaseModel.selector, 9));
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.datanetIds = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidDatanetCount.selector, 0, 8));
        market.postJob(r);
        r.datanetIds = new uint256[](9);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidDatanetCount.selector, 9, 8));
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.versions = new uint32[](2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.LengthMismatch.selector, 1, 2));
        market.postJob(r);
        r = jobRequest(net, BUDGET);
        r.versions[0] = 3;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidVersion.selector, net, 3, 2));
        market.postJob(r);
        r.versions[0] = 0;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidVersion.selector, net, 0, 2));
        market.postJob(r);
        r.datanetIds = new uint256[](2);
        r.datanetIds[0] = net;
        r.datanetIds[1] = net;
        r.versions = new uint32[](2);
        r.versions[0] = 1;
        r.versions[1] = 1;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.DuplicateDatanet.selector, net));
        market.postJob(r);
        vm.stopPrank();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.AccessDenied.selector, net, stranger));
        market.postJob(jobRequest(net, BUDGET));
    }

    function test_claim_setsTrainerAndDeadline() public {
        uint256 jobId = _post();
        vm.expectEmit();
        emit IJobMarket.JobClaimed(jobId, trainer, 1_000_000 + 1 days, COLLATERAL);
        vm.prank(trainer);
        market.claimJob(jobId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.trainer, trainer, "trainer");
        assertEq(job.collateral, COLLATERAL, "collateral fixed at claim");
        assertEq(trainers.getTrainer(trainer).locked, COLLATERAL, "locked in the registry");
        assertEq(job.dueAt, 1_000_000 + 1 days, "due");
        assertEq(trainers.getTrainer(trainer).activeJobs, 1, "active");
        assertTrue(market.isAssigned(jobId, trainer, net), "assigned");
        assertTrue(!market.isAssigned(jobId, trainer, net + 1), "other datanet");
        assertTrue(!market.isAssigned(jobId, stranger, net), "other trainer");
        assertTrue(!market.isAssigned(jobId, address(0), net), "zero");
    }

    function test_claim_reverts() public {
        uint256 jobId = _post();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ITrainerRegistry.InsufficientStake.selector, stranger, 0, MIN_STAKE));
        market.claimJob(jobId);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, jobId, IJobMarket.JobStatus.Claimed, IJobMarket.JobStatus.Open
            )
        );
        market.claimJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobNotFound.selector, 42));
        market.claimJob(42);
    }

    function test_submit_opensChallengeWindow() public {
        uint256 jobId = _claimed();
        vm.warp(1_000_100);
        vm.expectEmit();
        emit IJobMarket.ResultSubmitted(
            jobId, trainer, "bafyadapter", keccak256("adapter"), "bafymetrics", ROOT, 1e18, "bafyreport", 1_000_100 + 1 days
        );
        vm.prank(trainer);
        market.submitResult(jobId, result(ROOT, 1e18));
        assertEq(market.getJob(jobId).challengeEndsAt, 1_000_100 + 1 days, "window");
        IJobMarket.Result memory res = market.getResult(jobId);
        assertEq(res.adapterCID, "bafyadapter", "stored");
        assertEq(res.attributionTotalWeight, 1e18, "weight");
        assertTrue(market.isAssigned(jobId, trainer, net), "still assigned");
    }

    function test_submit_reverts() public {
        uint256 jobId = _claimed();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotTrainer.selector, jobId, stranger));
        market.submitResult(jobId, result(ROOT, 1));
        vm.startPrank(trainer);
        IJobMarket.Result memory r = result(ROOT, 1);
        r.adapterCID = "";
        vm.expectRevert(IJobMarket.EmptyCID.selector);
        market.submitResult(jobId, r);
        r = result(ROOT, 1);
        r.metricsCID = "";
        vm.expectRevert(IJobMarket.EmptyCID.selector);
        market.submitResult(jobId, r);
        r = result(ROOT, 1);
        r.reportCID = "";
        vm.expectRevert(IJobMarket.EmptyCID.selector);
        market.submitResult(jobId, r);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidAttribution.selector, ROOT, 0));
        market.submitResult(jobId, result(ROOT, 0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidAttribution.selector, bytes32(0), 5));
        market.submitResult(jobId, result(bytes32(0), 5));
        vm.warp(1_000_000 + 1 days + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.DeadlinePassed.selector, jobId, 1_000_000 + 1 days));
        market.submitResult(jobId, result(ROOT, 1));
        vm.stopPrank();
    }

    function test_accept_finalizesPaysAndMints() public {
        uint256 jobId = _submitted();
        vm.expectEmit();
        emit IJobMarket.ResultAccepted(jobId, builder);
        vm.prank(builder);
        uint256 modelId = market.acceptResult(jobId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint256(job.status), uint256(IJobMarket.JobStatus.Finalized), "finalized");
        assertEq(job.modelId, modelId, "model stored");
        assertEq(models.ownerOf(modelId), builder, "minted to poster");
        IModelRegistry.ModelVersion memory v = models.getModelVersion(modelId);
        assertEq(v.jobId, jobId, "job link");
        assertEq(v.attributionRoot, ROOT, "root");
        assertTrue(rewards.isRegistered(modelId), "registered for rewards");
        assertEq(market.withdrawable(trainer), BUDGET - FEE, "trainer credited");
        assertEq(rewards.poolBalance(net), FEE, "data fee to pool");
        assertEq(token.balanceOf(address(market)), BUDGET - FEE, "escrow holds trainer pay");
        assertEq(trainers.getTrainer(trainer).activeJobs, 0, "job ended");
        assertTrue(!market.isAssigned(jobId, trainer, net), "no longer assigned");
        vm.prank(trainer);
        assertEq(market.withdraw(), BUDGET - FEE, "withdrawn");
        assertEq(token.balanceOf(trainer), BUDGET - FEE, "trainer paid");
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NothingToWithdraw.selector, trainer));
        market.withdraw();
    }

    function test_accept_revertsForOthers() public {
        uint256 jobId = _submitted();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotPoster.selector, jobId, stranger));
        market.acceptResult(jobId);
    }

    function test_finalize_afterWindowOnly() public {
        uint256 jobId = _submitted();
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.ChallengeWindowOpen.selector, jobId, 1_000_000 + 1 days));
        market.finalizeJob(jobId);
        vm.warp(1_000_000 + 1 days);
        vm.prank(stranger);
        uint256 modelId = market.finalizeJob(jobId);
        assertEq(models.ownerOf(modelId), builder, "minted");
    }

    function test_finalize_splitsFeeOverDatanetsWithRemainderToFirst() public {
        uint256 net2 = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        uint256 net3 = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        IJobMarket.JobRequest memory r = jobRequest(net, 1_000);
        r.datanetIds = new uint256[](3);
        r.datanetIds[0] = net;
        r.datanetIds[1] = net2;
        r.datanetIds[2] = net3;
        r.versions = new uint32[](3);
        r.versions[0] = 2;
        r.versions[1] = 1;
        r.versions[2] = 1;
        vm.prank(builder);
        uint256 jobId = market.postJob(r); // fee 100 -> 34, 33, 33
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(bytes32(0), 0));
        vm.prank(builder);
        market.acceptResult(jobId);
        assertEq(rewards.poolBalance(net), 34, "first + remainder");
        assertEq(rewards.poolBalance(net2), 33, "second");
        assertEq(rewards.poolBalance(net3), 33, "third");
        assertEq(market.withdrawable(trainer), 900, "trainer");
    }

    function test_finalize_withZeroFeeSkipsPools() public {
        market.setDataFeeBps(0);
        uint256 jobId = _submitted();
        vm.prank(builder);
        market.acceptResult(jobId);
        assertEq(rewards.poolBalance(net), 0, "no fee");
        assertEq(market.withdrawable(trainer), BUDGET, "all to trainer");
    }

    function test_finalize_tinyFeeSkipsZeroShares() public {
        uint256 net2 = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        IJobMarket.JobRequest memory r = jobRequest(net, 10); // fee 1 over 2 datanets -> 1, 0
        r.datanetIds = new uint256[](2);
        r.datanetIds[0] = net;
        r.datanetIds[1] = net2;
        r.versions = new uint32[](2);
        r.versions[0] = 1;
        r.versions[1] = 1;
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(bytes32(0), 0));
        vm.prank(builder);
        market.acceptResult(jobId);
        assertEq(rewards.poolBalance(net), 1, "first");
        assertEq(rewards.poolBalance(net2), 0, "second gets nothing");
    }

    function test_cancel_refundsOpenJob() public {
        uint256 jobId = _post();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotPoster.selector, jobId, stranger));
        market.cancelJob(jobId);
        vm.expectEmit();
        emit IJobMarket.JobCancelled(jobId, builder, BUDGET);
        vm.prank(builder);
        market.cancelJob(jobId);
        assertEq(_status(jobId), uint256(IJobMarket.JobStatus.Cancelled), "cancelled");
        uint256 before = token.balanceOf(builder);
        vm.prank(builder);
        market.withdraw();
        assertEq(token.balanceOf(builder) - before, BUDGET, "refund");
        uint256 claimed = _claimed();
        vm.prank(builder);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, claimed, IJobMarket.JobStatus.Claimed, IJobMarket.JobStatus.Open
            )
        );
        market.cancelJob(claimed);
    }

    /// Review finding 7: cancelJob did not restore the access uses posting consumed.
    function test_cancel_restoresTheAccessUsesPostingConsumed() public {
        uint256 paidNet = makeDatanet(IDatanetRegistry.AccessPolicy.Paid, 5e18, 1);
        vm.prank(builder);
        access.buyAccess(paidNet, 1, 5e18);
        uint256 openNet = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        IJobMarket.JobRequest memory r = jobRequest(net, BUDGET);
        r.datanetIds = new uint256[](3);
        r.versions = new uint32[](3);
        (r.datanetIds[0], r.datanetIds[1], r.datanetIds[2]) = (net, paidNet, openNet);
        (r.versions[0], r.versions[1], r.versions[2]) = (1, 1, 1);
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        assertEq(access.getGrant(net, builder).usesLeft, 9, "granted use consumed");
        assertEq(access.getGrant(paidNet, builder).usesLeft, 0, "paid use consumed");
        vm.prank(builder);
        market.cancelJob(jobId);
        assertEq(access.getGrant(net, builder).usesLeft, 10, "granted use restored");
        IAccessRegistry.Grant memory g = access.getGrant(paidNet, builder);
        assertEq(g.usesLeft, 1, "paid use restored");
        assertEq(g.paidUses, 1, "still a paid use: a curator cannot revoke it");
        assertEq(access.getGrant(openNet, builder).usesLeft, 0, "nothing consumed on an Open Datanet");
    }

    function test_reclaim_afterDeadlineSlashesAndReopens() public {
        uint256 jobId = _claimed();
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.DeadlineNotPassed.selector, jobId, 1_000_000 + 1 days));
        market.reclaimJob(jobId);
        vm.warp(1_000_000 + 1 days + 1);
        vm.expectEmit();
        emit IJobMarket.JobReclaimed(jobId, trainer, COLLATERAL);
        vm.prank(stranger);
        market.reclaimJob(jobId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint256(job.status), uint256(IJobMarket.JobStatus.Open), "reopened");
        assertEq(job.trainer, address(0), "trainer cleared");
        assertEq(job.collateral, 0, "collateral cleared");
        // Review finding 3: the poster chose the deadline, so the slash never goes to the poster.
        assertEq(market.withdrawable(builder), 0, "nothing to the poster");
        assertEq(rewards.poolBalance(net), COLLATERAL, "slash to the Datanet's pool");
        assertEq(trainers.getTrainer(trainer).locked, 0, "unlocked");
        assertEq(trainers.getTrainer(trainer).activeJobs, 0, "ended");
        address second = address(0x2222);
        stakeTrainer(second);
        vm.prank(second);
        market.claimJob(jobId);
        assertEq(market.getJob(jobId).trainer, second, "claimable again");
    }

    function test_release_reopensAtOnceForLessThanAMissedDeadline() public {
        uint256 jobId = _claimed();
        uint256 fee = COLLATERAL * market.releaseFeeBps() / 10_000;
        assertLe(1, fee, "costs something");
        assertLe(fee, COLLATERAL - 1, "costs less than a missed deadline");
        uint256 stakeBefore = trainers.getTrainer(trainer).staked;
        uint256 poolBefore = rewards.poolBalance(net);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotTrainer.selector, jobId, stranger));
        market.releaseJob(jobId);
        vm.expectEmit();
        emit IJobMarket.JobReleased(jobId, trainer, fee);
        vm.prank(trainer);
        market.releaseJob(jobId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint256(job.status), uint256(IJobMarket.JobStatus.Open), "reopened");
        assertEq(job.trainer, address(0), "trainer cleared");
        assertEq(job.dueAt, 0, "deadline cleared");
        assertEq(trainers.getTrainer(trainer).activeJobs, 0, "ended");
        assertEq(stakeBefore - trainers.getTrainer(trainer).staked, fee, "fee from the stake");
        assertEq(trainers.getTrainer(trainer).locked, 0, "rest of the collateral unlocked");
        assertEq(rewards.poolBalance(net) - poolBefore, fee, "fee to the Datanet's pool");
        assertEq(market.withdrawable(builder), 0, "nothing to the poster");
        assertEq(token.balanceOf(address(market)), BUDGET, "budget still escrowed");
        // released twice: the job is open now
        vm.prank(trainer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, jobId, IJobMarket.JobStatus.Open, IJobMarket.JobStatus.Claimed
            )
        );
        market.releaseJob(jobId);
        // claimable again (the releasing trainer only after topping its stake back up to the minimum)
        address second = address(0x2222);
        stakeTrainer(second);
        vm.prank(second);
        market.claimJob(jobId);
        assertEq(market.getJob(jobId).trainer, second, "claimable again");
    }

    function test_release_afterDeadlineIsAReclaim() public {
        uint256 jobId = _claimed();
        uint40 dueAt = market.getJob(jobId).dueAt;
        vm.warp(uint256(dueAt) + 1);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.DeadlinePassed.selector, jobId, dueAt));
        market.releaseJob(jobId);
    }

    function test_release_splitsTheFeeOverTheJobsDatanets() public {
        uint256 other = makeDatanet(IDatanetRegistry.AccessPolicy.Approval, 0, 1);
        vm.prank(alice);
        access.grantAccess(other, builder, 2_000_000, 10);
        IJobMarket.JobRequest memory r = jobRequest(net, BUDGET);
        uint256[] memory ids = new uint256[](2);
        uint32[] memory versions = new uint32[](2);
        ids[0] = net;
        ids[1] = other;
        versions[0] = 1;
        versions[1] = 1;
        r.datanetIds = ids;
        r.versions = versions;
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        vm.prank(trainer);
        market.claimJob(jobId);
        market.setReleaseFeeBps(3_333);
        uint256 fee = COLLATERAL * 3_333 / 10_000;
        vm.prank(trainer);
        market.releaseJob(jobId);
        assertEq(rewards.poolBalance(net), fee - fee / 2, "first Datanet takes the remainder");
        assertEq(rewards.poolBalance(other), fee / 2, "second Datanet's share");
    }

    function test_setReleaseFeeBps_bounds() public {
        vm.expectEmit();
        emit IJobMarket.ReleaseFeeBpsUpdated(9_999);
        market.setReleaseFeeBps(9_999);
        assertEq(market.releaseFeeBps(), 9_999, "set");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidReleaseFeeBps.selector, 0));
        market.setReleaseFeeBps(0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidReleaseFeeBps.selector, 10_000));
        market.setReleaseFeeBps(10_000);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        market.setReleaseFeeBps(1);
    }

    function test_adminSetters() public {
        vm.expectEmit();
        emit IJobMarket.ChallengeWindowUpdated(2 days);
        market.setChallengeWindow(2 days);
        market.setDataFeeBps(2_500);
        market.setSlashAmount(7);
        vm.expectEmit();
        emit IJobMarket.CollateralBpsUpdated(2_000);
        market.setCollateralBps(2_000);
        assertEq(market.collateralBps(), 2_000, "collateral bps");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidBps.selector, 10_001));
        market.setCollateralBps(10_001);
        assertEq(market.challengeWindow(), 2 days, "window");
        assertEq(market.dataFeeBps(), 2_500, "bps");
        assertEq(market.slashAmount(), 7, "slash");
        vm.expectRevert(IJobMarket.ZeroChallengeWindow.selector);
        market.setChallengeWindow(0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.InvalidBps.selector, 10_001));
        market.setDataFeeBps(10_001);
        bytes memory err =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0));
        vm.startPrank(stranger);
        vm.expectRevert(err);
        market.setChallengeWindow(1);
        vm.expectRevert(err);
        market.setDataFeeBps(1);
        vm.expectRevert(err);
        market.setSlashAmount(1);
        vm.expectRevert(err);
        market.setCollateralBps(1);
        vm.stopPrank();
    }

    /// Review finding 1: a minimum stake claimed 6 jobs at once. Each claim now locks its own collateral.
    function test_claim_oneStakeBacksOnlyTheClaimsItCovers() public {
        uint256 first = _claimed();
        uint256 second = _post();
        vm.prank(trainer);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITrainerRegistry.InsufficientFreeStake.selector, trainer, TRAINER_STAKE - COLLATERAL, COLLATERAL
            )
        );
        market.claimJob(second);
        assertTrue(!market.isAssigned(second, trainer, net), "second job not assigned");
        assertTrue(market.isAssigned(first, trainer, net), "first still assigned");
        // More stake backs a second claim; each job's collateral settles on its own.
        fund(trainer, COLLATERAL);
        vm.prank(trainer);
        trainers.stake(COLLATERAL);
        vm.prank(trainer);
        market.claimJob(second);
        assertEq(trainers.getTrainer(trainer).locked, 2 * COLLATERAL, "two collaterals");
        vm.warp(1_000_000 + 1 days + 1);
        market.reclaimJob(first);
        market.reclaimJob(second);
        assertEq(rewards.poolBalance(net), 2 * COLLATERAL, "every reclaim slashes its own collateral");
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE - COLLATERAL, "stake less both");
    }

    /// Review finding 7: the slash amount was read at slash time. Collateral is fixed at claim.
    function test_claim_collateralFixedAtClaimDespiteAdminChanges() public {
        market.setCollateralBps(1_000); // 10 % of the budget = 100 OPEN > the 50 OPEN floor
        assertEq(market.collateralFor(BUDGET), 100e18, "10 %");
        uint256 jobId = _claimed();
        assertEq(market.getJob(jobId).collateral, 100e18, "fixed");
        market.setCollateralBps(10_000);
        market.setSlashAmount(1_000_000e18);
        vm.warp(1_000_000 + 1 days + 1);
        vm.expectEmit();
        emit IJobMarket.JobReclaimed(jobId, trainer, 100e18);
        market.reclaimJob(jobId);
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE - 100e18, "only the claimed collateral");
    }

    function test_collateralFor_floorAndShare() public {
        assertEq(market.collateralFor(1e18), SLASH, "floor for small budgets");
        assertEq(market.collateralFor(BUDGET), BUDGET, "whole budget by default");
        market.setCollateralBps(2_500);
        assertEq(market.collateralFor(BUDGET), 250e18, "quarter");
        market.setCollateralBps(0);
        assertEq(market.collateralFor(BUDGET), SLASH, "floor only");
    }

    /// Review finding 3: a 60-second "honeypot" job earned its poster two slashes. The poster now gets none.
    function test_reclaim_honeypotPosterEarnsNothing() public {
        IJobMarket.JobRequest memory r = jobRequest(net, BUDGET);
        r.duration = 60;
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        uint256 builderBalance = token.balanceOf(builder);
        for (uint256 i = 0; i < 2; ++i) {
            address victim = address(uint160(0x9000 + i));
            stakeTrainer(victim);
            vm.prank(victim);
            market.claimJob(jobId);
            vm.warp(block.timestamp + 61);
            vm.prank(builder);
            market.reclaimJob(jobId);
        }
        assertEq(market.withdrawable(builder), 0, "no credit");
        assertEq(token.balanceOf(builder), builderBalance, "no tokens");
        vm.prank(builder);
        market.cancelJob(jobId);
        assertEq(market.withdrawable(builder), BUDGET, "only the budget back");
    }

    /// Review finding 3: a contributor withdrawing consent slashed the trainer. The trainer now releases
    /// without a fee when the chain proves the cause.
    function test_releaseNoFault_onlyForAWithdrawalInTheJobsVersionDuringTheClaim() public {
        // net has contributions 1 and 2 (versions 1 and 2); the job trains on version 1.
        vm.prank(bob);
        uint256 late = datanets.submitContribution(net, "bafylate", keccak256("late"), 1, 1, false);
        vm.prank(alice);
        datanets.approveContribution(net, late); // version 3, not in the job
        vm.prank(bob);
        datanets.withdrawContribution(net, 2); // before the claim: the trainer could see it
        uint256 jobId = _claimed();
        uint256 stakeBefore = trainers.getTrainer(trainer).staked;
        vm.warp(1_000_100);
        vm.prank(bob);
        datanets.withdrawContribution(net, late);
        bytes memory unproven2 = abi.encodeWithSelector(IJobMarket.NoFaultCauseUnproven.selector, jobId, net, 2);
        vm.prank(trainer);
        vm.expectRevert(unproven2);
        market.releaseJobNoFault(jobId, net, 2); // withdrawn before the claim
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NoFaultCauseUnproven.selector, jobId, net, late));
        market.releaseJobNoFault(jobId, net, late); // withdrawn during the claim, but not in version 1
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NoFaultCauseUnproven.selector, jobId, net, 1));
        market.releaseJobNoFault(jobId, net, 1); // in version 1, not withdrawn
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NoFaultCauseUnproven.selector, jobId, net + 7, 1));
        market.releaseJobNoFault(jobId, net + 7, 1); // not one of the job's Datanets
        vm.prank(bob);
        datanets.withdrawContribution(net, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotTrainer.selector, jobId, stranger));
        market.releaseJobNoFault(jobId, net, 1);
        vm.expectEmit();
        emit IJobMarket.JobReleasedNoFault(jobId, trainer, net, 1);
        vm.prank(trainer);
        market.releaseJobNoFault(jobId, net, 1);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint256(job.status), uint256(IJobMarket.JobStatus.Open), "reopened");
        assertEq(job.trainer, address(0), "trainer cleared");
        assertTrue(!market.isAssigned(jobId, trainer, net), "no longer assigned: keys stop");
        assertEq(trainers.getTrainer(trainer).staked, stakeBefore, "no fee");
        assertEq(trainers.getTrainer(trainer).locked, 0, "collateral unlocked");
        assertEq(rewards.poolBalance(net), 0, "nothing slashed");
        // The next trainer claims knowing of the withdrawal, so it cannot use it; the poster may cancel.
        address second = address(0x2222);
        stakeTrainer(second);
        vm.prank(second);
        market.claimJob(jobId);
        vm.prank(second);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NoFaultCauseUnproven.selector, jobId, net, 1));
        market.releaseJobNoFault(jobId, net, 1);
    }

    function test_releaseNoFault_needsAClaimedJob() public {
        uint256 jobId = _submitted();
        vm.prank(bob);
        datanets.withdrawContribution(net, 1);
        vm.prank(trainer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, jobId, IJobMarket.JobStatus.Submitted, IJobMarket.JobStatus.Claimed
            )
        );
        market.releaseJobNoFault(jobId, net, 1);
    }

    function test_views_revertForMissingJob() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobNotFound.selector, 5));
        market.getJob(5);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobNotFound.selector, 5));
        market.getJobDatanets(5);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobNotFound.selector, 5));
        market.getResult(5);
        assertTrue(!market.isAssigned(5, trainer, net), "absent job");
    }

    /// Fuzz: the fee split always sums to the budget and every Datanet gets a share within 1 of the others.
    function testFuzz_finalize_conservesBudget(uint128 budget, uint16 bps, uint8 count) public {
        budget = uint128(bound(budget, 1, 1e30));
        bps = uint16(bound(bps, 0, 10_000));
        uint256 n = bound(count, 1, 8);
        market.setDataFeeBps(bps);
        market.setCollateralBps(0); // the SLASH floor, which the trainer's stake covers
        IJobMarket.JobRequest memory r = jobRequest(net, budget);
        r.datanetIds = new uint256[](n);
        r.versions = new uint32[](n);
        for (uint256 i = 0; i < n; ++i) {
            r.datanetIds[i] = i == 0 ? net : makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
            r.versions[i] = 1;
        }
        fund(builder, budget);
        vm.prank(builder);
        uint256 jobId = market.postJob(r);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(bytes32(0), 0));
        vm.prank(builder);
        market.acceptResult(jobId);
        uint256 pools;
        for (uint256 i = 0; i < n; ++i) {
            uint256 p = rewards.poolBalance(r.datanetIds[i]);
            pools += p;
            assertLe(p, uint256(budget) * bps / 10_000 / n + n, "share bounded");
        }
        assertEq(pools + market.withdrawable(trainer), budget, "budget conserved");
        assertEq(pools, uint256(budget) * bps / 10_000, "fee exact");
    }
}
