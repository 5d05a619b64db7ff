// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITrainerRegistry} from "../interfaces/ITrainerRegistry.sol";

/// @title TrainerRegistry
/// @notice See {ITrainerRegistry}. The token balance always equals the sum of `staked + unstaking`, and every
/// trainer's `locked <= staked`.
contract TrainerRegistry is ITrainerRegistry, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the job market: begins and ends jobs, locking, unlocking and slashing their collateral.
    bytes32 public constant JOB_MARKET_ROLE = keccak256("JOB_MARKET_ROLE");

    IERC20 private immutable _token;
    uint256 private _minStake;
    uint64 private _unstakeCooldown;
    mapping(address trainer => Trainer record) private _trainers;
    mapping(address trainer => string profileCID) private _profiles;

    /// @param token The OPEN token.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE`.
    /// @param minStake_ Active stake needed to claim a job.
    /// @param unstakeCooldown_ Seconds between an unstake request and the withdrawal.
    constructor(IERC20 token, address admin, uint256 minStake_, uint64 unstakeCooldown_) {
        _token = token;
        _minStake = minStake_;
        _unstakeCooldown = unstakeCooldown_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ITrainerRegistry
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Trainer storage t = _trainers[msg.sender];
        uint128 total = t.staked + SafeCast.toUint128(amount);
        t.staked = total;
        emit Staked(msg.sender, amount, total);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ITrainerRegistry
    function setProfile(string calldata profileCID) external {
        if (bytes(profileCID).length == 0) revert EmptyCID();
        _profiles[msg.sender] = profileCID;
        emit ProfileUpdated(msg.sender, profileCID);
    }

    /// @inheritdoc ITrainerRegistry
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Trainer storage t = _trainers[msg.sender];
        uint128 staked = t.staked;
        uint256 free = staked - t.locked;
        if (amount > free) revert InsufficientFreeStake(msg.sender, free, amount);
        uint128 unstaking = t.unstaking + uint128(amount);
        uint64 availableAt = uint64(block.timestamp) + _unstakeCooldown;
        t.staked = staked - uint128(amount);
        t.unstaking = unstaking;
        t.unstakeAvailableAt = availableAt;
        emit UnstakeRequested(msg.sender, amount, unstaking, availableAt);
    }

    /// @inheritdoc ITrainerRegistry
    function withdrawStake() external returns (uint256 amount) {
        Trainer storage t = _trainers[msg.sender];
        amount = t.unstaking;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (block.timestamp < t.unstakeAvailableAt) revert CooldownActive(msg.sender, t.unstakeAvailableAt);
        t.unstaking = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ITrainerRegistry
    function beginJob(address trainer, uint256 collateral) external onlyRole(JOB_MARKET_ROLE) {
        Trainer storage t = _trainers[trainer];
        uint128 staked = t.staked;
        if (staked < _minStake) revert InsufficientStake(trainer, staked, _minStake);
        uint256 free = staked - t.locked;
        if (collateral > free) revert InsufficientFreeStake(trainer, free, collateral);
        uint128 locked = t.locked + uint128(collateral); // <= staked
        uint32 active = t.activeJobs + 1;
        t.locked = locked;
        t.activeJobs = active;
        emit ActiveJobsChanged(trainer, active, locked);
    }

    /// @inheritdoc ITrainerRegistry
    function endJob(address trainer, uint256 collateral, uint256 penalty)
        external
        onlyRole(JOB_MARKET_ROLE)
        returns (uint256 slashed)
    {
        if (penalty > collateral) revert PenaltyExceedsCollateral(penalty, collateral);
        Trainer storage t = _trainers[trainer];
        uint32 active = t.activeJobs;
        uint128 locked = t.locked;
        if (active == 0 || collateral > locked) revert NoActiveJobs(trainer);
        unchecked {
            --active;
            locked -= uint128(collateral);
        }
        t.activeJobs = active;
        t.locked = locked;
        emit ActiveJobsChanged(trainer, active, locked);
        if (penalty == 0) return 0;
        // locked <= staked before, so penalty <= collateral <= staked.
        t.staked -= uint128(penalty);
        emit Slashed(trainer, msg.sender, penalty);
        _token.safeTransfer(msg.sender, penalty);
        return penalty;
    }

    /// @inheritdoc ITrainerRegistry
    function setMinStake(uint256 minStake_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _minStake = minStake_;
        emit MinStakeUpdated(minStake_);
    }

    /// @inheritdoc ITrainerRegistry
    function setUnstakeCooldown(uint64 cooldown) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unstakeCooldown = cooldown;
        emit UnstakeCooldownUpdated(cooldown);
    }

    /// @inheritdoc ITrainerRegistry
    function getTrainer(address trainer) external view returns (Trainer memory) {
        return _trainers[trainer];
    }

    /// @inheritdoc ITrainerRegistry
    function isEligible(address trainer) external view returns (bool) {
        return _trainers[trainer].staked >= _minStake;
    }

    /// @inheritdoc ITrainerRegistry
    function freeStakeOf(address trainer) external view returns (uint256) {
        Trainer storage t = _trainers[trainer];
        return t.staked - t.locked;
    }

    /// @inheritdoc ITrainerRegistry
    function profileOf(address trainer) external view returns (string memory) {
        return _profiles[trainer];
    }

    /// @inheritdoc ITrainerRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc ITrainerRegistry
    function unstakeCooldown() external view returns (uint64) {
        return _unstakeCooldown;
    }
}
