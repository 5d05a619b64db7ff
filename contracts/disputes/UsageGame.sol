// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IUsageEpochs} from "../interfaces/IUsageEpochs.sol";
import {IUsageGame} from "../interfaces/IUsageGame.sol";
import {IVerifierPool} from "../interfaces/IVerifierPool.sol";
import {CommitteeVotes} from "./CommitteeVotes.sol";

/// @title UsageGame
/// @notice See {IUsageGame}. Holds challengers' bonds, forfeited provider bonds until paid out, penalty pots and
/// credits not yet withdrawn; its token balance is always their sum. Parameters are fixed at construction; the only
/// privileged account is `emergency`, which rules only on a stuck dispute and only after `emergencyDelay`.
contract UsageGame is IUsageGame {
    using SafeERC20 for IERC20;

    /// @notice Seats of a first committee; a split one is redrawn with 2n + 1.
    uint8 public constant FIRST_SEATS = 3;
    /// @notice How often a split committee is redrawn before the dispute is stuck.
    uint8 public constant MAX_REDRAWS = 2;
    /// @notice The verdict of a verifier the provider served no records building the committed root.
    bytes32 public constant UNAVAILABLE = keccak256("tributary/usage-verdict-unavailable@1");
    /// @notice The verdict of a verifier whose records build the root but do not tile the accounted ranges.
    bytes32 public constant INVALID_RECORDS = keccak256("tributary/usage-verdict-invalid-records@1");

    struct Vote {
        bytes32 commitment;
        bytes32 key;
        bytes32 verdict;
        bool revealed;
    }

    struct Emergency {
        uint40 executableAt;
        bool providerWins;
    }

    IERC20 private immutable _token;
    IUsageEpochs private immutable _usage;
    IVerifierPool private immutable _pool;
    Params private _params;

    uint256 private _disputeCount;
    mapping(uint256 disputeId => Dispute dispute) private _disputes;
    mapping(uint256 epochId => uint256 disputeId) private _latest;
    mapping(uint256 disputeId => address[] members) private _committee;
    mapping(uint256 disputeId => mapping(uint8 round => mapping(address verifier => Vote vote))) private _votes;
    mapping(uint256 disputeId => uint8 count) private _commits;
    mapping(uint256 disputeId => Emergency ruling) private _emergency;
    mapping(address account => uint256 credit) private _withdrawable;
    address private _emergencyAccount;
    address private _pendingEmergency;

    /// @param token OPEN.
    /// @param usage The UsageEpochs whose epochs are disputed (it must name this game).
    /// @param pool The verifiers committees are drawn from (it must name this game).
    /// @param emergency_ The emergency account (it hands itself over to a timelock or DAO by `transferEmergency`).
    /// @param params_ The game's parameters (fixed).
    constructor(IERC20 token, IUsageEpochs usage, IVerifierPool pool, address emergency_, Params memory params_) {
        if (
            address(token) == address(0) || address(usage) == address(0) || address(pool) == address(0)
                || emergency_ == address(0) || params_.challengeBond == 0 || params_.commitTime == 0
                || params_.revealTime == 0 || params_.lookahead == 0 || params_.emergencyDelay == 0
                || pool.minStake() < params_.verifierPenalty
        ) revert InvalidParams();
        _token = token;
        _usage = usage;
        _pool = pool;
        _emergencyAccount = emergency_;
        _params = params_;
    }

    // ------------------------------------------------------------------ challenge and committee

    /// @inheritdoc IUsageGame
    function openChallenge(uint256 epochId, string calldata reasonCID) external returns (uint256 disputeId) {
        uint128 bond = _params.challengeBond;
        disputeId = ++_disputeCount;
        // reverts unless the epoch is committed, within its window, and the caller is not its provider
        address provider = _usage.challengeEpoch(epochId, msg.sender, bond, reasonCID);
        Dispute storage d = _disputes[disputeId];
        d.epochId = epochId;
        d.challenger = msg.sender;
        d.provider = provider;
        d.seats = FIRST_SEATS;
        d.phase = Phase.AwaitingDraw;
        d.bond = bond;
        d.claimed = _expectedVerdict(epochId);
        uint64 drawBlock = uint64(block.number) + _params.lookahead;
        d.drawBlock = drawBlock;
        _latest[epochId] = disputeId;
        emit ChallengeOpened(disputeId, epochId, msg.sender, bond, reasonCID, drawBlock);
        _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IUsageGame
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
        d.seed = seed;
        address[] memory members = _pool.draw(seed, d.seats, _parties(d));
        _committee[disputeId] = members;
        _commits[disputeId] = 0;
        uint40 revealStartsAt = uint40(block.timestamp) + _params.commitTime;
        d.revealStartsAt = revealStartsAt;
        d.deadline = revealStartsAt + _params.revealTime;
        d.phase = Phase.Voting;
        emit CommitteeDrawn(disputeId, d.round, members, seed, revealStartsAt);
    }

    /// @inheritdoc IUsageGame
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        Dispute storage d = _inPhase(disputeId, Phase.Voting);
        if (block.timestamp >= d.revealStartsAt) revert CommitClosed(disputeId);
        Vote storage v = _seat(disputeId, d.round);
        if (v.commitment != bytes32(0)) revert AlreadyCommitted(disputeId, msg.sender);
        v.commitment = commitment;
        if (++_commits[disputeId] == d.seats) {
            // Every seat committed: the reveal opens at once, keeping its full length.
            d.revealStartsAt = uint40(block.timestamp);
            d.deadline = uint40(block.timestamp) + _params.revealTime;
        }
        emit VoteCommitted(disputeId, d.round, msg.sender);
    }

    /// @inheritdoc IUsageGame
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
        emit VoteRevealed(disputeId, round, msg.sender, verdict, witness);
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc IUsageGame
    function settle(uint256 disputeId) external {
        Dispute storage d = _inPhase(disputeId, Phase.Voting);
        address[] memory members = _committee[disputeId];
        (bytes32[] memory keys, uint256 seat, bool decided) = _count(disputeId, d, members);
        (bool[] memory shown, bool[] memory coherent) = CommitteeVotes.masks(keys, decided ? keys[seat] : bytes32(0));
        // Not revealing always costs; revealing costs only against a deciding majority.
        uint128 pot = d.pot;
        uint256 count;
        for (uint256 i = 0; i < members.length; ++i) {
            if (coherent[i]) ++count;
            else if (!shown[i] || decided) pot += _penalise(disputeId, members[i]);
        }
        d.pot = pot;
        _pool.release(members);
        if (!decided) return _redraw(disputeId, d);
        bool providerWins = _votes[disputeId][d.round][members[seat]].verdict == d.claimed;
        _decide(disputeId, d, providerWins, Outcome.CommitteeVerdict, count, coherent);
    }

    /// @inheritdoc IUsageGame
    function scheduleEmergency(uint256 disputeId, bool providerWins) external {
        if (msg.sender != _emergencyAccount) revert NotEmergency(msg.sender);
        if (!_stuck(_existing(disputeId))) revert NotStuck(disputeId);
        uint40 executableAt = uint40(block.timestamp) + _params.emergencyDelay;
        _emergency[disputeId] = Emergency({executableAt: executableAt, providerWins: providerWins});
        emit EmergencyScheduled(disputeId, providerWins, executableAt);
    }

    /// @inheritdoc IUsageGame
    function executeEmergency(uint256 disputeId) external {
        Dispute storage d = _existing(disputeId);
        if (!_stuck(d)) revert NotStuck(disputeId);
        Emergency memory e = _emergency[disputeId];
        if (e.executableAt == 0) revert EmergencyNotScheduled(disputeId);
        if (block.timestamp < e.executableAt) revert EmergencyTimelocked(disputeId, e.executableAt);
        _decide(disputeId, d, e.providerWins, Outcome.Emergency, 0, new bool[](0));
    }

    /// @inheritdoc IUsageGame
    function transferEmergency(address to) external {
        if (msg.sender != _emergencyAccount) revert NotEmergency(msg.sender);
        _pendingEmergency = to;
        emit EmergencyTransferStarted(msg.sender, to);
    }

    /// @inheritdoc IUsageGame
    function acceptEmergency() external {
        if (msg.sender != _pendingEmergency) revert NotEmergency(msg.sender);
        emit EmergencyTransferred(_emergencyAccount, msg.sender);
        _emergencyAccount = msg.sender;
        _pendingEmergency = address(0);
    }

    /// @inheritdoc IUsageGame
    function withdraw() external returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IUsageGame
    function expectedVerdict(uint256 epochId) external view returns (bytes32) {
        return _expectedVerdict(epochId);
    }

    /// @inheritdoc IUsageGame
    function isDrawnVerifier(uint256 epochId, address verifier) external view returns (bool) {
        uint256 disputeId = _latest[epochId];
        if (disputeId == 0 || _disputes[disputeId].phase != Phase.Voting) return false;
        address[] storage members = _committee[disputeId];
        for (uint256 i = 0; i < members.length; ++i) {
            if (members[i] == verifier) return true;
        }
        return false;
    }

    /// @inheritdoc IUsageGame
    function disputeOf(uint256 epochId) external view returns (uint256) {
        return _latest[epochId];
    }

    /// @inheritdoc IUsageGame
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _existing(disputeId);
    }

    /// @inheritdoc IUsageGame
    function committeeOf(uint256 disputeId) external view returns (address[] memory) {
        return _committee[disputeId];
    }

    /// @inheritdoc IUsageGame
    function withdrawable(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IUsageGame
    function disputeCount() external view returns (uint256) {
        return _disputeCount;
    }

    /// @inheritdoc IUsageGame
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @inheritdoc IUsageGame
    function emergency() external view returns (address) {
        return _emergencyAccount;
    }

    /// @inheritdoc IUsageGame
    function verifierPool() external view returns (address) {
        return address(_pool);
    }

    /// @inheritdoc IUsageGame
    function usageEpochs() external view returns (address) {
        return address(_usage);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Moves the loser's funds and ends the dispute. The `mask`ed (coherent) verifiers share their fees and the
    /// pot; without a coherent verifier the pot goes to the winner.
    function _decide(
        uint256 disputeId,
        Dispute storage d,
        bool providerWins,
        Outcome outcome,
        uint256 coherent,
        bool[] memory mask
    ) private {
        uint256 fees = coherent * _params.verifierFee;
        uint256 verifierPay;
        address winner;
        uint256 prize;
        if (providerWins) {
            uint256 bond = d.bond;
            verifierPay = fees < bond ? fees : bond;
            (winner, prize) = (d.provider, bond - verifierPay);
            _usage.resolveChallenge(d.epochId, true);
        } else {
            // the epoch is voided and the provider's bond comes here
            uint256 forfeited = _usage.resolveChallenge(d.epochId, false);
            verifierPay = fees < forfeited ? fees : forfeited;
            (winner, prize) = (d.challenger, uint256(d.bond) + forfeited - verifierPay);
        }
        uint256 pot = d.pot;
        if (coherent == 0) prize += pot;
        _credit(winner, prize);
        if (coherent != 0) _payCoherent(disputeId, verifierPay + pot, coherent, mask);
        d.phase = Phase.Settled;
        d.outcome = outcome;
        d.providerWon = providerWins;
        d.deadline = 0;
        d.pot = 0;
        emit DisputeSettled(disputeId, d.epochId, providerWins, outcome);
    }

    /// @dev The round's revealed keys (zero: not revealed), the seat of the most held one, and whether it decides
    /// (more than half the seats, two thirds revealed); reverts while the vote is still open.
    function _count(uint256 disputeId, Dispute storage d, address[] memory members)
        private
        view
        returns (bytes32[] memory keys, uint256 seat, bool decided)
    {
        uint256 n = members.length;
        keys = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            Vote storage v = _votes[disputeId][d.round][members[i]];
            if (v.revealed) keys[i] = v.key;
        }
        uint256 best;
        uint256 revealed;
        (seat, best, revealed) = CommitteeVotes.majority(keys);
        if (revealed < n && block.timestamp < d.deadline) revert VotingNotOver(disputeId);
        decided = best * 2 > n && revealed * 3 >= n * 2;
    }

    /// @dev Shares `amount` equally among the deciding round's coherent verifiers (`mask`, by seat; the first takes
    /// the rounding remainder).
    function _payCoherent(uint256 disputeId, uint256 amount, uint256 coherent, bool[] memory mask) private {
        uint256 each = amount / coherent;
        uint256 dust = amount - each * coherent;
        address[] storage members = _committee[disputeId];
        for (uint256 i = 0; i < members.length; ++i) {
            if (!mask[i]) continue;
            _credit(members[i], each + dust);
            emit VerifierPaid(disputeId, members[i], each + dust);
            dust = 0;
        }
    }

    /// @dev No verdict: a committee of 2n + 1 is drawn from a new future block, or the dispute is stuck.
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

    function _penalise(uint256 disputeId, address verifier) private returns (uint128 taken) {
        taken = _pool.penalise(verifier, _params.verifierPenalty);
        if (taken != 0) emit VerifierPenalised(disputeId, verifier, taken);
    }

    /// @dev Stuck: the committee split after the last redraw, or too few eligible verifiers are staked to draw one.
    function _stuck(Dispute storage d) private view returns (bool) {
        if (d.phase == Phase.Stuck) return true;
        return d.phase == Phase.AwaitingDraw && _pool.eligibleCount(_parties(d)) < d.seats;
    }

    /// @dev Who may not sit on the committee: the provider and the challenger.
    function _parties(Dispute storage d) private view returns (address[] memory parties) {
        parties = new address[](2);
        (parties[0], parties[1]) = (d.provider, d.challenger);
    }

    function _expectedVerdict(uint256 epochId) private view returns (bytes32) {
        IUsageEpochs.Epoch memory e = _usage.getEpoch(epochId);
        return keccak256(abi.encode(e.recordsRoot, e.claimsRoot, e.citedRevenue));
    }

    function _credit(address account, uint256 amount) private {
        if (amount != 0) _withdrawable[account] += amount;
    }

    function _seat(uint256 disputeId, uint8 round) private view returns (Vote storage) {
        address[] storage members = _committee[disputeId];
        for (uint256 i = 0; i < members.length; ++i) {
            if (members[i] == msg.sender) return _votes[disputeId][round][msg.sender];
        }
        revert NotOnCommittee(disputeId, msg.sender);
    }

    function _inPhase(uint256 disputeId, Phase phase) private view returns (Dispute storage d) {
        d = _existing(disputeId);
        if (d.phase != phase) revert WrongPhase(disputeId, d.phase);
    }

    function _existing(uint256 disputeId) private view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.phase == Phase.None) revert DisputeNotFound(disputeId);
    }
}
