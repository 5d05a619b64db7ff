// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IDatanetRegistry} from "../interfaces/IDatanetRegistry.sol";

/// @title DatanetRegistry
/// @notice See {IDatanetRegistry}. Permissionless: anyone creates Datanets and contributes; each Datanet's
/// owner manages it and its curators curate. A contribution takes two storage slots (its CID lives in the
/// event log), which keeps `submitContribution` cheap.
contract DatanetRegistry is IDatanetRegistry {
    /// @notice Most curators (besides the owner) a Datanet can have.
    uint256 public constant MAX_CURATORS = 16;
    /// @notice Most contributions one `approveContributions` call handles.
    uint256 public constant MAX_BATCH = 100;

    /// @dev One slot for what every call reads; price and CID apart.
    struct DatanetData {
        address owner;
        AccessPolicy policy;
        uint32 contributionCount;
        uint32 version;
        uint8 curatorCount;
        uint128 price;
        string metadataCID;
    }

    uint256 private _datanetCount;
    mapping(uint256 datanetId => DatanetData datanet) private _datanets;
    mapping(uint256 datanetId => mapping(address account => bool)) private _curators;
    mapping(uint256 datanetId => mapping(uint256 contributionId => Contribution)) private _contributions;
    /// @dev The version each contribution's approval created, eight `uint32` per slot (contribution `c` at
    /// bits `(c % 8) * 32` of word `c / 8`): the `Contribution` struct is one full slot plus its hash, and
    /// sequential approvals share a word, so recording the version costs about 5k gas instead of a new slot.
    mapping(uint256 datanetId => mapping(uint256 word => uint256 versions)) private _approvedIn;
    /// @dev When an approved contribution was withdrawn (only those; withdrawals are rare).
    mapping(uint256 datanetId => mapping(uint256 contributionId => uint256 time)) private _withdrawnAt;

    /// @inheritdoc IDatanetRegistry
    function createDatanet(
        string calldata metadataCID,
        AccessPolicy policy,
        uint128 price,
        address[] calldata curators
    ) external returns (uint256 datanetId) {
        if (bytes(metadataCID).length == 0) revert EmptyCID();
        _checkPrice(policy, price);
        if (curators.length > MAX_CURATORS) revert TooManyCurators(curators.length, MAX_CURATORS);
        datanetId = ++_datanetCount;
        DatanetData storage d = _datanets[datanetId];
        d.owner = msg.sender;
        d.policy = policy;
        d.price = price;
        d.metadataCID = metadataCID;
        d.curatorCount = uint8(curators.length);
        for (uint256 i = 0; i < curators.length; ++i) {
            address curator = curators[i];
            if (curator == address(0)) revert ZeroAddress();
            if (curator == msg.sender || _curators[datanetId][curator]) revert AlreadyCurator(datanetId, curator);
            _curators[datanetId][curator] = true;
        }
        emit DatanetCreated(datanetId, msg.sender, metadataCID, policy, price, curators);
    }

    /// @inheritdoc IDatanetRegistry
    function setMetadata(uint256 datanetId, string calldata metadataCID) external {
        DatanetData storage d = _ownedDatanet(datanetId);
        if (bytes(metadataCID).length == 0) revert EmptyCID();
        d.metadataCID = metadataCID;
        emit DatanetMetadataUpdated(datanetId, metadataCID);
    }

    /// @inheritdoc IDatanetRegistry
    function setAccessPolicy(uint256 datanetId, AccessPolicy policy, uint128 price) external {
        DatanetData storage d = _ownedDatanet(datanetId);
        _checkPrice(policy, price);
        d.policy = policy;
        d.price = price;
        emit AccessPolicyUpdated(datanetId, policy, price);
    }

    /// @inheritdoc IDatanetRegistry
    function addCurator(uint256 datanetId, address curator) external {
        DatanetData storage d = _ownedDatanet(datanetId);
        if (curator == address(0)) revert ZeroAddress();
        if (curator == d.owner || _curators[datanetId][curator]) revert AlreadyCurator(datanetId, curator);
        uint8 count = d.curatorCount;
        if (count >= MAX_CURATORS) revert TooManyCurators(uint256(count) + 1, MAX_CURATORS);
        d.curatorCount = count + 1;
        _curators[datanetId][curator] = true;
        emit CuratorAdded(datanetId, curator);
    }

    /// @inheritdoc IDatanetRegistry
    function removeCurator(uint256 datanetId, address curator) external {
        DatanetData storage d = _ownedDatanet(datanetId);
        if (!_curators[datanetId][curator]) revert NotCurator(datanetId, curator);
        delete _curators[datanetId][curator];
        --d.curatorCount;
        emit CuratorRemoved(datanetId, curator);
    }

    /// @inheritdoc IDatanetRegistry
    function transferDatanetOwnership(uint256 datanetId, address newOwner) external {
        DatanetData storage d = _ownedDatanet(datanetId);
        if (newOwner == address(0)) revert ZeroAddress();
        d.owner = newOwner;
        emit DatanetOwnershipTransferred(datanetId, msg.sender, newOwner);
    }

    /// @inheritdoc IDatanetRegistry
    function submitContribution(
        uint256 datanetId,
        string calldata cid,
        bytes32 contentHash,
        uint32 records,
        uint48 byteSize,
        bool encrypted
    ) external returns (uint256 contributionId) {
        DatanetData storage d = _datanets[datanetId];
        if (d.owner == address(0)) revert DatanetNotFound(datanetId);
        if (bytes(cid).length == 0) revert EmptyCID();
        if (records == 0 || byteSize == 0) revert EmptyContribution(records, byteSize);
        contributionId = ++d.contributionCount;
        _contributions[datanetId][contributionId] = Contribution({
            contributor: msg.sender,
            records: records,
            byteSize: byteSize,
            status: ContributionStatus.Pending,
            encrypted: encrypted,
            contentHash: contentHash
        });
        emit ContributionSubmitted(
            datanetId, contributionId, msg.sender, cid, contentHash, records, byteSize, encrypted
        );
    }

    /// @inheritdoc IDatanetRegistry
    function approveContribution(uint256 datanetId, uint256 contributionId) external returns (uint32 version) {
        DatanetData storage d = _curatedDatanet(datanetId);
        version = d.version;
        version = _approve(datanetId, contributionId, version);
        d.version = version;
    }

    /// @inheritdoc IDatanetRegistry
    function approveContributions(uint256 datanetId, uint256[] calldata contributionIds)
        external
        returns (uint32 version)
    {
        if (contributionIds.length > MAX_BATCH) revert BatchTooLarge(contributionIds.length, MAX_BATCH);
        DatanetData storage d = _curatedDatanet(datanetId);
        version = d.version;
        for (uint256 i = 0; i < contributionIds.length; ++i) {
            version = _approve(datanetId, contributionIds[i], version);
        }
        d.version = version;
    }

    /// @inheritdoc IDatanetRegistry
    function rejectContribution(uint256 datanetId, uint256 contributionId) external {
        _curatedDatanet(datanetId);
        Contribution storage c = _pendingContribution(datanetId, contributionId);
        c.status = ContributionStatus.Rejected;
        emit ContributionRejected(datanetId, contributionId, msg.sender);
    }

    /// @inheritdoc IDatanetRegistry
    function withdrawContribution(uint256 datanetId, uint256 contributionId) external {
        Contribution storage c = _contributions[datanetId][contributionId];
        ContributionStatus status = c.status;
        if (status == ContributionStatus.None) revert ContributionNotFound(datanetId, contributionId);
        if (c.contributor != msg.sender) revert NotContributor(datanetId, contributionId, msg.sender);
        if (status != ContributionStatus.Pending && status != ContributionStatus.Approved) {
            revert InvalidContributionStatus(datanetId, contributionId, status);
        }
        c.status = ContributionStatus.Withdrawn;
        if (status == ContributionStatus.Approved) _withdrawnAt[datanetId][contributionId] = block.timestamp;
        emit ContributionWithdrawn(datanetId, contributionId, msg.sender);
    }

    /// @inheritdoc IDatanetRegistry
    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        DatanetData storage d = _existing(datanetId);
        return Datanet({
            owner: d.owner,
            policy: d.policy,
            contributionCount: d.contributionCount,
            version: d.version,
            price: d.price,
            metadataCID: d.metadataCID
        });
    }

    /// @inheritdoc IDatanetRegistry
    function getContribution(uint256 datanetId, uint256 contributionId)
        external
        view
        returns (Contribution memory c)
    {
        c = _contributions[datanetId][contributionId];
        if (c.status == ContributionStatus.None) revert ContributionNotFound(datanetId, contributionId);
    }

    /// @inheritdoc IDatanetRegistry
    function inclusionOf(uint256 datanetId, uint256 contributionId)
        external
        view
        returns (uint32 approvedInVersion, uint40 withdrawnAt)
    {
        approvedInVersion = uint32(_approvedIn[datanetId][contributionId >> 3] >> ((contributionId & 7) * 32));
        withdrawnAt = uint40(_withdrawnAt[datanetId][contributionId]);
    }

    /// @inheritdoc IDatanetRegistry
    function versionOf(uint256 datanetId) external view returns (uint32) {
        return _existing(datanetId).version;
    }

    /// @inheritdoc IDatanetRegistry
    function accessTermsOf(uint256 datanetId)
        external
        view
        returns (AccessPolicy policy, uint128 price, address owner)
    {
        DatanetData storage d = _existing(datanetId);
        return (d.policy, d.price, d.owner);
    }

    /// @inheritdoc IDatanetRegistry
    function isCurator(uint256 datanetId, address account) public view returns (bool) {
        address owner = _datanets[datanetId].owner;
        return owner != address(0) && (account == owner || _curators[datanetId][account]);
    }

    /// @inheritdoc IDatanetRegistry
    function datanetCount() external view returns (uint256) {
        return _datanetCount;
    }

    function _approve(uint256 datanetId, uint256 contributionId, uint32 version) private returns (uint32) {
        Contribution storage c = _pendingContribution(datanetId, contributionId);
        c.status = ContributionStatus.Approved;
        unchecked {
            ++version; // at most 2^32 - 1 contributions exist, each approved once
        }
        // Each contribution is approved at most once, so its 32 bits are still zero.
        _approvedIn[datanetId][contributionId >> 3] |= uint256(version) << ((contributionId & 7) * 32);
        emit ContributionApproved(datanetId, contributionId, msg.sender, version);
        return version;
    }

    function _pendingContribution(uint256 datanetId, uint256 contributionId)
        private
        view
        returns (Contribution storage c)
    {
        c = _contributions[datanetId][contributionId];
        ContributionStatus status = c.status;
        if (status == ContributionStatus.None) revert ContributionNotFound(datanetId, contributionId);
        if (status != ContributionStatus.Pending) revert InvalidContributionStatus(datanetId, contributionId, status);
    }

    function _existing(uint256 datanetId) private view returns (DatanetData storage d) {
        d = _datanets[datanetId];
        if (d.owner == address(0)) revert DatanetNotFound(datanetId);
    }

    function _ownedDatanet(uint256 datanetId) private view returns (DatanetData storage d) {
        d = _existing(datanetId);
        if (d.owner != msg.sender) revert NotDatanetOwner(datanetId, msg.sender);
    }

    function _curatedDatanet(uint256 datanetId) private view returns (DatanetData storage d) {
        d = _existing(datanetId);
        if (d.owner != msg.sender && !_curators[datanetId][msg.sender]) revert NotCurator(datanetId, msg.sender);
    }

    function _checkPrice(AccessPolicy policy, uint128 price) private pure {
        if ((policy == AccessPolicy.Paid) != (price > 0)) revert InvalidPrice(policy, price);
    }
}
