// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IDisputeGame} from "../interfaces/IDisputeGame.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";
import {IVerifierPool} from "../interfaces/IVerifierPool.sol";
import {CommitteeVotes} from "./CommitteeVotes.sol";
import {EvalTally} from "./EvalTally.sol";

/// @title DisputeGame
/// @notice See {IDisputeGame}. Holds challengers' bonds, a dispute's penalty pot and credits not yet withdrawn; its
/// token balance is always their sum (verifiers' stakes are in the {VerifierPool}). Parameters are fixed at
/// construction; the only privileged account is `emergency`, which can rule on a dispute only once it is stuck
/// (committee split `MAX_REDRAWS + 1` times) and only after `emergencyDelay`.
contract DisputeGame is IDisputeGame {
    using SafeERC20 for IERC20;

    /// @notice Most checkpoints one job commits (leaves 0..count-1).
    uint32 public constant MAX_CHECKPOINTS = 1_025;
    /// @notice Seats of a first committee; a split one is redrawn with 2n + 1.
    uint8 public constant FIRST_SEATS = 3;
    /// @notice How often a split committee is redrawn before the dispute is stuck.
    uint8 public constant MAX_REDRAWS = 2;
    /// @notice Eval claims and votes carry losses as fixed point with 9 decimals.
    uint256 public constant LOSS_SCALE = 1e9;
    /// @notice How many shards an eval job's held-out records are cut into (record i in shard i % EVAL_SHARDS).
    uint256 public constant EVAL_SHARDS = 8;
    /// @notice Widest relative tolerance an eval claim states (50%, in basis points).
    uint16 public constant MAX_EVAL_TOLERANCE_BPS = 5_000;

    struct Commitment {
        address trainer;
        uint32 count;
        bytes32 root;
    }

    struct Vote {
        bytes32 commitment;
        bytes32 key;
        bytes32 verdict;
        bytes32 witness;
        bool revealed;
    }

    struct Emergency {
        uint40 executableAt;
        bool trainerWins;
    }

    IERC20 private immutable _token;
    IJobMarket private immutable _market;
    IRewardDistributor private immutable _rewards;
    IVerifierPool private immutable _pool;
    /// @notice Judges eval disputes' votes (deployed by the constructor: its code does not count against this one's).
    EvalTally private immutable _evalTally;
    Params private _params;

    uint256 private _disputeCount;
    mapping(uint256 jobId => Commitment commitment) private _checkpoints;
    mapping(uint256 jobId => EvalClaim claim) private _evalClaims;
    mapping(uint256 disputeId => Dispute dispute) private _disputes;
    mapping(uint256 disputeId => address[] members) private _committee;
    mapping(uint256 disputeId => mapping(uint8 round => mapping(address verifier => Vote vote))) private _votes;
    mapping(uint256 disputeId => uint8 count) private _commits;
    mapping(uint256 disputeId => Emergency ruling) private _emergency;
    mapping(uint256 jobId => mapping(address verifier => uint32 seats)) private _serving;
    address private _emergencyAccount;
    address private _pendingEmergency;
    mapping(address account => uint256 credit) private _withdrawable;

    /// @param token OPEN.
    /// @param market The JobMarket whose jobs are disputed (it must be wired to this game).
    /// @param rewards The RewardDistributor whose Datanet pools receive the protocol side of a loser's funds.
    /// @param pool The verifiers committees are drawn from (it must name this game).
    /// @param emergency_ The emergency account (it hands itself over to a timelock or DAO by `transferEmergency`).
    /// @param params_ The game's parameters (fixed).
    constructor(
        IERC20 token,
        IJobMarket market,
        IRewardDistributor rewards,
        IVerifierPool pool,
        address emergency_,
        Params memory params_
    ) {
        if (
            params_.challengeBond == 0 || params_.moveTime == 0 || params_.commitTime == 0 || params_.revealTime == 0
                || params_.lookahead == 0 || pool.minStake() < params_.verifierPenalty || params_.emergencyDelay == 0
        ) revert InvalidParams();
        _token = token;
        _market = market;
        _rewards = rewards;
        _pool = pool;
        _params = params_;
        if (emergency_ == address(0)) revert InvalidParams();
        _emergencyAccount = emergency_;
        _evalTally = new EvalTally();
        token.forceApprove(address(rewards), type(uint256).max);
    }

    // ------------------------------------------------------------------ commitment and challenge

    /// @inheritdoc IDisputeGame
    function commitCheckpoints(uint256 jobId, bytes32 root, uint32 count) external {
        IJobMarket.Job memory job = _market.getJob(jobId);
        if (job.status != IJobMarket.JobStatus.Claimed) revert JobNotClaimed(jobId);
        if (job.trainer != msg.sender) revert NotJobTrainer(jobId, msg.sender);
        if (count < 2 || count > MAX_CHECKPOINTS) revert InvalidCheckpointCount(count, 2, MAX_CHECKPOINTS);
        if (root == bytes32(0)) revert ZeroRoot();
        _checkpoints[jobId] = Commitment({trainer: msg.sender, count: count, root: root});
        emit CheckpointsCommitted(jobId, msg.sender, root, count);
    }

    /// @inheritdoc IDisputeGame
    function commitEvalClaim(uint256 jobId, uint64 loss, uint16 toleranceBps) external {
        IJobMarket.Job memory job = _market.getJob(jobId);
        if (job.status != IJobMarket.JobStatus.Claimed) revert JobNotClaimed(jobId);
        if (job.trainer != msg.sender) revert NotJobTrainer(jobId, msg.sender);
        if (loss == 0 || toleranceBps == 0 || toleranceBps > MAX_EVAL_TOLERANCE_BPS) {
            revert InvalidEvalClaim(loss, toleranceBps);
        }
        _evalClaims[jobId] = EvalClaim({trainer: msg.sender, loss: loss, toleranceBps: toleranceBps});
        emit EvalClaimCommitted(jobId, msg.sender, loss, toleranceBps);
    }

    /// @inheritdoc IDisputeGame
    function openChallenge(uint256 jobId, string calldata reasonCID) external returns (uint256 disputeId) {
        IJobMarket.Job memory job = _market.getJob(jobId);
        if (job.trainer == msg.sender) revert TrainerCannotChallenge(jobId);
        uint128 bond = _params.challengeBond;
        disputeId = ++_disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.jobId = jobId;
        d.challenger = msg.sender;
        d.trainer = job.trainer;
        d.phase = Phase.TrainerMove;
        d.deadline = uint40(block.timestamp) + _params.moveTime;
        d.bond = bond;
        emit ChallengeOpened(disputeId, jobId, msg.sender, bond, reasonCID);
        EvalClaim memory e = _evalClaims[jobId];
        Commitment storage c = _checkpoints[jobId];
        // A commitment by an earlier trainer of the job does not count: the current one has none to defend.
        if (e.trainer == job.trainer) {
            // Checked on its outcome: no bisection, the committee is drawn at once.
            uint64 drawBlock = uint64(block.number) + _params.lookahead;
            d.eval = true;
            d.seats = FIRST_SEATS;
            d.drawBlock = drawBlock;
            d.claimedState = bytes32(uint256(e.loss));
            d.phase = Phase.AwaitingDraw;
            d.deadline = 0;
            emit EvalDisputeOpened(disputeId, jobId, e.loss, e.toleranceBps, drawBlock);
        } else if (c.trainer == job.trainer) {
            d.node = c.root;
            d.span = _ceilPow2(c.count);
        }
        _market.openDispute(jobId, msg.sender, reasonCID); // reverts unless Submitted/Disputed within the window
        _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    // ------------------------------------------------------------------ bisection

    /// @inheritdoc IDisputeGame
    function revealChildren(uint256 disputeId, bytes32 left, bytes32 right) external {
        Dispute storage d = _move(disputeId, Phase.TrainerMove, true);
        if (d.span < 2 || keccak256(abi.encodePacked(left, right)) != d.node) {
            revert ChildrenMismatch(disputeId, d.node);
        }
        d.phase = Phase.ChallengerMove;
        d.deadline = uint40(block.timestamp) + _params.moveTime;
        emit ChildrenRevealed(disputeId, ++d.moves, left, right);
    }

    /// @inheritdoc IDisputeGame
    function chooseChild(uint256 disputeId, bytes32 left, bytes32 right, bool takeRight) external {
        Dispute storage d = _move(disputeId, Phase.ChallengerMove, false);
        if (keccak256(abi.encodePacked(left, right)) != d.node) revert ChildrenMismatch(disputeId, d.node);
        uint32 half = d.span / 2;
        if (takeRight) {
            uint32 count = _checkpoints[d.jobId].count;
            if (d.lo + half >= count) revert BeyondLastCheckpoint(disputeId, d.lo + half, count);
            d.lo += half;
            d.node = right;
        } else {
            d.node = left;
        }
        d.span = half;
        d.phase = Phase.TrainerMove;
        d.deadline = uint40(block.timestamp) + _params.moveTime;
        emit ChildChosen(disputeId, ++d.moves, d.lo, half, d.node);
    }

    /// @inheritdoc IDisputeGame
    function proveSegment(uint256 disputeId, bytes32 prevState, bytes32[] calldata prevProof, bytes32 state)
        external
    {
        Dispute storage d = _move(disputeId, Phase.TrainerMove, true);
        uint256 jobId = d.jobId;
        uint32 j = d.lo;
        // The last leaf binds the submitted result: its state is derived from the run state given here.
        if (j + 1 == _checkpoints[jobId].count) state = _finalState(jobId, state);
        if (d.span != 1 || _leaf(jobId, j, state) != d.node) revert SegmentMismatch(disputeId, j);
        if (j > 0) {
            Commitment storage c = _checkpoints[jobId];
            bytes32 h = _leaf(jobId, j - 1, prevState);
            uint256 index = j - 1;
            uint256 depth = _log2(_ceilPow2(c.count));
            if (prevProof.length != depth) revert SegmentMismatch(disputeId, j - 1);
            for (uint256 i = 0; i < depth; ++i) {
                h = (index >> i) & 1 == 0
                    ? keccak256(abi.encodePacked(h, prevProof[i]))
                    : keccak256(abi.encodePacked(prevProof[i], h));
            }
            if (h != c.root) revert SegmentMismatch(disputeId, j - 1);
            d.prevState = prevState;
        }
        d.claimedState = state;
        d.seats = FIRST_SEATS;
        uint64 drawBlock = uint64(block.number) + _params.lookahead;
        d.drawBlock = drawBlock;
        d.phase = Phase.AwaitingDraw;
        d.deadline = 0;
        emit SegmentProven(disputeId, j, d.prevState, state, drawBlock);
    }

    // ------------------------------------------------------------------ committee

    /// @inheritdoc IDisputeGame
    function drawCommittee(uint256 disputeId) external {
        Dispute storage d = _inPhase(disputeId, Phase.AwaitingDraw);
        if (block.number <= d.drawBlock) revert DrawBlockNotReached(disputeId, d.drawBlock);
        bytes32 seed = blockhash(d.drawBlock);
        if (seed == bytes32(0)) {
            // Older than 256 blocks: draw from a new future block instead (never from a known one).
            uint64 next = uint64(block.number) + _params.lookahead;
            d.drawBlock = next;
            emit DrawDeferred(disputeId, next);
            return;
        }
        seed = keccak256(abi.encode(seed, disputeId, d.round));
        if (d.eval) d.node = seed; // the shard the committee reveals follows from it
        address[] memory members = _pool.draw(seed, d.seats, _parties(d));
        uint256 jobId = d.jobId;
        for (uint256 i = 0; i < members.length; ++i) {
            ++_serving[jobId][members[i]];
        }
        _committee[disputeId] = members;
        _commits[disputeId] = 0;
        uint40 revealStartsAt = uint40(block.timestamp) + _params.commitTime;
        d.revealStartsAt = revealStartsAt;
        d.deadline = revealStartsAt + _params.revealTime;
        d.phase = Phase.Voting;
        emit CommitteeDrawn(disputeId, d.round, members, revealStartsAt);
    }

    /// @inheritdoc IDisputeGame
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        Dispute storage d = _inPhase(disputeId, Phase.Voting);
        if (block.timestamp >= d.revealStartsAt) revert CommitClosed(disputeId);
        Vote storage v = _seat(disputeId, d.round);
        if (v.commitment != bytes32(0)) revert AlreadyCommitted(disputeId, msg.sender);
        v.commitment = commitment;
        uint8 commits = ++_commits[disputeId];
        if (commits == d.seats) {
            // Every seat committed: the reveal opens at once, keeping its full length.
            d.revealStartsAt = uint40(block.timestamp);
            d.deadline = uint40(block.timestamp) + _params.revealTime;
        }
        emit VoteCommitted(disputeId, d.round, msg.sender);
    }

    /// @inheritdoc IDisputeGame
    function revealVote(uint256 disputeId, bytes32 verdict, bytes32 witness, bytes32 salt) external {
        Dispute storage d = _inPhase(disputeId, Phase.Voting);
        if (block.timestamp < d.revealStartsAt) revert RevealNotOpen(disputeId, d.revealStartsAt);
        if (block.timestamp >= d.deadline) revert RevealClosed(disputeId);
        uint8 round = d.round;
        Vote storage v = _seat(disputeId, round);
        bytes32 expected = CommitteeVotes.commitment(disputeId, round, msg.sender, verdict, witness, salt);
        if (v.revealed || v.commitment != expected) revert CommitmentMismatch(disputeId, msg.sender);
        v.revealed = true;
        v.key = keccak256(abi.encode(verdict, witness));
        v.verdict = verdict;
        if (d.eval) v.witness = witness;
        emit VoteRevealed(disputeId, round, msg.sender, verdict, witness);
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc IDisputeGame
    function settle(uint256 disputeId) external {
        Dispute storage d = _existing(disputeId);
        Phase phase = d.phase;
        if (phase == Phase.Settled) revert WrongPhase(disputeId, phase);
        if (_market.getJob(d.jobId).status != IJobMarket.JobStatus.Disputed) {
            // Another challenge already refunded the job: nothing left to decide here.
            if (phase == Phase.Voting) _releaseCommittee(disputeId, d);
            _credit(d.challenger, uint256(d.bond) + d.pot);
            _end(disputeId, d, false, Outcome.Moot);
            return;
        }
        if (phase == Phase.TrainerMove || phase == Phase.ChallengerMove) {
            if (block.timestamp <= d.deadline) revert MoveTimeNotOver(disputeId, d.deadline);
            bool trainerWins = phase == Phase.ChallengerMove;
            Outcome why = trainerWins ? Outcome.ChallengerSilent : Outcome.TrainerSilent;
            _decide(disputeId, d, trainerWins, why, 0, new bool[](0));
            return;
        }
        if (phase != Phase.Voting) revert WrongPhase(disputeId, phase);
        uint8 seats = d.seats;
        address[] storage members = _committee[disputeId];
        bool allRevealed = true;
        for (uint256 i = 0; i < seats; ++i) {
            if (!_votes[disputeId][d.round][members[i]].revealed) allRevealed = false;
        }
        if (!allRevealed && block.timestamp < d.deadline) revert VotingNotOver(disputeId);
        if (d.eval) _tallyEval(disputeId, d);
        else _tally(disputeId, d);
    }

    /// @inheritdoc IDisputeGame
    function scheduleEmergency(uint256 disputeId, bool trainerWins) external {
        if (msg.sender != _emergencyAccount) revert NotEmergency(msg.sender);
        Dispute storage d = _existing(disputeId);
        if (!_stuck(d)) revert NotStuck(disputeId);
        uint40 executableAt = uint40(block.timestamp) + _params.emergencyDelay;
        _emergency[disputeId] = Emergency({executableAt: executableAt, trainerWins: trainerWins});
        emit EmergencyScheduled(disputeId, trainerWins, executableAt);
    }

    /// @inheritdoc IDisputeGame
    function executeEmergency(uint256 disputeId) external {
        Dispute storage d = _existing(disputeId);
        if (!_stuck(d)) revert NotStuck(disputeId);
        Emergency memory e = _emergency[disputeId];
        if (e.executableAt == 0) revert EmergencyNotScheduled(disputeId);
        if (block.timestamp < e.executableAt) revert EmergencyTimelocked(disputeId, e.executableAt);
        if (_market.getJob(d.jobId).status != IJobMarket.JobStatus.Disputed) {
            _credit(d.challenger, uint256(d.bond) + d.pot);
            _end(disputeId, d, false, Outcome.Moot);
            return;
        }
        _decide(disputeId, d, e.trainerWins, Outcome.Emergency, 0, new bool[](0));
    }

    /// @inheritdoc IDisputeGame
    function transferEmergency(address to) external {
        if (msg.sender != _emergencyAccount) revert NotEmergency(msg.sender);
        _pendingEmergency = to;
        emit EmergencyTransferStarted(msg.sender, to);
    }

    /// @inheritdoc IDisputeGame
    function acceptEmergency() external {
        if (msg.sender != _pendingEmergency) revert NotEmergency(msg.sender);
        emit EmergencyTransferred(_emergencyAccount, msg.sender);
        _emergencyAccount = msg.sender;
        _pendingEmergency = address(0);
    }

    /// @inheritdoc IDisputeGame
    function emergency() external view returns (address) {
        return _emergencyAccount;
    }

    // ------------------------------------------------------------------ credits

    /// @inheritdoc IDisputeGame
    function withdraw() external returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDisputeGame
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _existing(disputeId);
    }

    /// @inheritdoc IDisputeGame
    function committeeOf(uint256 disputeId) external view returns (address[] memory) {
        return _committee[disputeId];
    }

    /// @inheritdoc IDisputeGame
    function checkpointsOf(uint256 jobId) external view returns (address trainer, bytes32 root, uint32 count) {
        Commitment storage c = _checkpoints[jobId];
        return (c.trainer, c.root, c.count);
    }

    /// @inheritdoc IDisputeGame
    function evalClaimOf(uint256 jobId) external view returns (EvalClaim memory) {
        return _evalClaims[jobId];
    }

    /// @inheritdoc IDisputeGame
    function evalShardOf(uint256 disputeId) external view returns (uint256) {
        Dispute storage d = _existing(disputeId);
        if (!d.eval || d.node == bytes32(0)) revert NotEvalDispute(disputeId);
        return uint256(keccak256(abi.encode(d.node, "shard"))) % EVAL_SHARDS;
    }

    /// @inheritdoc IDisputeGame
    function verifierPool() external view returns (address) {
        return address(_pool);
    }

    /// @inheritdoc IDisputeGame
    function isDrawnVerifier(uint256 jobId, address verifier) external view returns (bool) {
        return _serving[jobId][verifier] != 0;
    }

    /// @inheritdoc IDisputeGame
    function withdrawable(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IDisputeGame
    function disputeCount() external view returns (uint256) {
        return _disputeCount;
    }

    /// @inheritdoc IDisputeGame
    function params() external view returns (Params memory) {
        return _params;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Counts the revealed (verdict, witness) pairs; decides on a majority of the drawn seats with two thirds
    /// revealed, otherwise redraws a larger committee (or gets stuck). Penalties go to the dispute's pot.
    function _tally(uint256 disputeId, Dispute storage d) private {
        address[] memory members = _committee[disputeId];
        bool decided;
        bool trainerWins;
        bool[] memory shown;
        bool[] memory coherent;
        {
            (bytes32[] memory keys, bytes32 bestKey, bytes32 verdict, uint256 best, uint256 revealed) =
                _count(disputeId, d.round, members);
            decided = best * 2 > d.seats && revealed * 3 >= uint256(d.seats) * 2;
            trainerWins = verdict == d.claimedState;
            (shown, coherent) = CommitteeVotes.masks(keys, decided ? bestKey : bytes32(0));
        }
        _conclude(disputeId, d, members, shown, coherent, decided, trainerWins);
    }

    /// @dev An eval dispute's tally (see the notice of {IDisputeGame}), judged by {EvalTally}.
    function _tallyEval(uint256 disputeId, Dispute storage d) private {
        address[] memory members = _committee[disputeId];
        uint256 n = members.length;
        bool[] memory shown = new bool[](n);
        bytes32[] memory verdicts = new bytes32[](n);
        bytes32[] memory witnesses = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            Vote storage v = _votes[disputeId][d.round][members[i]];
            (shown[i], verdicts[i], witnesses[i]) = (v.revealed, v.verdict, v.witness);
        }
        EvalClaim memory c = _evalClaims[d.jobId];
        (bool trainerWins, bool decided, bool[] memory coherent) =
            _evalTally.tally(shown, verdicts, witnesses, c.loss, c.toleranceBps);
        _conclude(disputeId, d, members, shown, coherent, decided, trainerWins);
    }

    /// @dev Penalises the members that did not reveal and, when the round decided, those that revealed but are
    /// not coherent, into the dispute's pot; returns how many are coherent.
    function _penaliseRound(
        uint256 disputeId,
        Dispute storage d,
        address[] memory members,
        bool[] memory shown,
        bool[] memory coherent,
        bool decided
    ) private returns (uint256 count) {
        uint128 pot = d.pot;
        uint128 penalty = _params.verifierPenalty;
        for (uint256 i = 0; i < members.length; ++i) {
            if (coherent[i]) {
                ++count;
            } else if (!shown[i] || decided) {
                // Not revealing always costs; revealing costs only against a deciding majority.
                pot += _penalise(disputeId, members[i], penalty);
            }
        }
        d.pot = pot;
    }

    /// @dev Ends a round: penalties, the committee released, then a redraw or the decision.
    function _conclude(
        uint256 disputeId,
        Dispute storage d,
        address[] memory members,
        bool[] memory shown,
        bool[] memory coherent,
        bool decided,
        bool trainerWins
    ) private {
        uint256 count = _penaliseRound(disputeId, d, members, shown, coherent, decided);
        _releaseCommittee(disputeId, d);
        if (!decided) return _redraw(disputeId, d);
        _decide(disputeId, d, trainerWins, Outcome.CommitteeVerdict, count, coherent);
    }

    /// @dev No verdict: a committee of 2n + 1 is drawn from a new future block, or the dispute is stuck after
    /// `MAX_REDRAWS` redraws.
    function _redraw(uint256 disputeId, Dispute storage d) private {
        uint8 round = d.round;
        d.deadline = 0;
        if (round >= MAX_REDRAWS) {
            d.phase = Phase.Stuck;
            emit DisputeStuck(disputeId);
            return;
        }
        uint8 next = d.seats * 2 + 1;
        d.round = round + 1;
        d.seats = next;
        uint64 drawBlock = uint64(block.number) + _params.lookahead;
        d.drawBlock = drawBlock;
        d.phase = Phase.AwaitingDraw;
        emit CommitteeSplit(disputeId, round, next, drawBlock);
    }

    /// @dev The revealed vote keys of a round's members (zero when not revealed), the most held key with its
    /// verdict and count, and how many revealed.
    function _count(uint256 disputeId, uint8 round, address[] memory members)
        private
        view
        returns (bytes32[] memory keys, bytes32 bestKey, bytes32 verdict, uint256 best, uint256 revealed)
    {
        uint256 n = members.length;
        keys = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            Vote storage v = _votes[disputeId][round][members[i]];
            if (v.revealed) keys[i] = v.key;
        }
        uint256 seat;
        (seat, best, revealed) = CommitteeVotes.majority(keys);
        if (best != 0) (bestKey, verdict) = (keys[seat], _votes[disputeId][round][members[seat]].verdict);
    }

    /// @dev Moves the loser's funds and ends the dispute. The `coherent` verifiers (`mask`, by committee seat) share
    /// their fees and the pot; without a committee the pot goes to the winner.
    function _decide(
        uint256 disputeId,
        Dispute storage d,
        bool trainerWins,
        Outcome outcome,
        uint256 coherent,
        bool[] memory mask
    ) private {
        uint256 jobId = d.jobId;
        uint256 fees = coherent * _params.verifierFee;
        uint256 verifierPay;
        if (trainerWins) {
            uint256 bond = d.bond;
            verifierPay = fees < bond ? fees : bond;
            uint256 rest = bond - verifierPay;
            _market.closeDispute(jobId, true, 0);
            _credit(d.trainer, rest / 2 + (coherent == 0 ? d.pot : 0));
            _fundPools(jobId, rest - rest / 2);
        } else {
            uint256 collateral = _market.getJob(jobId).collateral;
            verifierPay = fees < collateral ? fees : collateral;
            uint256 reward = (collateral - verifierPay) / 2;
            uint256 received = _market.closeDispute(jobId, false, verifierPay + reward);
            // The market slashes the whole collateral; it never sends more than it slashed.
            if (received < verifierPay + reward) (verifierPay, reward) = (received, 0);
            _credit(d.challenger, uint256(d.bond) + reward + (coherent == 0 ? d.pot : 0));
        }
        if (coherent != 0) _payCoherent(disputeId, verifierPay + d.pot, coherent, mask);
        _end(disputeId, d, trainerWins, outcome);
    }

    /// @dev Shares `amount` equally among the deciding round's coherent verifiers (`mask`, by seat; the first takes
    /// the rounding remainder).
    function _payCoherent(uint256 disputeId, uint256 amount, uint256 coherent, bool[] memory mask) private {
        uint256 each = amount / coherent;
        uint256 dust = amount - each * coherent;
        address[] storage members = _committee[disputeId];
        for (uint256 i = 0; i < members.length; ++i) {
            address m = members[i];
            if (!mask[i]) continue;
            _credit(m, each + dust);
            emit VerifierPaid(disputeId, m, each + dust);
            dust = 0;
        }
    }

    function _end(uint256 disputeId, Dispute storage d, bool trainerWins, Outcome outcome) private {
        d.phase = Phase.Settled;
        d.outcome = outcome;
        d.trainerWon = trainerWins;
        d.deadline = 0;
        d.pot = 0;
        emit DisputeSettled(disputeId, d.jobId, trainerWins, outcome);
    }

    /// @dev Takes up to `amount` from a verifier's stake (the pool sends it here) into the dispute's pot.
    function _penalise(uint256 disputeId, address verifier, uint128 amount) private returns (uint128 taken) {
        taken = _pool.penalise(verifier, amount);
        if (taken != 0) emit VerifierPenalised(disputeId, verifier, taken);
    }

    function _releaseCommittee(uint256 disputeId, Dispute storage d) private {
        address[] memory members = _committee[disputeId];
        uint256 jobId = d.jobId;
        for (uint256 i = 0; i < members.length; ++i) {
            --_serving[jobId][members[i]];
        }
        _pool.release(members);
    }

    /// @dev Stuck: the committee split after the last redraw, or too few eligible verifiers are staked to draw one.
    function _stuck(Dispute storage d) private view returns (bool) {
        if (d.phase == Phase.Stuck) return true;
        return d.phase == Phase.AwaitingDraw && _pool.eligibleCount(_parties(d)) < d.seats;
    }

    /// @dev Who may not sit on a dispute's committee: its trainer, its challenger and the job's poster.
    function _parties(Dispute storage d) private view returns (address[] memory parties) {
        parties = new address[](3);
        (parties[0], parties[1], parties[2]) = (d.trainer, d.challenger, _market.getJob(d.jobId).poster);
    }

    /// @dev Sends `amount` (held here) to the job's Datanet pools in equal shares, the first taking the remainder.
    function _fundPools(uint256 jobId, uint256 amount) private {
        if (amount == 0) return;
        (uint256[] memory ids,) = _market.getJobDatanets(jobId);
        uint256 share = amount / ids.length;
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 part = i == 0 ? amount - share * (ids.length - 1) : share;
            if (part != 0) _rewards.fundDatanetPool(ids[i], part);
        }
    }

    function _credit(address account, uint256 amount) private {
        if (amount != 0) _withdrawable[account] += amount;
    }

    function _seat(uint256 disputeId, uint8 round) private view returns (Vote storage v) {
        address[] storage members = _committee[disputeId];
        for (uint256 i = 0; i < members.length; ++i) {
            if (members[i] == msg.sender) return _votes[disputeId][round][msg.sender];
        }
        revert NotOnCommittee(disputeId, msg.sender);
    }

    /// @dev A move by the party whose turn it is, before its deadline, on a job still disputed.
    function _move(uint256 disputeId, Phase phase, bool byTrainer) private view returns (Dispute storage d) {
        d = _inPhase(disputeId, phase);
        if (msg.sender != (byTrainer ? d.trainer : d.challenger)) revert NotYourMove(disputeId, msg.sender);
        if (block.timestamp > d.deadline) revert MoveTimeOver(disputeId, d.deadline);
    }

    function _inPhase(uint256 disputeId, Phase phase) private view returns (Dispute storage d) {
        d = _existing(disputeId);
        if (d.phase != phase) revert WrongPhase(disputeId, d.phase);
    }

    function _existing(uint256 disputeId) private view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.phase == Phase.None) revert DisputeNotFound(disputeId);
    }

    /// @inheritdoc IDisputeGame
    function finalState(uint256 jobId, bytes32 runState) external view returns (bytes32) {
        return _finalState(jobId, runState);
    }

    function _finalState(uint256 jobId, bytes32 runState) private view returns (bytes32) {
        IJobMarket.Result memory r = _market.getResult(jobId);
        return keccak256(abi.encode(runState, r.adapterHash, r.attributionRoot, r.attributionTotalWeight));
    }

    function _leaf(uint256 jobId, uint256 index, bytes32 state) private pure returns (bytes32) {
        return keccak256(abi.encode(jobId, index, state));
    }

    function _ceilPow2(uint32 x) private pure returns (uint32 p) {
        p = 1;
        while (p < x) p <<= 1;
    }

    function _log2(uint32 p) private pure returns (uint256 r) {
        while (p > 1) {
            p >>= 1;
            ++r;
        }
    }
}
