// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IVerifierPool
/// @notice The staked verifiers both dispute games draw their committees from: the job game ({IDisputeGame}:
/// replay and eval disputes) and the usage game ({IUsageGame}: usage-epoch disputes). One stake backs a verifier in
/// every game, so each game's committees are drawn from the whole security budget.
///
/// A verifier stakes at least `minStake` (at most `MAX_VERIFIERS` are listed), is drawn stake-weighted without
/// replacement by a game, serves (a duty per seat) and is released when the round ends; a game may take a penalty
/// from its stake (sent to the game, which pays it to the coherent verifiers). Exiting takes `exitDelay` (set
/// longer than a whole dispute) and waits until the verifier serves on no committee. The games are named once, by
/// the deployer, after they are deployed; nothing else is privileged. The token balance always equals the sum of
/// the stakes.
interface IVerifierPool {
    /// @notice A verifier's stake, the seats it serves on now, and when its exit completes (0: not exiting).
    struct Verifier {
        uint128 stake;
        uint32 duties;
        uint40 exitAt;
    }

    event GamesSet(address[] games);
    event VerifierStaked(address indexed verifier, uint256 amount, uint256 stake);
    event VerifierExitRequested(address indexed verifier, uint40 exitAt);
    event VerifierWithdrawn(address indexed verifier, uint256 amount);
    event StakeTaken(address indexed game, address indexed verifier, uint256 amount);

    error ZeroAmount();
    error TooManyVerifiers(uint256 max);
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error VerifierBusy(address verifier, uint32 duties);
    error ExitNotReady(address verifier, uint40 exitAt);
    error NotVerifier(address account);
    error NotEnoughVerifiers(uint256 eligible, uint256 seats);
    error NotGame(address account);
    error NotDeployer(address account);
    error InvalidParams();

    /// @notice Names the games that may draw, release and penalise (once, by the deployer).
    function setGames(address[] calldata games) external;

    /// @notice Adds to the caller's stake (the first stake must reach `minStake`); cancels a pending exit.
    function stake(uint256 amount) external;

    /// @notice Starts the caller's exit: it is no longer drawn, and can withdraw after `exitDelay`.
    function requestExit() external;

    /// @notice Withdraws the caller's whole stake after its exit delay, when it serves on no committee.
    function withdrawStake() external returns (uint256 amount);

    /// @notice A game draws `seats` distinct verifiers, stake-weighted, among those staked at least `minStake`, not
    /// exiting and not in `excluded` (the dispute's parties); each gets a duty until the game releases it.
    function draw(bytes32 seed, uint256 seats, address[] calldata excluded) external returns (address[] memory);

    /// @notice A game releases the duties of a round's members.
    function release(address[] calldata members) external;

    /// @notice A game takes up to `amount` of a verifier's stake (sent to the game); returns what it took.
    function penalise(address verifier, uint128 amount) external returns (uint128 taken);

    /// @notice How many listed verifiers a draw excluding `excluded` could pick.
    function eligibleCount(address[] calldata excluded) external view returns (uint256);

    function getVerifier(address verifier) external view returns (Verifier memory);
    function verifierCount() external view returns (uint256);
    function isGame(address account) external view returns (bool);
    function minStake() external view returns (uint128);
    function exitDelay() external view returns (uint32);
}
