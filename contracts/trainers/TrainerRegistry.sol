// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITrainerRegistry} from "../interfaces/ITrainerRegistry.sol";

/// @title TrainerRegistry
/// @notice See {ITrainerRegistry}. The token balance always equals the sum of `staked + unstaking`.
contract TrainerRegistry is ITrainerRegistry, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the job market: slashes, begins and ends jobs.
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
        if (amount > staked) revert InsufficientStake(msg.sender, staked, amount);
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
        if (t.activeJobs != 0) revert HasActiveJobs(msg.sender, t.activeJobs);
        t.unstaking = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ITrainerRegistry
    function slash(address trainer, uint256 amount) external onlyRole(JOB_MARKET_ROLE) returns (uint256 slashed) {
        Trainer storage t = _trainers[trainer];
        uint128 staked = t.staked;
        uint128 unstaking = t.unstaking;
        uint256 available = uint256(staked) + unstaking;
        slashed = amount < available ? amount : available;
        if (slashed == 0) return 0;
        if (slashed <= staked) {
            t.staked = staked - uint128(slashed);
        } else {
            t.staked = 0;
            t.unstaking = uint128(available - slashed);
        }
        emit Slashed(trainer, msg.sender, slashed);
        _token.safeTransfer(msg.sender, slashed);
    }

    /// @inheritdoc ITrainerRegistry
    function beginJob(address trainer) external onlyRole(JOB_MARKET_ROLE) {
        Trainer storage t = _trainers[trainer];
        if (t.staked < _minStake) revert InsufficientStake(trainer, t.staked, _minStake);
        uint32 active = t.activeJobs + 1;
        t.activeJobs = active;
        emit ActiveJobsChanged(trainer, active);
    }

    /// @inheritdoc ITrainerRegistry
    function endJob(address trainer) external onlyRole(JOB_MARKET_ROLE) {
        Trainer storage t = _trainers[trainer];
        uint32 active = t.activeJobs;
        if (active == 0) revert NoActiveJobs(trainer);
        unchecked {
            --active;
        }
        t.activeJobs = active;
        emit ActiveJobsChanged(trainer, active);
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
