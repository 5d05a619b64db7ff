// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAccessRegistry} from "../../contracts/interfaces/IAccessRegistry.sol";
import {IVerifierPool} from "../../contracts/interfaces/IVerifierPool.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {ITrainerRegistry} from "../../contracts/interfaces/ITrainerRegistry.sol";
import {Protocol} from "../utils/Protocol.sol";
import {console} from "hardhat/console.sol";
import {OpenToken} from "../../contracts/token/OpenToken.sol";
import {DatanetRegistry} from "../../contracts/datanets/DatanetRegistry.sol";
import {AccessRegistry} from "../../contracts/access/AccessRegistry.sol";
import {TrainerRegistry} from "../../contracts/trainers/TrainerRegistry.sol";
import {JobMarket} from "../../contracts/jobs/JobMarket.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {VerifierPool} from "../../contracts/disputes/VerifierPool.sol";
import {DisputeGame} from "../../contracts/disputes/DisputeGame.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Vm} from "../utils/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {UsageEpochs} from "../../contracts/rewards/UsageEpochs.sol";
import {UsageGame} from "../../contracts/disputes/UsageGame.sol";
import {IUsageEpochs} from "../../contracts/interfaces/IUsageEpochs.sol";
import {IUsageGame} from "../../contracts/interfaces/IUsageGame.sol";

// The handlers live in this file so that running it alone compiles and emits their artifacts too (the invariant
// runner only fuzzes contracts whose code matches an artifact: with the handler in its own file, a run of this
// file alone after editing it found "No contracts to fuzz").

/// @notice Drives random sequences of protocol calls for the invariant tests and keeps the ghost state the
/// invariants compare against. Honest actions bound their inputs and skip (return early, counted in `skips`)
/// when the protocol would rightly refuse them, so the campaigns run with fail-on-revert on. Adversarial
/// actions (a trainer naming itself in its attribution, a lazy verifier, a false challenger, a voucher signed by
/// a key that is no longer valid) are attempted with try/catch: the attempt reverting is the expected outcome,
/// and one that succeeds is recorded in a ghost the invariants assert is never set.
/// Actors: 3 users and 2 trainers post jobs (a trainer may claim its own job: poster == trainer), 2 trainers
/// (jobs whose id is a multiple of 3 are trained by a cheat), 2 contributors, 2 payers with session keys,
/// 4 verifiers (verifier 0 lazy), the Datanet owner (curator), an independent curator (CuratorHandler), and the admin
/// changing parameters mid-run.
/// Eval claims and their committees' votes are EvalHandler's (Handler hands it an eval committee about to vote).
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
    VerifierPool public pool;
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
    uint256[] public distributionIds;
    uint256 public clock = 1_000_000;

    /// @dev Handler calls, and those that returned early without a state change (`skips`).
    uint256 public calls;
    uint256 public skips;
    /// @dev Adversarial attempts, and any that succeeded (the invariants require none).
    uint256 public attacks;
    uint256 public attacksSucceeded;
    string public lastAttackSucceeded;

    /// @dev Attribution kinds a result submits: honest, none (root 0), inflated total (2^128 - 1), the trainer
    /// naming its own contribution (approved after the job's version), leaves weighing more than the total, one
    /// contribution in two leaves with different weights.
    uint8 public constant KINDS = 6;
    /// @dev Per Datanet and kind: the 4 leaves (datanetId, contributionId, weight) and the total weight.
    mapping(uint256 net => mapping(uint8 kind => uint256[3][4])) internal _leafData;
    mapping(uint256 net => mapping(uint8 kind => bytes32[4])) internal _kindLeaves;
    mapping(uint256 net => mapping(uint8 kind => uint128)) internal _kindWeight;
    mapping(uint256 jobId => uint8) public kindOf;
    mapping(uint256 modelId => uint8) public modelKind;
    /// @dev The trainers' own contributions (approved after version 2, so in no job's data).
    mapping(uint256 net => uint256) public trainerContribution;

    /// @dev The payers (their keys and session keys are in ChannelHandler).
    address[2] public payers;
    /// @dev Votes eval disputes' committees (split out for the contract size limit; set by `init`).
    EvalHandler public evals;

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
        pool = VerifierPool(game_.verifierPool());
        token = token_;
        datanets = datanets_;
        access = access_;
        trainers = trainers_;
        market = market_;
        rewards = rewards_;
        channels = channels_;
        baseModel = baseModel_;
        payer = vm.addr(PAYER_KEY);
        payers[0] = payer;
        payers[1] = vm.addr(0xBA1F);
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
        // The first trainer contributes too, after the version jobs train on (version 3).
        vm.prank(trainerAccounts[0]);
        uint256 ct = datanets.submitContribution(net, "t", bytes32(uint256(2)), 1, 1, false);
        vm.prank(users[0]);
        datanets.approveContribution(net, ct);
        trainerContribution[net] = ct;
        uint256 max128 = type(uint128).max;
        _setKind(net, 0, [[net, c1, 1], [net, c2, 3], [uint256(0), 1, 0], [uint256(0), 2, 0]], 4);
        _setKind(net, 2, [[net, c1, 1], [net, c2, 3], [uint256(0), 1, 0], [uint256(0), 2, 0]], uint128(max128));
        _setKind(net, 3, [[net, ct, 4], [net, c1, 1], [net, c2, 3], [uint256(0), 1, 0]], 8);
        _setKind(net, 4, [[net, c1, 4], [net, c2, 4], [uint256(0), 1, 0], [uint256(0), 2, 0]], 4);
        _setKind(net, 5, [[net, c1, 1], [net, c1, 3], [uint256(0), 1, 0], [uint256(0), 2, 0]], 4);
    }

    function _setKind(uint256 net, uint8 kind, uint256[3][4] memory data, uint128 total) internal {
        bytes32[4] memory ls;
        for (uint256 i = 0; i < 4; ++i) {
            _leafData[net][kind][i] = data[i];
            ls[i] = Merkle.leaf(data[i][0], data[i][1], data[i][2]);
        }
        _kindLeaves[net][kind] = ls;
        _kindWeight[net][kind] = total;
    }

    function _root(uint256 net, uint8 kind) internal view returns (bytes32 r) {
        if (kind == 1) return bytes32(0);
        (r,) = Merkle.rootAndProof(_kindLeaves[net][kind], 0);
    }

    /// @dev Called once by the test after roles are granted.
    function init(EvalHandler evals_) external {
        if (openNet != 0) return;
        evals = evals_;
        vm.startPrank(users[0]);
        openNet = datanets.createDatanet("open", IDatanetRegistry.AccessPolicy.Open, 0, new address[](0));
        paidNet = datanets.createDatanet("paid", IDatanetRegistry.AccessPolicy.Paid, 3e18, new address[](0));
        vm.stopPrank();
        _contributions(openNet);
        _contributions(paidNet);
        address[] memory all = new address[](9);
        all[0] = users[0];
        all[1] = users[1];
        all[2] = users[2];
        all[3] = trainerAccounts[0];
        all[4] = trainerAccounts[1];
        all[5] = payer;
        all[6] = contributorA;
        all[7] = contributorB;
        all[8] = payers[1];
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
            token.approve(address(pool), type(uint256).max);
            pool.stake(1_000e18);
            vm.stopPrank();
        }
        vm.roll(blockNumber);
    }

    function accounts() external view returns (address[] memory all) {
        all = new address[](10);
        all[9] = payers[1];
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

    function distributionCount() external view returns (uint256) {
        return distributionIds.length;
    }

    function _advance(uint256 seconds_) internal {
        clock += seconds_;
        vm.warp(clock);
    }

    // ---- jobs ----

    function postJob(uint256 userSeed, uint128 budget, bool paid) external {
        ++calls;
        // A trainer posts too: it may then claim its own job (poster == trainer).
        address user = userSeed % 5 < 3 ? users[userSeed % 5] : trainerAccounts[userSeed % 5 - 3];
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
        ++calls;
        address t = trainerAccounts[trainerSeed % 2];
        amount = 1 + amount % 300e18;
        vm.prank(t);
        trainers.stake(amount);
    }

    function requestUnstake(uint256 trainerSeed, uint256 amount) external {
        ++calls;
        address t = trainerAccounts[trainerSeed % 2];
        uint256 free = trainers.freeStakeOf(t);
        if (free == 0) return _skip();
        vm.prank(t);
        trainers.requestUnstake(1 + amount % free);
    }

    function withdrawStake(uint256 trainerSeed) external {
        ++calls;
        address t = trainerAccounts[trainerSeed % 2];
        if (trainers.getTrainer(t).unstaking == 0) return _skip();
        _advance(7 days);
        vm.prank(t);
        trainers.withdrawStake();
    }

    function claimJob(uint256 seed, uint256 trainerSeed) external {
        ++calls;
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.JobStatus.Open) return _skip();
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

    /// @dev `attributed` false submits root 0; otherwise `seed / 7 % KINDS` picks the attribution kind (0 honest).
    function submitResult(uint256 seed, bool attributed) external {
        ++calls;
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.JobStatus.Claimed || block.timestamp > job.dueAt) return _skip();
        uint8 kind = attributed ? uint8(seed / 7 % KINDS) : 1;
        // Only the first trainer has a contribution of its own to name.
        if (kind == 3 && job.trainer != trainerAccounts[0]) kind = 0;
        uint256 net = _netOf(id);
        bytes32 attribution = _root(net, kind);
        kindOf[id] = kind;
        _attribution[id] = attribution;
        _attributionWeight[id] = kind == 1 ? 0 : _kindWeight[net][kind];
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
                attributionTotalWeight: _attributionWeight[id],
                reportCID: "report"
            })
        );
    }

    function _netOf(uint256 jobId) internal view returns (uint256 net) {
        (uint256[] memory ids,) = market.getJobDatanets(jobId);
        net = ids[0];
    }

    function settleJob(uint256 seed, uint8 how) external {
        ++calls;
        (uint256 id, IJobMarket.Job memory job) = _job(seed);
        uint256 modelId;
        if (job.status == IJobMarket.JobStatus.Submitted) {
            if (how % 3 == 0) {
                vm.prank(job.poster);
                modelId = market.acceptResult(id);
            } else if (how % 3 == 1) {
                // the window may be up to 2 days + 1 h (the admin changes it mid-run)
                if (clock < job.challengeEndsAt) _advance(job.challengeEndsAt - clock);
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
        if (modelId != 0) {
            modelIds.push(modelId);
            modelKind[modelId] = kindOf[id];
        }
    }

    // ---- disputes ----

    function disputeCount() external view returns (uint256) {
        return disputeIds.length;
    }

    function disputeMove(uint256 seed, uint8 how) external {
        ++calls;
        if (disputeIds.length == 0) return _skip();
        _play(disputeIds[seed % disputeIds.length], how);
    }

    function withdrawGameCredit(uint256 seed) external {
        ++calls;
        address[8] memory who = [
            users[0], users[1], users[2], trainerAccounts[0], trainerAccounts[1], verifierAccounts[1],
            verifierAccounts[2], verifierAccounts[3]
        ];
        address a = who[seed % 8];
        if (game.withdrawable(a) == 0) return _skip();
        vm.prank(a);
        game.withdraw();
    }

    /// @dev One step of a dispute by whoever owes it; `how % 5 == 0` lets the party to move fall silent.
    function _play(uint256 id, uint8 how) internal {
        IDisputeGame.Dispute memory d = game.getDispute(id);
        if (d.phase == IDisputeGame.Phase.Settled) return _skip();
        if (market.getJob(d.jobId).status != IJobMarket.JobStatus.Disputed) return game.settle(id); // moot
        if (d.eval && d.phase == IDisputeGame.Phase.Voting && block.timestamp < d.revealStartsAt) {
            return evals.vote(id, how); // an eval committee votes numbers, not states
        }
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
            // A redrawn committee needs more verifiers than staked (or penalties left too few at the minimum stake).
            if (d.seats > _eligible()) return _skip();
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

    /// @dev Verifiers the game can draw (staked at least the minimum, not exiting; none is ever a party).
    function _eligible() internal view returns (uint256 n) {
        uint256 minStake = pool.minStake();
        for (uint256 i = 0; i < verifierAccounts.length; ++i) {
            IVerifierPool.Verifier memory v = pool.getVerifier(verifierAccounts[i]);
            if (v.stake >= minStake && v.exitAt == 0) ++n;
        }
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
        ++calls;
        address[5] memory who = [users[0], users[1], users[2], trainerAccounts[0], trainerAccounts[1]];
        address a = who[seed % 5];
        if (market.withdrawable(a) == 0) return _skip();
        vm.prank(a);
        market.withdraw();
    }

    // ---- rewards ----

    function depositRevenue(uint256 seed, uint256 amount) external {
        ++calls;
        if (modelIds.length == 0) return _skip();
        vm.prank(users[seed % 3]);
        rewards.depositRevenue(modelIds[seed % modelIds.length], 1 + amount % 1e22);
    }

    /// @dev Claims leaf `leafSeed % 4` of a model's tree. The trainer's own leaf (kind 3) is an attack: it must
    /// revert. Honest leaves are claimed when something is claimable.
    function claimReward(uint256 seed, uint256 leafSeed) external {
        ++calls;
        if (modelIds.length == 0) return _skip();
        uint256 m = modelIds[seed % modelIds.length];
        uint8 kind = modelKind[m];
        if (kind == 1) return _skip();
        uint256 net = rewards.dataRefsOf(m)[0] >> 32;
        uint256 i = leafSeed % 4;
        uint256[3] memory l = _leafData[net][kind][i];
        if (l[2] == 0) return _skip();
        (, bytes32[] memory proof) = Merkle.rootAndProof(_kindLeaves[net][kind], i);
        if (kind == 3 && i == 0) {
            ++attacks;
            vm.prank(trainerAccounts[0]);
            try rewards.claimReward(m, l[0], l[1], l[2], proof) {
                _attackSucceeded("trainer claimed its own leaf");
            } catch {}
            return;
        }
        if (rewards.claimable(m, l[0], l[1], l[2]) == 0) return _skip();
        rewards.claimReward(m, l[0], l[1], l[2], proof);
    }

    /// @dev Sends the unclaimed weight's share of a model to its pool once the window is over.
    function sweepUnclaimed(uint256 seed) external {
        ++calls;
        if (modelIds.length == 0) return _skip();
        uint256 m = modelIds[seed % modelIds.length];
        if (rewards.sweepable(m) == 0) return _skip();
        rewards.sweepUnclaimed(m);
    }

    /// @dev Lets time pass (up to 20 days), so claim windows, grants and session keys expire.
    function advanceTime(uint256 seconds_) external {
        ++calls;
        _advance(1 + seconds_ % 20 days);
    }

    /// @dev The admin changes a parameter mid-run (this handler holds the admin roles).
    function adminChange(uint256 which, uint256 value) external {
        ++calls;
        uint256 w = which % 5;
        if (w == 0) {
            rewards.setClaimWindow(uint40(1 hours + value % 30 days));
        } else if (w == 1) {
            uint16 o = uint16(value % 5_000);
            uint16 t = uint16((value >> 16) % 3_000);
            uint16 p = uint16((value >> 32) % 1_000);
            rewards.setSplit(IRewardDistributor.Split(o, t, p));
        } else if (w == 2) {
            market.setCollateralBps(uint16(value % 20_001 / 2));
        } else if (w == 3) {
            market.setSlashAmount(value % 200e18);
        } else {
            market.setChallengeWindow(uint40(1 hours + value % 2 days));
        }
    }

    /// @dev Leaf `i` (datanetId, contributionId, weight) of model `m`'s attribution tree.
    function leafOf(uint256 m, uint256 i) external view returns (uint256[3] memory) {
        return _leafData[rewards.dataRefsOf(m)[0] >> 32][modelKind[m]][i];
    }

    function _skip() internal {
        ++skips;
    }

    function modelAt(uint256 i) external view returns (uint256) {
        return modelIds[i];
    }

    function _attackSucceeded(string memory what) internal {
        ++attacksSucceeded;
        lastAttackSucceeded = what;
    }

    function payShares(uint256 seed) external {
        ++calls;
        if (modelIds.length == 0) return _skip();
        uint256 m = modelIds[seed % modelIds.length];
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(m);
        if (o + t + p == 0) return _skip();
        rewards.payShares(m);
    }

    function fundPool(uint256 seed, uint256 amount) external {
        ++calls;
        vm.prank(users[seed % 3]);
        rewards.fundDatanetPool(seed % 2 == 0 ? openNet : paidNet, 1 + amount % 1e22);
    }

    function distributePool(bool paid) external {
        ++calls;
        uint256 net = paid ? paidNet : openNet;
        if (rewards.poolBalance(net) == 0) return _skip();
        vm.prank(users[0]);
        distributionIds.push(rewards.createPoolDistribution(net, root, 4, "dist"));
    }

    function claimPool(uint256 seed, bool first) external {
        ++calls;
        if (distributionIds.length == 0) return _skip();
        uint256 d = distributionIds[seed % distributionIds.length];
        address account = first ? contributorA : contributorB;
        if (rewards.isPoolRewardClaimed(d, account)) return _skip();
        uint256 weight = first ? 1 : 3;
        if (uint256(rewards.getDistribution(d).amount) * weight / 4 == 0) return _skip();
        (, bytes32[] memory proof) = Merkle.rootAndProof(_poolLeaves, first ? 0 : 1);
        rewards.claimPoolReward(d, account, weight, proof);
    }
}

/// @notice An independent curator of both Datanets (added by their owner; review finding 6): it grants and revokes
/// access uses as curators may, and tries what a curator must not do, with try/catch (one that succeeds is
/// recorded for the invariants): take away uses a builder paid for, turn a pool into a distribution with a root of
/// its choosing, change the access policy or price (a front-run of `buyAccess`), add or remove curators, reject an
/// approved contribution. Its grants never touch the uses the handler's users bought.
contract CuratorHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    Handler public main;
    DatanetRegistry public datanets;
    AccessRegistry public access;
    RewardDistributor public rewards;
    address public constant CURATOR = address(0x6001);
    uint256 public calls;
    uint256 public skips;
    uint256 public attacks;
    uint256 public attacksSucceeded;
    string public lastAttackSucceeded;

    /// @dev The Datanets' owner (users[0]) adds the curator to both (after `main.init` created them).
    constructor(Handler main_, DatanetRegistry datanets_, AccessRegistry access_, RewardDistributor rewards_) {
        main = main_;
        datanets = datanets_;
        access = access_;
        rewards = rewards_;
        vm.startPrank(main_.users(0));
        datanets_.addCurator(main_.openNet(), CURATOR);
        datanets_.addCurator(main_.paidNet(), CURATOR);
        vm.stopPrank();
    }

    /// @dev The uses `user` paid for that still count (bought access that has not expired), and its uses left.
    function _paid(uint256 net, address user) internal view returns (uint32 paid, uint32 left) {
        IAccessRegistry.Grant memory g = access.getGrant(net, user);
        return (g.expiresAt > block.timestamp ? g.paidUses : 0, g.usesLeft);
    }

    function _attackSucceeded(string memory what) internal {
        ++attacksSucceeded;
        lastAttackSucceeded = what;
    }

    /// @dev A curator's right: grants `uses` (replacing earlier grants) or revokes a user's granted uses on a
    /// Datanet. The uses the user paid for must stay exactly as they were.
    function grantOrRevoke(uint256 seed, uint32 uses, bool revoke) external {
        ++calls;
        address user = main.users(seed % 3);
        uint256 net = seed % 2 == 0 ? main.paidNet() : main.openNet();
        (uint32 paidBefore,) = _paid(net, user);
        vm.prank(CURATOR);
        if (revoke) access.revokeAccess(net, user);
        else access.grantAccess(net, user, uint64(block.timestamp + 1 days), 1 + uses % 4);
        (uint32 paid, uint32 left) = _paid(net, user);
        if (paid != paidBefore || left < paid) _attackSucceeded("a curator changed uses a user paid for");
    }

    /// @dev What a curator must not do; `which` picks the attempt.
    function overreach(uint256 which, bytes32 root) external {
        ++calls;
        ++attacks;
        uint256 net = which % 2 == 0 ? main.paidNet() : main.openNet();
        which = which / 2 % 5;
        vm.startPrank(CURATOR);
        if (which == 0) {
            if (rewards.poolBalance(net) == 0) {
                vm.stopPrank();
                ++skips;
                return;
            }
            try rewards.createPoolDistribution(net, root, 1, "mine") {
                _attackSucceeded("a curator alone directed a pool");
            } catch {}
        } else if (which == 1) {
            try datanets.setAccessPolicy(net, IDatanetRegistry.AccessPolicy.Paid, 3_000e18) {
                _attackSucceeded("a curator changed the access policy");
            } catch {}
        } else if (which == 2) {
            try datanets.addCurator(net, address(uint160(uint256(root)) | 1)) {
                _attackSucceeded("a curator added a curator");
            } catch {}
        } else if (which == 3) {
            try datanets.removeCurator(net, CURATOR) {
                _attackSucceeded("a curator removed a curator");
            } catch {}
        } else {
            try datanets.rejectContribution(net, 1) {
                _attackSucceeded("a curator rejected an approved contribution");
            } catch {}
        }
        vm.stopPrank();
    }
}

/// @notice The payment channel actions of the invariant campaign (split from Handler, which would exceed the
/// contract size limit): 2 payers, each with 2 session keys it rotates (a replaced key keeps the revocation
/// grace, review finding 5), vouchers signed by the payer, a session key, or a key the channel does not accept
/// (an attack: it must revert; one that succeeds is recorded for the invariants).
contract ChannelHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    Handler public main;
    PaymentChannels public channels;
    address public provider = address(0x4001);
    uint256[2] public PAYER_KEYS = [uint256(0xBA1E), uint256(0xBA1F)];
    /// @dev Session keys, index 2 * payer + k.
    uint256[4] public SESSION_KEYS = [uint256(0x5E55), uint256(0x5E56), uint256(0x5E57), uint256(0x5E58)];
    address[2] public payers;
    bytes32[] public channelIds;
    mapping(bytes32 channelId => uint256) public maxSigned;
    uint256 public calls;
    uint256 public skips;
    uint256 public attacks;
    uint256 public attacksSucceeded;
    string public lastAttackSucceeded;

    constructor(Handler main_, PaymentChannels channels_) {
        main = main_;
        channels = channels_;
        payers[0] = vm.addr(PAYER_KEYS[0]);
        payers[1] = vm.addr(PAYER_KEYS[1]);
    }

    function channelCount() external view returns (uint256) {
        return channelIds.length;
    }

    function _skip() internal {
        ++skips;
    }

    function _attackSucceeded(string memory what) internal {
        ++attacksSucceeded;
        lastAttackSucceeded = what;
    }


    mapping(bytes32 channelId => uint256) public payerIndexOf;

    /// @dev Payer `seed % 2` opens a channel (with session key `seed / 2 % 2` of its own, or none) or tops it up.
    function openChannel(uint256 seed, uint256 amount) external {
        ++calls;
        if (main.modelCount() == 0) return _skip();
        uint256 m = main.modelAt(seed % main.modelCount());
        uint256 pi = (seed >> 8) % 2;
        address who = payers[pi];
        bytes32 id = channels.channelIdOf(who, provider, m);
        amount = 1 + amount % 1e22;
        vm.prank(who);
        if (channelIds.length > 0 && _exists(id)) {
            channels.topUp(id, amount);
        } else {
            bool withKey = (seed >> 16) % 3 != 0;
            address key = withKey ? vm.addr(SESSION_KEYS[2 * pi + (seed >> 24) % 2]) : address(0);
            channels.openChannel(provider, m, amount, key, withKey ? uint40(block.timestamp + 1 days) : 0);
            channelIds.push(id);
            payerIndexOf[id] = pi;
        }
    }

    /// @dev The payer replaces its session key with its other one (the old keeps a grace, review finding 5).
    function rotateSessionKey(uint256 seed) external {
        ++calls;
        if (channelIds.length == 0) return _skip();
        bytes32 id = channelIds[seed % channelIds.length];
        uint256 pi = payerIndexOf[id];
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        address next = vm.addr(SESSION_KEYS[2 * pi + (seed >> 8) % 2]);
        bool rotating = c.sessionKey != address(0) && c.sessionKey != next && block.timestamp <= c.sessionKeyExpiresAt;
        if (rotating && block.timestamp <= c.previousKeyValidUntil) return _skip(); // a rotation is pending
        vm.prank(payers[pi]);
        channels.setSessionKey(id, next, uint40(block.timestamp + 1 days));
    }

    function _exists(bytes32 id) internal view returns (bool) {
        for (uint256 i = 0; i < channelIds.length; ++i) {
            if (channelIds[i] == id) return true;
        }
        return false;
    }

    /// @dev The provider redeems a voucher signed by the payer, its current session key, its previous one or
    /// the other payer's key (`seed >> 8 % 4`). A signer the channel no longer (or never) accepts is an attack.
    function redeem(uint256 seed, uint256 cumulative) external {
        ++calls;
        if (channelIds.length == 0) return _skip();
        bytes32 id = channelIds[seed % channelIds.length];
        cumulative = cumulative % 2e22;
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        uint256 pi = payerIndexOf[id];
        uint256 who = (seed >> 8) % 4;
        uint256 key;
        bool valid;
        if (who == 0) {
            (key, valid) = (PAYER_KEYS[pi], true);
        } else if (who == 3) {
            (key, valid) = (PAYER_KEYS[1 - pi], false);
        } else {
            key = SESSION_KEYS[2 * pi + (seed >> 16) % 2];
            address a = vm.addr(key);
            valid = (a == c.sessionKey && block.timestamp <= c.sessionKeyExpiresAt)
                || (a == c.previousKey && block.timestamp <= c.previousKeyValidUntil);
        }
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(key, channels.voucherDigest(id, cumulative, c.epoch));
        uint256 capped = cumulative < c.deposit ? cumulative : c.deposit;
        if (!valid) {
            ++attacks;
            vm.prank(provider);
            try channels.redeemVoucher(id, cumulative, abi.encodePacked(r, sig, v)) {
                _attackSucceeded("voucher of a key the channel does not accept");
            } catch {}
            return;
        }
        if (cumulative > maxSigned[id]) maxSigned[id] = cumulative;
        if (capped <= c.redeemed) return _skip();
        vm.prank(provider);
        channels.redeemVoucher(id, cumulative, abi.encodePacked(r, sig, v));
    }

    function withdrawChannel(uint256 seed) external {
        ++calls;
        if (channelIds.length == 0) return _skip();
        bytes32 id = channelIds[seed % channelIds.length];
        address who = payers[payerIndexOf[id]];
        vm.prank(who);
        channels.requestWithdrawal(id);
        main.advanceTime(1 days - 1); // exactly one day, on the campaign's clock
        if (channels.getChannel(id).deposit == channels.getChannel(id).redeemed) return _skip();
        vm.prank(who);
        channels.withdraw(id);
    }
}

/// @notice The eval-dispute actions of the invariant campaign (split from Handler, which would exceed the contract
/// size limit). The handler knows each job's true held-out loss and shard losses (`trueLoss`, `trueShardLoss`) and
/// its spec's tolerance (`specTolerance`). A trainer commits an eval claim on a job it holds: honest (the true loss,
/// the spec's tolerance), or a cheat: a loss below the truth by more than twice the tolerance (`LOWER`), a wider
/// tolerance than the spec's (`TERMS`), or an adapter it never publishes (`WITHHELD`). Challenges of eval jobs (at
/// once after the submission, or later by `challengeEval`) go through Handler.settleJob (users[2]: an honest
/// challenger of a cheat, a false one of an honest claim); `evalMove` draws a committee, which votes at once. When an
/// eval committee is to vote, Handler calls `vote`: honest verifiers reveal the true numbers with noise within a
/// quarter of the spec's tolerance (UNAVAILABLE when the adapter was withheld, and one seat in 8 rounds a flaky
/// UNAVAILABLE), the lazy verifier 0 copies the claim (its loss as the shard loss, a perfect rank code, terms ok).
/// Honest verifiers measure the rank correlation of an attribution of kind 0 as ~1, of kind 1 (none) not at all,
/// of kinds 2-5 (not the run's) as 0. Ghosts: every eval dispute a committee decided, and any where the lazy
/// verifier gained while incoherent by the handler's own reckoning (the invariants require none).
contract EvalHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint8 public constant HONEST = 0;
    uint8 public constant LOWER = 1;
    uint8 public constant TERMS = 2;
    uint8 public constant WITHHELD = 3;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant PERFECT = 10_001; // rank code of Spearman 1
    uint256 internal constant NO_RANK = 5_001; // rank code of Spearman 0
    bytes32 public constant UNAVAILABLE = keccak256("tributary/verdict-unavailable@1");

    Handler public main;
    DisputeGame public game;
    VerifierPool public pool;
    JobMarket public market;
    /// @dev The kind of the last eval claim committed on each job (a claim is fixed once the job is submitted).
    mapping(uint256 jobId => uint8) public claimKind;
    uint256 public calls;
    uint256 public skips;
    /// @dev Eval disputes a committee decided; claims committed (and cheats among them); decided rounds the lazy
    /// verifier sat on while incoherent, and those it gained from (must stay 0).
    uint256 public decided;
    uint256 public claims;
    uint256 public cheats;
    uint256 public lazyIncoherentDecided;
    uint256 public lazyGained;

    constructor(Handler main_, DisputeGame game_, JobMarket market_) {
        main = main_;
        game = game_;
        pool = VerifierPool(game_.verifierPool());
        market = market_;
    }

    function _skip() internal {
        ++skips;
    }

    /// @dev The job's true held-out loss (1e9 fixed point, 1.0 to 3.0).
    function trueLoss(uint256 jobId) public pure returns (uint64) {
        return uint64(1e9 + uint256(keccak256(abi.encode("loss", jobId))) % 2e9);
    }

    /// @dev The true loss on held-out shard `shard` (0.30 to 0.44 of the held-out loss: never near it).
    function trueShardLoss(uint256 jobId, uint256 shard) public pure returns (uint256) {
        return uint256(trueLoss(jobId)) * (3_000 + 200 * shard) / BPS;
    }

    /// @dev The relative tolerance the job's spec states (1% to 5%).
    function specTolerance(uint256 jobId) public pure returns (uint16) {
        return uint16(100 * (1 + jobId % 5));
    }

    /// @dev Whether the claim on `jobId` is honest: true loss, the spec's terms, the adapter published, and an
    /// attribution the verifiers accept (kind 0, or none: kind 1).
    function honest(uint256 jobId) public view returns (bool) {
        return claimKind[jobId] == HONEST && main.kindOf(jobId) <= 1;
    }

    /// @dev A trainer commits an eval claim on a job it holds (the first from `seed` on that is Claimed and not
    /// due yet, or Open: claimed first by trainer `how >> 24`): `how % 6` 0-2 honest, 3 LOWER, 4 TERMS,
    /// 5 WITHHELD. Then, as a trainer node does, it submits (3 times in 4; an honest attribution, or kind
    /// `how >> 48` one time in 2), and a challenger challenges at once (one time in 2).
    function commitEvalClaim(uint256 seed, uint256 how) external {
        ++calls;
        uint256 n = main.jobCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            uint256 jobId = main.jobIds(i);
            IJobMarket.Job memory job = market.getJob(jobId);
            if (job.status == IJobMarket.JobStatus.Open) {
                main.claimJob(i, how >> 24);
                job = market.getJob(jobId);
            } else if (job.status != IJobMarket.JobStatus.Claimed || block.timestamp > job.dueAt) {
                continue;
            }
            uint8 kind = how % 6 < 3 ? HONEST : uint8(how % 6 - 2);
            uint64 loss = trueLoss(jobId);
            uint16 tol = specTolerance(jobId);
            if (kind == LOWER) loss = uint64(uint256(loss) * (BPS - 2 * tol - 1 - (how >> 8) % 1_000) / BPS);
            else if (kind == TERMS) tol += uint16(100 * (1 + (how >> 8) % 3));
            vm.prank(job.trainer);
            game.commitEvalClaim(jobId, loss, tol);
            claimKind[jobId] = kind;
            ++claims;
            if (kind != HONEST) ++cheats;
            if ((how >> 32) % 4 != 0) _submitAndChallenge(i, how);
            return;
        }
        _skip();
    }

    /// @dev Submits job `i`'s result (attribution kind 0, or `how >> 48` one time in 2), then (one time in 2)
    /// challenges it.
    function _submitAndChallenge(uint256 i, uint256 how) internal {
        uint256 n = main.jobCount();
        uint256 want = (how >> 40) % 2 == 0 ? 0 : (how >> 48) % main.KINDS();
        uint256 seed = i; // Handler.submitResult: job seed % n, kind seed / 7 % KINDS
        for (uint256 k = 0; k < 64 && seed / 7 % main.KINDS() != want; ++k) seed += n;
        main.submitResult(seed, true);
        IJobMarket.Job memory job = market.getJob(main.jobIds(i));
        if ((how >> 56) % 2 == 0 && job.status == IJobMarket.JobStatus.Submitted) main.settleJob(i, 2);
    }

    /// @dev A challenger opens a challenge on a submitted job with an eval claim of its trainer, within the window
    /// (the first from `seed` on), through Handler.settleJob.
    function challengeEval(uint256 seed) external {
        ++calls;
        uint256 n = main.jobCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            uint256 jobId = main.jobIds(i);
            IJobMarket.Job memory job = market.getJob(jobId);
            if (job.status != IJobMarket.JobStatus.Submitted || block.timestamp >= job.challengeEndsAt) continue;
            if (game.evalClaimOf(jobId).trainer != job.trainer) continue;
            return main.settleJob(i, 2);
        }
        _skip();
    }

    /// @dev The next step of an unsettled eval dispute (the first from `seed` on that can move): Handler plays it
    /// (its committee votes; a silent round or a moot dispute settled); a drawn committee votes in the same call
    /// (other actions move the clock past the commit time otherwise).
    function evalMove(uint256 seed, uint8 how) external {
        ++calls;
        uint256 n = main.disputeCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            IDisputeGame.Dispute memory d = game.getDispute(main.disputeIds(i));
            if (!d.eval || d.phase == IDisputeGame.Phase.Settled) continue;
            if (d.phase == IDisputeGame.Phase.AwaitingDraw && d.seats > 4) continue; // needs more verifiers
            main.disputeMove(i, how);
            uint256 id = main.disputeIds(i);
            d = game.getDispute(id);
            if (d.phase == IDisputeGame.Phase.Voting && block.timestamp < d.revealStartsAt) _vote(id, how);
            return;
        }
        _skip();
    }

    /// @dev Called by Handler when an eval dispute's committee is to vote: every seat commits and reveals, then
    /// the dispute is settled. Any other call (the campaign also calls it, at times as Handler) is a skip unless
    /// it names such a dispute.
    function vote(uint256 id, uint8 how) external {
        if (msg.sender != address(main) || id == 0 || id > game.disputeCount()) return _skip();
        IDisputeGame.Dispute memory d = game.getDispute(id);
        if (!d.eval || d.phase != IDisputeGame.Phase.Voting || block.timestamp >= d.revealStartsAt) return _skip();
        if (market.getJob(d.jobId).status != IJobMarket.JobStatus.Disputed) return _skip();
        _vote(id, how);
    }

    function _vote(uint256 id, uint8 how) internal {
        IDisputeGame.Dispute memory d = game.getDispute(id);
        address lazy = main.verifierAccounts(0);
        bool incoherent = _cast(id, d.round, d.jobId, how) && _lazyIncoherent(id, d.jobId);
        uint256 before = _holdings(lazy);
        game.settle(id);
        d = game.getDispute(id);
        if (d.phase != IDisputeGame.Phase.Settled || d.outcome != IDisputeGame.Outcome.CommitteeVerdict) return;
        ++decided;
        if (!incoherent) return;
        ++lazyIncoherentDecided;
        if (_holdings(lazy) > before) ++lazyGained;
    }

    /// @dev Every seat commits, then reveals; returns whether the lazy verifier sits on the committee.
    function _cast(uint256 id, uint8 round, uint256 jobId, uint8 how) internal returns (bool lazySits) {
        address[] memory members = game.committeeOf(id);
        uint256 n = members.length;
        bytes32[] memory verdicts = new bytes32[](n);
        bytes32[] memory witnesses = new bytes32[](n);
        uint256 flaky = how % 8 == 7 ? (how >> 3) % n : n;
        for (uint256 i = 0; i < n; ++i) {
            bool isLazy = members[i] == main.verifierAccounts(0);
            lazySits = lazySits || isLazy;
            uint256 noise = uint256(keccak256(abi.encode(id, round, i)));
            (verdicts[i], witnesses[i]) = _ballot(id, jobId, isLazy, i == flaky, noise);
            vm.prank(members[i]);
            game.commitVote(id, keccak256(abi.encode(id, round, members[i], verdicts[i], witnesses[i], bytes32(i))));
        }
        for (uint256 i = 0; i < n; ++i) {
            vm.prank(members[i]);
            game.revealVote(id, verdicts[i], witnesses[i], bytes32(i));
        }
    }

    function _holdings(address v) internal view returns (uint256) {
        return uint256(pool.getVerifier(v).stake) + game.withdrawable(v);
    }

    /// @dev A seat's vote: the lazy verifier's copy of the claim, UNAVAILABLE, or the true numbers with noise.
    function _ballot(uint256 id, uint256 jobId, bool lazy, bool flaky, uint256 noise)
        internal
        view
        returns (bytes32 verdict, bytes32 witness)
    {
        IDisputeGame.EvalClaim memory c = game.evalClaimOf(jobId);
        if (lazy) return (_verdict(c.loss, PERFECT, true), bytes32(uint256(c.loss)));
        if (flaky || claimKind[jobId] == WITHHELD) return (UNAVAILABLE, UNAVAILABLE);
        return _measured(id, jobId, c.toleranceBps == specTolerance(jobId), noise);
    }

    /// @dev An honest seat's numbers: the true losses with noise within a quarter of the spec's tolerance.
    function _measured(uint256 id, uint256 jobId, bool termsOk, uint256 noise)
        internal
        view
        returns (bytes32 verdict, bytes32 witness)
    {
        uint256 q = specTolerance(jobId) / 4;
        uint256 loss = _noisy(trueLoss(jobId), q, noise);
        witness = bytes32(_noisy(trueShardLoss(jobId, game.evalShardOf(id)), q, noise >> 64));
        uint8 attribution = main.kindOf(jobId);
        uint256 rho = attribution == 0 ? PERFECT - (noise >> 128) % 100 : attribution == 1 ? 0 : NO_RANK;
        verdict = _verdict(loss, rho, termsOk);
    }

    function _noisy(uint256 truth, uint256 q, uint256 noise) internal pure returns (uint256) {
        return truth * (BPS - q + noise % (2 * q + 1)) / BPS;
    }

    function _verdict(uint256 loss, uint256 rho, bool termsOk) internal pure returns (bytes32) {
        return bytes32((loss << 128) | (rho << 64) | (termsOk ? 1 : 0));
    }

    /// @dev The handler's own reckoning that the lazy verifier's copy is incoherent with the honest seats: the
    /// adapter was withheld (honest seats vote UNAVAILABLE), the claim's terms are not the spec's, the attribution
    /// is not the run's, or its shard loss (the claimed loss) is more than 3 tolerances from the true one (honest
    /// seats are within a quarter of one: a committee that decides on numbers cannot find the copy coherent).
    function _lazyIncoherent(uint256 id, uint256 jobId) internal view returns (bool) {
        IDisputeGame.EvalClaim memory c = game.evalClaimOf(jobId);
        if (claimKind[jobId] == WITHHELD || c.toleranceBps != specTolerance(jobId) || main.kindOf(jobId) > 1) {
            return true;
        }
        uint256 truth = trueShardLoss(jobId, game.evalShardOf(id));
        uint256 diff = c.loss > truth ? c.loss - truth : truth - c.loss;
        return diff * BPS > truth * 3 * c.toleranceBps;
    }
}

/// @notice The usage-epoch actions of the invariant campaign (its own contract for the size limit), over a
/// UsageEpochs + PaymentChannels + UsageGame wired as deploy.ts does (the pool names both games). Two payers redeem
/// vouchers to two providers on one model with usage epochs (the first of Handler's models, or one it makes on the
/// first usage action). Provider 0 is honest, provider 1 cheats (its claims root is not the one its records give);
/// one epoch in 5 of either is committed and its records withheld (served to nobody). The handler knows each
/// epoch's truth (`kindOf`, `truthOf`: the verdict an honest recomputation gives). An honest challenger challenges
/// cheating and withheld epochs, a false challenger honest ones; the provider challenging its own epoch is an
/// attack (try/catch, must revert). Committees (Handler's 4 verifiers, verifier 0 lazy) vote in the call that
/// draws them: honest seats reveal the truth (UNAVAILABLE when the records were withheld) with the witness the
/// records give for the round's seed, the lazy one the committed verdict with a made-up witness; one round in 8
/// stays silent (all penalised, redrawn with 7 seats: more than are staked, so the dispute is stuck and the
/// emergency account, this handler, rules the truth after the timelock). Ghosts: disputes a committee decided,
/// decided rounds the lazy verifier sat on incoherent, and those it gained from, and settlements that credited the
/// losing side (both must stay 0).
contract UsageHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint8 public constant HONEST = 0;
    uint8 public constant CHEAT = 1;
    uint8 public constant WITHHELD = 2;

    Handler public main;
    OpenToken public token;
    UsageEpochs public usage;
    PaymentChannels public uchannels;
    UsageGame public ugame;
    VerifierPool public pool;
    IERC721 public models;

    uint256[2] public PAYER_KEYS = [uint256(0xCA1E), uint256(0xCA1F)];
    address[2] public payers;
    address[2] public providers = [address(0x6001), address(0x6002)];
    /// @dev 0 challenges cheating and withheld epochs (honest), 1 challenges honest ones (false).
    address[2] public challengers = [address(0x6101), address(0x6102)];
    address public contributorA = address(0x6201);
    address public contributorB = address(0x6202);

    uint256 public model;
    /// @dev Channel 2 * provider + payer.
    bytes32[4] public channelIds;
    uint256[] public epochIds;
    uint256[] public disputeIds;
    mapping(uint256 epochId => uint8) public kindOf;
    mapping(uint256 epochId => bytes32) public truthOf;
    mapping(uint256 epochId => address[2]) internal _claimants;
    mapping(uint256 epochId => uint256[2]) internal _amounts;
    mapping(uint256 epochId => bytes32[4]) internal _leaves;
    /// @dev When UsageEpochs' held revenue of the model started waiting (mirrors its private `_heldSince`).
    uint256 public heldSince;
    uint256 public blockNumber = 1_000;

    uint256 public calls;
    uint256 public skips;
    uint256 public attacks;
    uint256 public attacksSucceeded;
    string public lastAttackSucceeded;
    uint256 public epochsCommitted;
    uint256 public decided;
    uint256 public emergencies;
    uint256 public lazyIncoherentDecided;
    uint256 public lazyGained;
    uint256 public loserPaid;

    constructor(Handler main_, UsageEpochs usage_, PaymentChannels uchannels_, UsageGame ugame_, IERC721 models_) {
        main = main_;
        token = main_.token();
        usage = usage_;
        uchannels = uchannels_;
        ugame = ugame_;
        pool = VerifierPool(ugame_.verifierPool());
        models = models_;
        payers[0] = vm.addr(PAYER_KEYS[0]);
        payers[1] = vm.addr(PAYER_KEYS[1]);
    }

    /// @dev Takes over the usage game's emergency account (the test named this handler) and funds the actors.
    function init() external {
        if (ugame.emergency() == address(this)) return;
        ugame.acceptEmergency();
        for (uint256 i = 0; i < 2; ++i) {
            vm.startPrank(payers[i]);
            token.approve(address(uchannels), type(uint256).max);
            vm.stopPrank();
            vm.startPrank(providers[i]);
            token.approve(address(usage), type(uint256).max);
            token.approve(address(ugame), type(uint256).max);
            vm.stopPrank();
            vm.prank(challengers[i]);
            token.approve(address(ugame), type(uint256).max);
        }
    }

    function _skip() internal {
        ++skips;
    }

    function epochCount() external view returns (uint256) {
        return epochIds.length;
    }

    function disputeCount() external view returns (uint256) {
        return disputeIds.length;
    }

    /// @dev Everyone the usage game may credit.
    function accounts() external view returns (address[8] memory a) {
        a = [challengers[0], challengers[1], providers[0], providers[1], address(0), address(0), address(0), address(0)];
        for (uint256 i = 0; i < 4; ++i) a[4 + i] = main.verifierAccounts(i);
    }

    /// @dev The model with usage epochs (Handler's first model; one made through Handler when it has none), its
    /// usage epochs switched on by its owner and the four channels opened. Returns false when not possible.
    function _ready() internal returns (bool) {
        if (model != 0) return true;
        if (main.modelCount() == 0) {
            main.postJob(0, 5e18, false);
            uint256 n = main.jobCount();
            uint256 j = n - 1;
            main.claimJob(j, 0);
            uint256 seed = j; // Handler.submitResult: job seed % n, kind seed / 7 % KINDS (0: honest)
            while (seed / 7 % main.KINDS() != 0 || seed % n != j) seed += n;
            main.submitResult(seed, true);
            main.settleJob(j, 0); // the poster accepts
            if (main.modelCount() == 0) return false;
        }
        uint256 m = main.modelAt(0);
        if (!usage.usageEpochsEnabled(m)) {
            vm.prank(models.ownerOf(m));
            usage.enableUsageEpochs(m);
        }
        model = m;
        for (uint256 q = 0; q < 2; ++q) {
            for (uint256 p = 0; p < 2; ++p) {
                vm.prank(payers[p]);
                channelIds[2 * q + p] = uchannels.openChannel(providers[q], m, 1e24, address(0), 0);
            }
        }
        return true;
    }

    /// @dev Payer `seed % 2` signs a voucher for up to 50 OPEN more to provider `seed >> 8 % 2`, who redeems it.
    function redeem(uint256 seed, uint256 amount) external {
        ++calls;
        if (!_ready()) return _skip();
        uint256 p = seed % 2;
        bytes32 id = channelIds[2 * ((seed >> 8) % 2) + p];
        IPaymentChannels.Channel memory c = uchannels.getChannel(id);
        uint256 cumulative = c.redeemed + 1 + amount % 50e18;
        if (cumulative > c.deposit) return _skip();
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEYS[p], uchannels.voucherDigest(id, cumulative, c.epoch));
        if (heldSince == 0) heldSince = block.timestamp;
        vm.prank(c.provider);
        uchannels.redeemVoucher(id, cumulative, abi.encodePacked(r, s, v));
    }

    /// @dev Provider `seed % 2` commits an epoch over its channels' unaccounted revenue, citing half the held part:
    /// honest (provider 0) or a made-up claims root (provider 1); `how % 5 == 0`: its records are withheld.
    function commitEpoch(uint256 seed, uint256 how) external {
        ++calls;
        if (!_ready()) return _skip();
        uint256 q = seed % 2;
        IUsageEpochs.ChannelRange[] memory all = new IUsageEpochs.ChannelRange[](2);
        uint256 n;
        uint256 revenue;
        for (uint256 p = 0; p < 2; ++p) {
            bytes32 id = channelIds[2 * q + p];
            uint256 redeemed = uchannels.getChannel(id).redeemed;
            uint256 from = usage.accounted(id);
            if (redeemed <= from) continue;
            all[n++] = IUsageEpochs.ChannelRange(id, redeemed);
            revenue += redeemed - from;
        }
        if (n == 0) return _skip();
        IUsageEpochs.ChannelRange[] memory ranges = new IUsageEpochs.ChannelRange[](n);
        for (uint256 i = 0; i < n; ++i) ranges[i] = all[i];
        uint256 h = usage.held(model);
        uint256 heldPart = revenue < h ? revenue : h;
        if (revenue - heldPart > usage.releasedCredit(model)) return _skip();
        uint256 cited = heldPart / 2;
        uint256 epochId = usage.epochCount() + 1;
        uint8 kind = how % 5 == 0 ? WITHHELD : q == 0 ? HONEST : CHEAT;
        (bytes32 recordsRoot, bytes32 claimsRoot) = _trees(epochId, kind, cited);
        heldSince = h == heldPart ? 0 : block.timestamp;
        vm.prank(providers[q]);
        uint256 e = usage.commitEpoch(model, ranges, cited, 3, recordsRoot, claimsRoot, "report");
        require(e == epochId, "epoch id");
        epochIds.push(e);
        ++epochsCommitted;
    }

    /// @dev The epoch's records root, and the claims root it commits; records the truth (`truthOf`) and the leaves.
    function _trees(uint256 epochId, uint8 kind, uint256 cited) internal returns (bytes32 recordsRoot, bytes32 claimsRoot) {
        recordsRoot = keccak256(abi.encode("records", epochId));
        // What the records give: contributorA a tenth of the cited revenue, contributorB a twentieth.
        bytes32[4] memory truth = [
            Merkle.leaf(contributorA, cited / 10),
            Merkle.leaf(contributorB, cited / 20),
            Merkle.leaf(address(1), 0),
            Merkle.leaf(address(2), 0)
        ];
        (bytes32 trueRoot,) = Merkle.rootAndProof(truth, 0);
        truthOf[epochId] = keccak256(abi.encode(recordsRoot, trueRoot, cited));
        if (kind == CHEAT) {
            // The cheat pays itself a quarter of the cited revenue in place of contributorB.
            _claimants[epochId] = [providers[1], contributorA];
            _amounts[epochId] = [cited / 4, cited / 10];
            _leaves[epochId] =
                [Merkle.leaf(providers[1], cited / 4), Merkle.leaf(contributorA, cited / 10), truth[2], truth[3]];
        } else {
            _claimants[epochId] = [contributorA, contributorB];
            _amounts[epochId] = [cited / 10, cited / 20];
            _leaves[epochId] = truth;
        }
        (claimsRoot,) = Merkle.rootAndProof(_leaves[epochId], 0);
        kindOf[epochId] = kind;
    }

    /// @dev A challenge of the first epoch from `seed` on that is committed and within its window: by the honest
    /// challenger when it cheats or withheld its records, by the false one when honest. `how % 4 == 0`: its provider
    /// tries first (an attack: must revert).
    function challenge(uint256 seed, uint256 how) external {
        ++calls;
        uint256 n = epochIds.length;
        for (uint256 k = 0; k < n; ++k) {
            uint256 e = epochIds[(seed % n + k) % n];
            IUsageEpochs.Epoch memory ep = usage.getEpoch(e);
            if (ep.status != IUsageEpochs.Status.Committed || block.timestamp >= ep.claimableAt) continue;
            if (how % 4 == 0) {
                ++attacks;
                vm.prank(ep.provider);
                try ugame.openChallenge(e, "mine") {
                    ++attacksSucceeded;
                    lastAttackSucceeded = "a provider challenged its own epoch";
                } catch {}
            }
            vm.prank(challengers[kindOf[e] == HONEST ? 1 : 0]);
            disputeIds.push(ugame.openChallenge(e, "why"));
            return;
        }
        _skip();
    }

    /// @dev The next step of the first unsettled usage dispute from `seed` on: draw and vote in one call (silent
    /// one round in 8: all penalised and redrawn after the deadline), or, stuck, the emergency's ruling.
    function move(uint256 seed, uint8 how) external {
        ++calls;
        uint256 n = disputeIds.length;
        for (uint256 k = 0; k < n; ++k) {
            uint256 id = disputeIds[(seed % n + k) % n];
            IUsageGame.Dispute memory d = ugame.getDispute(id);
            if (d.phase == IUsageGame.Phase.Settled) continue;
            if (d.phase == IUsageGame.Phase.Stuck || (d.phase == IUsageGame.Phase.AwaitingDraw && _eligible(d) < d.seats)) {
                return _emergency(id, d);
            }
            if (d.phase == IUsageGame.Phase.AwaitingDraw) {
                if (blockNumber < block.number) blockNumber = block.number;
                if (blockNumber <= d.drawBlock) blockNumber = d.drawBlock + 1;
                vm.roll(blockNumber);
                vm.setBlockhash(d.drawBlock, keccak256(abi.encode("usage", id, d.drawBlock)));
                ugame.drawCommittee(id);
                d = ugame.getDispute(id);
                if (d.phase != IUsageGame.Phase.Voting) return; // deferred to a new draw block
            }
            if (how % 8 != 0 && block.timestamp < d.revealStartsAt) return _vote(id, d);
            uint256 c = main.clock();
            if (c < d.deadline) main.advanceTime(d.deadline - c - 1);
            ugame.settle(id);
            return;
        }
        _skip();
    }

    function _eligible(IUsageGame.Dispute memory d) internal view returns (uint256) {
        address[] memory parties = new address[](2);
        (parties[0], parties[1]) = (d.provider, d.challenger);
        return pool.eligibleCount(parties);
    }

    /// @dev A stuck dispute: this handler (the emergency account) rules the truth; executed after the timelock.
    function _emergency(uint256 id, IUsageGame.Dispute memory d) internal {
        ugame.scheduleEmergency(id, kindOf[d.epochId] == HONEST);
        main.advanceTime(EMERGENCY_DELAY - 1);
        (uint256 providerBefore, uint256 challengerBefore) = (ugame.withdrawable(d.provider), ugame.withdrawable(d.challenger));
        ugame.executeEmergency(id);
        ++emergencies;
        _loserUnpaid(ugame.getDispute(id), providerBefore, challengerBefore);
    }

    uint32 internal constant EMERGENCY_DELAY = 3 days;

    /// @dev Every seat commits, then reveals; the dispute is settled. Honest seats reveal the truth (UNAVAILABLE
    /// when the records were withheld) with the witness the records give for the round's seed; the lazy verifier 0
    /// copies the committed verdict with a made-up witness.
    function _vote(uint256 id, IUsageGame.Dispute memory d) internal {
        address[] memory members = ugame.committeeOf(id);
        address lazy = main.verifierAccounts(0);
        uint256 m = members.length;
        bytes32[] memory verdicts = new bytes32[](m);
        bytes32[] memory witnesses = new bytes32[](m);
        bool lazySits;
        for (uint256 i = 0; i < m; ++i) {
            if (members[i] == lazy) {
                lazySits = true;
                (verdicts[i], witnesses[i]) = (d.claimed, keccak256(abi.encode("guess", id, d.round)));
            } else if (kindOf[d.epochId] == WITHHELD) {
                (verdicts[i], witnesses[i]) = (ugame.UNAVAILABLE(), bytes32(0));
            } else {
                (verdicts[i], witnesses[i]) = (truthOf[d.epochId], keccak256(abi.encode("least leaf", d.epochId, d.seed)));
            }
            vm.prank(members[i]);
            ugame.commitVote(id, keccak256(abi.encode(id, d.round, members[i], verdicts[i], witnesses[i], bytes32(i))));
        }
        for (uint256 i = 0; i < m; ++i) {
            vm.prank(members[i]);
            ugame.revealVote(id, verdicts[i], witnesses[i], bytes32(i));
        }
        uint256 before = _holdings(lazy);
        (uint256 providerBefore, uint256 challengerBefore) = (ugame.withdrawable(d.provider), ugame.withdrawable(d.challenger));
        ugame.settle(id);
        d = ugame.getDispute(id);
        if (d.phase != IUsageGame.Phase.Settled || d.outcome != IUsageGame.Outcome.CommitteeVerdict) return;
        ++decided;
        _loserUnpaid(d, providerBefore, challengerBefore);
        // The lazy copy never holds the honest seats' witness: it is incoherent whenever it sits.
        if (!lazySits) return;
        ++lazyIncoherentDecided;
        if (_holdings(lazy) > before) ++lazyGained;
    }

    function _holdings(address v) internal view returns (uint256) {
        return uint256(pool.getVerifier(v).stake) + ugame.withdrawable(v);
    }

    /// @dev The side that lost a dispute is credited nothing by its settlement (counted in `loserPaid`).
    function _loserUnpaid(IUsageGame.Dispute memory d, uint256 providerBefore, uint256 challengerBefore) internal {
        address loser = d.providerWon ? d.challenger : d.provider;
        uint256 before = d.providerWon ? challengerBefore : providerBefore;
        if (ugame.withdrawable(loser) > before) ++loserPaid;
    }

    /// @dev Finalises the first epoch from `seed` on that is committed and past its window.
    function finalize(uint256 seed) external {
        ++calls;
        uint256 n = epochIds.length;
        for (uint256 k = 0; k < n; ++k) {
            uint256 e = epochIds[(seed % n + k) % n];
            IUsageEpochs.Epoch memory ep = usage.getEpoch(e);
            if (ep.status != IUsageEpochs.Status.Committed || block.timestamp < ep.claimableAt) continue;
            usage.finalizeEpoch(e);
            return;
        }
        _skip();
    }

    /// @dev Claims leaf `seed >> 8 % 2` of the first finalised epoch from `seed` on where it is unclaimed and within
    /// what is left of the pool (a cheat's leaves may ask more than the pool holds).
    function claim(uint256 seed) external {
        ++calls;
        uint256 n = epochIds.length;
        uint256 leaf = (seed >> 8) % 2;
        for (uint256 k = 0; k < n; ++k) {
            uint256 e = epochIds[(seed % n + k) % n];
            IUsageEpochs.Epoch memory ep = usage.getEpoch(e);
            address who = _claimants[e][leaf];
            uint256 amount = _amounts[e][leaf];
            if (ep.status != IUsageEpochs.Status.Finalized || amount == 0 || usage.isClaimed(e, who)) continue;
            if (amount > ep.pool - ep.claimed) continue;
            IUsageEpochs.Claim[] memory cs = new IUsageEpochs.Claim[](1);
            (, bytes32[] memory proof) = Merkle.rootAndProof(_leaves[e], leaf);
            cs[0] = IUsageEpochs.Claim(e, amount, proof);
            usage.claim(who, cs);
            return;
        }
        _skip();
    }

    /// @dev Held revenue nobody committed within the release delay goes on to the distributor.
    function releaseHeld() external {
        ++calls;
        if (model == 0 || usage.held(model) == 0 || block.timestamp < heldSince + 7 days) return _skip();
        heldSince = 0;
        usage.releaseHeld(model);
    }

    /// @dev An account the usage game credited withdraws.
    function withdraw(uint256 seed) external {
        ++calls;
        address a = this.accounts()[seed % 8];
        if (ugame.withdrawable(a) == 0) return _skip();
        vm.prank(a);
        ugame.withdraw();
    }
}

/// @notice Invariants over random call sequences: every escrowing contract holds exactly what it owes, no leaf
/// claims beyond its share, attribution never pays a trainer or the owner beyond its own share, and no voucher
/// moves more than a key the channel accepts signed. Runs, depth and fail-on-revert (on) come from
/// hardhat.config.ts (`TRIBUTARY_INVARIANT_RUNS`, `TRIBUTARY_INVARIANT_DEPTH`; 256 x 64 in `npm test`,
/// `npm run fuzz` for the long campaign). This file runs on its own:
/// `npx hardhat test solidity test/invariants/Escrow.t.sol`.
contract EscrowInvariants is Protocol {
    Handler internal handler;
    ChannelHandler internal chandler;
    EvalHandler internal ehandler;
    CuratorHandler internal curhandler;
    UsageHandler internal uhandler;
    UsageEpochs internal usage;
    PaymentChannels internal uchannels;
    UsageGame internal ugame;
    uint40 internal constant USAGE_WINDOW = 1 days;
    uint40 internal constant USAGE_RELEASE = 7 days;
    uint128 internal constant PROVIDER_BOND = 50e18;

    /// @dev Usage epochs wired as deploy.ts does: their own PaymentChannels (voucher revenue held by UsageEpochs),
    /// the usage game, and the pool naming both games.
    function wirePool() internal override {
        (usage, uchannels, ugame) = deployUsage(USAGE_WINDOW, USAGE_RELEASE, PROVIDER_BOND);
    }

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        handler = new Handler(token, datanets, access, trainers, market, rewards, channels, game, baseModel);
        token.grantRole(token.MINTER_ROLE(), address(handler));
        // The admin changes parameters mid-run through the handler.
        rewards.grantRole(bytes32(0), address(handler));
        market.grantRole(bytes32(0), address(handler));
        ehandler = new EvalHandler(handler, game, market);
        handler.init(ehandler);
        chandler = new ChannelHandler(handler, channels);
        curhandler = new CuratorHandler(handler, datanets, access, rewards);
        uhandler = new UsageHandler(handler, usage, uchannels, ugame, IERC721(address(models)));
        ugame.transferEmergency(address(uhandler));
        for (uint256 i = 0; i < 2; ++i) {
            token.mint(uhandler.payers(i), 1e27);
            token.mint(uhandler.providers(i), 1e27);
            token.mint(uhandler.challengers(i), 1e27);
        }
        uhandler.init();
        targetContract(address(handler));
        targetContract(address(uhandler));
        targetContract(address(chandler));
        targetContract(address(ehandler));
        targetContract(address(curhandler));
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
        handler.claimReward(0, 0);
        handler.claimReward(0, 1);
        handler.payShares(0);
        handler.fundPool(0, 3e18);
        handler.distributePool(false);
        handler.claimPool(0, true);
        handler.claimPool(0, false);
        chandler.openChannel(1, 10e18);
        chandler.openChannel(1, 1e18); // top-up
        chandler.redeem(0, 4e18);
        chandler.withdrawChannel(0);
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
        assertEq(chandler.channelCount(), 1, "channel");
        assertEq(handler.distributionCount(), 1, "distribution");
        assertTrue(rewards.claimedBy(2, handler.contributorB()) == 0, "model 2 untouched");
        assertTrue(rewards.claimedBy(1, handler.contributorB()) > 0, "claimed");
        assertTrue(channels.getChannel(chandler.channelIds(0)).redeemed > 0, "redeemed");
        assertTrue(uint256(market.getJob(handler.jobIds(3)).status) == uint256(IJobMarket.JobStatus.Open), "reopened");
        invariant_protocol();
    }

    /// Adversarial attributions: a poster who is also the trainer submits root 0, an inflated total, a tree
    /// naming the trainer's own contribution, leaves weighing more than the total. Nobody gains beyond its own
    /// share, the trainer's leaf cannot claim, and after the claim window the unclaimed share is swept to the pool.
    function test_handler_adversarialAttributions() public {
        handler.adminChange(0, 0); // claim window 1 hour
        for (uint256 k = 0; k < 5; ++k) {
            handler.postJob(3, 5e18, false); // trainer 0 posts ...
            uint256 job = handler.jobCount() - 1;
            handler.claimJob(job, 0); // ... and claims its own job
            // seed / 7 % KINDS picks the kind; seed % jobCount() picks this job
            uint256 seed = job;
            while (seed / 7 % 6 != k || seed % handler.jobCount() != job) seed += handler.jobCount();
            handler.submitResult(seed, true);
            handler.settleJob(job, 0); // the poster (the trainer) accepts
        }
        assertEq(handler.modelCount(), 5, "five models");
        for (uint256 m = 0; m < 5; ++m) {
            handler.depositRevenue(m, 1e18);
            for (uint256 i = 0; i < 4; ++i) handler.claimReward(m, i);
        }
        assertTrue(handler.attacks() > 0, "the trainer tried its own leaf");
        assertEq(handler.attacksSucceeded(), 0, "and failed");
        handler.advanceTime(2 hours);
        for (uint256 m = 0; m < 5; ++m) handler.sweepUnclaimed(m);
        assertTrue(rewards.getModelRewards(2).sweptPaid > 0, "root 0 swept");
        assertTrue(rewards.getModelRewards(3).sweptPaid > 0, "inflated total swept");
        invariant_protocol();
    }

    /// Eval disputes through the handler: one job per claim kind (honest, a lower loss, wider terms, a withheld
    /// adapter), each challenged, its committee drawn and voting: only the honest claim stands, the cheats' jobs
    /// are refunded, the lazy verifier (when drawn) never gains.
    function test_handler_evalDisputes() public {
        for (uint256 kind = 0; kind < 4; ++kind) {
            handler.postJob(0, 5e18, false);
            uint256 j = handler.jobCount() - 1;
            uint256 jobId = handler.jobIds(j);
            handler.claimJob(j, kind);
            ehandler.commitEvalClaim(j, kind == 0 ? 0 : kind + 2); // how % 6: 0 honest, 3 LOWER, 4 TERMS, 5 WITHHELD
            assertEq(ehandler.claimKind(jobId), kind, "claim kind");
            uint256 seed = j; // an honest attribution (kind 0: seed / 7 % 6 == 0) of this job
            while (seed / 7 % 6 != 0 || seed % handler.jobCount() != j) seed += handler.jobCount();
            handler.submitResult(seed, true);
            ehandler.challengeEval(j);
            uint256 k = handler.disputeCount() - 1;
            uint256 id = handler.disputeIds(k);
            assertTrue(game.getDispute(id).eval, "an eval dispute");
            ehandler.evalMove(k, 1); // draw, vote and settle
            IDisputeGame.Dispute memory d = game.getDispute(id);
            assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.CommitteeVerdict), "decided");
            assertTrue(d.trainerWon == (kind == 0), "only the honest claim stands");
            IJobMarket.JobStatus s = market.getJob(jobId).status;
            assertTrue((s == IJobMarket.JobStatus.Refunded) == (kind != 0), "cheats refunded");
        }
        assertEq(ehandler.decided(), 4, "four decided");
        assertEq(ehandler.lazyGained(), 0, "lazy never gained");
        invariant_protocol();
    }

    /// Usage disputes through the handler: an honest epoch challenged by the false challenger (upheld), a cheating
    /// one and a withheld one challenged by the honest challenger (voided), a provider challenging its own epoch
    /// (refused), a silent committee redrawn larger than the pool then ruled by the timelocked emergency; claims,
    /// finalisation, release and withdrawals. The lazy verifier (when drawn) never gains.
    function test_handler_usageDisputes() public {
        uhandler.redeem(0, 10e18); // payer 0 -> provider 0
        uhandler.redeem(1, 20e18); // payer 1 -> provider 0
        uhandler.commitEpoch(0, 1); // honest
        uhandler.challenge(0, 4); // the provider tries first (refused), then the false challenger
        uhandler.move(0, 1); // draw, vote, settle
        uint256 id = uhandler.disputeIds(0);
        assertTrue(ugame.getDispute(id).providerWon, "an honest epoch is upheld");
        uhandler.redeem(256, 10e18); // payer 0 -> provider 1
        uhandler.commitEpoch(1, 1); // the cheat
        uhandler.challenge(0, 1);
        uhandler.move(1, 1);
        assertTrue(!ugame.getDispute(uhandler.disputeIds(1)).providerWon, "a cheating epoch is voided");
        uhandler.redeem(0, 5e18);
        uhandler.commitEpoch(0, 0); // withheld records
        uhandler.challenge(0, 1);
        uhandler.move(2, 1);
        assertTrue(!ugame.getDispute(uhandler.disputeIds(2)).providerWon, "withheld records lose");
        uhandler.redeem(1, 5e18);
        uhandler.commitEpoch(0, 1); // honest
        uhandler.challenge(0, 1);
        uhandler.move(3, 8); // drawn, silent: all penalised, redrawn with 7 seats
        IUsageGame.Dispute memory d = ugame.getDispute(uhandler.disputeIds(3));
        assertEq(d.seats, 7, "redrawn larger");
        assertEq(d.pot, 3 * VERIFIER_PENALTY, "silence costs");
        uhandler.move(3, 1); // stuck: the emergency rules after its timelock
        d = ugame.getDispute(uhandler.disputeIds(3));
        assertTrue(d.outcome == IUsageGame.Outcome.Emergency && d.providerWon, "ruled the truth");
        assertEq(uhandler.decided(), 3, "three decided by committees");
        assertEq(uhandler.emergencies(), 1, "one emergency");
        assertEq(uhandler.attacks(), 1, "the provider tried");
        assertEq(uhandler.attacksSucceeded(), 0, "and was refused");
        handler.advanceTime(USAGE_WINDOW);
        uhandler.finalize(0);
        uhandler.claim(0);
        uhandler.claim(256);
        for (uint256 i = 0; i < 8; ++i) uhandler.withdraw(i);
        uhandler.redeem(0, 1e18);
        handler.advanceTime(USAGE_RELEASE);
        uhandler.releaseHeld();
        assertEq(usage.held(uhandler.model()), 0, "released");
        assertEq(uhandler.lazyGained(), 0, "lazy never gained");
        invariant_protocol();
    }

    /// The handler's rates on a pseudo-random walk of 1,500 calls: with fail-on-revert on, a revert would fail the
    /// campaign, so every call here must succeed (reverts counted by try/catch are 0); the share of calls that
    /// returned early without a state change (skips) is logged for `bench/fuzz.ts` and must stay below 3/4.
    function test_handler_revertRate() public {
        uint256 reverts;
        uint256 n = 1_500;
        for (uint256 i = 0; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode("walk", i)));
            uint256 a = r % 35;
            uint256 x = r >> 8;
            uint256 y = r >> 128;
            bytes memory data;
            address to = a >= 14 && a <= 17 ? address(chandler) : address(handler);
            if (a == 0) data = abi.encodeCall(Handler.postJob, (x, uint128(y), x % 2 == 0));
            else if (a == 1) data = abi.encodeCall(Handler.claimJob, (x, y));
            else if (a == 2) data = abi.encodeCall(Handler.submitResult, (x, y % 4 != 0));
            else if (a == 3) data = abi.encodeCall(Handler.settleJob, (x, uint8(y)));
            else if (a == 4) data = abi.encodeCall(Handler.disputeMove, (x, uint8(y)));
            else if (a == 5) data = abi.encodeCall(Handler.depositRevenue, (x, y));
            else if (a == 6) data = abi.encodeCall(Handler.claimReward, (x, y));
            else if (a == 7) data = abi.encodeCall(Handler.sweepUnclaimed, (x));
            else if (a == 8) data = abi.encodeCall(Handler.advanceTime, (y % 3 days));
            else if (a == 9) data = abi.encodeCall(Handler.adminChange, (x, y));
            else if (a == 10) data = abi.encodeCall(Handler.payShares, (x));
            else if (a == 11) data = abi.encodeCall(Handler.fundPool, (x, y));
            else if (a == 12) data = abi.encodeCall(Handler.distributePool, (x % 2 == 0));
            else if (a == 13) data = abi.encodeCall(Handler.claimPool, (x, y % 2 == 0));
            else if (a == 14) data = abi.encodeCall(ChannelHandler.openChannel, (x, y));
            else if (a == 15) data = abi.encodeCall(ChannelHandler.rotateSessionKey, (x));
            else if (a == 16) data = abi.encodeCall(ChannelHandler.redeem, (x, y));
            else if (a == 17) data = abi.encodeCall(ChannelHandler.withdrawChannel, (x));
            else if (a == 18) data = abi.encodeCall(Handler.stake, (x, y));
            else if (a == 19) data = abi.encodeCall(Handler.withdrawCredit, (x));
            else if (a == 20) data = abi.encodeCall(Handler.withdrawGameCredit, (x));
            else if (a == 21) data = abi.encodeCall(Handler.requestUnstake, (x, y));
            else if (a == 22) data = abi.encodeCall(EvalHandler.commitEvalClaim, (x, y));
            else if (a == 23) data = abi.encodeCall(EvalHandler.challengeEval, (x));
            else if (a == 24) data = abi.encodeCall(EvalHandler.evalMove, (x, uint8(y)));
            else if (a == 25) data = abi.encodeCall(CuratorHandler.grantOrRevoke, (x, uint32(y), y % 2 == 0));
            else if (a == 26) data = abi.encodeCall(CuratorHandler.overreach, (x, bytes32(y)));
            else if (a == 27) data = abi.encodeCall(UsageHandler.redeem, (x, y));
            else if (a == 28) data = abi.encodeCall(UsageHandler.commitEpoch, (x, y));
            else if (a == 29) data = abi.encodeCall(UsageHandler.challenge, (x, y));
            else if (a == 30) data = abi.encodeCall(UsageHandler.move, (x, uint8(y)));
            else if (a == 31) data = abi.encodeCall(UsageHandler.finalize, (x));
            else if (a == 32) data = abi.encodeCall(UsageHandler.claim, (x));
            else if (a == 33) data = abi.encodeCall(UsageHandler.releaseHeld, ());
            else data = abi.encodeCall(UsageHandler.withdraw, (x));
            if (a >= 22 && a <= 24) to = address(ehandler);
            if (a >= 25 && a <= 26) to = address(curhandler);
            if (a >= 27) to = address(uhandler);
            (bool ok,) = to.call(data);
            if (!ok) ++reverts;
        }
        console.log("handler walk: calls %s reverts %s", n, reverts);
        uint256 skips = handler.skips() + chandler.skips() + ehandler.skips() + curhandler.skips() + uhandler.skips();
        console.log(
            "handler walk: skips %s attacks %s",
            skips,
            handler.attacks() + chandler.attacks() + curhandler.attacks() + uhandler.attacks()
        );
        console.log(
            "handler walk: usage calls %s skips %s epochs %s", uhandler.calls(), uhandler.skips(), uhandler.epochCount()
        );
        console.log(
            "handler walk: usage disputes %s decided %s emergencies %s",
            uhandler.disputeCount(),
            uhandler.decided(),
            uhandler.emergencies()
        );
        console.log("handler walk: lazy incoherent in decided usage rounds %s", uhandler.lazyIncoherentDecided());
        console.log(
            "handler walk: eval claims %s cheats %s decided %s", ehandler.claims(), ehandler.cheats(), ehandler.decided()
        );
        console.log("handler walk: lazy incoherent in decided eval rounds %s", ehandler.lazyIncoherentDecided());
        assertEq(reverts, 0, "no handler call reverts");
        assertEq(
            handler.attacksSucceeded() + chandler.attacksSucceeded() + curhandler.attacksSucceeded()
                + uhandler.attacksSucceeded(),
            0,
            "no attack succeeded"
        );
        assertTrue(curhandler.attacks() > 0, "the independent curator overreached");
        uint256 evalDisputes;
        for (uint256 i = 0; i < handler.disputeCount(); ++i) {
            if (game.getDispute(handler.disputeIds(i)).eval) ++evalDisputes;
        }
        console.log("handler walk: disputes %s eval %s", handler.disputeCount(), evalDisputes);
        assertTrue(ehandler.decided() > 0, "the walk decides eval disputes");
        assertTrue(uhandler.decided() > 0, "the walk decides usage disputes");
        assertLe(
            skips * 4,
            (handler.calls() + chandler.calls() + ehandler.calls() + curhandler.calls() + uhandler.calls()) * 3,
            "under 3/4 of the calls are skips"
        );
        invariant_protocol();
    }

    /// All invariants after every call of the campaign (one campaign: each run checks all of them).
    function invariant_protocol() public view {
        _jobMarketHoldsWhatItOwes();
        _trainerRegistryHoldsStake();
        _rewardDistributorHoldsWhatItOwes();
        _noOverClaim();
        _attributionPaysOnlyContributors();
        _channelsHoldDepositsAndRespectVouchers();
        _disputeGameHoldsWhatItOwes();
        _evalVerdictsFollowTheTruth();
        _usageEscrowsHoldWhatTheyOwe();
        _usageVerdictsFollowTheTruth();
    }

    /// UsageEpochs holds exactly its liabilities; the usage game the bonds and pots of its unsettled disputes and
    /// every unwithdrawn credit; the verifier pool (shared by both games) the verifiers' stakes; the usage channels
    /// their unspent deposits.
    function _usageEscrowsHoldWhatTheyOwe() internal view {
        assertEq(token.balanceOf(address(usage)), usage.liabilities(), "usage epochs balance");
        uint256 owed;
        address[8] memory all = uhandler.accounts();
        for (uint256 i = 0; i < all.length; ++i) {
            owed += ugame.withdrawable(all[i]);
        }
        for (uint256 i = 0; i < uhandler.disputeCount(); ++i) {
            IUsageGame.Dispute memory d = ugame.getDispute(uhandler.disputeIds(i));
            if (d.phase == IUsageGame.Phase.Settled) continue;
            owed += uint256(d.bond) + d.pot;
            assertEq(
                uint256(usage.getEpoch(d.epochId).status), uint256(IUsageEpochs.Status.Challenged), "open dispute's epoch"
            );
        }
        assertEq(token.balanceOf(address(ugame)), owed, "usage game balance");
        uint256 stakes;
        for (uint256 i = 0; i < 4; ++i) {
            stakes += pool.getVerifier(handler.verifierAccounts(i)).stake;
        }
        assertEq(token.balanceOf(address(pool)), stakes, "verifier pool balance");
        uint256 deposits;
        for (uint256 i = 0; i < 4 && uhandler.model() != 0; ++i) {
            IPaymentChannels.Channel memory c = uchannels.getChannel(uhandler.channelIds(i));
            deposits += c.deposit - c.redeemed;
        }
        assertEq(token.balanceOf(address(uchannels)), deposits, "usage channels balance");
    }

    /// Every settled usage dispute went the way of the handler's truth (a committee's verdict, or the emergency's
    /// ruling of a stuck one): an epoch whose claims root is not what its records give, or whose records were
    /// withheld, was voided; an honest epoch was upheld and never voided; the losing side was credited nothing. No
    /// provider challenged its own epoch. The lazy verifier never gained from a decided round where it was incoherent.
    function _usageVerdictsFollowTheTruth() internal view {
        for (uint256 i = 0; i < uhandler.disputeCount(); ++i) {
            IUsageGame.Dispute memory d = ugame.getDispute(uhandler.disputeIds(i));
            if (d.phase != IUsageGame.Phase.Settled) continue;
            IUsageEpochs.Status s = usage.getEpoch(d.epochId).status;
            if (uhandler.kindOf(d.epochId) == uhandler.HONEST()) {
                assertTrue(d.providerWon, "an honest epoch is upheld");
                assertTrue(s != IUsageEpochs.Status.Voided, "an honest epoch is never voided");
            } else {
                assertTrue(!d.providerWon, "a cheating or withheld epoch loses");
                assertEq(uint256(s), uint256(IUsageEpochs.Status.Voided), "a cheating or withheld epoch is voided");
            }
        }
        assertEq(uhandler.attacksSucceeded(), 0, uhandler.lastAttackSucceeded());
        assertEq(uhandler.loserPaid(), 0, "the losing side of a usage dispute is credited nothing");
        assertEq(uhandler.lazyGained(), 0, "the lazy verifier never gains from an incoherent usage vote");
    }

    /// Every eval dispute a committee decided went the way of the handler's truth: a cheating claim (a loss below
    /// the truth beyond the tolerance, terms not the spec's, a withheld adapter, an attribution not the run's)
    /// lost and its job was refunded (the trainer is never paid for it); an honest claim won and its job was not
    /// refunded (never slashed). The lazy verifier never gained from a decided round where it was incoherent.
    function _evalVerdictsFollowTheTruth() internal view {
        for (uint256 i = 0; i < handler.disputeCount(); ++i) {
            IDisputeGame.Dispute memory d = game.getDispute(handler.disputeIds(i));
            if (!d.eval || d.outcome != IDisputeGame.Outcome.CommitteeVerdict) continue;
            assertEq(game.evalClaimOf(d.jobId).trainer, d.trainer, "the dispute's claim");
            IJobMarket.JobStatus s = market.getJob(d.jobId).status;
            if (ehandler.honest(d.jobId)) {
                assertTrue(d.trainerWon, "an honest eval claim is upheld");
                assertTrue(s != IJobMarket.JobStatus.Refunded, "an honest eval claim is never slashed");
            } else {
                assertTrue(!d.trainerWon, "a cheating eval claim loses");
                assertEq(uint256(s), uint256(IJobMarket.JobStatus.Refunded), "a cheating eval claim is refunded");
            }
        }
        assertEq(ehandler.lazyGained(), 0, "the lazy verifier never gains from an incoherent eval vote");
    }

    /// No adversarial attempt ever succeeded; no trainer ever received contributor rewards (its own leaf is for
    /// a contribution outside the model's data); owner and trainer shares never exceed their basis points
    /// (root 0 and inflated totals give them nothing more).
    function _attributionPaysOnlyContributors() internal view {
        assertEq(handler.attacksSucceeded(), 0, handler.lastAttackSucceeded());
        assertEq(chandler.attacksSucceeded(), 0, chandler.lastAttackSucceeded());
        assertEq(curhandler.attacksSucceeded(), 0, curhandler.lastAttackSucceeded());
        for (uint256 i = 0; i < handler.modelCount(); ++i) {
            uint256 id = handler.modelIds(i);
            IRewardDistributor.ModelRewards memory m = rewards.getModelRewards(id);
            for (uint256 t = 0; t < 2; ++t) {
                assertEq(rewards.claimedBy(id, handler.trainerAccounts(t)), 0, "trainer never paid as contributor");
            }
            assertLe(m.ownerPaid, uint256(m.revenue) * m.split.ownerBps / 10_000, "owner within its share");
            assertLe(m.trainerPaid, uint256(m.revenue) * m.split.trainerBps / 10_000, "trainer within its share");
        }
    }

    /// The verifier pool holds the verifiers' stakes; the dispute game the bonds and pots of unsettled disputes, and
    /// every unwithdrawn credit; the job of an unsettled dispute stays Disputed or is refunded (moot).
    function _disputeGameHoldsWhatItOwes() internal view {
        uint256 owed;
        uint256 stakes;
        for (uint256 i = 0; i < 4; ++i) {
            address v = handler.verifierAccounts(i);
            stakes += pool.getVerifier(v).stake;
            owed += game.withdrawable(v);
        }
        assertEq(token.balanceOf(address(pool)), stakes, "verifier pool balance");
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
    function _jobMarketHoldsWhatItOwes() internal view {
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
    function _trainerRegistryHoldsStake() internal view {
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
    function _rewardDistributorHoldsWhatItOwes() internal view {
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

    /// No leaf ever claims more than `accrued * weight / total`; claims plus sweeps never exceed the
    /// contributors' part; the claimed leaves never weigh more than the total.
    function _noOverClaim() internal view {
        for (uint256 i = 0; i < handler.modelCount(); ++i) {
            uint256 id = handler.modelIds(i);
            IRewardDistributor.ModelRewards memory m = rewards.getModelRewards(id);
            uint256 cBps = 10_000 - m.split.ownerBps - m.split.trainerBps - m.split.protocolBps;
            uint256 part = uint256(m.revenue) * cBps / 10_000;
            if (m.attributionRoot != bytes32(0)) {
                for (uint256 k = 0; k < 4; ++k) {
                    uint256[3] memory l = handler.leafOf(id, k);
                    // a contribution in two leaves (kind 5) claims at one of their weights: bound by the larger
                    uint256 w = l[2];
                    for (uint256 q = 0; q < 4; ++q) {
                        uint256[3] memory o = handler.leafOf(id, q);
                        if (o[0] == l[0] && o[1] == l[1] && o[2] > w) w = o[2];
                    }
                    uint256 claimed = rewards.leafClaimed(id, l[0], l[1]);
                    assertLe(claimed, part * w / m.totalWeight, "leaf within its share");
                }
            } else {
                assertEq(m.contributorsClaimed, 0, "no claim without attribution");
            }
            assertLe(uint256(m.contributorsClaimed) + m.sweptPaid, part, "within the contributors' part");
            assertLe(m.weightClaimed, m.totalWeight, "claimed leaves within the total");
        }
        for (uint256 i = 0; i < handler.distributionCount(); ++i) {
            IRewardDistributor.Distribution memory d = rewards.getDistribution(handler.distributionIds(i));
            assertLe(d.claimed, d.amount, "distribution within amount");
        }
    }

    /// PaymentChannels holds exactly the unspent deposits; no channel redeemed more than a key it accepts signed.
    function _channelsHoldDepositsAndRespectVouchers() internal view {
        uint256 owed;
        for (uint256 i = 0; i < chandler.channelCount(); ++i) {
            bytes32 id = chandler.channelIds(i);
            IPaymentChannels.Channel memory c = channels.getChannel(id);
            owed += c.deposit - c.redeemed;
            assertLe(c.redeemed, chandler.maxSigned(id), "voucher bound");
        }
        assertEq(token.balanceOf(address(channels)), owed, "channels balance");
    }
}
