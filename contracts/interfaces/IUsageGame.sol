// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IUsageGame
/// @notice Usage-epoch challenges decided by a committee of staked verifiers instead of an admin.
///
/// Within an epoch's challenge window anyone but its provider opens a challenge with `challengeBond`
/// ({openChallenge}); the epoch is frozen ({IUsageEpochs-challengeEpoch}). A committee (`FIRST_SEATS`, drawn
/// stake-weighted from the {IVerifierPool} with the hash of a block `lookahead` blocks ahead, provider and challenger
/// excluded) fetches the epoch's per-request records from the provider (served to drawn verifiers only:
/// {isDrawnVerifier}) and recomputes the epoch from them: the records must build the committed records root, tile
/// each channel's accounted range (`ChannelAccounted`) without overlap, and give, by the split rule, the committed
/// claims root and cited revenue. A verifier commits, then reveals, `verdict = keccak256(abi.encode(recordsRoot,
/// claimsRoot, citedRevenue))` of its recomputation (the one the epoch committed when everything checks:
/// {expectedVerdict}), `INVALID_RECORDS` when the records do not tile the ranges, or `UNAVAILABLE` when the provider
/// served nothing that builds the root; and `witness` = the records-tree leaf `h` minimising
/// `keccak256(abi.encode(seed, h))`, over every record, for the round's seed (0 with UNAVAILABLE): nobody publishes
/// the records, so a verifier that copies the committed roots without reading them cannot match the others.
///
/// A (verdict, witness) pair held by more than half the seats, with two thirds revealed, decides: the provider wins
/// on {expectedVerdict}. Otherwise the committee is redrawn 2n + 1, at most `MAX_REDRAWS` times, then the dispute is
/// stuck until the timelocked emergency account rules. Verifiers that do not reveal, or reveal another pair than the
/// deciding one, pay `verifierPenalty` from their stake to the coherent ones.
///
/// Money: the provider losing voids the epoch (all its revenue by training-time influence) and forfeits its
/// provider bond: `verifierFee` to each coherent verifier, the rest with the challenger's bond back to the
/// challenger. The challenger losing pays the verifiers from its bond and the rest to the provider. Credits are
/// withdrawn with {withdraw}; the token balance always equals open bonds, pots and credits.
interface IUsageGame {
    enum Phase {
        None,
        AwaitingDraw,
        Voting,
        Stuck,
        Settled
    }

    enum Outcome {
        None,
        CommitteeVerdict,
        Emergency
    }

    /// @notice The game's fixed parameters.
    struct Params {
        uint128 challengeBond;
        uint128 verifierFee;
        uint128 verifierPenalty;
        uint32 commitTime;
        uint32 revealTime;
        uint32 lookahead;
        uint32 emergencyDelay;
    }

    struct Dispute {
        uint256 epochId;
        address challenger;
        address provider;
        uint8 round;
        uint8 seats;
        Phase phase;
        Outcome outcome;
        bool providerWon;
        uint40 deadline;
        uint40 revealStartsAt;
        uint64 drawBlock;
        uint128 bond;
        uint128 pot;
        bytes32 claimed;
        bytes32 seed;
    }

    event ChallengeOpened(
        uint256 indexed disputeId,
        uint256 indexed epochId,
        address indexed challenger,
        uint256 bond,
        string reasonCID,
        uint64 drawBlock
    );
    event DrawDeferred(uint256 indexed disputeId, uint64 drawBlock);
    event CommitteeDrawn(
        uint256 indexed disputeId, uint8 round, address[] members, bytes32 seed, uint40 revealStartsAt
    );
    event VoteCommitted(uint256 indexed disputeId, uint8 round, address indexed verifier);
    event VoteRevealed(
        uint256 indexed disputeId, uint8 round, address indexed verifier, bytes32 verdict, bytes32 witness
    );
    event VerifierPenalised(uint256 indexed disputeId, address indexed verifier, uint256 amount);
    event VerifierPaid(uint256 indexed disputeId, address indexed verifier, uint256 amount);
    event CommitteeSplit(uint256 indexed disputeId, uint8 round, uint8 nextSeats, uint64 drawBlock);
    event DisputeStuck(uint256 indexed disputeId);
    event DisputeSettled(uint256 indexed disputeId, uint256 indexed epochId, bool providerWins, Outcome outcome);
    event EmergencyScheduled(uint256 indexed disputeId, bool providerWins, uint40 executableAt);
    event EmergencyTransferStarted(address indexed from, address indexed to);
    event EmergencyTransferred(address indexed from, address indexed to);
    event Withdrawn(address indexed account, uint256 amount);

    error InvalidParams();
    error DisputeNotFound(uint256 disputeId);
    error WrongPhase(uint256 disputeId, Phase phase);
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
    error NotEmergency(address account);
    error NothingToWithdraw(address account);

    /// @notice Challenges a committed epoch within its window (not its provider); pulls `challengeBond`.
    function openChallenge(uint256 epochId, string calldata reasonCID) external returns (uint256 disputeId);

    /// @notice Draws the committee from the hash of the draw block. Anyone, once that block is past.
    function drawCommittee(uint256 disputeId) external;

    /// @notice A drawn verifier commits `keccak256(abi.encode(disputeId, round, verifier, verdict, witness, salt))`.
    function commitVote(uint256 disputeId, bytes32 commitment) external;

    /// @notice A drawn verifier reveals its vote (after the commit time, or once every seat committed).
    function revealVote(uint256 disputeId, bytes32 verdict, bytes32 witness, bytes32 salt) external;

    /// @notice Settles a finished vote: a verdict, or a redraw when split. Anyone.
    function settle(uint256 disputeId) external;

    /// @notice The emergency account proposes a ruling on a stuck dispute; executable after `emergencyDelay`.
    function scheduleEmergency(uint256 disputeId, bool providerWins) external;

    /// @notice Executes a scheduled emergency ruling after its timelock. Anyone.
    function executeEmergency(uint256 disputeId) external;

    /// @notice The emergency account names its successor, who takes over by {acceptEmergency}.
    function transferEmergency(address to) external;

    function acceptEmergency() external;

    /// @notice Withdraws the caller's credited OPEN (bonds back, rewards, fees).
    function withdraw() external returns (uint256 amount);

    /// @notice The verdict that upholds an epoch: `keccak256(abi.encode(recordsRoot, claimsRoot, citedRevenue))`.
    function expectedVerdict(uint256 epochId) external view returns (bytes32);

    /// @notice Whether `verifier` sits on the current committee of an open dispute of `epochId`: what a provider
    /// checks before serving the epoch's records.
    function isDrawnVerifier(uint256 epochId, address verifier) external view returns (bool);

    /// @notice The latest dispute of an epoch (0: never challenged).
    function disputeOf(uint256 epochId) external view returns (uint256);

    function getDispute(uint256 disputeId) external view returns (Dispute memory);
    function committeeOf(uint256 disputeId) external view returns (address[] memory);
    function withdrawable(address account) external view returns (uint256);
    function disputeCount() external view returns (uint256);
    function params() external view returns (Params memory);
    function emergency() external view returns (address);
    function verifierPool() external view returns (address);
    function usageEpochs() external view returns (address);
}
