// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IRewardDistributor
/// @notice Revenue per model version, split in basis points between the model's owner, its trainer, the
/// protocol treasury and the data contributors (the remainder, `10_000 - owner - trainer - protocol`).
/// The split is fixed per model when it is registered. Shares accrue lazily: for revenue `R` each part is
/// `floor(R * bps / 10_000)` (contributors' bps = `10_000 - owner - trainer - protocol`), so no part ever
/// shrinks; the rounding dust (under 4 wei per model) stays unclaimed.
/// Attribution (review finding 2): the model's tree has one leaf per contribution,
/// `keccak256(bytes.concat(keccak256(abi.encode(datanetId, contributionId, w))))` (OpenZeppelin's
/// StandardMerkleTree over `(uint256, uint256, uint256)`), never a payee address: a claim pays the contributor
/// the DatanetRegistry records for that contribution, and only for a contribution approved in the Datanet
/// version the model was trained on, so a trainer cannot name itself. A leaf with weight `w` (total `W`) may
/// claim `contributors * w / W - alreadyClaimed` at any time; the weights of the leaves claimed so far can never
/// exceed `W` together. A leaf must make its first claim within the model's claim window (`claimWindow` when it
/// was registered); afterwards the weight no leaf claimed (`W - weightClaimed`: a total above the leaves, a
/// contributor who never came) is unclaimable, and `sweepUnclaimed` sends its share of all revenue, past and
/// future, to the reward pools of the model's Datanets (their owners distribute pools to contributors; nobody who
/// could have inflated `W` gains). A model without attribution root sends the whole contributors' part there,
/// at any time: an empty attribution benefits neither the owner (poster) nor the trainer.
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
        uint128 weightClaimed;
        uint96 sweptPaid;
        uint40 claimEndsAt;
    }

    /// @notice One leaf to claim in `claimRewards`.
    struct LeafClaim {
        uint256 modelId;
        uint256 datanetId;
        uint256 contributionId;
        uint256 weight;
        bytes32[] proof;
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
    /// @notice `account`, the contributor of `(datanetId, contributionId)` (weight `weight`), received `amount`
    /// of `modelId`'s contributor rewards; `totalClaimed` by that leaf so far.
    event RewardClaimed(
        uint256 indexed modelId,
        address indexed account,
        uint256 datanetId,
        uint256 contributionId,
        uint256 weight,
        uint256 amount,
        uint256 totalClaimed
    );
    /// @notice The share of `modelId`'s unclaimed weight `unclaimedWeight` (all of it without attribution),
    /// `amount`, went to the reward pools of its Datanets; `totalSwept` so far.
    event UnclaimedSwept(uint256 indexed modelId, uint256 unclaimedWeight, uint256 amount, uint256 totalSwept);
    /// @notice Models registered from now on give leaves `claimWindow` seconds for their first claim.
    event ClaimWindowUpdated(uint40 claimWindow);
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
    /// @notice The proof does not show the leaf `(datanetId, contributionId, weight)` in the model's tree.
    error InvalidLeafProof(uint256 datanetId, uint256 contributionId, uint256 weight);
    /// @notice Contribution `contributionId` is not in the Datanet version model `modelId` was trained on.
    error ContributionNotInModel(uint256 modelId, uint256 datanetId, uint256 contributionId);
    /// @notice The contribution's leaf was first claimed with weight `recorded`; a second leaf for it with
    /// `weight` does not count.
    error LeafWeightMismatch(uint256 datanetId, uint256 contributionId, uint256 recorded, uint256 weight);
    /// @notice Claimed leaves would weigh `weightClaimed` together, above the model's total `totalWeight`.
    error LeafWeightsExceedTotal(uint256 weightClaimed, uint128 totalWeight);
    /// @notice The leaf's first claim came after the model's claim window closed at `claimEndsAt`.
    error ClaimWindowClosed(uint256 modelId, uint40 claimEndsAt);
    /// @notice Unclaimed weight is swept only after the claim window closes at `claimEndsAt`.
    error ClaimWindowOpen(uint256 modelId, uint40 claimEndsAt);
    /// @notice Nothing unclaimable has accrued to sweep for `modelId`.
    error NothingToSweep(uint256 modelId);
    /// @notice A leaf of `claimRewards` belongs to `contributor`, not to the batch's `account`.
    error NotContributor(address account, address contributor);
    /// @notice A model names at most 8 Datanet references.
    error InvalidDataRefs(uint256 count);
    /// @notice A claim window of zero.
    error ZeroClaimWindow();
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

    /// @notice Registers a minted model's trainer and attribution and fixes its split and claim window (an
    /// unminted id reverts with `ERC721NonexistentToken`, so no id can be taken before its job finalizes).
    /// `REGISTRAR_ROLE` only.
    /// @param dataRefs The Datanet versions it was trained on, each `datanetId << 32 | version` (at most 8; the
    /// JobMarket always gives at least one; without any, `sweepUnclaimed` pays the treasury).
    function registerModel(
        uint256 modelId,
        address trainer,
        bytes32 attributionRoot,
        uint128 totalWeight,
        uint256[] calldata dataRefs
    ) external;

    /// @notice Deposits `amount` OPEN of revenue for a registered model (approve this contract first). Anyone.
    function depositRevenue(uint256 modelId, uint256 amount) external;

    /// @notice Called by the ModelRegistry before model `modelId` leaves `from`: pays `from` the owner share
    /// accrued so far (emits `SharesPaid` with zero trainer and protocol amounts). ModelRegistry only.
    function onModelTransfer(uint256 modelId, address from) external;

    /// @notice Pays the accrued owner share to the model's current owner, the trainer share to its trainer
    /// and the protocol share to the treasury. Anyone may trigger it.
    function payShares(uint256 modelId) external;

    /// @notice Sends the contributor the DatanetRegistry records for `(datanetId, contributionId)` that leaf's
    /// unclaimed rewards of `modelId`. Anyone may trigger it. A first claim within the claim window that finds
    /// nothing accrued yet records the leaf (its weight counts as claimed) and sends nothing.
    /// @param weight The leaf's weight in the model's attribution tree.
    /// @param proof Merkle proof of the leaf `(datanetId, contributionId, weight)`.
    /// @return amount The amount sent.
    function claimReward(
        uint256 modelId,
        uint256 datanetId,
        uint256 contributionId,
        uint256 weight,
        bytes32[] calldata proof
    ) external returns (uint256 amount);

    /// @notice `claimReward` for up to `MAX_BATCH` leaves at once (any models), all contributed by `account`,
    /// in one transfer.
    /// @return amount The total sent.
    function claimRewards(address account, LeafClaim[] calldata claims) external returns (uint256 amount);

    /// @notice After the claim window (at any time for a model without attribution), sends the share of the
    /// weight no leaf claimed to the reward pools of the model's Datanets, in equal parts (the first takes the
    /// rounding remainder; the treasury for a model registered without Datanets). Anyone may trigger it, again as
    /// revenue accrues.
    /// @return amount The amount moved to the pools.
    function sweepUnclaimed(uint256 modelId) external returns (uint256 amount);

    /// @notice Sets the claim window of models registered from now on. `DEFAULT_ADMIN_ROLE` only.
    function setClaimWindow(uint40 claimWindow) external;

    /// @notice The claim window of models registered from now on.
    function claimWindow() external view returns (uint40);

    /// @notice Claimed so far by the leaf `(datanetId, contributionId)` of `modelId`.
    function leafClaimed(uint256 modelId, uint256 datanetId, uint256 contributionId) external view returns (uint256);

    /// @notice The Datanet versions model `modelId` was trained on (`datanetId << 32 | version`).
    function dataRefsOf(uint256 modelId) external view returns (uint256[] memory);

    /// @notice What `sweepUnclaimed` would move now (0 while the window is open).
    function sweepable(uint256 modelId) external view returns (uint256);

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

    /// @notice Unclaimed rewards of the leaf `(datanetId, contributionId, weight)` (proof and contribution not
    /// checked; 0 for a leaf whose first claim would come after the window).
    function claimable(uint256 modelId, uint256 datanetId, uint256 contributionId, uint256 weight)
        external
        view
        returns (uint256);

    /// @notice Accrued, unpaid owner, trainer and protocol shares of `modelId`.
    function pendingShares(uint256 modelId)
        external
        view
        returns (uint256 ownerAmount, uint256 trainerAmount, uint256 protocolAmount);

    /// @notice Reward state of a model; reverts with `ModelNotRegistered` if absent.
    function getModelRewards(uint256 modelId) external view returns (ModelRewards memory);

    /// @notice Whether `modelId` is registered (can receive revenue).
    function isRegistered(uint256 modelId) external view returns (bool);

    /// @notice Total claimed by `account` from `modelId` (over all its contributions' leaves).
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
