// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IDisputeGame
/// @notice Verification of a submitted job by replay instead of by an admin (review finding 4).
///
/// The trainer commits, while its claim runs, to a Merkle root over its checkpoint states: leaf
/// `i = keccak256(abi.encode(jobId, i, stateHash_i))` for i = 0..count-1, each `stateHash` covering the adapter,
/// the optimizer moments, the step, the RNG state and the data cursor (the last one also the adapter hash and the
/// attribution root), so a segment can be replayed from it. Nodes are `keccak256(abi.encodePacked(left, right))`
/// over the leaves padded with zero to a power of two.
///
/// Within the job's challenge window anyone (poster, contributor, curator, staked verifier; not the trainer) opens
/// a challenge with a bond. Trainer and challenger bisect the tree: the trainer reveals the two children of the
/// disputed node, the challenger names the one holding the first state it disputes, down to one leaf `j`; the
/// trainer then proves leaf `j` and the state before it (`j - 1`, by Merkle proof). Every move has a deadline and
/// the party that misses it loses. A committee of verifiers, drawn stake-weighted with the hash of a block
/// `lookahead` blocks after the segment was fixed (the parties excluded), replays the segment and commits, then
/// reveals, `keccak256(abi.encode(disputeId, round, verifier, verdict, witness, salt))`: `verdict` is the replayed
/// `stateHash_j`, `witness` a digest of the per-step state hashes inside the segment, which nobody publishes, so a
/// verifier that copies the trainer's hash without replaying cannot match it. A (verdict, witness) pair held by
/// more than half the drawn seats, with at least two thirds of them revealed, decides: the trainer wins on its own
/// hash. Otherwise the committee is redrawn larger (2n + 1), at most `MAX_REDRAWS` times, then the dispute is
/// stuck until the timelocked emergency role rules. Verifiers that do not reveal, or reveal another pair than the
/// deciding one, pay `verifierPenalty` from their stake to the coherent ones. Verifiers stake in the
/// {IVerifierPool}, shared with the usage game.
///
/// Money: the trainer losing slashes its whole collateral (the JobMarket refunds the poster's budget): the coherent
/// verifiers get `verifierFee` each, the challenger its bond back plus half the rest, the job's Datanet pools the
/// remainder. The challenger losing pays the verifiers from its bond, the rest half to the trainer, half to the
/// pools. Challenges run in parallel; the trainer losing any refunds the job, which makes the others moot (bonds
/// back); the JobMarket finalizes only once none is open.
///
/// `eval` jobs (any backend, GPUs included: no bit-exact replay) are checked on their outcome instead. While its
/// claim runs the trainer commits an eval claim ({commitEvalClaim}): the held-out eval loss (fixed point,
/// `LOSS_SCALE`) and the relative tolerance of the job's spec. A challenge of a job with an eval claim skips the
/// bisection: the committee is drawn at once (same lookahead, same exclusions). Each verifier gets the job's data
/// keys, recomputes the held-out loss of the submitted adapter, the loss on one of `EVAL_SHARDS` shards of the
/// held-out records chosen by the draw's seed ({evalShardOf}; the trainer never publishes per-shard losses, so a
/// verifier cannot copy it), and the rank correlation between the submitted attribution and its own recomputation
/// (Spearman, `rhoCode = 1 + round((rho + 1) * 5000)`, 0 when it cannot recompute it), and checks that the claim's
/// terms are the spec's (class eval, its tolerance). It votes `verdict = loss << 128 | rhoCode << 64 | termsOk`,
/// `witness = shard loss`, or UNAVAILABLE (what it needed was not published). The tally takes the medians of the
/// revealed numbers: a verifier is coherent when its losses are within the tolerance of the medians, its rank
/// correlation within `RHO_SPREAD` of theirs and its terms flag the majority's; more than half the seats coherent
/// (two thirds revealed) decides, else the committee is redrawn as above. The trainer wins when the terms hold,
/// the median loss is at most its claim plus the tolerance, and (when most verifiers measured it) the median rank
/// correlation is at least `MIN_RANK_CODE` (Spearman 0.8). Money moves as for replay disputes.
interface IDisputeGame {
    /// @notice Where a dispute stands.
    enum Phase {
        None,
        TrainerMove,
        ChallengerMove,
        AwaitingDraw,
        Voting,
        Stuck,
        Settled
    }

    /// @notice Why a dispute ended.
    enum Outcome {
        None,
        CommitteeVerdict,
        TrainerSilent,
        ChallengerSilent,
        Emergency,
        Moot
    }

    /// @notice The game's fixed parameters (no admin can change them).
    struct Params {
        uint128 challengeBond;
        uint128 verifierFee;
        uint128 verifierPenalty;
        uint32 moveTime;
        uint32 commitTime;
        uint32 revealTime;
        uint32 lookahead;
        uint32 emergencyDelay;
    }

    /// @notice One dispute, as `getDispute` returns it.
    struct Dispute {
        uint256 jobId;
        address challenger;
        uint32 lo;
        uint32 span;
        uint8 round;
        uint8 seats;
        uint8 moves;
        address trainer;
        Phase phase;
        Outcome outcome;
        bool trainerWon;
        uint40 deadline;
        bytes32 node;
        bytes32 prevState;
        bytes32 claimedState;
        uint128 bond;
        uint64 drawBlock;
        uint40 revealStartsAt;
        uint128 pot;
        bool eval;
    }

    /// @notice An eval job's claim: the held-out eval loss (fixed point, `LOSS_SCALE`) and the spec's tolerance.
    struct EvalClaim {
        address trainer;
        uint64 loss;
        uint16 toleranceBps;
    }

    event CheckpointsCommitted(uint256 indexed jobId, address indexed trainer, bytes32 root, uint32 count);
    event EvalClaimCommitted(uint256 indexed jobId, address indexed trainer, uint64 loss, uint16 toleranceBps);
    event EvalDisputeOpened(
        uint256 indexed disputeId, uint256 indexed jobId, uint64 loss, uint16 toleranceBps, uint64 drawBlock
    );
    event ChallengeOpened(
        uint256 indexed disputeId, uint256 indexed jobId, address indexed challenger, uint256 bond, string reasonCID
    );
    event ChildrenRevealed(uint256 indexed disputeId, uint8 move, bytes32 left, bytes32 right);
    event ChildChosen(uint256 indexed disputeId, uint8 move, uint32 lo, uint32 span, bytes32 node);
    event SegmentProven(uint256 indexed disputeId, uint32 index, bytes32 prevState, bytes32 state, uint64 drawBlock);
    event DrawDeferred(uint256 indexed disputeId, uint64 drawBlock);
    event CommitteeDrawn(uint256 indexed disputeId, uint8 round, address[] members, uint40 revealStartsAt);
    event VoteCommitted(uint256 indexed disputeId, uint8 round, address indexed verifier);
    event VoteRevealed(
        uint256 indexed disputeId, uint8 round, address indexed verifier, bytes32 verdict, bytes32 witness
    );
    event VerifierPenalised(uint256 indexed disputeId, address indexed verifier, uint256 amount);
    event VerifierPaid(uint256 indexed disputeId, address indexed verifier, uint256 amount);
    event CommitteeSplit(uint256 indexed disputeId, uint8 round, uint8 nextSeats, uint64 drawBlock);
    event DisputeStuck(uint256 indexed disputeId);
    event DisputeSettled(uint256 indexed disputeId, uint256 indexed jobId, bool trainerWins, Outcome outcome);
    event EmergencyScheduled(uint256 indexed disputeId, bool trainerWins, uint40 executableAt);
    event Withdrawn(address indexed account, uint256 amount);
    event EmergencyTransferStarted(address indexed from, address indexed to);
    event EmergencyTransferred(address indexed from, address indexed to);

    error NotJobTrainer(uint256 jobId, address account);
    error JobNotClaimed(uint256 jobId);
    error InvalidCheckpointCount(uint32 count, uint32 min, uint32 max);
    error ZeroRoot();
    error TrainerCannotChallenge(uint256 jobId);
    error DisputeNotFound(uint256 disputeId);
    error WrongPhase(uint256 disputeId, Phase phase);
    error NotYourMove(uint256 disputeId, address account);
    error MoveTimeOver(uint256 disputeId, uint40 deadline);
    error MoveTimeNotOver(uint256 disputeId, uint40 deadline);
    error ChildrenMismatch(uint256 disputeId, bytes32 node);
    error BeyondLastCheckpoint(uint256 disputeId, uint32 lo, uint32 count);
    error SegmentMismatch(uint256 disputeId, uint32 index);
    error DrawBlockNotReached(uint256 disputeId, uint64 drawBlock);
    error NotOnCommittee(uint256 disputeId, address account);
    error AlreadyCommitted(uint256 disputeId, address account);
    error CommitClosed(uint256 disputeId);
    error RevealNotOpen(uint256 disputeId, uint40 revealStartsAt);
    error RevealClosed(uint256 disputeId);
    error CommitmentMismatch(uint256 disputeId, address account);
    error VotingNotOver(uint256 disputeId);
    error NotStuck(uint256 disputeId);
    error EmergencyNotScheduled(uint256 disputeId);
    error EmergencyTimelocked(uint256 disputeId, uint40 executableAt);
    error NothingToWithdraw(address account);
    error InvalidParams();
    error InvalidEvalClaim(uint64 loss, uint16 toleranceBps);
    error NotEvalDispute(uint256 disputeId);
    error NotEmergency(address account);

    /// @notice The job's trainer commits its checkpoint tree while the claim runs (it may recommit until it
    /// submits). A trainer without a commitment cannot answer a challenge and loses it on the clock.
    function commitCheckpoints(uint256 jobId, bytes32 root, uint32 count) external;

    /// @notice An eval job's trainer commits its held-out eval loss (`LOSS_SCALE` fixed point, above 0) and the spec's
    /// relative tolerance in basis points (1..5000) while its claim runs (it may recommit until it submits). A
    /// challenge of the job is then settled on the recomputed loss, not by bisection (see the notice).
    function commitEvalClaim(uint256 jobId, uint64 loss, uint16 toleranceBps) external;

    /// @notice Opens a challenge on a submitted job within its challenge window; pulls `challengeBond`.
    function openChallenge(uint256 jobId, string calldata reasonCID) external returns (uint256 disputeId);

    /// @notice The trainer reveals the children of the disputed node (checked against it; published in
    /// `ChildrenRevealed`, not stored).
    function revealChildren(uint256 disputeId, bytes32 left, bytes32 right) external;

    /// @notice The challenger names the child holding the first state it disputes, passing back the two children
    /// the trainer revealed (checked against the node); `takeRight` accepts the left one.
    function chooseChild(uint256 disputeId, bytes32 left, bytes32 right, bool takeRight) external;

    /// @notice The trainer proves the disputed leaf's state and the state before it (ignored for leaf 0). At the
    /// last leaf `state` is the run state, and the leaf must hold `finalState(jobId, state)`: the final checkpoint
    /// covers the submitted adapter hash and attribution (root and total weight), so a result whose attribution
    /// is not the one its run computed loses here (review finding 2), and a replay of the last segment, which
    /// includes the deterministic attribution run, decides on attribution like on training.
    function proveSegment(uint256 disputeId, bytes32 prevState, bytes32[] calldata prevProof, bytes32 state)
        external;

    /// @notice The state the last checkpoint leaf of `jobId` must hold for run state `runState`:
    /// `keccak256(abi.encode(runState, adapterHash, attributionRoot, attributionTotalWeight))` of the submitted
    /// result.
    function finalState(uint256 jobId, bytes32 runState) external view returns (bytes32);

    /// @notice Draws the committee from the hash of the draw block. Anyone, once that block is past.
    function drawCommittee(uint256 disputeId) external;

    /// @notice A drawn verifier commits `keccak256(abi.encode(disputeId, round, verifier, verdict, witness, salt))`.
    function commitVote(uint256 disputeId, bytes32 commitment) external;

    /// @notice A drawn verifier reveals its vote (after the commit time, or once every seat committed).
    function revealVote(uint256 disputeId, bytes32 verdict, bytes32 witness, bytes32 salt) external;

    /// @notice Settles what the clock or the committee decided: a missed move, a finished vote (verdict, or a
    /// redraw when split), a moot dispute. Anyone.
    function settle(uint256 disputeId) external;

    /// @notice The emergency role proposes a ruling on a stuck dispute (the committee split after the last redraw,
    /// or too few eligible verifiers are staked to draw one); it can execute after `emergencyDelay`.
    function scheduleEmergency(uint256 disputeId, bool trainerWins) external;

    /// @notice The emergency account names its successor (a timelock or DAO), who takes over by {acceptEmergency}.
    function transferEmergency(address to) external;

    function acceptEmergency() external;

    /// @notice The account that may schedule rulings on stuck disputes.
    function emergency() external view returns (address);

    /// @notice Executes a scheduled emergency ruling after its timelock. Anyone.
    function executeEmergency(uint256 disputeId) external;

    /// @notice Withdraws the caller's credited OPEN (bonds back, rewards, fees).
    function withdraw() external returns (uint256 amount);

    function getDispute(uint256 disputeId) external view returns (Dispute memory);
    function committeeOf(uint256 disputeId) external view returns (address[] memory);
    function checkpointsOf(uint256 jobId) external view returns (address trainer, bytes32 root, uint32 count);
    function evalClaimOf(uint256 jobId) external view returns (EvalClaim memory);
    /// @notice The held-out shard (0..EVAL_SHARDS-1) whose loss an eval dispute's current committee reveals as its
    /// witness; follows from the committee's draw seed (reverts for replay disputes, or before the first draw).
    function evalShardOf(uint256 disputeId) external view returns (uint256);
    /// @notice The {IVerifierPool} committees are drawn from (verifiers stake there).
    function verifierPool() external view returns (address);
    /// @notice Whether `verifier` sits on the current committee of an open dispute of `jobId`: what a custodian
    /// checks before releasing the job's data keys to a verifier.
    function isDrawnVerifier(uint256 jobId, address verifier) external view returns (bool);
    function withdrawable(address account) external view returns (uint256);
    function disputeCount() external view returns (uint256);
    function params() external view returns (Params memory);
}
