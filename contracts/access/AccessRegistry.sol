// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IAccessRegistry} from "../interfaces/IAccessRegistry.sol";
import {IDatanetRegistry} from "../interfaces/IDatanetRegistry.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";

/// @title AccessRegistry
/// @notice See {IAccessRegistry}. Access fees never rest here: `buyAccess` forwards them to the Datanet's
/// pool in the reward distributor within the same call.
contract AccessRegistry is IAccessRegistry, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to consume access uses (the job market).
    bytes32 public constant CONSUMER_ROLE = keccak256("CONSUMER_ROLE");

    IERC20 private immutable _token;
    IDatanetRegistry private immutable _datanets;
    IRewardDistributor private immutable _rewards;

    uint64 private _paidAccessDuration;
    mapping(uint256 datanetId => mapping(address account => Grant)) private _grants;
    mapping(uint256 datanetId => mapping(address account => uint64)) private _requestedAt;

    /// @param token The OPEN token.
    /// @param datanets The Datanet registry (policies, prices, curators).
    /// @param rewards The reward distributor (Datanet pools).
    /// @param admin Receives `DEFAULT_ADMIN_ROLE`.
    /// @param paidAccessDuration_ How long bought access lasts, in seconds.
    constructor(
        IERC20 token,
        IDatanetRegistry datanets,
        IRewardDistributor rewards,
        address admin,
        uint64 paidAccessDuration_
    ) {
        if (address(token) == address(0) || address(datanets) == address(0) || address(rewards) == address(0)) {
            revert ZeroAddress();
        }
        if (paidAccessDuration_ == 0) revert ZeroDuration();
        _token = token;
        _datanets = datanets;
        _rewards = rewards;
        _paidAccessDuration = paidAccessDuration_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token.forceApprove(address(rewards), type(uint256).max);
    }

    /// @inheritdoc IAccessRegistry
    function requestAccess(uint256 datanetId, string calldata requestCID) external {
        if (bytes(requestCID).length == 0) revert EmptyCID();
        _datanets.accessTermsOf(datanetId); // reverts for an unknown Datanet
        _requestedAt[datanetId][msg.sender] = uint64(block.timestamp);
        emit AccessRequested(datanetId, msg.sender, requestCID);
    }

    /// @inheritdoc IAccessRegistry
    function grantAccess(uint256 datanetId, address account, uint64 expiresAt, uint32 uses) external {
        _checkCurator(datanetId);
        if (account == address(0)) revert ZeroAddress();
        if (expiresAt <= block.timestamp || uses == 0) revert InvalidGrant(expiresAt, uses, block.timestamp);
        Grant storage g = _grants[datanetId][account];
        uint32 paid = _livePaid(g);
        // Review finding 6: paid uses survive a curator's grant, and their expiry never moves earlier.
        if (paid != 0 && g.expiresAt > expiresAt) expiresAt = g.expiresAt;
        g.expiresAt = expiresAt;
        g.usesLeft = paid + uses;
        g.paidUses = paid;
        emit AccessGranted(datanetId, account, msg.sender, expiresAt, paid + uses);
    }

    /// @inheritdoc IAccessRegistry
    function revokeAccess(uint256 datanetId, address account) external {
        _checkCurator(datanetId);
        Grant storage g = _grants[datanetId][account];
        uint32 paid = _livePaid(g);
        if (paid == 0) {
            delete _grants[datanetId][account];
        } else {
            g.usesLeft = paid; // the uses the account paid for stay
        }
        emit AccessRevoked(datanetId, account, msg.sender, paid);
    }

    /// @inheritdoc IAccessRegistry
    function buyAccess(uint256 datanetId, uint32 uses, uint128 maxPrice) external returns (uint64 expiresAt) {
        if (uses == 0) revert ZeroUses();
        (IDatanetRegistry.AccessPolicy policy, uint128 price,) = _datanets.accessTermsOf(datanetId);
        if (policy != IDatanetRegistry.AccessPolicy.Paid) revert NotPaidDatanet(datanetId, policy);
        if (price > maxPrice) revert PriceAboveMax(datanetId, price, maxPrice);
        uint256 cost = uint256(price) * uses;
        Grant storage g = _grants[datanetId][msg.sender];
        uint64 extended = uint64(block.timestamp) + _paidAccessDuration;
        expiresAt = g.expiresAt > extended ? g.expiresAt : extended;
        // An expired grant's leftover uses lapse with it.
        bool live = g.expiresAt > block.timestamp;
        uint32 usesLeft = (live ? g.usesLeft : 0) + uses;
        g.expiresAt = expiresAt;
        g.usesLeft = usesLeft;
        g.paidUses = (live ? g.paidUses : 0) + uses;
        emit AccessPurchased(datanetId, msg.sender, uses, cost, expiresAt, usesLeft);
        _token.safeTransferFrom(msg.sender, address(this), cost);
        _rewards.fundDatanetPool(datanetId, cost);
    }

    /// @inheritdoc IAccessRegistry
    function consumeAccess(uint256 datanetId, address account)
        external
        onlyRole(CONSUMER_ROLE)
        returns (uint8 kind)
    {
        (IDatanetRegistry.AccessPolicy policy,,) = _datanets.accessTermsOf(datanetId);
        if (policy == IDatanetRegistry.AccessPolicy.Open) return 0;
        Grant storage g = _grants[datanetId][account];
        uint32 usesLeft = g.usesLeft;
        if (usesLeft == 0 || g.expiresAt <= block.timestamp) revert AccessDenied(datanetId, account);
        unchecked {
            --usesLeft;
        }
        g.usesLeft = usesLeft;
        // Granted uses go first; a paid one only when no granted use is left.
        kind = 1;
        if (g.paidUses > usesLeft) {
            g.paidUses = usesLeft;
            kind = 2;
        }
        emit AccessConsumed(datanetId, account, msg.sender, usesLeft);
    }

    /// @inheritdoc IAccessRegistry
    function restoreAccess(uint256 datanetId, address account, bool paid) external onlyRole(CONSUMER_ROLE) {
        Grant storage g = _grants[datanetId][account];
        uint32 usesLeft = g.usesLeft + 1;
        g.usesLeft = usesLeft;
        if (paid) ++g.paidUses;
        emit AccessRestored(datanetId, account, msg.sender, usesLeft);
    }

    /// @inheritdoc IAccessRegistry
    function setPaidAccessDuration(uint64 duration) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (duration == 0) revert ZeroDuration();
        _paidAccessDuration = duration;
        emit PaidAccessDurationUpdated(duration);
    }

    /// @inheritdoc IAccessRegistry
    function hasAccess(uint256 datanetId, address account) external view returns (bool) {
        (IDatanetRegistry.AccessPolicy policy,,) = _datanets.accessTermsOf(datanetId);
        if (policy == IDatanetRegistry.AccessPolicy.Open) return true;
        Grant storage g = _grants[datanetId][account];
        return g.usesLeft > 0 && g.expiresAt > block.timestamp;
    }

    /// @inheritdoc IAccessRegistry
    function getGrant(uint256 datanetId, address account) external view returns (Grant memory) {
        return _grants[datanetId][account];
    }

    /// @inheritdoc IAccessRegistry
    function requestedAt(uint256 datanetId, address account) external view returns (uint64) {
        return _requestedAt[datanetId][account];
    }

    /// @inheritdoc IAccessRegistry
    function paidAccessDuration() external view returns (uint64) {
        return _paidAccessDuration;
    }

    /// @dev Paid uses still valid (zero once the grant expired).
    function _livePaid(Grant storage g) private view returns (uint32) {
        return g.expiresAt > block.timestamp ? g.paidUses : 0;
    }

    function _checkCurator(uint256 datanetId) private view {
        if (!_datanets.isCurator(datanetId, msg.sender)) revert NotCurator(datanetId, msg.sender);
    }
}
