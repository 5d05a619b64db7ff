// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";

/// @title PaymentChannels
/// @notice See {IPaymentChannels}. The token balance always equals the sum of `deposit - redeemed`.
contract PaymentChannels is IPaymentChannels, EIP712, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount,uint32 epoch)");

    IERC20 private immutable _token;
    IRewardDistributor private immutable _rewards;
    uint40 private _closeTimeout;
    mapping(bytes32 channelId => Channel channel) private _channels;

    /// @param token The OPEN token.
    /// @param rewards The reward distributor that receives redeemed revenue.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE`.
    /// @param closeTimeout_ Seconds between a withdrawal request (or key revocation) and its effect.
    constructor(IERC20 token, IRewardDistributor rewards, address admin, uint40 closeTimeout_)
        EIP712("Tributary PaymentChannels", "1")
    {
        if (address(token) == address(0) || address(rewards) == address(0)) revert ZeroAddress();
        if (closeTimeout_ == 0) revert ZeroTimeout();
        _token = token;
        _rewards = rewards;
        _closeTimeout = closeTimeout_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token.forceApprove(address(rewards), type(uint256).max);
    }

    /// @inheritdoc IPaymentChannels
    function openChannel(
        address provider,
        uint256 modelId,
        uint256 amount,
        address sessionKey,
        uint40 sessionKeyExpiresAt
    ) external returns (bytes32 channelId) {
        if (provider == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (amount > type(uint128).max) revert AmountTooLarge(amount);
        if (modelId > type(uint96).max || !_rewards.isRegistered(modelId)) revert UnknownModel(modelId);
        if (sessionKey == address(0)) {
            sessionKeyExpiresAt = 0;
        } else if (sessionKeyExpiresAt <= block.timestamp) {
            revert InvalidSessionKeyExpiry(sessionKeyExpiresAt);
        }
        channelId = channelIdOf(msg.sender, provider, modelId);
        Channel storage c = _channels[channelId];
        if (c.payer != address(0)) revert ChannelExists(channelId);
        c.payer = msg.sender;
        c.provider = provider;
        c.modelId = uint96(modelId);
        c.sessionKey = sessionKey;
        c.sessionKeyExpiresAt = sessionKeyExpiresAt;
        c.deposit = uint128(amount);
        emit ChannelOpened(channelId, msg.sender, provider, modelId, amount, sessionKey, sessionKeyExpiresAt);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(bytes32 channelId, uint256 amount) external {
        Channel storage c = _payerChannel(channelId);
        if (amount == 0) revert ZeroAmount();
        uint256 deposit = c.deposit + amount;
        if (deposit > type(uint128).max) revert AmountTooLarge(deposit);
        c.deposit = uint128(deposit);
        c.withdrawableAt = 0;
        emit ChannelToppedUp(channelId, amount, deposit);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPaymentChannels
    function setSessionKey(bytes32 channelId, address sessionKey, uint40 expiresAt) external {
        Channel storage c = _payerChannel(channelId);
        if (sessionKey == address(0)) revert ZeroAddress();
        if (expiresAt <= block.timestamp) revert InvalidSessionKeyExpiry(expiresAt);
        address old = c.sessionKey;
        uint40 oldExpiry = c.sessionKeyExpiresAt;
        // Review finding 5: a replaced key keeps the grace a revoked one has.
        if (old != address(0) && old != sessionKey && block.timestamp <= oldExpiry) {
            uint40 pending = c.previousKeyValidUntil;
            if (block.timestamp <= pending) revert KeyRotationPending(channelId, pending);
            uint40 graceEnd = uint40(block.timestamp) + _closeTimeout;
            uint40 validUntil = oldExpiry < graceEnd ? oldExpiry : graceEnd;
            c.previousKey = old;
            c.previousKeyValidUntil = validUntil;
            emit SessionKeyRevoked(channelId, old, validUntil);
        }
        c.sessionKey = sessionKey;
        c.sessionKeyExpiresAt = expiresAt;
        emit SessionKeySet(channelId, sessionKey, expiresAt);
    }

    /// @inheritdoc IPaymentChannels
    function revokeSessionKey(bytes32 channelId) external {
        Channel storage c = _payerChannel(channelId);
        address key = c.sessionKey;
        if (key == address(0)) revert NoSessionKey(channelId);
        uint40 graceEnd = uint40(block.timestamp) + _closeTimeout;
        uint40 validUntil = c.sessionKeyExpiresAt < graceEnd ? c.sessionKeyExpiresAt : graceEnd;
        c.sessionKeyExpiresAt = validUntil;
        emit SessionKeyRevoked(channelId, key, validUntil);
    }

    /// @inheritdoc IPaymentChannels
    function redeemVoucher(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature)
        external
        returns (uint256 amount)
    {
        Channel storage c = _channels[channelId];
        address provider = c.provider;
        if (provider == address(0)) revert ChannelNotFound(channelId);
        if (provider != msg.sender) revert NotProvider(channelId, msg.sender);
        address signer = ECDSA.recover(voucherDigest(channelId, cumulativeAmount, c.epoch), signature);
        if (
            signer != c.payer && (signer != c.sessionKey || block.timestamp > c.sessionKeyExpiresAt)
                && (signer != c.previousKey || block.timestamp > c.previousKeyValidUntil)
        ) revert InvalidSigner(channelId, signer);
        uint128 deposit = c.deposit;
        uint128 redeemed = c.redeemed;
        uint256 capped = cumulativeAmount < deposit ? cumulativeAmount : deposit;
        if (capped <= redeemed) revert NothingToRedeem(channelId, cumulativeAmount, deposit, redeemed);
        amount = capped - redeemed;
        c.redeemed = uint128(capped);
        uint256 modelId = c.modelId;
        emit VoucherRedeemed(channelId, modelId, signer, cumulativeAmount, amount);
        _rewards.depositRevenue(modelId, amount);
    }

    /// @inheritdoc IPaymentChannels
    function requestWithdrawal(bytes32 channelId) external {
        Channel storage c = _payerChannel(channelId);
        uint40 withdrawableAt = uint40(block.timestamp) + _closeTimeout;
        c.withdrawableAt = withdrawableAt;
        emit WithdrawalRequested(channelId, msg.sender, withdrawableAt);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(bytes32 channelId) external returns (uint256 amount) {
        Channel storage c = _payerChannel(channelId);
        uint40 withdrawableAt = c.withdrawableAt;
        if (withdrawableAt == 0) revert WithdrawalNotRequested(channelId);
        if (block.timestamp < withdrawableAt) revert WithdrawalTimeoutActive(channelId, withdrawableAt);
        uint128 redeemed = c.redeemed;
        amount = c.deposit - redeemed;
        if (amount == 0) revert NothingToWithdraw(channelId);
        c.deposit = redeemed;
        c.withdrawableAt = 0;
        // Review finding 5: vouchers signed before the withdrawal must not draw on a later top-up.
        ++c.epoch;
        emit ChannelWithdrawn(channelId, msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPaymentChannels
    function setCloseTimeout(uint40 closeTimeout_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (closeTimeout_ == 0) revert ZeroTimeout();
        _closeTimeout = closeTimeout_;
        emit CloseTimeoutUpdated(closeTimeout_);
    }

    /// @inheritdoc IPaymentChannels
    function getChannel(bytes32 channelId) external view returns (Channel memory c) {
        c = _channels[channelId];
        if (c.payer == address(0)) revert ChannelNotFound(channelId);
    }

    /// @inheritdoc IPaymentChannels
    function channelIdOf(address payer, address provider, uint256 modelId) public pure returns (bytes32) {
        return keccak256(abi.encode(payer, provider, modelId));
    }

    /// @inheritdoc IPaymentChannels
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount, uint32 epoch) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount, epoch)));
    }

    /// @inheritdoc IPaymentChannels
    function closeTimeout() external view returns (uint40) {
        return _closeTimeout;
    }

    function _payerChannel(bytes32 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        address payer = c.payer;
        if (payer == address(0)) revert ChannelNotFound(channelId);
        if (payer != msg.sender) revert NotPayer(channelId, msg.sender);
    }
}
