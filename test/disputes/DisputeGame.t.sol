// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IVerifierPool} from "../../contracts/interfaces/IVerifierPool.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {Protocol} from "../utils/Protocol.sol";

/// @notice The dispute game end to end on the real protocol: checkpoint commitments, bisection to the first
/// disputed leaf, a stake-weighted committee from a future block, commit-reveal with a witness, and every clock.
contract DisputeGameTest is Protocol {
    uint256 internal net;
    uint128 internal constant BUDGET = 1_000e18;
    uint256 internal constant COLLATERAL = BUDGET;
    uint32 internal constant COUNT = 16;
    address internal challenger = address(0xC4A1);
    address[] internal verifiers;

    function setUp() public {
        vm.warp(1_000_000);
        vm.roll(100);
        deployProtocol();
        net = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        fund(builder, 10_000e18);
        fund(challenger, 1_000e18);
        stakeTrainer(trainer);
        for (uint256 i = 0; i < 5; ++i) _addVerifier(address(uint160(0xF000 + i)));
    }

    // ------------------------------------------------------------------ helpers

    function _addVerifier(address v) internal {
        verifiers.push(v);
        fund(v, MIN_VERIFIER_STAKE);
        vm.prank(v);
        pool.stake(MIN_VERIFIER_STAKE);
    }

    /// @dev The true state hash after checkpoint `i` (what an honest replay computes).
    function _honest(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("state", i));
    }

    /// @dev The digest of the per-step hashes inside segment `i` (only a real replay knows it).
    function _witness(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("steps", i));
    }

    /// @dev A trainer's states: honest before `cheatFrom`, made up from there.
    function _states(uint256 cheatFrom) internal pure returns (bytes32[] memory s) {
        s = new bytes32[](COUNT);
        for (uint256 i = 0; i < COUNT; ++i) {
            s[i] = i < cheatFrom ? _honest(i) : keccak256(abi.encode("skipped", i));
        }
    }

    /// @dev levels[0] = leaves padded to a power of two; levels[k] = parents of levels[k-1]; the last is the root.
    function _tree(uint256 jobId, bytes32[] memory states) internal pure returns (bytes32[][] memory levels) {
        uint256 width = 1;
        uint256 depth;
        while (width < states.length) (width, depth) = (width * 2, depth + 1);
        levels = new bytes32[][](depth + 1);
        levels[0] = new bytes32[](width);
        for (uint256 i = 0; i < states.length; ++i) {
            levels[0][i] = keccak256(abi.encode(jobId, i, states[i]));
        }
        for (uint256 k = 1; k <= depth; ++k) {
            uint256 w = levels[k - 1].length / 2;
            levels[k] = new bytes32[](w);
            for (uint256 i = 0; i < w; ++i) {
                levels[k][i] = keccak256(abi.encodePacked(levels[k - 1][2 * i], levels[k - 1][2 * i + 1]));
            }
        }
    }

    function _proof(bytes32[][] memory levels, uint256 index) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](levels.length - 1);
        for (uint256 k = 0; k + 1 < levels.length; ++k) {
            p[k] = levels[k][index ^ 1];
            index >>= 1;
        }
    }

    /// @dev Posts, claims, commits `states` and submits a job.
    function _submitted(bytes32[] memory states) internal returns (uint256 jobId, bytes32[][] memory levels) {
        vm.prank(builder);
        jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        market.claimJob(jobId);
        levels = _tree(jobId, states);
        vm.prank(trainer);
        game.commitCheckpoints(jobId, levels[levels.length - 1][0], uint32(states.length));
        vm.prank(trainer);
        market.submitResult(jobId, result(keccak256("root"), 1e18));
    }

    function _open(uint256 jobId) internal returns (uint256 id) {
        vm.prank(challenger);
        id = game.openChallenge(jobId, "bafywhy");
    }

    /// @dev Plays the bisection: the trainer answers from `trainerTree`, the challenger descends towards the first
    /// leaf where `trainerTree` differs from `challengerTree`; ends with the trainer's segment proof.
    function _bisect(uint256 id, bytes32[][] memory trainerTree, bytes32[][] memory challengerTree, bytes32[] memory trainerStates)
        internal
        returns (uint256 leaf)
    {
        leaf = _descend(id, trainerTree, challengerTree);
        bytes32[] memory proof = leaf == 0 ? new bytes32[](0) : _proof(trainerTree, leaf - 1);
        vm.prank(trainer);
        game.proveSegment(id, leaf == 0 ? bytes32(0) : trainerStates[leaf - 1], proof, trainerStates[leaf]);
    }

    /// @dev The bisection moves of `_bisect`, without the segment proof; returns the disputed leaf.
    function _descend(uint256 id, bytes32[][] memory trainerTree, bytes32[][] memory challengerTree)
        internal
        returns (uint256 leaf)
    {
        uint256 level = trainerTree.length - 1;
        uint256 index;
        while (level > 0) {
            bytes32 l = trainerTree[level - 1][2 * index];
            bytes32 r = trainerTree[level - 1][2 * index + 1];
            vm.prank(trainer);
            game.revealChildren(id, l, r);
            bool right = l == challengerTree[level - 1][2 * index];
            vm.prank(challenger);
            game.chooseChild(id, l, r, right);
            index = 2 * index + (right ? 1 : 0);
            --level;
        }
        leaf = index;
    }

    /// @dev The last leaf's state for run state `runState` and a result with attribution `(root, weight)`.
    function _final(bytes32 runState, bytes32 root, uint128 weight) internal pure returns (bytes32) {
        return keccak256(abi.encode(runState, keccak256("adapter"), root, weight));
    }

    function _drawNow(uint256 id) internal returns (address[] memory members) {
        uint64 drawBlock = game.getDispute(id).drawBlock;
        vm.roll(drawBlock + 1);
        vm.setBlockhash(drawBlock, keccak256(abi.encode("block", drawBlock, id)));
        game.drawCommittee(id);
        members = game.committeeOf(id);
    }

    function _commitment(uint256 id, uint8 round, address v, bytes32 verdict, bytes32 witness)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(id, round, v, verdict, witness, keccak256(abi.encode(v))));
    }

    function _vote(uint256 id, address v, bytes32 verdict, bytes32 witness) internal {
        uint8 round = game.getDispute(id).round;
        vm.prank(v);
        game.commitVote(id, _commitment(id, round, v, verdict, witness));
    }

    function _reveal(uint256 id, address v, bytes32 verdict, bytes32 witness) internal {
        vm.prank(v);
        game.revealVote(id, verdict, witness, keccak256(abi.encode(v)));
    }

    function _stake(address v) internal view returns (uint256) {
        return pool.getVerifier(v).stake;
    }

    // ------------------------------------------------------------------ paths

    function test_honestPath_unchallengedPaysAsBefore() public {
        (uint256 jobId,) = _submitted(_states(COUNT));
        (address t, bytes32 root, uint32 count) = game.checkpointsOf(jobId);
        assertEq(t, trainer, "committed by the trainer");
        assertTrue(root != bytes32(0), "root");
        assertEq(count, COUNT, "count");
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        uint256 modelId = market.finalizeJob(jobId);
        assertEq(models.ownerOf(modelId), builder, "minted to the poster");
        assertEq(market.withdrawable(trainer), BUDGET - BUDGET / 10, "trainer paid budget - data fee");
        assertEq(trainers.getTrainer(trainer).locked, 0, "collateral unlocked");
    }

    function test_cheater_caughtByBisectionAndCommittee_lazyVerifierPenalised() public {
        bytes32[] memory cheat = _states(11); // trained 11 checkpoints' worth, made up the rest
        (uint256 jobId, bytes32[][] memory tree) = _submitted(cheat);
        bytes32[][] memory honestTree = _tree(jobId, _states(COUNT));
        uint256 id = _open(jobId);
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Disputed), "disputed");
        assertEq(token.balanceOf(address(game)), CHALLENGE_BOND, "bond held");
        assertEq(token.balanceOf(address(pool)), 5 * MIN_VERIFIER_STAKE, "stakes in the pool");

        uint256 leaf = _bisect(id, tree, honestTree, cheat);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertEq(leaf, 11, "first made-up checkpoint found");
        assertEq(d.moves, 8, "4 reveals + 4 choices over 16 checkpoints");
        assertEq(d.prevState, _honest(10), "agreed state before the segment");
        assertEq(d.claimedState, cheat[11], "trainer's claim");
        assertEq(uint256(d.phase), uint256(IDisputeGame.Phase.AwaitingDraw), "awaiting the draw");

        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.DrawBlockNotReached.selector, id, d.drawBlock));
        game.drawCommittee(id);
        address[] memory members = _drawNow(id);
        assertEq(members.length, 3, "three seats");
        for (uint256 i = 0; i < 3; ++i) {
            assertTrue(game.isDrawnVerifier(jobId, members[i]), "custodian may release keys");
        }
        // members[0] is lazy: it copies the trainer's published hash and cannot know the segment's step hashes.
        address lazy = members[0];
        _vote(id, lazy, cheat[11], keccak256("guess"));
        _vote(id, members[1], _honest(11), _witness(11));
        _vote(id, members[2], _honest(11), _witness(11));
        _reveal(id, lazy, cheat[11], keccak256("guess"));
        _reveal(id, members[1], _honest(11), _witness(11));
        _reveal(id, members[2], _honest(11), _witness(11));

        uint256 poolBefore = rewards.poolBalance(net);
        game.settle(id);
        d = game.getDispute(id);
        assertEq(uint256(d.phase), uint256(IDisputeGame.Phase.Settled), "settled");
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.CommitteeVerdict), "by the committee");
        assertTrue(!(d.trainerWon), "trainer lost");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        assertEq(market.withdrawable(builder), BUDGET, "poster refunded");
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE - COLLATERAL, "whole collateral slashed");
        assertEq(trainers.getTrainer(trainer).locked, 0, "unlocked");
        uint256 fees = 2 * VERIFIER_FEE;
        uint256 reward = (COLLATERAL - fees) / 2;
        assertEq(game.withdrawable(challenger), CHALLENGE_BOND + reward, "bond back + half the rest");
        assertEq(rewards.poolBalance(net) - poolBefore, COLLATERAL - fees - reward, "rest to the Datanet");
        assertEq(_stake(lazy), MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "lazy verifier penalised");
        assertEq(game.withdrawable(lazy), 0, "lazy unpaid");
        uint256 each = VERIFIER_FEE + VERIFIER_PENALTY / 2;
        assertEq(game.withdrawable(members[1]), each, "honest paid fee + half the penalty");
        assertEq(game.withdrawable(members[2]), each, "honest paid fee + half the penalty");
        assertTrue(!(game.isDrawnVerifier(jobId, members[1])), "released");
        assertEq(pool.getVerifier(members[1]).duties, 0, "no duty left");
        _assertGameSolvent();
        vm.prank(challenger);
        game.withdraw();
        assertEq(token.balanceOf(challenger), 1_000e18 + reward, "challenger profited");
    }

    function test_falseChallenger_losesBond() public {
        bytes32[] memory honest = _states(COUNT);
        (uint256 jobId, bytes32[][] memory tree) = _submitted(honest);
        // The challenger believes (wrongly) that the run went off from checkpoint 5.
        bytes32[][] memory wrongTree = _tree(jobId, _states(5));
        uint256 id = _open(jobId);
        uint256 leaf = _bisect(id, tree, wrongTree, honest);
        assertEq(leaf, 5, "descended to the falsely disputed leaf");
        address[] memory members = _drawNow(id);
        for (uint256 i = 0; i < 3; ++i) _vote(id, members[i], _honest(5), _witness(5));
        for (uint256 i = 0; i < 3; ++i) _reveal(id, members[i], _honest(5), _witness(5));
        uint256 poolBefore = rewards.poolBalance(net);
        game.settle(id);
        assertTrue(game.getDispute(id).trainerWon, "trainer won");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Submitted), "back to submitted");
        uint256 rest = CHALLENGE_BOND - 3 * VERIFIER_FEE;
        assertEq(game.withdrawable(challenger), 0, "bond lost");
        assertEq(game.withdrawable(trainer), rest / 2, "half the rest to the trainer");
        assertEq(rewards.poolBalance(net) - poolBefore, rest - rest / 2, "half to the Datanet");
        for (uint256 i = 0; i < 3; ++i) assertEq(game.withdrawable(members[i]), VERIFIER_FEE, "verifier fee");
        vm.warp(market.getJob(jobId).challengeEndsAt);
        market.finalizeJob(jobId);
        assertEq(market.withdrawable(trainer), BUDGET - BUDGET / 10, "honest trainer paid");
        _assertGameSolvent();
    }

    /// Review finding 2: a trainer that trains honestly but submits an attribution its run did not compute (here
    /// its checkpoint tree ends in the run's true attribution) cannot prove the last leaf, which must bind the
    /// submitted result; it loses on its clock after 4 bisection moves over 16 checkpoints.
    function test_finding2_attributionNotTheRunsOwn_cannotProveTheLastLeaf() public {
        bytes32 runState = _honest(COUNT - 1);
        bytes32[] memory states = _states(COUNT);
        states[COUNT - 1] = _final(runState, keccak256("true root"), 1e18); // what the run attributed
        (uint256 jobId, bytes32[][] memory tree) = _submitted(states); // submits keccak256("root")
        assertEq(game.finalState(jobId, runState), _final(runState, keccak256("root"), 1e18), "finalState");
        // A contributor challenges: its replay's tree ends in the state bound to the submitted result.
        bytes32[] memory expected = _states(COUNT);
        expected[COUNT - 1] = game.finalState(jobId, runState);
        uint256 id = _open(jobId);
        uint256 leaf = _descend(id, tree, _tree(jobId, expected));
        assertEq(leaf, COUNT - 1, "the last leaf");
        assertEq(game.getDispute(id).moves, 8, "4 reveals + 4 choices");
        bytes32[] memory proof = _proof(tree, leaf - 1);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.SegmentMismatch.selector, id, leaf));
        game.proveSegment(id, states[leaf - 1], proof, runState);
        // Passing the leaf's state itself is read as a run state, and fails alike.
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.SegmentMismatch.selector, id, leaf));
        game.proveSegment(id, states[leaf - 1], proof, states[leaf]);
        vm.warp(uint256(game.getDispute(id).deadline) + 1);
        game.settle(id);
        assertTrue(!game.getDispute(id).trainerWon, "trainer lost");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE - COLLATERAL, "collateral slashed");
        _assertGameSolvent();
    }

    /// Review finding 2: a trainer whose last checkpoint binds its inflated attribution proves the leaf, and the
    /// committee, replaying the last segment with the deterministic attribution run, decides against it.
    function test_finding2_inflatedAttributionBoundInTheTree_losesToTheReplay() public {
        bytes32 runState = _honest(COUNT - 1);
        bytes32[] memory states = _states(COUNT);
        states[COUNT - 1] = _final(runState, keccak256("root"), 1e18); // the submitted (inflated) attribution
        (uint256 jobId, bytes32[][] memory tree) = _submitted(states);
        bytes32 truth = _final(runState, keccak256("true root"), 1e18); // what a replay of the last segment gives
        bytes32[] memory expected = _states(COUNT);
        expected[COUNT - 1] = truth;
        uint256 id = _open(jobId);
        uint256 leaf = _descend(id, tree, _tree(jobId, expected));
        vm.prank(trainer);
        game.proveSegment(id, states[leaf - 1], _proof(tree, leaf - 1), runState);
        assertEq(game.getDispute(id).claimedState, states[COUNT - 1], "the claim is the bound final state");
        address[] memory members = _drawNow(id);
        for (uint256 i = 0; i < 3; ++i) _vote(id, members[i], truth, _witness(leaf));
        for (uint256 i = 0; i < 3; ++i) _reveal(id, members[i], truth, _witness(leaf));
        game.settle(id);
        assertTrue(!game.getDispute(id).trainerWon, "trainer lost");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        _assertGameSolvent();
    }

    function test_silentTrainer_losesOnClock() public {
        (uint256 jobId, bytes32[][] memory tree) = _submitted(_states(COUNT));
        uint256 id = _open(jobId);
        vm.prank(trainer);
        game.revealChildren(id, tree[3][0], tree[3][1]);
        vm.prank(challenger);
        game.chooseChild(id, tree[3][0], tree[3][1], false);
        uint40 deadline = game.getDispute(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.MoveTimeNotOver.selector, id, deadline));
        game.settle(id);
        vm.warp(uint256(deadline) + 1);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.MoveTimeOver.selector, id, deadline));
        game.revealChildren(id, tree[2][0], tree[2][1]);
        game.settle(id);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.TrainerSilent), "trainer silent");
        assertTrue(!(d.trainerWon), "lost");
        assertEq(game.withdrawable(challenger), CHALLENGE_BOND + COLLATERAL / 2, "bond + half the collateral");
        assertEq(market.withdrawable(builder), BUDGET, "poster refunded");
        _assertGameSolvent();
    }

    function test_silentChallenger_losesOnClock() public {
        (uint256 jobId, bytes32[][] memory tree) = _submitted(_states(COUNT));
        uint256 id = _open(jobId);
        vm.prank(trainer);
        game.revealChildren(id, tree[3][0], tree[3][1]);
        vm.warp(block.timestamp + MOVE_TIME + 1);
        game.settle(id);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.ChallengerSilent), "challenger silent");
        assertTrue(d.trainerWon, "trainer won");
        assertEq(game.withdrawable(trainer), CHALLENGE_BOND / 2, "half the bond to the trainer");
        assertEq(game.withdrawable(challenger), 0, "bond lost");
        _assertGameSolvent();
    }

    function test_trainerWithoutCommitment_cannotDefend() public {
        vm.prank(builder);
        uint256 jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(keccak256("root"), 1e18));
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.JobNotClaimed.selector, jobId));
        game.commitCheckpoints(jobId, keccak256("late"), COUNT);
        uint256 id = _open(jobId);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.ChildrenMismatch.selector, id, bytes32(0)));
        game.revealChildren(id, bytes32(0), bytes32(0));
        vm.warp(block.timestamp + MOVE_TIME + 1);
        game.settle(id);
        assertTrue(!(game.getDispute(id).trainerWon), "lost on the clock");
    }

    function test_commitCheckpoints_onlyTheClaimingTrainer() public {
        vm.prank(builder);
        uint256 jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.JobNotClaimed.selector, jobId));
        game.commitCheckpoints(jobId, keccak256("r"), COUNT);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotJobTrainer.selector, jobId, stranger));
        game.commitCheckpoints(jobId, keccak256("r"), COUNT);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.InvalidCheckpointCount.selector, 1, 2, 1_025));
        game.commitCheckpoints(jobId, keccak256("r"), 1);
        vm.prank(trainer);
        vm.expectRevert(IDisputeGame.ZeroRoot.selector);
        game.commitCheckpoints(jobId, bytes32(0), COUNT);
    }

    function test_finalizeWaitsForOpenChallenges_andTheWindowBoundsThem() public {
        (uint256 jobId, bytes32[][] memory tree) = _submitted(_states(COUNT));
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.TrainerCannotChallenge.selector, jobId));
        game.openChallenge(jobId, "self");
        uint256 id = _open(jobId);
        vm.prank(trainer);
        game.revealChildren(id, tree[3][0], tree[3][1]);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, jobId, IJobMarket.JobStatus.Disputed, IJobMarket.JobStatus.Submitted
            )
        );
        market.finalizeJob(jobId);
        vm.prank(builder);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.InvalidJobStatus.selector, jobId, IJobMarket.JobStatus.Disputed, IJobMarket.JobStatus.Submitted
            )
        );
        market.acceptResult(jobId);
        uint40 endsAt = market.getJob(jobId).challengeEndsAt;
        vm.prank(builder);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.ChallengeWindowClosed.selector, jobId, endsAt));
        game.openChallenge(jobId, "late");
        assertTrue(market.isAssigned(jobId, trainer, net), "trainer keeps its keys while disputed");
        game.settle(id); // the challenger fell silent
        market.finalizeJob(jobId);
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Finalized), "finalized");
    }

    function test_parallelChallenges_trainerLosingOneMootsTheOthers() public {
        (uint256 jobId,) = _submitted(_states(COUNT));
        uint256 first = _open(jobId);
        vm.prank(builder);
        uint256 second = game.openChallenge(jobId, "poster too");
        vm.warp(block.timestamp + MOVE_TIME + 1);
        game.settle(first); // trainer silent on the first
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        game.settle(second);
        IDisputeGame.Dispute memory d = game.getDispute(second);
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.Moot), "moot");
        assertEq(game.withdrawable(builder), CHALLENGE_BOND, "second bond back");
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.WrongPhase.selector, second, IDisputeGame.Phase.Settled));
        game.settle(second);
        _assertGameSolvent();
    }

    function test_parallelChallenges_jobWaitsForEveryOne() public {
        (uint256 jobId, bytes32[][] memory tree) = _submitted(_states(COUNT));
        uint256 first = _open(jobId);
        vm.prank(builder);
        uint256 second = game.openChallenge(jobId, "poster too");
        vm.prank(trainer);
        game.revealChildren(first, tree[3][0], tree[3][1]);
        vm.prank(trainer);
        game.revealChildren(second, tree[3][0], tree[3][1]);
        vm.warp(block.timestamp + MOVE_TIME + 1);
        game.settle(first);
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Disputed), "one still open");
        game.settle(second);
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Submitted), "none open");
    }

    function test_splitCommittee_redrawnLarger_thenStuck_emergencyIsTimelocked() public {
        for (uint256 i = 0; i < 13; ++i) _addVerifier(address(uint160(0xF100 + i)));
        bytes32[] memory cheat = _states(3);
        (uint256 jobId, bytes32[][] memory tree) = _submitted(cheat);
        uint256 id = _open(jobId);
        _bisect(id, tree, _tree(jobId, _states(COUNT)), cheat);

        // Round 0: nobody commits. Not revealing costs the penalty; no verdict, a committee of 7 is drawn.
        address[] memory members = _drawNow(id);
        vm.warp(block.timestamp + COMMIT_TIME + REVEAL_TIME);
        game.settle(id);
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(_stake(members[i]), MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "silent verifier penalised");
        }
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertEq(d.seats, 7, "redrawn at 2n + 1");
        assertEq(d.pot, 3 * VERIFIER_PENALTY, "penalties held for the deciding committee");

        // Round 1: seven different answers, nothing held by a majority: a split, no penalty, 15 seats.
        members = _drawNow(id);
        assertEq(members.length, 7, "seven drawn");
        for (uint256 i = 0; i < 7; ++i) _vote(id, members[i], keccak256(abi.encode(i)), _witness(i));
        for (uint256 i = 0; i < 7; ++i) _reveal(id, members[i], keccak256(abi.encode(i)), _witness(i));
        uint256 before = _stake(members[0]);
        game.settle(id);
        assertEq(_stake(members[0]), before, "a split penalises nobody who revealed");
        assertEq(game.getDispute(id).seats, 15, "redrawn at 2n + 1 again");

        // Round 2: the last redraw fails too: stuck, only the timelocked emergency role may rule.
        members = _drawNow(id);
        vm.warp(block.timestamp + COMMIT_TIME + REVEAL_TIME);
        game.settle(id);
        assertEq(uint256(game.getDispute(id).phase), uint256(IDisputeGame.Phase.Stuck), "stuck");
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.EmergencyNotScheduled.selector, id));
        game.executeEmergency(id);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotEmergency.selector, stranger));
        game.scheduleEmergency(id, false);
        game.scheduleEmergency(id, false);
        uint40 execAt = uint40(block.timestamp) + EMERGENCY_DELAY;
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.EmergencyTimelocked.selector, id, execAt));
        game.executeEmergency(id);
        vm.warp(execAt);
        game.executeEmergency(id);
        d = game.getDispute(id);
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.Emergency), "emergency ruling");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        assertTrue(game.withdrawable(challenger) > CHALLENGE_BOND, "challenger gets the pot and its reward");
        _assertGameSolvent();
    }

    function test_emergency_onlyOnStuckDisputes() public {
        (uint256 jobId,) = _submitted(_states(COUNT));
        uint256 id = _open(jobId);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotStuck.selector, id));
        game.scheduleEmergency(id, true);
    }

    function test_committee_excludesTheParties_andVotesBindToCommitments() public {
        // The trainer and the challenger stake as verifiers too; with 5 others they are never drawn.
        fund(trainer, MIN_VERIFIER_STAKE);
        vm.prank(trainer);
        pool.stake(MIN_VERIFIER_STAKE);
        fund(challenger, MIN_VERIFIER_STAKE);
        vm.prank(challenger);
        pool.stake(MIN_VERIFIER_STAKE);
        bytes32[] memory cheat = _states(2);
        (uint256 jobId, bytes32[][] memory tree) = _submitted(cheat);
        uint256 id = _open(jobId);
        _bisect(id, tree, _tree(jobId, _states(COUNT)), cheat);
        address[] memory members = _drawNow(id);
        for (uint256 i = 0; i < members.length; ++i) {
            assertTrue(members[i] != trainer && members[i] != challenger && members[i] != builder, "no party drawn");
        }
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotOnCommittee.selector, id, stranger));
        game.commitVote(id, keccak256("x"));
        _vote(id, members[0], _honest(2), _witness(2));
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.AlreadyCommitted.selector, id, members[0]));
        game.commitVote(id, keccak256("x"));
        uint40 revealAt = game.getDispute(id).revealStartsAt;
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.RevealNotOpen.selector, id, revealAt));
        game.revealVote(id, _honest(2), _witness(2), keccak256(abi.encode(members[0])));
        _vote(id, members[1], _honest(2), _witness(2));
        _vote(id, members[2], _honest(2), _witness(2)); // all committed: the reveal opens
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.CommitmentMismatch.selector, id, members[0]));
        game.revealVote(id, cheat[2], _witness(2), keccak256(abi.encode(members[0])));
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.VotingNotOver.selector, id));
        game.settle(id);
        // A busy verifier cannot leave with its stake.
        vm.prank(members[0]);
        pool.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.VerifierBusy.selector, members[0], 1));
        pool.withdrawStake();
    }

    function test_verifierStake_exitAndWithdraw() public {
        address v = verifiers[0];
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.ExitNotReady.selector, v, 0));
        pool.withdrawStake();
        vm.prank(v);
        pool.requestExit();
        vm.prank(v);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.ExitNotReady.selector, v, uint40(block.timestamp) + EXIT_DELAY));
        pool.withdrawStake();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(v);
        pool.withdrawStake();
        assertEq(token.balanceOf(v), MIN_VERIFIER_STAKE, "stake back");
        assertEq(pool.verifierCount(), 4, "left the list");
        fund(stranger, 1e18);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.StakeBelowMinimum.selector, 1e18, MIN_VERIFIER_STAKE));
        pool.stake(1e18);
    }

    function test_draw_needsEnoughEligibleVerifiers_andDefersAStaleBlock_elseEmergency() public {
        bytes32[] memory cheat = _states(2);
        (uint256 jobId, bytes32[][] memory tree) = _submitted(cheat);
        uint256 id = _open(jobId);
        _bisect(id, tree, _tree(jobId, _states(COUNT)), cheat);
        uint64 drawBlock = game.getDispute(id).drawBlock;
        vm.roll(drawBlock + 300); // the draw block's hash is no longer available
        game.drawCommittee(id);
        assertEq(game.getDispute(id).drawBlock, drawBlock + 300 + LOOKAHEAD, "deferred to a new future block");
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(verifiers[i]);
            pool.requestExit();
        }
        drawBlock = game.getDispute(id).drawBlock;
        vm.roll(drawBlock + 1);
        vm.setBlockhash(drawBlock, keccak256("b"));
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotEnoughVerifiers.selector, 2, 3));
        game.drawCommittee(id);
        // No committee can be drawn: the timelocked emergency role may rule rather than leave the job locked.
        game.scheduleEmergency(id, false);
        vm.warp(block.timestamp + EMERGENCY_DELAY);
        game.executeEmergency(id);
        assertEq(uint256(game.getDispute(id).outcome), uint256(IDisputeGame.Outcome.Emergency), "ruled");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
    }

    function test_market_onlyTheGameOpensAndClosesDisputes_wiredOnce() public {
        (uint256 jobId,) = _submitted(_states(COUNT));
        vm.prank(builder);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotDisputeGame.selector, builder));
        market.openDispute(jobId, builder, "r");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.NotDisputeGame.selector, address(this)));
        market.closeDispute(jobId, false, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.DisputeGameFixed.selector, address(game)));
        market.setDisputeGame(stranger);
        assertEq(market.disputeGame(), address(game), "wired");
    }

    function test_bisection_rejectsBadChildrenAndPaddingLeaves() public {
        bytes32[] memory states = new bytes32[](9); // 9 checkpoints: leaves 9..15 are padding
        for (uint256 i = 0; i < 9; ++i) states[i] = _honest(i);
        vm.prank(builder);
        uint256 jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        market.claimJob(jobId);
        bytes32[][] memory tree = _tree(jobId, states);
        vm.prank(trainer);
        game.commitCheckpoints(jobId, tree[4][0], 9);
        vm.prank(trainer);
        market.submitResult(jobId, result(keccak256("root"), 1e18));
        uint256 id = _open(jobId);
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.ChildrenMismatch.selector, id, tree[4][0]));
        game.revealChildren(id, tree[3][1], tree[3][0]);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.WrongPhase.selector, id, IDisputeGame.Phase.TrainerMove));
        game.chooseChild(id, tree[3][0], tree[3][1], false);
        vm.prank(trainer);
        game.revealChildren(id, tree[3][0], tree[3][1]);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.ChildrenMismatch.selector, id, tree[4][0]));
        game.chooseChild(id, tree[3][0], keccak256("not revealed"), true);
        vm.prank(challenger);
        game.chooseChild(id, tree[3][0], tree[3][1], true); // leaves 8..15
        vm.prank(trainer);
        game.revealChildren(id, tree[2][2], tree[2][3]);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.BeyondLastCheckpoint.selector, id, 12, 9));
        game.chooseChild(id, tree[2][2], tree[2][3], true);
    }

    /// @dev The game holds exactly the verifier stakes, open bonds and pots, and unwithdrawn credits.
    // ------------------------------------------------------------------ eval jobs (checked on their outcome)

    uint64 internal constant CLAIM = 1.2e9; // the trainer's held-out eval loss, 1e9 fixed point
    uint16 internal constant TOL = 100; // 1%
    uint256 internal constant PERFECT = 10_001; // rhoCode of Spearman 1

    /// @dev Posts, claims, commits an eval claim (and a checkpoint tree, as the node does) and submits.
    function _evalSubmitted(uint64 loss) internal returns (uint256 jobId) {
        vm.prank(builder);
        jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        game.commitEvalClaim(jobId, loss, TOL);
        vm.prank(trainer);
        market.submitResult(jobId, result(keccak256("root"), 1e18));
    }

    function _evalVerdict(uint256 loss, uint256 rhoCode, bool termsOk) internal pure returns (bytes32) {
        return bytes32((loss << 128) | (rhoCode << 64) | (termsOk ? 1 : 0));
    }

    function _evalVote(uint256 id, address v, uint256 loss, uint256 shardLoss, uint256 rhoCode, bool termsOk) internal {
        _vote(id, v, _evalVerdict(loss, rhoCode, termsOk), bytes32(shardLoss));
    }

    function _evalReveal(uint256 id, address v, uint256 loss, uint256 shardLoss, uint256 rhoCode, bool termsOk)
        internal
    {
        _reveal(id, v, _evalVerdict(loss, rhoCode, termsOk), bytes32(shardLoss));
    }

    /// @dev All three seats vote the same numbers, with per-verifier noise of `noise` (1e9 fixed point) on the losses.
    function _evalRound(uint256 id, uint256 loss, uint256 shardLoss, uint256 rhoCode, bool termsOk, uint256 noise)
        internal
        returns (address[] memory members)
    {
        members = _drawNow(id);
        for (uint256 i = 0; i < members.length; ++i) {
            _evalVote(id, members[i], loss + i * noise, shardLoss + i * noise, rhoCode - i, termsOk);
        }
        for (uint256 i = 0; i < members.length; ++i) {
            _evalReveal(id, members[i], loss + i * noise, shardLoss + i * noise, rhoCode - i, termsOk);
        }
        game.settle(id);
    }

    function test_eval_claimOverstated_caughtWithoutBisection_lazyVerifierPenalised() public {
        uint256 jobId = _evalSubmitted(CLAIM);
        IDisputeGame.EvalClaim memory c = game.evalClaimOf(jobId);
        assertEq(c.trainer, trainer, "claimed by the trainer");
        assertEq(c.loss, CLAIM, "loss");
        assertEq(c.toleranceBps, TOL, "tolerance");
        uint256 id = _open(jobId);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertTrue(d.eval, "an eval dispute");
        assertEq(uint256(d.phase), uint256(IDisputeGame.Phase.AwaitingDraw), "no bisection: the committee is next");
        assertEq(d.moves, 0, "no moves");
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotEvalDispute.selector, id));
        game.evalShardOf(id);
        address[] memory members = _drawNow(id);
        assertTrue(game.evalShardOf(id) < game.EVAL_SHARDS(), "a shard from the seed");
        // The run reaches 1.5 on the held-out records, not the claimed 1.2. members[0] copies the claim and
        // guesses a shard loss (the trainer never publishes per-shard losses).
        address lazy = members[0];
        _evalVote(id, lazy, CLAIM, CLAIM, PERFECT, true);
        _evalVote(id, members[1], 1.5e9, 1.43e9, PERFECT, true);
        _evalVote(id, members[2], 1.503e9, 1.431e9, PERFECT - 3, true);
        _evalReveal(id, lazy, CLAIM, CLAIM, PERFECT, true);
        _evalReveal(id, members[1], 1.5e9, 1.43e9, PERFECT, true);
        _evalReveal(id, members[2], 1.503e9, 1.431e9, PERFECT - 3, true);
        uint256 poolBefore = rewards.poolBalance(net);
        game.settle(id);
        d = game.getDispute(id);
        assertEq(uint256(d.outcome), uint256(IDisputeGame.Outcome.CommitteeVerdict), "by the committee");
        assertTrue(!d.trainerWon, "trainer lost");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        assertEq(market.withdrawable(builder), BUDGET, "poster refunded");
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE - COLLATERAL, "whole collateral slashed");
        uint256 fees = 2 * VERIFIER_FEE;
        uint256 reward = (COLLATERAL - fees) / 2;
        assertEq(game.withdrawable(challenger), CHALLENGE_BOND + reward, "bond back + half the rest");
        assertEq(rewards.poolBalance(net) - poolBefore, COLLATERAL - fees - reward, "rest to the Datanet");
        assertEq(_stake(lazy), MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "lazy verifier penalised");
        assertEq(game.withdrawable(members[1]), VERIFIER_FEE + VERIFIER_PENALTY / 2, "coherent paid");
        assertEq(game.withdrawable(members[2]), VERIFIER_FEE + VERIFIER_PENALTY / 2, "coherent paid");
        _assertGameSolvent();
    }

    function test_eval_honestClaimWithinTolerance_falseChallengerLoses() public {
        uint256 jobId = _evalSubmitted(CLAIM);
        uint256 id = _open(jobId);
        // Three recomputations on other hardware: 0.25% apart, the highest 0.5% above the claim (tolerance 1%).
        address[] memory members = _evalRound(id, 1.2e9, 1.1e9, PERFECT, true, 0.003e9);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertTrue(d.trainerWon, "trainer won");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Submitted), "back to submitted");
        assertEq(game.withdrawable(challenger), 0, "bond lost");
        for (uint256 i = 0; i < 3; ++i) assertEq(game.withdrawable(members[i]), VERIFIER_FEE, "verifier fee");
        assertEq(trainers.getTrainer(trainer).staked, TRAINER_STAKE, "not slashed");
        vm.warp(market.getJob(jobId).challengeEndsAt);
        market.finalizeJob(jobId);
        assertEq(market.withdrawable(trainer), BUDGET - BUDGET / 10, "honest trainer paid");
        _assertGameSolvent();
    }

    /// An eval job's attribution is not unchallengeable: losses hold, the recomputed attribution ranks otherwise.
    function test_eval_attributionBelowRankTolerance_trainerLoses() public {
        uint256 jobId = _evalSubmitted(CLAIM);
        uint256 id = _open(jobId);
        _evalRound(id, 1.2e9, 1.1e9, 1 + 5_000 + 1_500, true, 0); // Spearman 0.3
        assertTrue(!game.getDispute(id).trainerWon, "trainer lost on attribution");
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Refunded), "refunded");
        _assertGameSolvent();
    }

    /// A trainer that commits eval terms that are not the spec's (a replay job, or a wider tolerance) loses.
    function test_eval_termsNotTheSpecs_trainerLoses() public {
        uint256 jobId = _evalSubmitted(CLAIM);
        uint256 id = _open(jobId);
        _evalRound(id, 1.2e9, 1.1e9, PERFECT, false, 0);
        assertTrue(!game.getDispute(id).trainerWon, "trainer lost on terms");
        _assertGameSolvent();
    }

    function test_eval_unpublishedAdapter_unavailableMajority_trainerLoses() public {
        uint256 jobId = _evalSubmitted(CLAIM);
        uint256 id = _open(jobId);
        address[] memory members = _drawNow(id);
        bytes32 na = keccak256("tributary/verdict-unavailable@1");
        _vote(id, members[0], na, na);
        _vote(id, members[1], na, na);
        _evalVote(id, members[2], CLAIM, CLAIM, PERFECT, true);
        _reveal(id, members[0], na, na);
        _reveal(id, members[1], na, na);
        _evalReveal(id, members[2], CLAIM, CLAIM, PERFECT, true);
        game.settle(id);
        assertTrue(!game.getDispute(id).trainerWon, "trainer lost");
        assertEq(_stake(members[2]), MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "the one that voted numbers is penalised");
        assertEq(game.withdrawable(members[0]), VERIFIER_FEE + VERIFIER_PENALTY / 2, "unavailable voters paid");
        _assertGameSolvent();
    }

    /// Losses far apart (nondeterminism beyond the tolerance, or a lie): no verdict, a larger committee.
    function test_eval_splitCommittee_isRedrawnLarger_neverDecided() public {
        for (uint256 i = 0; i < 4; ++i) _addVerifier(address(uint160(0xF100 + i)));
        uint256 jobId = _evalSubmitted(CLAIM);
        uint256 id = _open(jobId);
        address[] memory members = _drawNow(id);
        uint256[3] memory losses = [uint256(1.0e9), 1.3e9, 1.6e9];
        for (uint256 i = 0; i < 3; ++i) _evalVote(id, members[i], losses[i], losses[i], PERFECT, true);
        for (uint256 i = 0; i < 3; ++i) _evalReveal(id, members[i], losses[i], losses[i], PERFECT, true);
        game.settle(id);
        IDisputeGame.Dispute memory d = game.getDispute(id);
        assertEq(uint256(d.phase), uint256(IDisputeGame.Phase.AwaitingDraw), "redrawn");
        assertEq(d.seats, 7, "2n + 1");
        for (uint256 i = 0; i < 3; ++i) assertEq(_stake(members[i]), MIN_VERIFIER_STAKE, "a split costs no one");
        members = _drawNow(id);
        assertEq(members.length, 7, "seven seats");
        for (uint256 i = 0; i < 7; ++i) _evalVote(id, members[i], 1.5e9, 1.4e9, PERFECT, true);
        for (uint256 i = 0; i < 7; ++i) _evalReveal(id, members[i], 1.5e9, 1.4e9, PERFECT, true);
        game.settle(id);
        assertTrue(!game.getDispute(id).trainerWon, "the larger committee decides");
        _assertGameSolvent();
    }

    function test_commitEvalClaim_onlyTheClaimingTrainer_whileClaimed_withinBounds() public {
        vm.prank(builder);
        uint256 jobId = market.postJob(jobRequest(net, BUDGET));
        vm.prank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.JobNotClaimed.selector, jobId));
        game.commitEvalClaim(jobId, CLAIM, TOL);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotJobTrainer.selector, jobId, stranger));
        game.commitEvalClaim(jobId, CLAIM, TOL);
        vm.startPrank(trainer);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.InvalidEvalClaim.selector, uint64(0), TOL));
        game.commitEvalClaim(jobId, 0, TOL);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.InvalidEvalClaim.selector, CLAIM, uint16(0)));
        game.commitEvalClaim(jobId, CLAIM, 0);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.InvalidEvalClaim.selector, CLAIM, uint16(5_001)));
        game.commitEvalClaim(jobId, CLAIM, 5_001);
        game.commitEvalClaim(jobId, CLAIM, TOL);
        game.commitEvalClaim(jobId, CLAIM + 1, TOL); // recommits until it submits
        market.submitResult(jobId, result(keccak256("root"), 1e18));
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.JobNotClaimed.selector, jobId));
        game.commitEvalClaim(jobId, CLAIM, TOL);
        vm.stopPrank();
        assertEq(game.evalClaimOf(jobId).loss, CLAIM + 1, "the last commitment counts");
    }

    /// A replay dispute has no eval shard.
    function test_evalShardOf_onlyForEvalDisputes() public {
        (uint256 jobId,) = _submitted(_states(COUNT));
        uint256 id = _open(jobId);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotEvalDispute.selector, id));
        game.evalShardOf(id);
    }

    function test_emergency_transfersInTwoSteps() public {
        address next = address(0xDA0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotEmergency.selector, stranger));
        game.transferEmergency(next);
        address current = game.emergency();
        vm.prank(current);
        game.transferEmergency(next);
        assertEq(game.emergency(), current, "not before it is accepted");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDisputeGame.NotEmergency.selector, stranger));
        game.acceptEmergency();
        vm.prank(next);
        game.acceptEmergency();
        assertEq(game.emergency(), next, "handed over");
    }

    function _assertGameSolvent() internal view {
        uint256 owed;
        uint256 stakes = pool.getVerifier(trainer).stake + pool.getVerifier(challenger).stake;
        for (uint256 i = 0; i < verifiers.length; ++i) {
            stakes += pool.getVerifier(verifiers[i]).stake;
            owed += game.withdrawable(verifiers[i]);
        }
        assertEq(token.balanceOf(address(pool)), stakes, "pool balance");
        owed += game.withdrawable(trainer) + game.withdrawable(challenger) + game.withdrawable(builder);
        for (uint256 id = 1; id <= game.disputeCount(); ++id) {
            IDisputeGame.Dispute memory d = game.getDispute(id);
            if (d.phase != IDisputeGame.Phase.Settled) owed += uint256(d.bond) + d.pot;
        }
        assertEq(token.balanceOf(address(game)), owed, "game balance");
    }
}
