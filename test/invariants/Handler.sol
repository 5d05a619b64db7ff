// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {OpenToken} from "../../contracts/token/OpenToken.sol";
import {DatanetRegistry} from "../../contracts/datanets/DatanetRegistry.sol";
import {AccessRegistry} from "../../contracts/access/AccessRegistry.sol";
import {TrainerRegistry} from "../../contracts/trainers/TrainerRegistry.sol";
import {JobMarket} from "../../contracts/jobs/JobMarket.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Vm} from "../utils/Vm.sol";

/// @notice Drives random but valid-looking sequences of protocol calls for the invariant tests and keeps
/// the ghost state the invariants compare against. Every action bounds its inputs and swallows expected
/// reverts, so runs spend their depth on state changes.
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    OpenToken public token;
    DatanetRegistry public datanets;
    AccessRegistry public access;
    TrainerRegistry public trainers;
    JobMarket public market;
    RewardDistributor public rewards;
    PaymentChannels public channels;
    uint32 public baseModel;

    uint256 public constant PAYER_KEY = 0xBA1E;
    address public payer;
    address[3] public users = [address(0x1001), address(0x1002), address(0x1003)];
    address[2] public trainerAccounts = [address(0x2001), address(0x2002)];
    address public contributorA = address(0x3001);
    address public contributorB = address(0x3002);
    address public provider = address(0x4001);
    bytes32[4] internal _leaves;
    bytes32 public root;

    uint256 public openNet;
    uint256 public paidNet;
    uint256[] public jobIds;
    uint256[] public modelIds;
    bytes32[] public channelIds;
    uint256[] public distributionIds;
    mapping(bytes32 channelId => uint256) public maxSigned;
    uint256 public clock = 1_000_000;

    constructor(
        OpenToken token_,
        DatanetRegistry datanets_,
        AccessRegistry access_,
        TrainerRegistry trainers_,
        JobMarket market_,
        RewardDistributor rewards_,
        PaymentChannels channels_,
        uint32 baseModel_
    ) {
        token = token_;
        datanets = datanets_;
        access = access_;
        trainers = trainers_;
        market = market_;
        rewards = rewards_;
        channels = channels_;
        baseModel = baseModel_;
        payer = vm.addr(PAYER_KEY);
        _leaves[0] = Merkle.leaf(contributorA, 1);
        _leaves[1] = Merkle.leaf(contributorB, 3);
        _leaves[2] = Merkle.leaf(address(1), 0);
        _leaves[3] = Merkle.leaf(address(2), 0);
        (root,) = Merkle.rootAndProof(_leaves, 0);
    }

    /// @dev Called once by the test after roles are granted.
    function init() external {
        if (openNet != 0) return;
        vm.startPrank(users[0]);
        openNet = datanets.createDatanet("open", IDatanetRegistry.AccessPolicy.Open, 0, new address[](0));
        paidNet = datanets.createDatanet("paid", IDatanetRegistry.AccessPolicy.Paid, 3e18, new address[](0));
        uint256 c1 = datanets.submitContribution(openNet, "c", bytes32(0), 1, 1, false);
        uint256 c2 = datanets.submitContribution(paidNet, "c", bytes32(0), 1, 1, false);
        datanets.approveContribution(openNet, c1);
        datanets.approveContribution(paidNet, c2);
        vm.stopPrank();
        address[] memory all = new address[](8);
        all[0] = users[0];
        all[1] = users[1];
        all[2] = users[2];
        all[3] = trainerAccounts[0];
        all[4] = trainerAccounts[1];
        all[5] = payer;
        all[6] = contributorA;
        all[7] = contributorB;
        for (uint256 i = 0; i < all.length; ++i) {
            token.mint(all[i], 1e27);
            vm.startPrank(all[i]);
            token.approve(address(market), type(uint256).max);
            token.approve(address(access), type(uint256).max);
            token.approve(address(trainers), type(uint256).max);
            token.approve(address(rewards), type(uint256).max);
            token.approve(address(channels), type(uint256).max);
            vm.stopPrank();
        }
    }

    function accounts() external view returns (address[] memory all) {
        all = new address[](9);
        all[0] = users[0];
        all[1] = users[1];
        all[2] = users[2];
        all[3] = trainerAccounts[0];
        all[4] = trainerAccounts[1];
        all[5] = payer;
        all[6] = contributorA;
        all[7] = contributorB;
        all[8] = provider;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function modelCount() external view returns (uint256) {
        return modelIds.length;
    }

    function channelCount() external view returns (uint256) {
        return channelIds.length;
    }

    function distributionCount() external view returns (uint256) {
        return distributionIds.length;
    }

    function _advance(uint256 seconds_) internal {
        clock += seconds_;
        vm.warp(clock);
    }

    // ---- jobs ----

    function postJob(uint256 userSeed, uint128 budget, bool paid) external {
        address user = users[userSeed % 3];
        budget = uint128(1 + budget % 1e22);
        uint256 net = paid ? paidNet : openNet;
        if (paid) {
            vm.prank(user);
            access.buyAccess(paidNet, 1, 3e18);
        }
        uint256[] memory ids = new uint256[](1);
        ids[0] = net;
        uint32[] memory versions = new uint32[](1);
        versions[0] = 1;
        vm.prank(user);
        uint256 id = market.postJob(
            IJobMarket.JobRequest({
                specCID: "spec",
                baseModelId: baseModel,
                parentModelId: 0,
                datanetIds: ids,
                versions: versions,
                budget: budget,
                duration: 1 hours
            })
        );
        jobIds.push(id);
    }

    function _job(uint256 seed) internal view returns (uint256 id, IJobMarket.Job memory job) {
        if (jobIds.length == 0) return (0, job);
        id = jobIds[seed % jobIds.length];
        job = market.getJob(id);
    }

    function stake(uint256 trainerSeed, uint256 amount) external {
        address t = trainerAccounts[trainerSeed % 2];
        amount = 1 + amount % 300e18;
        vm.prank(t);
        trainers.stake(amount);
    }

    function requestUnstake(uint256 trainerSeed, uint256 amount) external {
        address t = trainerAccounts[trainerSeed % 2];
        uint256 free = trainers.freeStakeOf(t);
        if (free == 0) return;
        vm.prank(t);
        trainers.requestUnstake(1 + amount % free);
    }

    function withdrawStake(uint256 trainerSeed) external {
        address t = trainerAccounts[trainerSeed % 2];
        if (trainers.getTrainer(t).unstaking == 0) return;
        _advance(7 days);
        vm.prank(t);
        trainers.withdrawStake();
    }

    function claimJob(uint256 seed, uint256 trainerSeed) external {
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.JobStatus.Open) return;
        address t = trainerAccounts[trainerSeed % 2];
        uint256 collateral = market.collateralFor(job.budget);
        uint256 free = trainers.freeStakeOf(t);
        if (!trainers.isEligible(t) || free < collateral) {
            vm.prank(t);
            trainers.stake(100e18 + collateral);
        }
        vm.prank(t);
        market.claimJob(id);
    }

    function submitResult(uint256 seed, bool attributed) external {
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.JobStatus.Claimed || block.timestamp > job.dueAt) return;
        vm.prank(job.trainer);
        market.submitResult(
            id,
            IJobMarket.Result({
                adapterCID: "adapter",
                adapterHash: bytes32(id),
                metricsCID: "metrics",
                attributionRoot: attributed ? root : bytes32(0),
                attributionTotalWeight: attributed ? 4 : 0,
                reportCID: "report"
            })
        );
    }

    function settleJob(uint256 seed, uint8 how) external {
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        uint256 modelId;
        if (job.status == IJobMarket.JobStatus.Submitted) {
            if (how % 3 == 0) {
                vm.prank(job.poster);
                modelId = market.acceptResult(id);
            } else if (how % 3 == 1) {
                _advance(1 days);
                modelId = market.finalizeJob(id);
            } else if (block.timestamp < job.challengeEndsAt) {
                vm.prank(job.poster);
                market.disputeResult(id, "why");
            } else {
                // The window closed while other actions moved the clock: finalizing is what is left.
                modelId = market.finalizeJob(id);
            }
        } else if (job.status == IJobMarket.JobStatus.Disputed) {
            modelId = market.resolveDispute(id, how % 2 == 0, "ruling");
        } else if (job.status == IJobMarket.JobStatus.Open) {
            vm.prank(job.poster);
            market.cancelJob(id);
        } else if (job.status == IJobMarket.JobStatus.Claimed) {
            if (how % 2 == 0 && block.timestamp <= job.dueAt) {
                vm.prank(job.trainer);
                market.releaseJob(id);
            } else {
                _advance(2 hours);
                market.reclaimJob(id);
            }
        }
        if (modelId != 0) modelIds.push(modelId);
    }

    function withdrawCredit(uint256 seed) external {
        address[5] memory who = [users[0], users[1], users[2], trainerAccounts[0], trainerAccounts[1]];
        address a = who[seed % 5];
        if (market.withdrawable(a) == 0) return;
        vm.prank(a);
        market.withdraw();
    }

    // ---- rewards ----

    function depositRevenue(uint256 seed, uint256 amount) external {
        if (modelIds.length == 0) return;
        vm.prank(users[seed % 3]);
        rewards.depositRevenue(modelIds[seed % modelIds.length], 1 + amount % 1e22);
    }

    function claimReward(uint256 seed, bool first) external {
        if (modelIds.length == 0) return;
        uint256 m = modelIds[seed % modelIds.length];
        uint256 i = first ? 0 : 1;
        address account = first ? contributorA : contributorB;
        uint256 weight = first ? 1 : 3;
        if (rewards.getModelRewards(m).attributionRoot == bytes32(0)) return;
        if (rewards.claimable(m, account, weight) == 0) return;
        (, bytes32[] memory proof) = Merkle.rootAndProof(_leaves, i);
        rewards.claimReward(m, account, weight, proof);
    }

    function payShares(uint256 seed) external {
        if (modelIds.length == 0) return;
        uint256 m = modelIds[seed % modelIds.length];
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(m);
        if (o + t + p == 0) return;
        rewards.payShares(m);
    }

    function fundPool(uint256 seed, uint256 amount) external {
        vm.prank(users[seed % 3]);
        rewards.fundDatanetPool(seed % 2 == 0 ? openNet : paidNet, 1 + amount % 1e22);
    }

    function distributePool(bool paid) external {
        uint256 net = paid ? paidNet : openNet;
        if (rewards.poolBalance(net) == 0) return;
        vm.prank(users[0]);
        distributionIds.push(rewards.createPoolDistribution(net, root, 4, "dist"));
    }

    function claimPool(uint256 seed, bool first) external {
        if (distributionIds.length == 0) return;
        uint256 d = distributionIds[seed % distributionIds.length];
        address account = first ? contributorA : contributorB;
        if (rewards.isPoolRewardClaimed(d, account)) return;
        uint256 weight = first ? 1 : 3;
        if (uint256(rewards.getDistribution(d).amount) * weight / 4 == 0) return;
        (, bytes32[] memory proof) = Merkle.rootAndProof(_leaves, first ? 0 : 1);
        rewards.claimPoolReward(d, account, weight, proof);
    }

    // ---- channels ----

    function openChannel(uint256 seed, uint256 amount) external {
        if (modelIds.length == 0) return;
        uint256 m = modelIds[seed % modelIds.length];
        bytes32 id = channels.channelIdOf(payer, provider, m);
        amount = 1 + amount % 1e22;
        vm.prank(payer);
        if (channelIds.length > 0 && _exists(id)) {
            channels.topUp(id, amount);
        } else {
            channels.openChannel(provider, m, amount, address(0), 0);
            channelIds.push(id);
        }
    }

    function _exists(bytes32 id) internal view returns (bool) {
        for (uint256 i = 0; i < channelIds.length; ++i) {
            if (channelIds[i] == id) return true;
        }
        return false;
    }

    function redeem(uint256 seed, uint256 cumulative) external {
        if (channelIds.length == 0) return;
        bytes32 id = channelIds[seed % channelIds.length];
        cumulative = cumulative % 2e22;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, channels.voucherDigest(id, cumulative));
        if (cumulative > maxSigned[id]) maxSigned[id] = cumulative;
        uint256 deposit = channels.getChannel(id).deposit;
        uint256 capped = cumulative < deposit ? cumulative : deposit;
        if (capped <= channels.getChannel(id).redeemed) return;
        vm.prank(provider);
        channels.redeemVoucher(id, cumulative, abi.encodePacked(r, s, v));
    }

    function withdrawChannel(uint256 seed) external {
        if (channelIds.length == 0) return;
        bytes32 id = channelIds[seed % channelIds.length];
        vm.prank(payer);
        channels.requestWithdrawal(id);
        _advance(1 days);
        if (channels.getChannel(id).deposit == channels.getChannel(id).redeemed) return;
        vm.prank(payer);
        channels.withdraw(id);
    }
}
