// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IDatanetRegistry
/// @notice Datanets: community data pools with a metadata CID, an access policy and curators. Contributors
/// register encrypted (or plaintext) contributions by CID; curators approve or reject them. A Datanet's
/// version is the number of contributions approved so far: approval number `n` (1-based) belongs to every
/// version `>= n`. A job trains on `(datanetId, version)`: the contributions approved with numbers
/// `1..version`, minus those whose consent was withdrawn before the job was posted.
interface IDatanetRegistry {
    /// @notice Who may train on a Datanet. Open: anyone. Approval: accounts a curator granted.
    /// Paid: accounts that bought access at `price` per use (or were granted it).
    enum AccessPolicy {
        Open,
        Approval,
        Paid
    }

    /// @notice Life cycle of a contribution: Pending -> Approved | Rejected; Pending | Approved -> Withdrawn.
    enum ContributionStatus {
        None,
        Pending,
        Approved,
        Rejected,
        Withdrawn
    }

    /// @notice A Datanet as returned by `getDatanet`.
    /// @param owner Creator; manages metadata, policy and curators, and is always a curator.
    /// @param policy The access policy.
    /// @param contributionCount Number of contributions ever submitted (ids are 1..contributionCount).
    /// @param version Number of contributions approved so far.
    /// @param price Price of one access use in OPEN wei (Paid policy only, otherwise 0).
    /// @param metadataCID IPFS CID of the Datanet's metadata JSON (name, description, schema, custodian key).
    struct Datanet {
        address owner;
        AccessPolicy policy;
        uint32 contributionCount;
        uint32 version;
        uint128 price;
        string metadataCID;
    }

    /// @notice A contribution as stored. The CID is only in the `ContributionSubmitted` event.
    /// @param contributor The account that submitted it (receives its attribution rewards).
    /// @param records Number of records (rows) in it.
    /// @param byteSize Size of the stored content in bytes.
    /// @param status Current status.
    /// @param encrypted Whether the content is an encrypted envelope.
    /// @param contentHash SHA-256 of the plaintext JSONL content (lets a trainer verify what it decrypted).
    struct Contribution {
        address contributor;
        uint32 records;
        uint48 byteSize;
        ContributionStatus status;
        bool encrypted;
        bytes32 contentHash;
    }

    /// @notice A Datanet was created.
    event DatanetCreated(
        uint256 indexed datanetId,
        address indexed owner,
        string metadataCID,
        AccessPolicy policy,
        uint256 price,
        address[] curators
    );
    /// @notice A Datanet's metadata CID changed.
    event DatanetMetadataUpdated(uint256 indexed datanetId, string metadataCID);
    /// @notice A Datanet's access policy or price changed.
    event AccessPolicyUpdated(uint256 indexed datanetId, AccessPolicy policy, uint256 price);
    /// @notice `curator` may now approve and reject contributions of `datanetId`.
    event CuratorAdded(uint256 indexed datanetId, address indexed curator);
    /// @notice `curator` may no longer curate `datanetId`.
    event CuratorRemoved(uint256 indexed datanetId, address indexed curator);
    /// @notice A Datanet changed owner.
    event DatanetOwnershipTransferred(
        uint256 indexed datanetId, address indexed previousOwner, address indexed newOwner
    );
    /// @notice A contribution was registered, pending curation.
    event ContributionSubmitted(
        uint256 indexed datanetId,
        uint256 indexed contributionId,
        address indexed contributor,
        string cid,
        bytes32 contentHash,
        uint32 records,
        uint48 byteSize,
        bool encrypted
    );
    /// @notice A contribution was approved; it is part of every Datanet version `>= version`.
    event ContributionApproved(
        uint256 indexed datanetId, uint256 indexed contributionId, address indexed curator, uint32 version
    );
    /// @notice A contribution was rejected.
    event ContributionRejected(uint256 indexed datanetId, uint256 indexed contributionId, address indexed curator);
    /// @notice The contributor withdrew consent; jobs posted from now on exclude the contribution.
    event ContributionWithdrawn(
        uint256 indexed datanetId, uint256 indexed contributionId, address indexed contributor
    );

    /// @notice No Datanet has id `datanetId`.
    error DatanetNotFound(uint256 datanetId);
    /// @notice Datanet `datanetId` has no contribution `contributionId`.
    error ContributionNotFound(uint256 datanetId, uint256 contributionId);
    /// @notice `account` is not the owner of Datanet `datanetId`.
    error NotDatanetOwner(uint256 datanetId, address account);
    /// @notice `account` is neither the owner nor a curator of Datanet `datanetId`.
    error NotCurator(uint256 datanetId, address account);
    /// @notice `account` is already a curator of Datanet `datanetId`.
    error AlreadyCurator(uint256 datanetId, address account);
    /// @notice `account` did not submit contribution `contributionId`.
    error NotContributor(uint256 datanetId, uint256 contributionId, address account);
    /// @notice The contribution's status `status` does not allow the operation.
    error InvalidContributionStatus(uint256 datanetId, uint256 contributionId, ContributionStatus status);
    /// @notice A CID argument was empty.
    error EmptyCID();
    /// @notice A contribution must hold at least one record and one byte.
    error EmptyContribution(uint32 records, uint48 byteSize);
    /// @notice Paid Datanets need a non-zero price; other policies need price 0.
    error InvalidPrice(AccessPolicy policy, uint256 price);
    /// @notice More than `max` curators (besides the owner): `createDatanet` and `addCurator` both enforce it.
    error TooManyCurators(uint256 count, uint256 max);
    /// @notice A batch of `count` items exceeds `max`.
    error BatchTooLarge(uint256 count, uint256 max);
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();

    /// @notice Creates a Datanet owned by the caller.
    /// @param metadataCID IPFS CID of the metadata JSON.
    /// @param policy Access policy.
    /// @param price Price per access use for Paid (must be > 0), 0 otherwise.
    /// @param curators Initial curators besides the owner (at most `MAX_CURATORS`).
    /// @return datanetId The new id (1-based).
    function createDatanet(
        string calldata metadataCID,
        AccessPolicy policy,
        uint128 price,
        address[] calldata curators
    ) external returns (uint256 datanetId);

    /// @notice Updates the metadata CID. Owner only.
    function setMetadata(uint256 datanetId, string calldata metadataCID) external;

    /// @notice Updates the access policy and price. Owner only.
    function setAccessPolicy(uint256 datanetId, AccessPolicy policy, uint128 price) external;

    /// @notice Adds a curator. Owner only.
    function addCurator(uint256 datanetId, address curator) external;

    /// @notice Removes a curator. Owner only.
    function removeCurator(uint256 datanetId, address curator) external;

    /// @notice Transfers ownership of a Datanet. Owner only.
    function transferDatanetOwnership(uint256 datanetId, address newOwner) external;

    /// @notice Registers a contribution to `datanetId`, pending curation. Anyone may contribute.
    /// @param cid IPFS CID of the (encrypted) contribution envelope.
    /// @param contentHash SHA-256 of the plaintext JSONL records.
    /// @param records Number of records.
    /// @param byteSize Size in bytes of the stored content.
    /// @param encrypted Whether `cid` is an encrypted envelope.
    /// @return contributionId The new id within the Datanet (1-based).
    function submitContribution(
        uint256 datanetId,
        string calldata cid,
        bytes32 contentHash,
        uint32 records,
        uint48 byteSize,
        bool encrypted
    ) external returns (uint256 contributionId);

    /// @notice Approves a pending contribution, raising the Datanet's version by one. Curators only.
    /// @return version The Datanet version that first includes the contribution.
    function approveContribution(uint256 datanetId, uint256 contributionId) external returns (uint32 version);

    /// @notice Approves up to `MAX_BATCH` pending contributions in the given order; reverts if any is not pending.
    /// @return version The Datanet version after the batch.
    function approveContributions(uint256 datanetId, uint256[] calldata contributionIds)
        external
        returns (uint32 version);

    /// @notice Rejects a pending contribution. Curators only.
    function rejectContribution(uint256 datanetId, uint256 contributionId) external;

    /// @notice Withdraws consent for a pending or approved contribution. Its contributor only.
    function withdrawContribution(uint256 datanetId, uint256 contributionId) external;

    /// @notice Where a contribution stands in the Datanet's versions: `approvedInVersion` is the version its
    /// approval created (it is part of every version `>= approvedInVersion`; 0 if never approved), and
    /// `withdrawnAt` when its contributor withdrew it after approval (0 if not). What a job's no-fault release
    /// checks on chain.
    function inclusionOf(uint256 datanetId, uint256 contributionId)
        external
        view
        returns (uint32 approvedInVersion, uint40 withdrawnAt);

    /// @notice Returns a Datanet; reverts with `DatanetNotFound` if absent.
    function getDatanet(uint256 datanetId) external view returns (Datanet memory);

    /// @notice Returns a contribution; reverts with `ContributionNotFound` if absent.
    function getContribution(uint256 datanetId, uint256 contributionId) external view returns (Contribution memory);

    /// @notice The current version (approved count) of a Datanet; reverts if absent.
    function versionOf(uint256 datanetId) external view returns (uint32);

    /// @notice Access policy, price and owner of a Datanet in one call; reverts if absent.
    function accessTermsOf(uint256 datanetId)
        external
        view
        returns (AccessPolicy policy, uint128 price, address owner);

    /// @notice Whether `account` is the owner or a curator of `datanetId` (false if the Datanet is absent).
    function isCurator(uint256 datanetId, address account) external view returns (bool);

    /// @notice Number of Datanets created (ids are 1..datanetCount).
    function datanetCount() external view returns (uint256);
}
