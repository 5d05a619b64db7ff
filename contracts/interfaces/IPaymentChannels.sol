// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IPaymentChannels
/// @notice Unidirectional OPEN payment channels payer -> provider, one per (payer, provider, model), id
/// `keccak256(abi.encode(payer, provider, modelId))`. The payer signs EIP-712 vouchers
/// `Voucher(bytes32 channelId,uint256 cumulativeAmount)` (domain name "Tributary PaymentChannels",
/// version "1") with a growing cumulative amount; the provider redeems the latest, and
/// `min(cumulativeAmount, deposit) - redeemed` moves to the `RewardDistributor` as the model's revenue.
/// The payer may delegate voucher signing to a session key (an app's hot key) until an expiry; the deposit
/// bounds what any key can spend. Revoking a key, or asking to withdraw, takes effect after `closeTimeout`
/// so the provider can still redeem what it was signed. A channel is never deleted: after a withdrawal it
/// can be topped up again and cumulative amounts carry on.
interface IPaymentChannels {
    /// @notice A channel.
    /// @param payer Funds the channel and signs vouchers.
    /// @param withdrawableAt When the payer may withdraw (0 when no withdrawal was requested).
    /// @param provider Redeems vouchers (the serving trainer node).
    /// @param modelId Model version whose revenue the channel pays.
    /// @param sessionKey Key that may sign vouchers besides the payer (zero for none).
    /// @param sessionKeyExpiresAt Last second at which vouchers signed by `sessionKey` are accepted.
    /// @param deposit Total deposited minus total withdrawn.
    /// @param redeemed Cumulative amount redeemed.
    struct Channel {
        address payer;
        uint40 withdrawableAt;
        address provider;
        uint96 modelId;
        address sessionKey;
        uint40 sessionKeyExpiresAt;
        uint128 deposit;
        uint128 redeemed;
        address previousKey;
        uint40 previousKeyValidUntil;
        uint32 epoch;
    }

    /// @notice A channel was opened with `amount` deposited.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed payer,
        address indexed provider,
        uint256 modelId,
        uint256 amount,
        address sessionKey,
        uint40 sessionKeyExpiresAt
    );
    /// @notice The payer added `amount`; the deposit is now `deposit`. Any pending withdrawal is cancelled.
    event ChannelToppedUp(bytes32 indexed channelId, uint256 amount, uint256 deposit);
    /// @notice The payer delegated voucher signing to `sessionKey` until `expiresAt`.
    event SessionKeySet(bytes32 indexed channelId, address indexed sessionKey, uint40 expiresAt);
    /// @notice The payer revoked `sessionKey`; its vouchers are accepted until `validUntil`.
    event SessionKeyRevoked(bytes32 indexed channelId, address indexed sessionKey, uint40 validUntil);
    /// @notice The provider redeemed a voucher of `cumulativeAmount` signed by `signer`; `amount` went to the
    /// model's revenue.
    event VoucherRedeemed(
        bytes32 indexed channelId,
        uint256 indexed modelId,
        address indexed signer,
        uint256 cumulativeAmount,
        uint256 amount
    );
    /// @notice The payer asked to withdraw; possible from `withdrawableAt`.
    event WithdrawalRequested(bytes32 indexed channelId, address indexed payer, uint40 withdrawableAt);
    /// @notice The payer withdrew the unspent `amount`.
    event ChannelWithdrawn(bytes32 indexed channelId, address indexed payer, uint256 amount);
    /// @notice The close timeout changed.
    event CloseTimeoutUpdated(uint40 closeTimeout);

    /// @notice A channel `channelId` exists already (top it up instead).
    error ChannelExists(bytes32 channelId);
    /// @notice No channel `channelId`.
    error ChannelNotFound(bytes32 channelId);
    /// @notice `account` is not the channel's payer.
    error NotPayer(bytes32 channelId, address account);
    /// @notice `account` is not the channel's provider.
    error NotProvider(bytes32 channelId, address account);
    /// @notice The voucher was signed by `signer`, neither the payer nor a valid session key.
    error InvalidSigner(bytes32 channelId, address signer);
    /// @notice The voucher moves nothing: `cumulativeAmount` capped at `deposit` is not above `redeemed`.
    error NothingToRedeem(bytes32 channelId, uint256 cumulativeAmount, uint256 deposit, uint256 redeemed);
    /// @notice No withdrawal was requested.
    error WithdrawalNotRequested(bytes32 channelId);
    /// @notice The payer may withdraw from `withdrawableAt`.
    error WithdrawalTimeoutActive(bytes32 channelId, uint40 withdrawableAt);
    /// @notice Nothing unspent to withdraw.
    error NothingToWithdraw(bytes32 channelId);
    /// @notice Model `modelId` is not registered in the reward distributor.
    error UnknownModel(uint256 modelId);
    /// @notice The session key expiry `expiresAt` is not in the future.
    error InvalidSessionKeyExpiry(uint40 expiresAt);
    /// @notice No session key is set.
    error NoSessionKey(bytes32 channelId);
    /// @notice An amount of zero was given.
    error ZeroAmount();
    /// @notice An amount above the 128-bit accounting limit.
    error AmountTooLarge(uint256 amount);
    /// @notice A replaced session key is still in its grace until `until`; replace the key again after it.
    error KeyRotationPending(bytes32 channelId, uint40 until);
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();
    /// @notice A timeout of zero.
    error ZeroTimeout();

    /// @notice Opens a channel to `provider` for `modelId` with `amount` OPEN (approve this contract first).
    /// @param sessionKey Optional session key (zero for none).
    /// @param sessionKeyExpiresAt Its expiry (ignored without a key).
    /// @return channelId The channel id.
    function openChannel(
        address provider,
        uint256 modelId,
        uint256 amount,
        address sessionKey,
        uint40 sessionKeyExpiresAt
    ) external returns (bytes32 channelId);

    /// @notice Adds `amount` OPEN to a channel and cancels a pending withdrawal. Payer only.
    function topUp(bytes32 channelId, uint256 amount) external;

    /// @notice Sets (or replaces) the session key. Payer only. A replaced key that is still valid keeps signing
    /// valid vouchers for `closeTimeout` more at most (as after `revokeSessionKey`; `SessionKeyRevoked` reports
    /// until when), so a replacement cannot void vouchers the provider has not redeemed yet. One replaced key is
    /// kept at a time: replacing again before its grace ends reverts with `KeyRotationPending`.
    function setSessionKey(bytes32 channelId, address sessionKey, uint40 expiresAt) external;

    /// @notice Revokes the session key; its vouchers stay valid for `closeTimeout` more at most. Payer only.
    function revokeSessionKey(bytes32 channelId) external;

    /// @notice Redeems a voucher: moves `min(cumulativeAmount, deposit) - redeemed` to the model's revenue.
    /// Provider only.
    /// @param signature 65-byte ECDSA signature of the EIP-712 voucher by the payer or its session key.
    /// @return amount The amount moved.
    function redeemVoucher(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature)
        external
        returns (uint256 amount);

    /// @notice Starts the close timeout after which the payer may withdraw the unspent deposit. Payer only.
    function requestWithdrawal(bytes32 channelId) external;

    /// @notice Withdraws the unspent deposit after the timeout and starts the channel's next voucher epoch (vouchers
    /// signed before no longer redeem). Payer only.
    /// @return amount The amount sent.
    function withdraw(bytes32 channelId) external returns (uint256 amount);

    /// @notice Sets the close timeout in seconds. `DEFAULT_ADMIN_ROLE` only.
    function setCloseTimeout(uint40 closeTimeout) external;

    /// @notice Returns a channel; reverts with `ChannelNotFound` if absent.
    function getChannel(bytes32 channelId) external view returns (Channel memory);

    /// @notice The id of the channel (payer, provider, modelId).
    function channelIdOf(address payer, address provider, uint256 modelId) external pure returns (bytes32);

    /// @notice The EIP-712 digest a voucher signer signs: `Voucher(bytes32 channelId,uint256 cumulativeAmount,uint32
    /// epoch)`. `epoch` is the channel's (`getChannel(channelId).epoch`); `withdraw` bumps it, so a voucher signed
    /// before a withdrawal moves nothing from a later top-up (review finding 5).
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount, uint32 epoch) external view returns (bytes32);

    /// @notice Seconds between a withdrawal request (or key revocation) and its effect.
    function closeTimeout() external view returns (uint40);
}
