// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title ITrainerRegistry
/// @notice Trainer operators stake OPEN to claim jobs. Unstaking moves stake into a cooldown; it can be
/// withdrawn after the cooldown when the trainer holds no claimed job. Stake (active, then cooling down)
/// can be slashed only by the job market.
interface ITrainerRegistry {
    /// @notice A trainer's stake.
    /// @param staked Active stake (counts towards `minStake`).
    /// @param unstaking Stake in cooldown (still slashable).
    /// @param unstakeAvailableAt Unix time from which `unstaking` can be withdrawn.
    /// @param activeJobs Jobs claimed and not yet settled.
    struct Trainer {
        uint128 staked;
        uint128 unstaking;
        uint64 unstakeAvailableAt;
        uint32 activeJobs;
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
    /// @notice `trainer` now holds `activeJobs` claimed jobs.
    event ActiveJobsChanged(address indexed trainer, uint32 activeJobs);
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
    /// @notice `trainer` still holds `activeJobs` claimed jobs.
    error HasActiveJobs(address trainer, uint32 activeJobs);
    /// @notice `trainer` holds no claimed job to end.
    error NoActiveJobs(address trainer);
    /// @notice A CID argument was empty.
    error EmptyCID();

    /// @notice Adds `amount` OPEN (approve this contract first) to the caller's active stake.
    function stake(uint256 amount) external;

    /// @notice Publishes the caller's profile CID (endpoint URL, capabilities, supported base models).
    function setProfile(string calldata profileCID) external;

    /// @notice Moves `amount` of active stake into cooldown, restarting the cooldown for all of it.
    function requestUnstake(uint256 amount) external;

    /// @notice Withdraws all cooled-down stake to the caller. Needs the cooldown over and no active jobs.
    /// @return amount The amount withdrawn.
    function withdrawStake() external returns (uint256 amount);

    /// @notice Slashes up to `amount` of `trainer`'s stake (active first, then cooling down) and sends it
    /// to the caller. `JOB_MARKET_ROLE` only.
    /// @return slashed The amount actually slashed (less than `amount` when the stake is smaller).
    function slash(address trainer, uint256 amount) external returns (uint256 slashed);

    /// @notice Records that `trainer` claimed a job; reverts with `InsufficientStake` below `minStake`.
    /// `JOB_MARKET_ROLE` only.
    function beginJob(address trainer) external;

    /// @notice Records that one of `trainer`'s jobs ended. `JOB_MARKET_ROLE` only.
    function endJob(address trainer) external;

    /// @notice Sets the active stake needed to claim a job. `DEFAULT_ADMIN_ROLE` only.
    function setMinStake(uint256 minStake) external;

    /// @notice Sets the unstake cooldown in seconds. `DEFAULT_ADMIN_ROLE` only.
    function setUnstakeCooldown(uint64 cooldown) external;

    /// @notice A trainer's stake record.
    function getTrainer(address trainer) external view returns (Trainer memory);

    /// @notice Whether `trainer`'s active stake is at least `minStake`.
    function isEligible(address trainer) external view returns (bool);

    /// @notice A trainer's published profile CID ("" if none).
    function profileOf(address trainer) external view returns (string memory);

    /// @notice The active stake needed to claim a job.
    function minStake() external view returns (uint256);

    /// @notice The unstake cooldown in seconds.
    function unstakeCooldown() external view returns (uint64);
}
