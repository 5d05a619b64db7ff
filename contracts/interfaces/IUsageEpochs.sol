// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IUsageEpochs
/// @notice Use pays, per request. PaymentChannels is wired to this contract as its revenue sink (it calls
/// {depositRevenue} on every voucher redemption), so the revenue of served requests is held here until the
/// serving node accounts for it in a usage epoch:
/// - The node (the channels' provider) commits an epoch for one model: for each of its channels the
///   cumulative amount its records reach (`toCumulative`, at most what PaymentChannels shows redeemed), the
///   revenue of the requests that cited training data (`citedRevenue`), the root of its per-request records
///   (voucher reference, revenue, completion hash, citations: revealed to verifiers if challenged) and the
///   root of the contributors' claims (`keccak256(bytes.concat(keccak256(abi.encode(account, amount))))`).
///   The epoch's revenue is read from the chain (`toCumulative - accounted` per channel), never the node's
///   word, and a channel range is accounted once.
/// - After a challenge window the epoch is finalised: the uncited revenue goes to the RewardDistributor
///   (owner, trainer, protocol and contributors by training-time influence); of the cited revenue the owner,
///   trainer and protocol get their basis points directly and the contributors' part is the epoch's claim
///   pool, split off-chain by what each request cited.
/// - The provider puts up `providerBond` with each commit (back at finalisation). Within the window anyone but the
///   provider challenges the epoch through the usage game ({IUsageGame}): a committee of staked verifiers, drawn
///   from the {IVerifierPool}, recomputes the epoch from the records the provider serves it. Upheld: the epoch is
///   claimable at once. Voided: all its held revenue goes to the RewardDistributor (training-time influence) and
///   the provider's bond to the game, which pays the verifiers and the challenger. Only the game challenges and
///   resolves; no admin does.
/// - Contributors claim many epochs (of any models) in one transaction.
/// Holding is per model, switched on once by its owner ({enableUsageEpochs}); until then voucher revenue goes
/// straight to the RewardDistributor (as released revenue: an epoch may still account it, uncited).
/// Held revenue nobody commits is released to the RewardDistributor after `releaseDelay`.
/// Escrow: the token balance always equals {liabilities}.
interface IUsageEpochs {
    enum Status {
        None,
        Committed,
        Challenged,
        Finalized,
        Voided
    }

    /// @notice How far one channel's records reach in an epoch.
    struct ChannelRange {
        bytes32 channelId;
        uint256 toCumulative;
    }

    /// @notice One committed epoch of one model by one provider.
    struct Epoch {
        uint256 modelId;
        address provider;
        uint40 committedAt;
        uint40 claimableAt;
        Status status;
        address challenger;
        uint128 revenue;
        uint128 heldRevenue;
        uint128 citedRevenue;
        uint128 pool;
        uint128 claimed;
        uint128 bond;
        uint32 requests;
        bytes32 recordsRoot;
        bytes32 claimsRoot;
    }

    /// @notice One epoch's claim of an account: the leaf amount and its proof.
    struct Claim {
        uint256 epochId;
        uint256 amount;
        bytes32[] proof;
    }

    event RevenueHeld(uint256 indexed modelId, address indexed from, uint256 amount, uint256 held);
    event RevenueForwarded(uint256 indexed modelId, uint256 amount);
    event RevenueReleased(uint256 indexed modelId, address indexed caller, uint256 amount);
    event ChannelAccounted(
        uint256 indexed epochId, bytes32 indexed channelId, uint256 fromCumulative, uint256 toCumulative
    );
    event EpochCommitted(
        uint256 indexed epochId,
        uint256 indexed modelId,
        address indexed provider,
        uint256 revenue,
        uint256 citedRevenue,
        uint32 requests,
        bytes32 recordsRoot,
        bytes32 claimsRoot,
        uint40 claimableAt,
        string reportCID
    );
    event EpochChallenged(uint256 indexed epochId, address indexed challenger, uint256 bond, string reasonCID);
    event EpochResolved(uint256 indexed epochId, bool upheld);
    event EpochFinalized(
        uint256 indexed epochId,
        uint256 pool,
        uint256 ownerAmount,
        uint256 trainerAmount,
        uint256 protocolAmount,
        uint256 forwarded
    );
    event UsageClaimed(uint256 indexed epochId, uint256 indexed modelId, address indexed account, uint256 amount);
    event UsageEpochsEnabled(uint256 indexed modelId, address indexed owner);
    event ParamsUpdated(uint40 challengeWindow, uint40 releaseDelay, uint128 providerBond);
    event UsageGameSet(address game);

    error ZeroAddress();
    error ChannelsAlreadySet();
    error GameAlreadySet();
    error NotUsageGame(address account);
    error ProviderCannotChallenge(uint256 epochId);
    error ModelNotRegistered(uint256 modelId);
    error EmptyEpoch();
    error TooManyChannels(uint256 count, uint256 max);
    error WrongChannel(bytes32 channelId, address provider, uint256 modelId);
    error BeyondRedeemed(bytes32 channelId, uint256 toCumulative, uint256 redeemed);
    error AlreadyAccounted(bytes32 channelId, uint256 toCumulative, uint256 accounted);
    error CitedExceedsHeld(uint256 citedRevenue, uint256 heldRevenue);
    error RevenueNotHeld(uint256 modelId, uint256 revenue, uint256 held, uint256 releasedCredit);
    error MissingRoot();
    error EpochNotFound(uint256 epochId);
    error WrongStatus(uint256 epochId, Status status);
    error ChallengeWindowOver(uint256 epochId, uint40 claimableAt);
    error ChallengeWindowOpen(uint256 epochId, uint40 claimableAt);
    error NotClaimable(uint256 epochId, Status status);
    error AlreadyClaimed(uint256 epochId, address account);
    error InvalidProof(uint256 epochId, address account, uint256 amount);
    error ClaimExceedsPool(uint256 epochId, uint256 amount, uint256 left);
    error NothingToClaim(address account);
    error BatchTooLarge(uint256 count, uint256 max);
    error NothingHeld(uint256 modelId);
    error ReleaseNotDue(uint256 modelId, uint40 releasableAt);
    error InvalidParams();
    error NotModelOwner(uint256 modelId, address account);
    error AlreadyEnabled(uint256 modelId);

    /// @notice PaymentChannels' revenue sink: holds the channels contract's deposits, forwards any other.
    function depositRevenue(uint256 modelId, uint256 amount) external;

    /// @notice The model's owner switches usage epochs on for it (once, for good): voucher revenue is held.
    function enableUsageEpochs(uint256 modelId) external;

    function usageEpochsEnabled(uint256 modelId) external view returns (bool);

    /// @notice Whether the model can take revenue (asked of the RewardDistributor).
    function isRegistered(uint256 modelId) external view returns (bool);

    /// @notice Commits a usage epoch for `modelId`; the caller must be the provider of every channel. Pulls the
    /// provider bond (returned when the epoch is finalised).
    function commitEpoch(
        uint256 modelId,
        ChannelRange[] calldata ranges,
        uint256 citedRevenue,
        uint32 requests,
        bytes32 recordsRoot,
        bytes32 claimsRoot,
        string calldata reportCID
    ) external returns (uint256 epochId);

    /// @notice The usage game marks an epoch challenged by `challenger` (within the window; never its provider),
    /// which holds `bond` for it; returns the provider.
    function challengeEpoch(uint256 epochId, address challenger, uint256 bond, string calldata reasonCID)
        external
        returns (address provider);

    /// @notice The usage game's verdict: `upheld` makes the epoch claimable at once (the provider's bond back at
    /// finalisation); otherwise it is voided: all its held revenue to the RewardDistributor, the provider's bond
    /// to the game (returned as `providerBond`).
    function resolveChallenge(uint256 epochId, bool upheld) external returns (uint256 providerBond);

    /// @notice Names the usage game (once, by the admin: it is deployed after this contract).
    function setUsageGame(address game) external;

    function usageGame() external view returns (address);

    /// @notice After the window: pays the cited revenue's owner/trainer/protocol parts, forwards the uncited
    /// revenue and opens the claim pool. Anyone may call it; claims call it when needed.
    function finalizeEpoch(uint256 epochId) external;

    /// @notice Claims `account`'s amounts in many epochs (any models) in one transfer.
    function claim(address account, Claim[] calldata claims) external returns (uint256 amount);

    /// @notice Forwards a model's held revenue to the RewardDistributor once nobody committed it for `releaseDelay`.
    function releaseHeld(uint256 modelId) external;

    /// @notice Challenge window, release delay and provider bond for later commits (admin).
    function setParams(uint40 challengeWindow, uint40 releaseDelay, uint128 providerBond) external;

    function getEpoch(uint256 epochId) external view returns (Epoch memory);
    function epochCount() external view returns (uint256);
    function accounted(bytes32 channelId) external view returns (uint256);
    function held(uint256 modelId) external view returns (uint256);
    function releasedCredit(uint256 modelId) external view returns (uint256);
    function isClaimed(uint256 epochId, address account) external view returns (bool);
    /// @notice What the contract owes: held revenue, unfinalised epochs' held revenue, open pools, bonds.
    function liabilities() external view returns (uint256);
}
