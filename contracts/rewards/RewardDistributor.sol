// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IDatanetRegistry} from "../interfaces/IDatanetRegistry.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";


/// @dev Basis points in one whole.
uint256 constant BPS = 10_000;
/// @title RewardDistributor
/// @notice See {IRewardDistributor}. Deposits touch one storage slot (shares accrue lazily), so a voucher
/// redemption stays cheap. The token balance always equals, over all models,
/// `revenue - contributorsClaimed - ownerPaid - trainerPaid - protocolPaid`, plus the undistributed pool
/// balances, plus `amount - claimed` over all distributions. Contributor leaves are keyed by
/// `datanetId << 128 | contributionId` (Datanet ids come from a counter and contribution ids are `uint32`).
contract RewardDistributor is IRewardDistributor, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role that registers models (the job market).
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Most leaves one `claimRewards` call handles.
    uint256 public constant MAX_BATCH = 32;
    /// @notice Most Datanets one model was trained on (the JobMarket's `MAX_DATANETS`).
    uint256 public constant MAX_DATA_REFS = 8;
    /// @notice Claim window of models registered before `setClaimWindow` is first called.
    uint40 public constant DEFAULT_CLAIM_WINDOW = 180 days;

    /// @dev Slot 0 is all a deposit reads and writes; a claim reads slots 0, 3 and 4 and writes slot 0.
    struct ModelData {
        uint96 revenue;
        uint96 contributorsClaimed;
        uint16 ownerBps;
        uint16 trainerBps;
        uint16 protocolBps;
        bool registered;
        uint96 ownerPaid;
        uint96 trainerPaid;
        uint96 protocolPaid;
        address trainer;
        bytes32 attributionRoot;
        uint128 totalWeight;
        uint128 weightClaimed;
        uint96 sweptPaid;
        uint40 claimEndsAt;
        uint256[] dataRefs;
    }

    /// @dev A leaf's claims; `weight` is non-zero once the leaf claimed (its weight counts in `weightClaimed`).
    struct LeafState {
        uint128 claimed;
        uint128 weight;
    }

    IERC20 private immutable _token;
    IDatanetRegistry private immutable _datanets;
    IERC721 private immutable _models;

    Split private _split;
    address private _treasury;
    uint256 private _distributionCount;
    uint40 private _claimWindow;
    mapping(uint256 modelId => ModelData model) private _modelData;
    mapping(uint256 modelId => mapping(address account => uint256)) private _claimed;
    mapping(uint256 modelId => mapping(uint256 leafKey => LeafState leaf)) private _leaves;
    mapping(uint256 datanetId => uint256 balance) private _poolBalance;
    mapping(uint256 distributionId => Distribution distribution) private _distributions;
    mapping(uint256 distributionId => mapping(address account => bool)) private _poolClaimed;

    /// @param token The OPEN token.
    /// @param datanets The Datanet registry (curators of pools).
    /// @param models The model registry (owners of models).
    /// @param admin Receives `DEFAULT_ADMIN_ROLE`.
    /// @param treasury_ Receives the protocol share.
    /// @param split_ Split for models registered from now on.
    constructor(
        IERC20 token,
        IDatanetRegistry datanets,
        IERC721 models,
        address admin,
        address treasury_,
        Split memory split_
    ) {
        if (
            address(token) == address(0) || address(datanets) == address(0) || address(models) == address(0)
                || treasury_ == address(0)
        ) revert ZeroAddress();
        _token = token;
        _datanets = datanets;
        _models = models;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setSplit(split_);
        _treasury = treasury_;
        emit TreasuryUpdated(treasury_);
        _claimWindow = DEFAULT_CLAIM_WINDOW;
        emit ClaimWindowUpdated(DEFAULT_CLAIM_WINDOW);
    }

    /// @inheritdoc IRewardDistributor
    function registerModel(
        uint256 modelId,
        address trainer,
        bytes32 attributionRoot,
        uint128 totalWeight,
        uint256[] calldata dataRefs
    ) external onlyRole(REGISTRAR_ROLE) {
        if (trainer == address(0)) revert ZeroAddress();
        if (dataRefs.length > MAX_DATA_REFS) revert InvalidDataRefs(dataRefs.length);
        _models.ownerOf(modelId); // reverts for an id not minted yet (review finding 7: pre-registration)
        if ((attributionRoot == bytes32(0)) != (totalWeight == 0)) {
            revert InvalidAttribution(attributionRoot, totalWeight);
        }
        ModelData storage m = _modelData[modelId];
        if (m.registered) revert ModelAlreadyRegistered(modelId);
        Split memory s = _split;
        m.ownerBps = s.ownerBps;
        m.trainerBps = s.trainerBps;
        m.protocolBps = s.protocolBps;
        m.registered = true;
        m.trainer = trainer;
        m.attributionRoot = attributionRoot;
        m.totalWeight = totalWeight;
        m.claimEndsAt = uint40(block.timestamp) + _claimWindow;
        m.dataRefs = dataRefs;
        emit ModelRegistered(modelId, trainer, attributionRoot, totalWeight, s);
    }

    /// @inheritdoc IRewardDistributor
    function depositRevenue(uint256 modelId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        ModelData storage m = _modelData[modelId];
        if (!m.registered) revert ModelNotRegistered(modelId);
        uint256 revenue = m.revenue + amount;
        if (revenue > type(uint96).max) revert AmountTooLarge(revenue);
        m.revenue = uint96(revenue);
        emit RevenueDeposited(modelId, msg.sender, amount, revenue);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRewardDistributor
    function payShares(uint256 modelId) external {
        ModelData storage m = _registered(modelId);
        (uint256 ownerDue, uint256 trainerDue, uint256 protocolDue) = _pendingShares(m);
        if (ownerDue + trainerDue + protocolDue == 0) revert NothingToPay(modelId);
        // Each due amount is below its accrued share, which fits 96 bits with the revenue.
        m.ownerPaid += uint96(ownerDue);
        m.trainerPaid += uint96(trainerDue);
        m.protocolPaid += uint96(protocolDue);
        address owner = _models.ownerOf(modelId);
        address trainer = m.trainer;
        address treasury_ = _treasury;
        emit SharesPaid(modelId, owner, ownerDue, trainer, trainerDue, treasury_, protocolDue);
        if (ownerDue != 0) _token.safeTransfer(owner, ownerDue);
        if (trainerDue != 0) _token.safeTransfer(trainer, trainerDue);
        if (protocolDue != 0) _token.safeTransfer(treasury_, protocolDue);
    }

    /// @inheritdoc IRewardDistributor
    function onModelTransfer(uint256 modelId, address from) external {
        if (msg.sender != address(_models)) revert NotModelRegistry(msg.sender);
        ModelData storage m = _modelData[modelId];
        if (!m.registered) return;
        (uint256 ownerDue,,) = _pendingShares(m);
        if (ownerDue == 0) return;
        m.ownerPaid += uint96(ownerDue);
        emit SharesPaid(modelId, from, ownerDue, m.trainer, 0, _treasury, 0);
        _token.safeTransfer(from, ownerDue);
    }

    /// @inheritdoc IRewardDistributor
    function claimReward(
        uint256 modelId,
        uint256 datanetId,
        uint256 contributionId,
        uint256 weight,
        bytes32[] calldata proof
    ) external returns (uint256 amount) {
        address contributor;
        bool recorded;
        (contributor, amount, recorded) = _claim(modelId, datanetId, contributionId, weight, proof);
        if (amount == 0) {
            if (!recorded) revert NothingToClaim(contributor);
            return 0;
        }
        _token.safeTransfer(contributor, amount);
    }

    /// @inheritdoc IRewardDistributor
    function claimRewards(address account, LeafClaim[] calldata claims) external returns (uint256 amount) {
        uint256 n = claims.length;
        if (n > MAX_BATCH) revert BatchTooLarge(n, MAX_BATCH);
        bool recorded;
        for (uint256 i = 0; i < n; ++i) {
            LeafClaim calldata c = claims[i];
            (address contributor, uint256 part, bool fresh) =
                _claim(c.modelId, c.datanetId, c.contributionId, c.weight, c.proof);
            if (contributor != account) revert NotContributor(account, contributor);
            amount += part;
            recorded = recorded || fresh;
        }
        if (amount == 0) {
            if (!recorded) revert NothingToClaim(account);
            return 0;
        }
        _token.safeTransfer(account, amount);
    }

    /// @inheritdoc IRewardDistributor
    function sweepUnclaimed(uint256 modelId) external returns (uint256 amount) {
        ModelData storage m = _registered(modelId);
        if (m.attributionRoot != bytes32(0) && block.timestamp <= m.claimEndsAt) {
            revert ClaimWindowOpen(modelId, m.claimEndsAt);
        }
        (uint256 due, uint256 unclaimedWeight) = _sweepDue(m);
        if (due == 0) revert NothingToSweep(modelId);
        // `due` is at most the contributors' accrued part, which fits 96 bits with the revenue.
        uint256 swept = m.sweptPaid + due;
        m.sweptPaid = uint96(swept);
        emit UnclaimedSwept(modelId, unclaimedWeight, due, swept);
        uint256[] storage refs = m.dataRefs;
        uint256 n = refs.length;
        if (n == 0) {
            // Registered without Datanets (only a registrar other than the JobMarket can do that): no pool to
            // fund, so the protocol treasury takes it, never the owner or the trainer.
            _token.safeTransfer(_treasury, due);
            return due;
        }
        uint256 share = due / n;
        for (uint256 i = 0; i < n; ++i) {
            uint256 part = i == 0 ? due - share * (n - 1) : share;
            if (part == 0) continue;
            uint256 datanetId = refs[i] >> 32;
            uint256 balance = _poolBalance[datanetId] + part;
            _poolBalance[datanetId] = balance;
            emit DatanetPoolFunded(datanetId, address(this), part, balance);
        }
        return due;
    }

    /// @inheritdoc IRewardDistributor
    function setClaimWindow(uint40 claimWindow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (claimWindow_ == 0) revert ZeroClaimWindow();
        _claimWindow = claimWindow_;
        emit ClaimWindowUpdated(claimWindow_);
    }

    /// @inheritdoc IRewardDistributor
    function claimWindow() external view returns (uint40) {
        return _claimWindow;
    }

    /// @inheritdoc IRewardDistributor
    function leafClaimed(uint256 modelId, uint256 datanetId, uint256 contributionId)
        external
        view
        returns (uint256)
    {
        return _leaves[modelId][_leafKey(datanetId, contributionId)].claimed;
    }

    /// @inheritdoc IRewardDistributor
    function dataRefsOf(uint256 modelId) external view returns (uint256[] memory) {
        return _registered(modelId).dataRefs;
    }

    /// @inheritdoc IRewardDistributor
    function sweepable(uint256 modelId) external view returns (uint256 amount) {
        ModelData storage m = _modelData[modelId];
        if (!m.registered || (m.attributionRoot != bytes32(0) && block.timestamp <= m.claimEndsAt)) return 0;
        (amount,) = _sweepDue(m);
    }

    /// @inheritdoc IRewardDistributor
    function fundDatanetPool(uint256 datanetId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        if (datanetId == 0 || datanetId > _datanets.datanetCount()) revert UnknownDatanet(datanetId);
        uint256 balance = _poolBalance[datanetId] + amount;
        _poolBalance[datanetId] = balance;
        emit DatanetPoolFunded(datanetId, msg.sender, amount, balance);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRewardDistributor
    function createPoolDistribution(uint256 datanetId, bytes32 root, uint128 totalWeight, string calldata reportCID)
        external
        returns (uint256 distributionId)
    {
        (,, address owner) = _datanets.accessTermsOf(datanetId);
        if (owner != msg.sender) revert NotDatanetOwner(datanetId, msg.sender);
        if (root == bytes32(0) || totalWeight == 0) revert InvalidAttribution(root, totalWeight);
        uint256 amount = _poolBalance[datanetId];
        if (amount == 0) revert EmptyPool(datanetId);
        if (amount > type(uint128).max) revert AmountTooLarge(amount);
        _poolBalance[datanetId] = 0;
        distributionId = ++_distributionCount;
        _distributions[distributionId] = Distribution({
            datanetId: datanetId,
            root: root,
            totalWeight: totalWeight,
            amount: uint128(amount),
            claimed: 0
        });
        emit PoolDistributionCreated(distributionId, datanetId, msg.sender, root, totalWeight, amount, reportCID);
    }

    /// @inheritdoc IRewardDistributor
    function claimPoolReward(uint256 distributionId, address account, uint256 weight, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        Distribution storage d = _distributions[distributionId];
        bytes32 root = d.root;
        if (root == bytes32(0)) revert DistributionNotFound(distributionId);
        if (_poolClaimed[distributionId][account]) revert AlreadyClaimed(distributionId, account);
        uint128 totalWeight = d.totalWeight;
        if (weight > totalWeight) revert WeightExceedsTotal(weight, totalWeight);
        _verify(root, proof, account, weight);
        uint128 total = d.amount;
        amount = Math.mulDiv(total, weight, totalWeight);
        if (amount == 0) revert NothingToClaim(account);
        uint256 claimed = d.claimed + amount;
        if (claimed > total) revert ClaimExceedsRewards(amount, total - d.claimed);
        d.claimed = uint128(claimed);
        _poolClaimed[distributionId][account] = true;
        emit PoolRewardClaimed(distributionId, d.datanetId, account, weight, amount);
        _token.safeTransfer(account, amount);
    }

    /// @inheritdoc IRewardDistributor
    function setSplit(Split calldata split_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSplit(split_);
    }

    /// @inheritdoc IRewardDistributor
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        _treasury = treasury_;
        emit TreasuryUpdated(treasury_);
    }

    /// @inheritdoc IRewardDistributor
    function claimable(uint256 modelId, uint256 datanetId, uint256 contributionId, uint256 weight)
        external
        view
        returns (uint256)
    {
        ModelData storage m = _modelData[modelId];
        uint128 totalWeight = m.totalWeight;
        if (totalWeight == 0 || weight > totalWeight) return 0;
        LeafState storage leaf = _leaves[modelId][_leafKey(datanetId, contributionId)];
        if (leaf.weight == 0 && (block.timestamp > m.claimEndsAt || m.weightClaimed + weight > totalWeight)) return 0;
        if (leaf.weight != 0 && leaf.weight != weight) return 0;
        uint256 entitled = Math.mulDiv(_contributorsAccrued(m), weight, totalWeight);
        uint256 already = leaf.claimed;
        return entitled > already ? entitled - already : 0;
    }

    /// @inheritdoc IRewardDistributor
    function pendingShares(uint256 modelId)
        external
        view
        returns (uint256 ownerAmount, uint256 trainerAmount, uint256 protocolAmount)
    {
        return _pendingShares(_modelData[modelId]);
    }

    /// @inheritdoc IRewardDistributor
    function getModelRewards(uint256 modelId) external view returns (ModelRewards memory) {
        ModelData storage m = _registered(modelId);
        return ModelRewards({
            revenue: m.revenue,
            contributorsClaimed: m.contributorsClaimed,
            ownerPaid: m.ownerPaid,
            trainerPaid: m.trainerPaid,
            protocolPaid: m.protocolPaid,
            split: Split({ownerBps: m.ownerBps, trainerBps: m.trainerBps, protocolBps: m.protocolBps}),
            trainer: m.trainer,
            attributionRoot: m.attributionRoot,
            totalWeight: m.totalWeight,
            weightClaimed: m.weightClaimed,
            sweptPaid: m.sweptPaid,
            claimEndsAt: m.claimEndsAt
        });
    }

    /// @inheritdoc IRewardDistributor
    function isRegistered(uint256 modelId) external view returns (bool) {
        return _modelData[modelId].registered;
    }

    /// @inheritdoc IRewardDistributor
    function claimedBy(uint256 modelId, address account) external view returns (uint256) {
        return _claimed[modelId][account];
    }

    /// @inheritdoc IRewardDistributor
    function poolBalance(uint256 datanetId) external view returns (uint256) {
        return _poolBalance[datanetId];
    }

    /// @inheritdoc IRewardDistributor
    function getDistribution(uint256 distributionId) external view returns (Distribution memory d) {
        d = _distributions[distributionId];
        if (d.root == bytes32(0)) revert DistributionNotFound(distributionId);
    }

    /// @inheritdoc IRewardDistributor
    function isPoolRewardClaimed(uint256 distributionId, address account) external view returns (bool) {
        return _poolClaimed[distributionId][account];
    }

    /// @inheritdoc IRewardDistributor
    function distributionCount() external view returns (uint256) {
        return _distributionCount;
    }

    /// @inheritdoc IRewardDistributor
    function currentSplit() external view returns (Split memory) {
        return _split;
    }

    /// @inheritdoc IRewardDistributor
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @dev Books a leaf's claim and returns its contributor and amount (0 when nothing is due; `recorded` when
    /// this was the leaf's first claim); the caller transfers.
    function _claim(
        uint256 modelId,
        uint256 datanetId,
        uint256 contributionId,
        uint256 weight,
        bytes32[] calldata proof
    ) private returns (address contributor, uint256 amount, bool recorded) {
        ModelData storage m = _registered(modelId);
        _checkLeaf(m, modelId, datanetId, contributionId, weight, proof);
        contributor = _contributorIn(m, modelId, datanetId, contributionId);
        LeafState storage leaf = _leaves[modelId][_leafKey(datanetId, contributionId)];
        uint256 recordedWeight = leaf.weight;
        if (recordedWeight == 0) {
            _recordLeaf(m, modelId, weight);
            leaf.weight = uint128(weight);
            recorded = true;
        } else if (recordedWeight != weight) {
            // A tree holding the same contribution twice: only the weight recorded first counts.
            revert LeafWeightMismatch(datanetId, contributionId, recordedWeight, weight);
        }
        amount = _book(m, leaf, weight);
        if (amount == 0) return (contributor, 0, recorded);
        _claimed[modelId][contributor] += amount;
        emit RewardClaimed(modelId, contributor, datanetId, contributionId, weight, amount, leaf.claimed);
    }

    /// @dev Books what a leaf of weight `weight` is due now; returns the amount (the caller transfers).
    function _book(ModelData storage m, LeafState storage leaf, uint256 weight) private returns (uint256 amount) {
        uint256 accrued = _contributorsAccrued(m);
        uint256 entitled = Math.mulDiv(accrued, weight, m.totalWeight);
        uint256 already = leaf.claimed;
        if (entitled <= already) return 0;
        amount = entitled - already;
        uint256 paidOut = uint256(m.contributorsClaimed) + m.sweptPaid;
        if (paidOut + amount > accrued) revert ClaimExceedsRewards(amount, accrued - paidOut);
        m.contributorsClaimed += uint96(amount);
        leaf.claimed = uint128(entitled);
    }

    /// @dev Reverts unless the model has attribution and the leaf, with a non-zero weight within the total, is
    /// in its tree.
    function _checkLeaf(
        ModelData storage m,
        uint256 modelId,
        uint256 datanetId,
        uint256 contributionId,
        uint256 weight,
        bytes32[] calldata proof
    ) private view {
        bytes32 root = m.attributionRoot;
        if (root == bytes32(0)) revert NoAttribution(modelId);
        if (weight == 0) revert NothingToClaim(address(0));
        if (weight > m.totalWeight) revert WeightExceedsTotal(weight, m.totalWeight);
        bytes32 leafHash = keccak256(bytes.concat(keccak256(abi.encode(datanetId, contributionId, weight))));
        if (!MerkleProof.verifyCalldata(proof, root, leafHash)) {
            revert InvalidLeafProof(datanetId, contributionId, weight);
        }
    }

    /// @dev A leaf's first claim: within the window, and the leaves claimed so far fit the total.
    function _recordLeaf(ModelData storage m, uint256 modelId, uint256 weight) private {
        if (block.timestamp > m.claimEndsAt) revert ClaimWindowClosed(modelId, m.claimEndsAt);
        uint256 weightClaimed = m.weightClaimed + weight;
        if (weightClaimed > m.totalWeight) revert LeafWeightsExceedTotal(weightClaimed, m.totalWeight);
        m.weightClaimed = uint128(weightClaimed);
    }

    /// @dev The contributor of a contribution approved in the Datanet version the model was trained on.
    function _contributorIn(ModelData storage m, uint256 modelId, uint256 datanetId, uint256 contributionId)
        private
        view
        returns (address)
    {
        uint32 version;
        uint256[] storage refs = m.dataRefs;
        for (uint256 i = 0; i < refs.length; ++i) {
            if (refs[i] >> 32 == datanetId) version = uint32(refs[i]);
        }
        (uint32 approvedIn,) = version == 0 ? (uint32(0), uint40(0)) : _datanets.inclusionOf(datanetId, contributionId);
        if (approvedIn == 0 || approvedIn > version) revert ContributionNotInModel(modelId, datanetId, contributionId);
        return _datanets.getContribution(datanetId, contributionId).contributor;
    }

    /// @dev Unclaimable accrued share not yet swept: the weight no leaf claimed (all of it without attribution).
    function _sweepDue(ModelData storage m) private view returns (uint256 due, uint256 unclaimedWeight) {
        uint256 owed;
        if (m.attributionRoot == bytes32(0)) {
            owed = uint256(m.revenue) * _contributorsBps(m) / BPS;
        } else {
            uint128 totalWeight = m.totalWeight;
            unclaimedWeight = totalWeight - m.weightClaimed;
            owed = Math.mulDiv(_contributorsAccrued(m), unclaimedWeight, totalWeight);
        }
        uint256 swept = m.sweptPaid;
        due = owed > swept ? owed - swept : 0;
        // Never more than what the contributors' part still holds (claims and sweeps together stay within it).
        uint256 part = uint256(m.revenue) * _contributorsBps(m) / BPS;
        uint256 left = part - m.contributorsClaimed - swept;
        if (due > left) due = left;
    }

    function _verify(bytes32 root, bytes32[] calldata proof, address account, uint256 weight) private pure {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, weight))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(account, weight);
    }

    function _leafKey(uint256 datanetId, uint256 contributionId) private pure returns (uint256) {
        return (datanetId << 128) | uint128(contributionId);
    }

    /// @dev Every part is `floor(revenue * bps / 10_000)`, so each only grows as revenue grows (a remainder
    /// formula would not: it can shrink by a wei when several floors step at once). The rounding dust, under
    /// 4 wei per model, stays unclaimed. Without attribution no leaf can claim: `_sweepDue` sends it all to
    /// the Datanets' pools.
    function _contributorsAccrued(ModelData storage m) private view returns (uint256) {
        if (m.attributionRoot == bytes32(0)) return 0;
        return uint256(m.revenue) * _contributorsBps(m) / BPS;
    }

    function _pendingShares(ModelData storage m)
        private
        view
        returns (uint256 ownerDue, uint256 trainerDue, uint256 protocolDue)
    {
        uint256 revenue = m.revenue;
        ownerDue = revenue * m.ownerBps / BPS - m.ownerPaid;
        trainerDue = revenue * m.trainerBps / BPS - m.trainerPaid;
        protocolDue = revenue * m.protocolBps / BPS - m.protocolPaid;
    }

    function _contributorsBps(ModelData storage m) private view returns (uint256) {
        return BPS - m.ownerBps - m.trainerBps - m.protocolBps;
    }

    function _registered(uint256 modelId) private view returns (ModelData storage m) {
        m = _modelData[modelId];
        if (!m.registered) revert ModelNotRegistered(modelId);
    }

    function _setSplit(Split memory s) private {
        if (uint256(s.ownerBps) + s.trainerBps + s.protocolBps > BPS) {
            revert InvalidSplit(s.ownerBps, s.trainerBps, s.protocolBps);
        }
        _split = s;
        emit SplitUpdated(s);
    }
}
