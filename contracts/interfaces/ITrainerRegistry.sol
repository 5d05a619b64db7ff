// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title ITrainerRegistry
/// @notice Trainer operators stake OPEN to claim jobs. Each claim locks part of the active stake as that job's
/// collateral (`beginJob`); settling the job unlocks it and slashes none, part or all of it (`endJob`), so one
/// stake backs only as many claims as it covers. Unstaking moves free (unlocked) stake into a cooldown; it can
/// be withdrawn after the cooldown. Only locked collateral can be slashed, and only by the job market.
interface ITrainerRegistry {
    /// @notice A trainer's stake.
    /// @param staked Active stake (counts towards `minStake`).
    /// @param unstaking Stake in cooldown (still slashable).
    /// @param unstakeAvailableAt Unix time from which `unstaking` can be withdrawn.
    /// @param activeJobs Jobs claimed and not yet settled.
    /// @param locked Part of `staked` locked as collateral of the active jobs (never more than `staked`).
    struct Trainer {
        uint128 staked;
        uint128 unstaking;
        uint64 unstakeAvailableAt;
        uint32 activeJobs;
        uint128 locked;
    }

    /// @notice `trainer` staked `amount`; its active stake is now `totalStaked`.
    event Staked(address indexed trainer, uint256 amount, uint256 totalStaked);
    /// @notice `trainer` moved `amount` into cooldown; `unstaking` is withdrawable from `availableAt`.
    event UnstakeRequested(address indexed trainer, uint256 amount, uint256 unstaking, uint64 availableAt);
    /// @notice `trainer` withdrew `amount` of cooled-down stake.
    event StakeWithdrawn(address indexed trainer, uint256 amount);
    /// @notice `amount` of `trainer`'s stake was slashed and sent to `slasher`.
    event Slashed(address indexed trainer, address indexed slasher, uint256 amount);
    /// @notice `trainer` published its profile (endpoint, capabilities, hardware) at `profileCID`.
    event ProfileUpdated(address indexed trainer, string profileCID);
    /// @notice `trainer` now holds `activeJobs` claimed jobs whose collateral locks `locked` of its stake.
    event ActiveJobsChanged(address indexed trainer, uint32 activeJobs, uint256 locked);
    /// @notice The stake needed to claim jobs changed.
    event MinStakeUpdated(uint256 minStake);
    /// @notice The unstake cooldown changed.
    event UnstakeCooldownUpdated(uint64 cooldown);

    /// @notice An amount of zero was given.
    error ZeroAmount();
    /// @notice `trainer` has `available` active stake, less than `needed`.
    error InsufficientStake(address trainer, uint256 available, uint256 needed);
    /// @notice Cooled-down stake is withdrawable from `availableAt` only.
    error CooldownActive(address trainer, uint64 availableAt);
    /// @notice `trainer` has no stake in cooldown.
    error NothingToWithdraw(address trainer);
    /// @notice `trainer` has `free` stake not locked as collateral, less than the `needed` amount.
    error InsufficientFreeStake(address trainer, uint256 free, uint256 needed);
    /// @notice A penalty above the job's collateral.
    error PenaltyExceedsCollateral(uint256 penalty, uint256 collateral);
    /// @notice `trainer` holds no claimed job (or less locked collateral than `collateral`) to end.
    error NoActiveJobs(address trainer);
    /// @notice A CID argument was empty.
    error EmptyCID();

    /// @notice Adds `amount` OPEN (approve this contract first) to the caller's active stake.
    function stake(uint256 amount) external;

    /// @notice Publishes the caller's profile CID (endpoint URL, capabilities, supported base models).
    function setProfile(string calldata profileCID) external;

    /// @notice Moves `amount` of free (unlocked) active stake into cooldown, restarting the cooldown for all of
    /// it; reverts with `InsufficientFreeStake` when `amount` exceeds `staked - locked`.
    function requestUnstake(uint256 amount) external;

    /// @notice Withdraws all cooled-down stake to the caller once the cooldown is over. Cooling-down stake is
    /// never collateral, so claimed jobs do not block it.
    /// @return amount The amount withdrawn.
    function withdrawStake() external returns (uint256 amount);

    /// @notice Records that `trainer` claimed a job and locks `collateral` of its stake for it. Reverts with
    /// `InsufficientStake` below `minStake` and with `InsufficientFreeStake` when less than `collateral` of the
    /// stake is unlocked. `JOB_MARKET_ROLE` only.
    function beginJob(address trainer, uint256 collateral) external;

    /// @notice Records that one of `trainer`'s jobs ended: unlocks its `collateral` and slashes `penalty` of
    /// it (0..collateral), sending the slashed OPEN to the caller. `JOB_MARKET_ROLE` only.
    /// @return slashed `penalty` (always fully covered: locked collateral cannot be unstaked).
    function endJob(address trainer, uint256 collateral, uint256 penalty) external returns (uint256 slashed);

    /// @notice Sets the active stake needed to claim a job. `DEFAULT_ADMIN_ROLE` only.
    function setMinStake(uint256 minStake) external;

    /// @notice Sets the unstake cooldown in seconds. `DEFAULT_ADMIN_ROLE` only.
    function setUnstakeCooldown(uint64 cooldown) external;

    /// @notice A trainer's stake record.
    function getTrainer(address trainer) external view returns (Trainer memory);

    /// @notice Whether `trainer`'s active stake is at least `minStake`.
    function isEligible(address trainer) external view returns (bool);

    /// @notice Active stake of `trainer` not locked as collateral: what further claims can lock.
    function freeStakeOf(address trainer) external view returns (uint256);

    /// @notice A trainer's published profile CID ("" if none).
    function profileOf(address trainer) external view returns (string memory);

    /// @notice The active stake needed to claim a job.
    function minStake() external view returns (uint256);

    /// @notice The unstake cooldown in seconds.
    function unstakeCooldown() external view returns (uint64);
}
