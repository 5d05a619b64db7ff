// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {OpenToken} from "../../contracts/token/OpenToken.sol";
import {DatanetRegistry} from "../../contracts/datanets/DatanetRegistry.sol";
import {AccessRegistry} from "../../contracts/access/AccessRegistry.sol";
import {TrainerRegistry} from "../../contracts/trainers/TrainerRegistry.sol";
import {JobMarket} from "../../contracts/jobs/JobMarket.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {DisputeGame} from "../../contracts/disputes/DisputeGame.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
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
    DisputeGame public game;
    uint32 public baseModel;
    /// @dev Checkpoints each handler trainer commits; a job whose id is a multiple of 3 is trained by a cheat
    /// (states from checkpoint 3 on are made up). Verifier 0 is lazy (copies the trainer's hash, guesses the
    /// witness); challengers of an honest trainer are false challengers.
    uint32 public constant CHECKPOINTS = 8;
    address[4] public verifierAccounts = [address(0x5001), address(0x5002), address(0x5003), address(0x5004)];
    uint256[] public disputeIds;
    uint256 public blockNumber = 1_000;

    uint256 public constant PAYER_KEY = 0xBA1E;
    address public payer;
    address[3] public users = [address(0x1001), address(0x1002), address(0x1003)];
    address[2] public trainerAccounts = [address(0x2001), address(0x2002)];
    address public contributorA = address(0x3001);
    address public contributorB = address(0x3002);
    address public provider = address(0x4001);
    /// @dev Attribution leaves per Datanet (contributorA's contribution 1 weighs 1, contributorB's 2 weighs 3)
    /// and the `(account, weight)` leaves of pool distributions.
    mapping(uint256 datanetId => bytes32[4]) internal _leaves;
    mapping(uint256 datanetId => bytes32) public rootOf;
    /// @dev The attribution each job's result submits (its last checkpoint binds it).
    mapping(uint256 jobId => bytes32) internal _attribution;
    mapping(uint256 jobId => uint128) internal _attributionWeight;
    bytes32[4] internal _poolLeaves;
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
        DisputeGame game_,
        uint32 baseModel_
    ) {
        game = game_;
        token = token_;
        datanets = datanets_;
        access = access_;
        trainers = trainers_;
        market = market_;
        rewards = rewards_;
        channels = channels_;
        baseModel = baseModel_;
        payer = vm.addr(PAYER_KEY);
        _poolLeaves[0] = Merkle.leaf(contributorA, 1);
        _poolLeaves[1] = Merkle.leaf(contributorB, 3);
        _poolLeaves[2] = Merkle.leaf(address(1), 0);
        _poolLeaves[3] = Merkle.leaf(address(2), 0);
        (root,) = Merkle.rootAndProof(_poolLeaves, 0);
    }

    /// @dev contributorA's and contributorB's contributions 1 and 2 to `net`, approved (version 2), and the
    /// attribution tree over them.
    function _contributions(uint256 net) internal {
        vm.prank(contributorA);
        uint256 c1 = datanets.submitContribution(net, "c", bytes32(0), 1, 1, false);
        vm.prank(contributorB);
        uint256 c2 = datanets.submitContribution(net, "c", bytes32(uint256(1)), 1, 1, false);
        vm.startPrank(users[0]);
        datanets.approveContribution(net, c1);
        datanets.approveContribution(net, c2);
        vm.stopPrank();
        bytes32[4] storage ls = _leaves[net];
        ls[0] = Merkle.leaf(net, c1, 1);
        ls[1] = Merkle.leaf(net, c2, 3);
        ls[2] = Merkle.leaf(0, 1, 0);
        ls[3] = Merkle.leaf(0, 2, 0);
        (rootOf[net],) = Merkle.rootAndProof(ls, 0);
    }

    /// @dev Called once by the test after roles are granted.
    function init() external {
        if (openNet != 0) return;
        vm.startPrank(users[0]);
        openNet = datanets.createDatanet("open", IDatanetRegistry.AccessPolicy.Open, 0, new address[](0));
        paidNet = datanets.createDatanet("paid", IDatanetRegistry.AccessPolicy.Paid, 3e18, new address[](0));
        vm.stopPrank();
        _contributions(openNet);
        _contributions(paidNet);
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
            token.approve(address(game), type(uint256).max);
            vm.stopPrank();
        }
        for (uint256 i = 0; i < 4; ++i) {
            token.mint(verifierAccounts[i], 1_000e18);
            vm.startPrank(verifierAccounts[i]);
            token.approve(address(game), type(uint256).max);
            game.stakeVerifier(1_000e18);
            vm.stopPrank();
        }
        vm.roll(blockNumber);
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
        versions[0] = 2;
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
        bytes32 attribution = attributed ? rootOf[_netOf(id)] : bytes32(0);
        _attribution[id] = attribution;
        _attributionWeight[id] = attributed ? 4 : 0;
        bytes32 checkpointRoot = _node(id, _cheats(id), 3, 0);
        vm.prank(job.trainer);
        game.commitCheckpoints(id, checkpointRoot, CHECKPOINTS);
        vm.prank(job.trainer);
        market.submitResult(
            id,
            IJobMarket.Result({
                adapterCID: "adapter",
                adapterHash: bytes32(id),
                metricsCID: "metrics",
                attributionRoot: attribution,
                attributionTotalWeight: attributed ? 4 : 0,
                reportCID: "report"
            })
        );
    }

    function _netOf(uint256 jobId) internal view returns (uint256 net) {
        (uint256[] memory ids,) = market.getJobDatanets(jobId);
        net = ids[0];
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
                vm.prank(users[how % 3]); // the poster or anyone else with a bond
                disputeIds.push(game.openChallenge(id, "why"));
            } else {
                // The window closed while other actions moved the clock: finalizing is what is left.
                modelId = market.finalizeJob(id);
            }
        } else if (job.status == IJobMarket.JobStatus.Disputed) {
            for (uint256 i = disputeIds.length; i > 0; --i) {
                if (game.getDispute(disputeIds[i - 1]).jobId == id) {
                    _play(disputeIds[i - 1], how);
                    break;
                }
            }
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

    // ---- disputes ----

    function disputeCount() external view returns (uint256) {
        return disputeIds.length;
    }

    function disputeMove(uint256 seed, uint8 how) external {
        if (disputeIds.length == 0) return;
        _play(disputeIds[seed % disputeIds.length], how);
    }

    function withdrawGameCredit(uint256 seed) external {
        address[8] memory who = [
            users[0], users[1], users[2], trainerAccounts[0], trainerAccounts[1], verifierAccounts[1],
            verifierAccounts[2], verifierAccounts[3]
        ];
        address a = who[seed % 8];
        if (game.withdrawable(a) == 0) return;
        vm.prank(a);
        game.withdraw();
    }

    /// @dev One step of a dispute by whoever owes it; `how % 5 == 0` lets the party to move fall silent.
    function _play(uint256 id, uint8 how) internal {
        IDisputeGame.Dispute memory d = game.getDispute(id);
        if (d.phase == IDisputeGame.Phase.Settled) return;
        if (market.getJob(d.jobId).status != IJobMarket.JobStatus.Disputed) return game.settle(id); // moot
        bool cheat = _cheats(d.jobId);
        if (d.phase == IDisputeGame.Phase.TrainerMove || d.phase == IDisputeGame.Phase.ChallengerMove) {
            if (how % 5 == 0 || block.timestamp > d.deadline) {
                if (clock <= d.deadline) _advance(d.deadline + 1 - clock);
                return game.settle(id);
            }
        }
        uint256 level = _log2(d.span);
        uint256 index = d.span == 0 ? 0 : d.lo / d.span;
        if (d.phase == IDisputeGame.Phase.TrainerMove && d.span > 1) {
            vm.prank(d.trainer);
            game.revealChildren(id, _node(d.jobId, cheat, level - 1, 2 * index), _node(d.jobId, cheat, level - 1, 2 * index + 1));
        } else if (d.phase == IDisputeGame.Phase.TrainerMove) {
            uint256 j = d.lo;
            bytes32[] memory proof = new bytes32[](j == 0 ? 0 : 3);
            for (uint256 k = 0; j > 0 && k < 3; ++k) proof[k] = _node(d.jobId, cheat, k, ((j - 1) >> k) ^ 1);
            vm.prank(d.trainer);
            bytes32 claimed = j == CHECKPOINTS - 1 ? _run(d.jobId, cheat, j) : _state(d.jobId, cheat, j);
            game.proveSegment(id, j == 0 ? bytes32(0) : _state(d.jobId, cheat, j - 1), proof, claimed);
        } else if (d.phase == IDisputeGame.Phase.ChallengerMove) {
            // Against a cheat the challenger follows its honest replay; otherwise it is a false challenger.
            bytes32 left = _node(d.jobId, cheat, level - 1, 2 * index);
            bool right = cheat ? left == _node(d.jobId, false, level - 1, 2 * index) : how % 2 == 1;
            vm.prank(d.challenger);
            game.chooseChild(id, left, _node(d.jobId, cheat, level - 1, 2 * index + 1), right);
        } else if (d.phase == IDisputeGame.Phase.AwaitingDraw) {
            if (d.seats > verifierAccounts.length) return; // a redrawn committee needs more verifiers than staked
            if (blockNumber <= d.drawBlock) blockNumber = d.drawBlock + 1;
            vm.roll(blockNumber);
            vm.setBlockhash(d.drawBlock, keccak256(abi.encode(id, d.drawBlock)));
            game.drawCommittee(id);
        } else if (d.phase == IDisputeGame.Phase.Voting) {
            if (block.timestamp < d.revealStartsAt) return _vote(id, d);
            // Other actions moved the clock past the commit time: nobody voted, the round is settled as silent.
            if (clock < d.deadline) _advance(d.deadline - clock);
            game.settle(id);
        }
    }

    /// @dev The whole committee votes (the lazy verifier copies the trainer's hash with a guessed witness), then
    /// the dispute is settled.
    function _vote(uint256 id, IDisputeGame.Dispute memory d) internal {
        address[] memory members = game.committeeOf(id);
        bytes32 truth = _state(d.jobId, false, d.lo);
        for (uint256 i = 0; i < members.length; ++i) {
            bool lazy = members[i] == verifierAccounts[0];
            bytes32 verdict = lazy ? d.claimedState : truth;
            bytes32 witness = lazy ? keccak256("guess") : keccak256(abi.encode("steps", d.jobId, d.lo));
            vm.prank(members[i]);
            game.commitVote(id, keccak256(abi.encode(id, d.round, members[i], verdict, witness, bytes32(i))));
        }
        for (uint256 i = 0; i < members.length; ++i) {
            bool lazy = members[i] == verifierAccounts[0];
            bytes32 verdict = lazy ? d.claimedState : truth;
            bytes32 witness = lazy ? keccak256("guess") : keccak256(abi.encode("steps", d.jobId, d.lo));
            vm.prank(members[i]);
            game.revealVote(id, verdict, witness, bytes32(i));
        }
        game.settle(id);
    }

    function _cheats(uint256 jobId) internal pure returns (bool) {
        return jobId % 3 == 0;
    }

    /// @dev The run state after checkpoint `i` (honest, or made up from checkpoint 3 by a cheat).
    function _run(uint256 jobId, bool cheat, uint256 i) internal pure returns (bytes32) {
        return cheat && i >= 3 ? keccak256(abi.encode("made up", jobId, i)) : keccak256(abi.encode("state", jobId, i));
    }

    /// @dev Leaf `i`'s state: the run state, except the last, which binds the submitted result (adapter hash
    /// `bytes32(jobId)` and attribution), as `DisputeGame.finalState`.
    function _state(uint256 jobId, bool cheat, uint256 i) internal view returns (bytes32) {
        bytes32 run = _run(jobId, cheat, i);
        if (i != CHECKPOINTS - 1) return run;
        return keccak256(abi.encode(run, bytes32(jobId), _attribution[jobId], _attributionWeight[jobId]));
    }

    /// @dev Node `index` at `level` (0 = leaves) of the checkpoint tree over `CHECKPOINTS` (a power of two) leaves.
    function _node(uint256 jobId, bool cheat, uint256 level, uint256 index) internal view returns (bytes32) {
        if (level == 0) return keccak256(abi.encode(jobId, index, _state(jobId, cheat, index)));
        return keccak256(
            abi.encodePacked(_node(jobId, cheat, level - 1, 2 * index), _node(jobId, cheat, level - 1, 2 * index + 1))
        );
    }

    function _log2(uint256 x) internal pure returns (uint256 r) {
        while (x > 1) (x, r) = (x >> 1, r + 1);
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
        uint256 weight = first ? 1 : 3;
        if (rewards.getModelRewards(m).attributionRoot == bytes32(0)) return;
        uint256 net = rewards.dataRefsOf(m)[0] >> 32;
        if (rewards.claimable(m, net, i + 1, weight) == 0) return;
        (, bytes32[] memory proof) = Merkle.rootAndProof(_leaves[net], i);
        rewards.claimReward(m, net, i + 1, weight, proof);
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
        (, bytes32[] memory proof) = Merkle.rootAndProof(_poolLeaves, first ? 0 : 1);
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
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, channels.voucherDigest(id, cumulative, channels.getChannel(id).epoch));
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
