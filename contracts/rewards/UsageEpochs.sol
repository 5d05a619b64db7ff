// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";
import {IUsageEpochs} from "../interfaces/IUsageEpochs.sol";

/// @title UsageEpochs
/// @notice See {IUsageEpochs}. The token balance always equals {liabilities}: held revenue per model, plus the
/// held revenue of committed (or challenged) epochs, plus each finalised epoch's `pool - claimed`, plus the
/// providers' bonds of unfinalised epochs. Challenges are decided by the usage game ({IUsageGame}), not an admin.
contract UsageEpochs is IUsageEpochs, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Most channels one epoch accounts for.
    uint256 public constant MAX_CHANNELS = 64;
    /// @notice Most epochs one `claim` call handles.
    uint256 public constant MAX_BATCH = 64;
    uint256 private constant _BPS = 10_000;

    IERC20 private immutable _token;
    IRewardDistributor private immutable _rewards;
    IERC721 private immutable _models;
    IPaymentChannels private _channels;
    address private _game;

    uint40 private _challengeWindow;
    uint40 private _releaseDelay;
    uint128 private _providerBond;
    uint256 private _epochCount;
    uint256 private _liabilities;

    mapping(uint256 modelId => bool enabled) private _enabled;
    mapping(uint256 modelId => uint256 amount) private _held;
    mapping(uint256 modelId => uint40 since) private _heldSince;
    mapping(uint256 modelId => uint256 amount) private _released;
    mapping(bytes32 channelId => uint256 cumulative) private _accounted;
    mapping(uint256 epochId => Epoch epoch) private _epochs;
    mapping(uint256 epochId => mapping(address account => bool claimed)) private _claimed;

    /// @param token The OPEN token.
    /// @param rewards The reward distributor (split, trainer, treasury; takes the uncited revenue).
    /// @param models The model registry (owners of models).
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (wiring and parameters; it decides no challenge).
    /// @param challengeWindow_ Seconds between an epoch's commit and its claims.
    /// @param releaseDelay_ Seconds held revenue waits for a commit before anyone may release it.
    /// @param providerBond_ OPEN wei a provider puts up per committed epoch.
    constructor(
        IERC20 token,
        IRewardDistributor rewards,
        IERC721 models,
        address admin,
        uint40 challengeWindow_,
        uint40 releaseDelay_,
        uint128 providerBond_
    ) {
        if (address(token) == address(0) || address(rewards) == address(0) || address(models) == address(0)) {
            revert ZeroAddress();
        }
        _token = token;
        _rewards = rewards;
        _models = models;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParams(challengeWindow_, releaseDelay_, providerBond_);
        token.forceApprove(address(rewards), type(uint256).max);
    }

    /// @notice Sets the PaymentChannels contract whose deposits are held (once: it is deployed after this one).
    function setPaymentChannels(IPaymentChannels channels_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(channels_) == address(0)) revert ZeroAddress();
        if (address(_channels) != address(0)) revert ChannelsAlreadySet();
        _channels = channels_;
    }

    /// @inheritdoc IUsageEpochs
    function setUsageGame(address game) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (game == address(0)) revert ZeroAddress();
        if (_game != address(0)) revert GameAlreadySet();
        _game = game;
        emit UsageGameSet(game);
    }

    /// @inheritdoc IUsageEpochs
    function usageGame() external view returns (address) {
        return _game;
    }

    /// @inheritdoc IUsageEpochs
    function depositRevenue(uint256 modelId, uint256 amount) external {
        _token.safeTransferFrom(msg.sender, address(this), amount);
        if (msg.sender != address(_channels)) {
            // anything but voucher revenue goes straight on (the distributor checks model and amount); msg.sender
            // is never zero, so nothing is held before the channels contract is set
            _rewards.depositRevenue(modelId, amount);
            emit RevenueForwarded(modelId, amount);
            return;
        }
        if (!_enabled[modelId]) {
            // a model without usage epochs: straight on, as released (a later epoch may account it, uncited)
            _released[modelId] += amount;
            _rewards.depositRevenue(modelId, amount);
            emit RevenueReleased(modelId, msg.sender, amount);
            return;
        }
        uint256 h = _held[modelId] + amount;
        _held[modelId] = h;
        if (_heldSince[modelId] == 0) _heldSince[modelId] = uint40(block.timestamp);
        _liabilities += amount;
        emit RevenueHeld(modelId, msg.sender, amount, h);
    }

    /// @inheritdoc IUsageEpochs
    function enableUsageEpochs(uint256 modelId) external {
        address owner = _models.ownerOf(modelId);
        if (owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
        if (!_rewards.isRegistered(modelId)) revert ModelNotRegistered(modelId);
        if (_enabled[modelId]) revert AlreadyEnabled(modelId);
        _enabled[modelId] = true;
        emit UsageEpochsEnabled(modelId, msg.sender);
    }

    /// @inheritdoc IUsageEpochs
    function usageEpochsEnabled(uint256 modelId) external view returns (bool) {
        return _enabled[modelId];
    }

    /// @inheritdoc IUsageEpochs
    function isRegistered(uint256 modelId) external view returns (bool) {
        return _rewards.isRegistered(modelId);
    }

    /// @inheritdoc IUsageEpochs
    function commitEpoch(
        uint256 modelId,
        ChannelRange[] calldata ranges,
        uint256 citedRevenue,
        uint32 requests,
        bytes32 recordsRoot,
        bytes32 claimsRoot,
        string calldata reportCID
    ) external returns (uint256 epochId) {
        uint256 n = ranges.length;
        if (n == 0) revert EmptyEpoch();
        if (n > MAX_CHANNELS) revert TooManyChannels(n, MAX_CHANNELS);
        if (recordsRoot == bytes32(0) || (citedRevenue != 0 && claimsRoot == bytes32(0))) revert MissingRoot();
        epochId = ++_epochCount;
        uint256 revenue = _account(epochId, modelId, ranges);
        uint256 heldPart = _take(modelId, revenue, citedRevenue);
        Epoch storage e = _epochs[epochId];
        e.modelId = modelId;
        e.provider = msg.sender;
        e.committedAt = uint40(block.timestamp);
        e.claimableAt = uint40(block.timestamp) + _challengeWindow;
        e.status = Status.Committed;
        e.revenue = uint128(revenue);
        e.heldRevenue = uint128(heldPart);
        e.citedRevenue = uint128(citedRevenue);
        e.requests = requests;
        e.recordsRoot = recordsRoot;
        e.claimsRoot = claimsRoot;
        uint128 bond = _providerBond;
        e.bond = bond;
        _liabilities += bond;
        _emitCommitted(epochId, e, reportCID);
        _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    function _emitCommitted(uint256 epochId, Epoch storage e, string calldata reportCID) private {
        emit EpochCommitted(
            epochId,
            e.modelId,
            e.provider,
            e.revenue,
            e.citedRevenue,
            e.requests,
            e.recordsRoot,
            e.claimsRoot,
            e.claimableAt,
            reportCID
        );
    }

    /// @inheritdoc IUsageEpochs
    function challengeEpoch(uint256 epochId, address challenger, uint256 bond, string calldata reasonCID)
        external
        returns (address provider)
    {
        if (msg.sender != _game) revert NotUsageGame(msg.sender);
        Epoch storage e = _epoch(epochId);
        if (e.status != Status.Committed) revert WrongStatus(epochId, e.status);
        if (block.timestamp >= e.claimableAt) revert ChallengeWindowOver(epochId, e.claimableAt);
        provider = e.provider;
        if (challenger == provider) revert ProviderCannotChallenge(epochId);
        e.status = Status.Challenged;
        e.challenger = challenger;
        emit EpochChallenged(epochId, challenger, bond, reasonCID);
    }

    /// @inheritdoc IUsageEpochs
    function resolveChallenge(uint256 epochId, bool upheld) external returns (uint256 providerBond) {
        if (msg.sender != _game) revert NotUsageGame(msg.sender);
        Epoch storage e = _epoch(epochId);
        if (e.status != Status.Challenged) revert WrongStatus(epochId, e.status);
        emit EpochResolved(epochId, upheld);
        if (upheld) {
            // a challenge was answered: claims open now, and the window does not reopen
            e.status = Status.Committed;
            e.claimableAt = uint40(block.timestamp);
            return 0;
        }
        e.status = Status.Voided;
        providerBond = e.bond;
        uint256 amount = e.heldRevenue;
        _liabilities -= amount + providerBond;
        if (providerBond != 0) _token.safeTransfer(msg.sender, providerBond);
        if (amount != 0) {
            _rewards.depositRevenue(e.modelId, amount);
            emit RevenueForwarded(e.modelId, amount);
        }
    }

    /// @inheritdoc IUsageEpochs
    function finalizeEpoch(uint256 epochId) external {
        Epoch storage e = _epoch(epochId);
        if (e.status != Status.Committed) revert WrongStatus(epochId, e.status);
        _finalize(epochId, e);
    }

    /// @inheritdoc IUsageEpochs
    function claim(address account, Claim[] calldata claims) external returns (uint256 amount) {
        uint256 n = claims.length;
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        for (uint256 i = 0; i < n; ++i) {
            Claim calldata c = claims[i];
            Epoch storage e = _epoch(c.epochId);
            if (e.status == Status.Committed) _finalize(c.epochId, e);
            if (e.status != Status.Finalized) revert NotClaimable(c.epochId, e.status);
            if (_claimed[c.epochId][account]) revert AlreadyClaimed(c.epochId, account);
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, c.amount))));
            if (!MerkleProof.verifyCalldata(c.proof, e.claimsRoot, leaf)) {
                revert InvalidProof(c.epochId, account, c.amount);
            }
            uint256 left = e.pool - e.claimed;
            if (c.amount > left) revert ClaimExceedsPool(c.epochId, c.amount, left);
            e.claimed += uint128(c.amount);
            _claimed[c.epochId][account] = true;
            amount += c.amount;
            emit UsageClaimed(c.epochId, e.modelId, account, c.amount);
        }
        if (amount == 0) revert NothingToClaim(account);
        _liabilities -= amount;
        _token.safeTransfer(account, amount);
    }

    /// @inheritdoc IUsageEpochs
    function releaseHeld(uint256 modelId) external {
        uint256 amount = _held[modelId];
        if (amount == 0) revert NothingHeld(modelId);
        uint40 due = _heldSince[modelId] + _releaseDelay;
        if (block.timestamp < due) revert ReleaseNotDue(modelId, due);
        _held[modelId] = 0;
        _heldSince[modelId] = 0;
        _released[modelId] += amount;
        _liabilities -= amount;
        emit RevenueReleased(modelId, msg.sender, amount);
        _rewards.depositRevenue(modelId, amount);
    }

    /// @inheritdoc IUsageEpochs
    function setParams(uint40 challengeWindow_, uint40 releaseDelay_, uint128 providerBond_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setParams(challengeWindow_, releaseDelay_, providerBond_);
    }

    /// @inheritdoc IUsageEpochs
    function getEpoch(uint256 epochId) external view returns (Epoch memory) {
        return _epoch(epochId);
    }

    /// @inheritdoc IUsageEpochs
    function epochCount() external view returns (uint256) {
        return _epochCount;
    }

    /// @inheritdoc IUsageEpochs
    function accounted(bytes32 channelId) external view returns (uint256) {
        return _accounted[channelId];
    }

    /// @inheritdoc IUsageEpochs
    function held(uint256 modelId) external view returns (uint256) {
        return _held[modelId];
    }

    /// @inheritdoc IUsageEpochs
    function releasedCredit(uint256 modelId) external view returns (uint256) {
        return _released[modelId];
    }

    /// @inheritdoc IUsageEpochs
    function isClaimed(uint256 epochId, address account) external view returns (bool) {
        return _claimed[epochId][account];
    }

    /// @inheritdoc IUsageEpochs
    function liabilities() external view returns (uint256) {
        return _liabilities;
    }

    /// @notice The PaymentChannels contract whose deposits are held.
    function paymentChannels() external view returns (address) {
        return address(_channels);
    }

    /// @notice Challenge window, release delay and provider bond.
    function params() external view returns (uint40 challengeWindow, uint40 releaseDelay, uint128 providerBond) {
        return (_challengeWindow, _releaseDelay, _providerBond);
    }

    /// @dev Pays the cited revenue's owner/trainer/protocol parts, forwards the uncited revenue, opens the pool.
    function _finalize(uint256 epochId, Epoch storage e) private {
        if (block.timestamp < e.claimableAt) revert ChallengeWindowOpen(epochId, e.claimableAt);
        uint256 modelId = e.modelId;
        IRewardDistributor.ModelRewards memory m = _rewards.getModelRewards(modelId);
        uint256 cited = e.citedRevenue;
        uint256 ownerAmount = cited * m.split.ownerBps / _BPS;
        uint256 trainerAmount = cited * m.split.trainerBps / _BPS;
        uint256 protocolAmount = cited * m.split.protocolBps / _BPS;
        uint256 pool = cited - ownerAmount - trainerAmount - protocolAmount;
        uint256 forwarded = e.heldRevenue - cited;
        e.status = Status.Finalized;
        e.pool = uint128(pool);
        uint256 bond = e.bond;
        _liabilities -= e.heldRevenue - pool + bond;
        emit EpochFinalized(epochId, pool, ownerAmount, trainerAmount, protocolAmount, forwarded);
        if (ownerAmount != 0) _token.safeTransfer(_models.ownerOf(modelId), ownerAmount);
        if (trainerAmount != 0) _token.safeTransfer(m.trainer, trainerAmount);
        if (protocolAmount != 0) _token.safeTransfer(_rewards.treasury(), protocolAmount);
        if (forwarded != 0) {
            _rewards.depositRevenue(modelId, forwarded);
            emit RevenueForwarded(modelId, forwarded);
        }
        if (bond != 0) _token.safeTransfer(e.provider, bond);
    }

    /// @dev Reads each channel's redeemed amount and moves its accounted mark; returns the revenue.
    function _account(uint256 epochId, uint256 modelId, ChannelRange[] calldata ranges)
        private
        returns (uint256 revenue)
    {
        for (uint256 i = 0; i < ranges.length; ++i) {
            bytes32 id = ranges[i].channelId;
            uint256 to = ranges[i].toCumulative;
            IPaymentChannels.Channel memory c = _channels.getChannel(id);
            if (c.provider != msg.sender || c.modelId != modelId) revert WrongChannel(id, c.provider, c.modelId);
            if (to > c.redeemed) revert BeyondRedeemed(id, to, c.redeemed);
            uint256 from = _accounted[id];
            if (to <= from) revert AlreadyAccounted(id, to, from);
            _accounted[id] = to;
            revenue += to - from;
            emit ChannelAccounted(epochId, id, from, to);
        }
    }

    /// @dev Takes an epoch's revenue from the model's held revenue (then from what was released unaccounted);
    /// only held revenue can be cited. Returns the held part.
    function _take(uint256 modelId, uint256 revenue, uint256 citedRevenue) private returns (uint256 heldPart) {
        uint256 h = _held[modelId];
        heldPart = revenue < h ? revenue : h;
        uint256 credit = revenue - heldPart;
        uint256 released = _released[modelId];
        if (credit > released) revert RevenueNotHeld(modelId, revenue, h, released);
        if (citedRevenue > heldPart) revert CitedExceedsHeld(citedRevenue, heldPart);
        if (credit != 0) _released[modelId] = released - credit;
        _held[modelId] = h - heldPart;
        _heldSince[modelId] = h == heldPart ? 0 : uint40(block.timestamp);
    }

    function _epoch(uint256 epochId) private view returns (Epoch storage e) {
        e = _epochs[epochId];
        if (e.status == Status.None) revert EpochNotFound(epochId);
    }

    function _setParams(uint40 challengeWindow_, uint40 releaseDelay_, uint128 providerBond_) private {
        if (challengeWindow_ == 0 || releaseDelay_ == 0 || providerBond_ == 0) revert InvalidParams();
        _challengeWindow = challengeWindow_;
        _releaseDelay = releaseDelay_;
        _providerBond = providerBond_;
        emit ParamsUpdated(challengeWindow_, releaseDelay_, providerBond_);
    }
}
