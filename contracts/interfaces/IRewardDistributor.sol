// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IRewardDistributor
/// @notice Revenue per model version, split in basis points between the model's owner, its trainer, the
/// protocol treasury and the data contributors (the remainder, `10_000 - owner - trainer - protocol`).
/// The split is fixed per model when it is registered. Shares accrue lazily: for revenue `R` each part is
/// `floor(R * bps / 10_000)` (contributors' bps = `10_000 - owner - trainer - protocol`), so no part ever
/// shrinks; the rounding dust (under 4 wei per model) stays unclaimed. A model without attribution root
/// gives the contributors' part to the owner.
/// A contributor with weight `w` in the model's attribution tree (total `W`) may claim
/// `contributors * w / W - alreadyClaimed` at any time, with a Merkle proof of the leaf
/// `keccak256(bytes.concat(keccak256(abi.encode(account, w))))` (OpenZeppelin's StandardMerkleTree).
/// Datanet reward pools collect access and data fees; the Datanet's curators turn the pool's balance into a
/// distribution (root of `(account, weight)` leaves) that its contributors claim once each.
interface IRewardDistributor {
    /// @notice Revenue split in basis points; contributors get the rest of 10,000.
    struct Split {
        uint16 ownerBps;
        uint16 trainerBps;
        uint16 protocolBps;
    }

    /// @notice Reward state of a model version.
    /// @param revenue Total revenue deposited.
    /// @param contributorsClaimed Total claimed by contributors.
    /// @param ownerPaid Total paid to owners.
    /// @param trainerPaid Total paid to the trainer.
    /// @param protocolPaid Total paid to the treasury.
    /// @param split The split fixed at registration.
    /// @param trainer The trainer.
    /// @param attributionRoot Root of the contributor weight tree (zero for none).
    /// @param totalWeight Sum of the tree's weights.
    struct ModelRewards {
        uint96 revenue;
        uint96 contributorsClaimed;
        uint96 ownerPaid;
        uint96 trainerPaid;
        uint96 protocolPaid;
        Split split;
        address trainer;
        bytes32 attributionRoot;
        uint128 totalWeight;
    }

    /// @notice A Datanet pool distribution.
    struct Distribution {
        uint256 datanetId;
        bytes32 root;
        uint128 totalWeight;
        uint128 amount;
        uint128 claimed;
    }

    /// @notice Model `modelId` was registered with its trainer, attribution and split.
    event ModelRegistered(
        uint256 indexed modelId, address indexed trainer, bytes32 attributionRoot, uint128 totalWeight, Split split
    );
    /// @notice `from` deposited `amount` revenue for `modelId`; its total revenue is `totalRevenue`.
    event RevenueDeposited(uint256 indexed modelId, address indexed from, uint256 amount, uint256 totalRevenue);
    /// @notice Accrued owner, trainer and protocol shares of `modelId` were paid out.
    event SharesPaid(
        uint256 indexed modelId,
        address indexed owner,
        uint256 ownerAmount,
        address indexed trainer,
        uint256 trainerAmount,
        address treasury,
        uint256 protocolAmount
    );
    /// @notice `account` (weight `weight`) received `amount` of `modelId`'s contributor rewards;
    /// `totalClaimed` by it so far.
    event RewardClaimed(
        uint256 indexed modelId, address indexed account, uint256 weight, uint256 amount, uint256 totalClaimed
    );
    /// @notice `from` added `amount` to Datanet `datanetId`'s pool, whose undistributed balance is `poolBalance`.
    event DatanetPoolFunded(uint256 indexed datanetId, address indexed from, uint256 amount, uint256 balance);
    /// @notice A curator turned `amount` of the pool into distribution `distributionId`.
    event PoolDistributionCreated(
        uint256 indexed distributionId,
        uint256 indexed datanetId,
        address indexed curator,
        bytes32 root,
        uint128 totalWeight,
        uint256 amount,
        string reportCID
    );
    /// @notice `account` (weight `weight`) claimed `amount` from distribution `distributionId`.
    event PoolRewardClaimed(
        uint256 indexed distributionId,
        uint256 indexed datanetId,
        address indexed account,
        uint256 weight,
        uint256 amount
    );
    /// @notice The split for models registered from now on changed.
    event SplitUpdated(Split split);
    /// @notice The protocol treasury changed.
    event TreasuryUpdated(address treasury);

    /// @notice Model `modelId` is not registered.
    error ModelNotRegistered(uint256 modelId);
    /// @notice Model `modelId` is already registered.
    error ModelAlreadyRegistered(uint256 modelId);
    /// @notice Owner, trainer and protocol shares exceed 10,000 bps together.
    error InvalidSplit(uint16 ownerBps, uint16 trainerBps, uint16 protocolBps);
    /// @notice Attribution root and total weight must be both zero or both non-zero.
    error InvalidAttribution(bytes32 root, uint128 totalWeight);
    /// @notice Model `modelId` has no attribution root, so no contributor can claim.
    error NoAttribution(uint256 modelId);
    /// @notice The proof does not show `(account, weight)` in the tree.
    error InvalidProof(address account, uint256 weight);
    /// @notice `weight` exceeds the tree's total weight `totalWeight`.
    error WeightExceedsTotal(uint256 weight, uint128 totalWeight);
    /// @notice Nothing is claimable for `account`.
    error NothingToClaim(address account);
    /// @notice The claim of `amount` would exceed the `available` rewards (tree weights exceed their total).
    error ClaimExceedsRewards(uint256 amount, uint256 available);
    /// @notice Nothing accrued for the owner, trainer or protocol of `modelId`.
    error NothingToPay(uint256 modelId);
    /// @notice `account` is not a curator of Datanet `datanetId`.
    error NotCurator(uint256 datanetId, address account);
    /// @notice Datanet `datanetId`'s pool holds nothing to distribute.
    error EmptyPool(uint256 datanetId);
    /// @notice No distribution `distributionId`.
    error DistributionNotFound(uint256 distributionId);
    /// @notice `account` already claimed from distribution `distributionId`.
    error AlreadyClaimed(uint256 distributionId, address account);
    /// @notice A batch of `count` items exceeds `max`.
    error BatchTooLarge(uint256 count, uint256 max);
    /// @notice Array arguments differ in length.
    error LengthMismatch();
    /// @notice An amount of zero was given.
    error ZeroAmount();
    /// @notice An amount above the 96-bit accounting limit.
    error AmountTooLarge(uint256 amount);
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();
    /// @notice No Datanet `datanetId` exists.
    error UnknownDatanet(uint256 datanetId);
    /// @notice Only the ModelRegistry reports transfers.
    error NotModelRegistry(address account);
    /// @notice Only the Datanet's owner turns its pool into a distribution.
    error NotDatanetOwner(uint256 datanetId, address account);

    /// @notice Registers a minted model's trainer and attribution and fixes its split (an unminted id reverts
    /// with `ERC721NonexistentToken`, so no id can be taken before its job finalizes). `REGISTRAR_ROLE` only.
    function registerModel(uint256 modelId, address trainer, bytes32 attributionRoot, uint128 totalWeight) external;

    /// @notice Deposits `amount` OPEN of revenue for a registered model (approve this contract first). Anyone.
    function depositRevenue(uint256 modelId, uint256 amount) external;

    /// @notice Called by the ModelRegistry before model `modelId` leaves `from`: pays `from` the owner share
    /// accrued so far (emits `SharesPaid` with zero trainer and protocol amounts). ModelRegistry only.
    function onModelTransfer(uint256 modelId, address from) external;

    /// @notice Pays the accrued owner share to the model's current owner, the trainer share to its trainer
    /// and the protocol share to the treasury. Anyone may trigger it.
    function payShares(uint256 modelId) external;

    /// @notice Sends `account` its unclaimed contributor rewards of `modelId`. Anyone may trigger it.
    /// @param weight `account`'s weight in the model's attribution tree.
    /// @param proof Merkle proof of the leaf `(account, weight)`.
    /// @return amount The amount sent.
    function claimReward(uint256 modelId, address account, uint256 weight, bytes32[] calldata proof)
        external
        returns (uint256 amount);

    /// @notice `claimReward` for up to `MAX_BATCH` models at once, for one account, in one transfer.
    /// @return amount The total sent.
    function claimRewards(
        uint256[] calldata modelIds,
        address account,
        uint256[] calldata weights,
        bytes32[][] calldata proofs
    ) external returns (uint256 amount);

    /// @notice Adds `amount` OPEN (approve this contract first) to Datanet `datanetId`'s reward pool. Anyone.
    function fundDatanetPool(uint256 datanetId, uint256 amount) external;

    /// @notice Turns the pool's whole undistributed balance into a claimable distribution. The Datanet's owner
    /// only: curators review contributions, but one curator alone cannot direct a whole pool.
    /// @param root Root of the `(account, weight)` tree.
    /// @param totalWeight Sum of the weights.
    /// @param reportCID IPFS CID of the distribution report (how weights were computed).
    /// @return distributionId The new id (1-based).
    function createPoolDistribution(uint256 datanetId, bytes32 root, uint128 totalWeight, string calldata reportCID)
        external
        returns (uint256 distributionId);

    /// @notice Sends `account` its share `amount * weight / totalWeight` of a distribution, once. Anyone may
    /// trigger it.
    /// @return amount The amount sent.
    function claimPoolReward(uint256 distributionId, address account, uint256 weight, bytes32[] calldata proof)
        external
        returns (uint256 amount);

    /// @notice Sets the split for models registered from now on. `DEFAULT_ADMIN_ROLE` only.
    function setSplit(Split calldata split) external;

    /// @notice Sets the protocol treasury. `DEFAULT_ADMIN_ROLE` only.
    function setTreasury(address treasury) external;

    /// @notice Unclaimed contributor rewards of `account` with `weight` (proof not checked).
    function claimable(uint256 modelId, address account, uint256 weight) external view returns (uint256);

    /// @notice Accrued, unpaid owner, trainer and protocol shares of `modelId`.
    function pendingShares(uint256 modelId)
        external
        view
        returns (uint256 ownerAmount, uint256 trainerAmount, uint256 protocolAmount);

    /// @notice Reward state of a model; reverts with `ModelNotRegistered` if absent.
    function getModelRewards(uint256 modelId) external view returns (ModelRewards memory);

    /// @notice Whether `modelId` is registered (can receive revenue).
    function isRegistered(uint256 modelId) external view returns (bool);

    /// @notice Total claimed by `account` from `modelId`.
    function claimedBy(uint256 modelId, address account) external view returns (uint256);

    /// @notice Undistributed balance of Datanet `datanetId`'s pool.
    function poolBalance(uint256 datanetId) external view returns (uint256);

    /// @notice A distribution; reverts with `DistributionNotFound` if absent.
    function getDistribution(uint256 distributionId) external view returns (Distribution memory);

    /// @notice Whether `account` claimed from distribution `distributionId`.
    function isPoolRewardClaimed(uint256 distributionId, address account) external view returns (bool);

    /// @notice Number of distributions created.
    function distributionCount() external view returns (uint256);

    /// @notice The split for newly registered models.
    function currentSplit() external view returns (Split memory);

    /// @notice The protocol treasury.
    function treasury() external view returns (address);
}
