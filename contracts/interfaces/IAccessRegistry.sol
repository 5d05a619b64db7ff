// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IDatanetRegistry} from "./IDatanetRegistry.sol";

/// @title IAccessRegistry
/// @notice Who may train on which Datanet. Open Datanets are open to all. Approval Datanets need a grant
/// from a curator (with an expiry and a number of uses). Paid Datanets sell uses at the Datanet's price;
/// the fee goes to the Datanet's reward pool in the `RewardDistributor`. The job market consumes one use
/// per Datanet when a job is posted.
interface IAccessRegistry {
    /// @notice An access grant.
    /// @param expiresAt Unix time after which the grant is void.
    /// @param usesLeft Jobs that may still be posted with it.
    struct Grant {
        uint64 expiresAt;
        uint32 usesLeft;
        uint32 paidUses;
    }

    /// @notice `account` asked for access; `requestCID` points to its request (purpose, contact).
    event AccessRequested(uint256 indexed datanetId, address indexed account, string requestCID);
    /// @notice A curator granted `account` uses; its grant now runs to `expiresAt` with `usesLeft` uses (the
    /// granted ones plus those it paid for, which a curator cannot take away).
    event AccessGranted(
        uint256 indexed datanetId, address indexed account, address indexed grantor, uint64 expiresAt, uint32 usesLeft
    );
    /// @notice A curator revoked `account`'s granted uses; the `usesLeft` it paid for remain.
    event AccessRevoked(
        uint256 indexed datanetId, address indexed account, address indexed revoker, uint32 usesLeft
    );
    /// @notice `account` bought `uses` uses for `paid` OPEN; its grant now runs to `expiresAt` with `usesLeft`.
    event AccessPurchased(
        uint256 indexed datanetId,
        address indexed account,
        uint32 uses,
        uint256 paid,
        uint64 expiresAt,
        uint32 usesLeft
    );
    /// @notice A consumer (the job market) used one of `account`'s uses; `usesLeft` remain.
    event AccessConsumed(
        uint256 indexed datanetId, address indexed account, address indexed consumer, uint32 usesLeft
    );
    /// @notice A consumer (the job market) gave back a use it consumed (the job was cancelled); `usesLeft` now.
    event AccessRestored(
        uint256 indexed datanetId, address indexed account, address indexed consumer, uint32 usesLeft
    );
    /// @notice How long bought access lasts changed.
    event PaidAccessDurationUpdated(uint64 duration);

    /// @notice `account` has no valid access to Datanet `datanetId`.
    error AccessDenied(uint256 datanetId, address account);
    /// @notice `account` is not a curator of `datanetId`.
    error NotCurator(uint256 datanetId, address account);
    /// @notice Access to `datanetId` cannot be bought under policy `policy`.
    error NotPaidDatanet(uint256 datanetId, IDatanetRegistry.AccessPolicy policy);
    /// @notice A grant must expire in the future and carry at least one use.
    error InvalidGrant(uint64 expiresAt, uint32 uses, uint256 timestamp);
    /// @notice At least one use must be bought.
    error ZeroUses();
    /// @notice A CID argument was empty.
    error EmptyCID();
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();
    /// @notice A duration of zero was given.
    error ZeroDuration();
    /// @notice The Datanet's price `price` per use is above the buyer's `maxPrice`.
    error PriceAboveMax(uint256 datanetId, uint256 price, uint256 maxPrice);

    /// @notice Records an access request for curators to review. Anyone.
    function requestAccess(uint256 datanetId, string calldata requestCID) external;

    /// @notice Sets `account`'s granted uses to `uses`, replacing earlier granted uses; uses the account paid
    /// for (`paidUses`) stay and its expiry never moves earlier while it holds any. Curators of `datanetId`
    /// only.
    function grantAccess(uint256 datanetId, address account, uint64 expiresAt, uint32 uses) external;

    /// @notice Deletes `account`'s granted uses; uses it paid for stay. Curators of `datanetId` only.
    function revokeAccess(uint256 datanetId, address account) external;

    /// @notice Buys `uses` uses of a Paid Datanet for `uses * price` OPEN (approve this contract first),
    /// reverting with `PriceAboveMax` if the price per use is above `maxPrice` (a price raised in front of the
    /// purchase). Adds to the caller's uses and extends its expiry to at least now + `paidAccessDuration`.
    /// @return expiresAt The grant's new expiry.
    function buyAccess(uint256 datanetId, uint32 uses, uint128 maxPrice) external returns (uint64 expiresAt);

    /// @notice Consumes one use of `account` for `datanetId` (nothing for Open Datanets), granted uses
    /// before paid ones; reverts with `AccessDenied` without access. Only accounts with `CONSUMER_ROLE` (the
    /// job market).
    /// @return kind 0: nothing consumed (Open Datanet), 1: a granted use, 2: a paid use.
    function consumeAccess(uint256 datanetId, address account) external returns (uint8 kind);

    /// @notice Gives back a use `consumeAccess` took (`paid`: it was a paid use). Only `CONSUMER_ROLE`.
    function restoreAccess(uint256 datanetId, address account, bool paid) external;

    /// @notice Sets how long bought access lasts. `DEFAULT_ADMIN_ROLE` only.
    function setPaidAccessDuration(uint64 duration) external;

    /// @notice Whether `account` may post a job on `datanetId` now.
    function hasAccess(uint256 datanetId, address account) external view returns (bool);

    /// @notice `account`'s grant for `datanetId` (zeroes when none).
    function getGrant(uint256 datanetId, address account) external view returns (Grant memory);

    /// @notice Unix time at which `account` last requested access (0 when never).
    function requestedAt(uint256 datanetId, address account) external view returns (uint64);

    /// @notice How long bought access lasts, in seconds.
    function paidAccessDuration() external view returns (uint64);
}
