// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {ITrainerRegistry} from "../../contracts/interfaces/ITrainerRegistry.sol";
import {Protocol} from "../utils/Protocol.sol";
import {Handler} from "./Handler.sol";

/// @notice Invariants over random call sequences: every escrowing contract holds exactly what it owes, no
/// contributor claims beyond its share, and no voucher moves more than the payer signed.
/// hardhat-config: invariant.runs = 64
/// hardhat-config: invariant.depth = 64
/// hardhat-config: invariant.failOnRevert = true
contract EscrowInvariants is Protocol {
    Handler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        handler = new Handler(token, datanets, access, trainers, market, rewards, channels, game, baseModel);
        token.grantRole(token.MINTER_ROLE(), address(handler));
        handler.init();
        targetContract(address(handler));
    }

    /// The handler's actions are valid calls: one deterministic pass through all of them changes state
    /// everywhere and keeps every invariant (so the random campaign is not just a stream of reverts).
    function test_handler_everyActionWorks() public {
        handler.postJob(0, 5e18, false);
        handler.postJob(1, 7e18, true);
        handler.claimJob(0, 0);
        handler.submitResult(0, true);
        handler.settleJob(0, 0); // accept -> model 1
        handler.claimJob(1, 1);
        handler.submitResult(1, true);
        handler.settleJob(1, 2); // a false challenge (job 2's trainer is honest)
        for (uint256 i = 0; i < 8; ++i) handler.disputeMove(0, 1); // 3 reveals + 3 choices, segment, draw
        handler.disputeMove(0, 1); // the committee votes (verifier 0 lazy if drawn): the trainer wins
        assertTrue(game.getDispute(1).trainerWon, "false challenger lost");
        handler.settleJob(1, 1); // finalize after the window -> model 2
        assertEq(handler.modelCount(), 2, "two models");
        handler.depositRevenue(0, 1e18);
        handler.claimReward(0, true);
        handler.claimReward(0, false);
        handler.payShares(0);
        handler.fundPool(0, 3e18);
        handler.distributePool(false);
        handler.claimPool(0, true);
        handler.claimPool(0, false);
        handler.openChannel(1, 10e18);
        handler.openChannel(1, 1e18); // top-up
        handler.redeem(0, 4e18);
        handler.withdrawChannel(0);
        handler.withdrawCredit(3);
        handler.stake(0, 5e18);
        handler.requestUnstake(0, 1e18);
        handler.withdrawStake(0);
        handler.postJob(2, 1e18, false);
        handler.settleJob(2, 0); // cancel
        handler.postJob(0, 1e18, false);
        handler.claimJob(3, 1);
        handler.settleJob(3, 0); // reclaim after the deadline
        handler.postJob(0, 2e18, false); // job 5
        handler.postJob(0, 2e18, false); // job 6: its trainer cheats
        handler.claimJob(5, 0);
        handler.submitResult(5, false);
        handler.settleJob(5, 2); // an honest challenge
        for (uint256 i = 0; i < 9; ++i) handler.disputeMove(1, 1);
        assertTrue(!game.getDispute(2).trainerWon, "cheat caught");
        assertEq(uint256(game.getDispute(2).phase), uint256(IDisputeGame.Phase.Settled), "settled");
        assertEq(uint256(market.getJob(6).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        handler.withdrawGameCredit(1);
        assertEq(handler.jobCount(), 6, "jobs");
        assertEq(handler.channelCount(), 1, "channel");
        assertEq(handler.distributionCount(), 1, "distribution");
        assertTrue(rewards.claimedBy(2, handler.contributorB()) == 0, "model 2 untouched");
        assertTrue(rewards.claimedBy(1, handler.contributorB()) > 0, "claimed");
        assertTrue(channels.getChannel(handler.channelIds(0)).redeemed > 0, "redeemed");
        assertTrue(uint256(market.getJob(handler.jobIds(3)).status) == uint256(IJobMarket.JobStatus.Open), "reopened");
        invariant_jobMarketHoldsWhatItOwes();
        invariant_trainerRegistryHoldsStake();
        invariant_rewardDistributorHoldsWhatItOwes();
        invariant_noOverClaim();
        invariant_channelsHoldDepositsAndRespectVouchers();
        invariant_disputeGameHoldsWhatItOwes();
    }

    /// The dispute game holds the verifiers' stakes, the bonds and pots of unsettled disputes, and every
    /// unwithdrawn credit; the job of an unsettled dispute stays Disputed or is refunded (moot).
    function invariant_disputeGameHoldsWhatItOwes() public view {
        uint256 owed;
        for (uint256 i = 0; i < 4; ++i) {
            address v = handler.verifierAccounts(i);
            owed += game.getVerifier(v).stake + game.withdrawable(v);
        }
        address[] memory all = handler.accounts();
        for (uint256 i = 0; i < all.length; ++i) {
            owed += game.withdrawable(all[i]);
        }
        for (uint256 i = 0; i < handler.disputeCount(); ++i) {
            IDisputeGame.Dispute memory d = game.getDispute(handler.disputeIds(i));
            if (d.phase == IDisputeGame.Phase.Settled) continue;
            owed += uint256(d.bond) + d.pot;
            IJobMarket.JobStatus s = market.getJob(d.jobId).status;
            assertTrue(s == IJobMarket.JobStatus.Disputed || s == IJobMarket.JobStatus.Refunded, "open dispute's job");
        }
        assertEq(token.balanceOf(address(game)), owed, "dispute game balance");
    }

    /// JobMarket holds the budgets of jobs in escrow plus every unwithdrawn credit.
    function invariant_jobMarketHoldsWhatItOwes() public view {
        uint256 owed;
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            IJobMarket.Job memory job = market.getJob(handler.jobIds(i));
            if (
                job.status == IJobMarket.JobStatus.Open || job.status == IJobMarket.JobStatus.Claimed
                    || job.status == IJobMarket.JobStatus.Submitted || job.status == IJobMarket.JobStatus.Disputed
            ) owed += job.budget;
        }
        address[] memory all = handler.accounts();
        for (uint256 i = 0; i < all.length; ++i) {
            owed += market.withdrawable(all[i]);
        }
        assertEq(token.balanceOf(address(market)), owed, "job market balance");
    }

    /// TrainerRegistry holds exactly the active plus cooling-down stake; each trainer's locked stake is the sum
    /// of the collateral of the jobs it holds, and never more than its active stake.
    function invariant_trainerRegistryHoldsStake() public view {
        uint256 owed;
        for (uint256 i = 0; i < 2; ++i) {
            address account = handler.trainerAccounts(i);
            ITrainerRegistry.Trainer memory t = trainers.getTrainer(account);
            owed += uint256(t.staked) + t.unstaking;
            assertLe(t.locked, t.staked, "locked within stake");
            uint256 held;
            uint256 jobs;
            for (uint256 j = 0; j < handler.jobCount(); ++j) {
                IJobMarket.Job memory job = market.getJob(handler.jobIds(j));
                if (
                    job.trainer == account
                        && (job.status == IJobMarket.JobStatus.Claimed || job.status == IJobMarket.JobStatus.Submitted
                            || job.status == IJobMarket.JobStatus.Disputed)
                ) {
                    held += job.collateral;
                    ++jobs;
                }
            }
            assertEq(t.locked, held, "locked = collateral of held jobs");
            assertEq(t.activeJobs, jobs, "active jobs = held jobs");
        }
        assertEq(token.balanceOf(address(trainers)), owed, "trainer registry balance");
    }

    /// RewardDistributor holds unpaid revenue, undistributed pools and unclaimed distributions.
    function invariant_rewardDistributorHoldsWhatItOwes() public view {
        uint256 owed = rewards.poolBalance(handler.openNet()) + rewards.poolBalance(handler.paidNet());
        for (uint256 i = 0; i < handler.modelCount(); ++i) {
            IRewardDistributor.ModelRewards memory m = rewards.getModelRewards(handler.modelIds(i));
            owed += uint256(m.revenue) - m.contributorsClaimed - m.ownerPaid - m.trainerPaid - m.protocolPaid
                - m.sweptPaid;
        }
        for (uint256 i = 0; i < handler.distributionCount(); ++i) {
            IRewardDistributor.Distribution memory d = rewards.getDistribution(handler.distributionIds(i));
            owed += d.amount - d.claimed;
        }
        assertEq(token.balanceOf(address(rewards)), owed, "reward distributor balance");
        assertEq(token.balanceOf(address(access)), 0, "access registry holds nothing");
    }

    /// No contributor ever holds more than `accrued * weight / total`, nor all together more than accrued.
    function invariant_noOverClaim() public view {
        for (uint256 i = 0; i < handler.modelCount(); ++i) {
            uint256 id = handler.modelIds(i);
            IRewardDistributor.ModelRewards memory m = rewards.getModelRewards(id);
            uint256 cBps = 10_000 - m.split.ownerBps - m.split.trainerBps - m.split.protocolBps;
            uint256 accrued = m.attributionRoot == bytes32(0) ? 0 : uint256(m.revenue) * cBps / 10_000;
            assertLe(rewards.claimedBy(id, handler.contributorA()), accrued * 1 / 4, "A within share");
            assertLe(rewards.claimedBy(id, handler.contributorB()), accrued * 3 / 4, "B within share");
            assertLe(uint256(m.contributorsClaimed) + m.sweptPaid, uint256(m.revenue) * cBps / 10_000, "within part");
            assertLe(m.weightClaimed, m.totalWeight, "claimed leaves within the total");
        }
        for (uint256 i = 0; i < handler.distributionCount(); ++i) {
            IRewardDistributor.Distribution memory d = rewards.getDistribution(handler.distributionIds(i));
            assertLe(d.claimed, d.amount, "distribution within amount");
        }
    }

    /// PaymentChannels holds exactly the unspent deposits; no channel redeemed more than the payer signed.
    function invariant_channelsHoldDepositsAndRespectVouchers() public view {
        uint256 owed;
        for (uint256 i = 0; i < handler.channelCount(); ++i) {
            bytes32 id = handler.channelIds(i);
            IPaymentChannels.Channel memory c = channels.getChannel(id);
            owed += c.deposit - c.redeemed;
            assertLe(c.redeemed, handler.maxSigned(id), "voucher bound");
        }
        assertEq(token.balanceOf(address(channels)), owed, "channels balance");
    }
}
