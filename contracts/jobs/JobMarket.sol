// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAccessRegistry} from "../interfaces/IAccessRegistry.sol";
import {IDatanetRegistry} from "../interfaces/IDatanetRegistry.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IRewardDistributor} from "../interfaces/IRewardDistributor.sol";
import {ITrainerRegistry} from "../interfaces/ITrainerRegistry.sol";


/// @dev Basis points in one whole.
uint256 constant BPS = 10_000;
/// @title JobMarket
/// @notice See {IJobMarket}. The token balance always equals the budgets of jobs in escrow (Open, Claimed,
/// Submitted, Disputed) plus what is credited to accounts and not yet withdrawn. Calls out go only to the
/// protocol's own contracts, fixed at construction.
contract JobMarket is IJobMarket, AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Most Datanets one job may train on.
    uint256 public constant MAX_DATANETS = 8;
    /// @notice Shortest training duration a job may give.
    uint32 public constant MIN_DURATION = 1 minutes;
    /// @notice Longest training duration a job may give.
    uint32 public constant MAX_DURATION = 90 days;

    /// @dev Slots: (poster, status, baseModelId, duration, paidMask, grantedMask), (trainer, dueAt,
    /// challengeEndsAt, openDisputes), (budget, dataFee), collateral (written on claim), parentModelId
    /// (written only when set), modelId (written on finalize), data refs (`id << 32 | version`). The masks say
    /// which Datanets' access uses were paid or granted, so `cancelJob` restores them as they were.
    struct JobData {
        address poster;
        JobStatus status;
        uint32 baseModelId;
        uint32 duration;
        uint8 paidMask;
        uint8 grantedMask;
        address trainer;
        uint40 dueAt;
        uint40 challengeEndsAt;
        uint16 openDisputes;
        uint128 budget;
        uint128 dataFee;
        uint128 collateral;
        uint256 parentModelId;
        uint256 modelId;
        uint256[] dataRefs;
    }

    IERC20 private immutable _token;
    IDatanetRegistry private immutable _datanets;
    IAccessRegistry private immutable _access;
    ITrainerRegistry private immutable _trainers;
    IModelRegistry private immutable _models;
    IRewardDistributor private immutable _rewards;

    uint40 private _challengeWindow;
    uint16 private _dataFeeBps;
    uint256 private _slashAmount;
    uint16 private _releaseFeeBps;
    uint16 private _collateralBps;
    uint256 private _jobCount;
    mapping(uint256 jobId => JobData job) private _jobs;
    mapping(uint256 jobId => Result jobResult) private _results;
    mapping(address account => uint256 credit) private _withdrawable;
    address private _game;

    /// @notice The protocol contracts the market works with.
    struct Deps {
        IERC20 token;
        IDatanetRegistry datanets;
        IAccessRegistry access;
        ITrainerRegistry trainers;
        IModelRegistry models;
        IRewardDistributor rewards;
    }

    /// @param deps The protocol contracts.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (parameters, and wiring the dispute game once).
    /// @param challengeWindow_ Seconds a result can be disputed.
    /// @param dataFeeBps_ Share of each budget paid to the Datanets' pools.
    /// @param slashAmount_ Collateral floor: a claim locks `max(slashAmount, budget * collateralBps / 10_000)`.
    constructor(Deps memory deps, address admin, uint40 challengeWindow_, uint16 dataFeeBps_, uint256 slashAmount_) {
        _token = deps.token;
        _datanets = deps.datanets;
        _access = deps.access;
        _trainers = deps.trainers;
        _models = deps.models;
        _rewards = deps.rewards;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setChallengeWindow(challengeWindow_);
        _setDataFeeBps(dataFeeBps_);
        _slashAmount = slashAmount_;
        emit SlashAmountUpdated(slashAmount_);
        _setReleaseFeeBps(2_500);
        _setCollateralBps(uint16(BPS));
        deps.token.forceApprove(address(deps.rewards), type(uint256).max);
    }

    /// @inheritdoc IJobMarket
    function postJob(JobRequest calldata request) external returns (uint256 jobId) {
        uint128 budget = request.budget;
        if (budget == 0) revert ZeroBudget();
        if (request.duration < MIN_DURATION || request.duration > MAX_DURATION) {
            revert InvalidDuration(request.duration, MIN_DURATION, MAX_DURATION);
        }
        if (bytes(request.specCID).length == 0) revert EmptyCID();
        if (!_models.isActiveBaseModel(request.baseModelId)) revert InactiveBaseModel(request.baseModelId);
        if (request.parentModelId != 0) {
            uint32 parentBase = _models.baseModelOf(request.parentModelId);
            if (parentBase != request.baseModelId) {
                revert ParentModelMismatch(request.parentModelId, request.baseModelId, parentBase);
            }
        }
        (uint256[] memory refs, uint8 paidMask, uint8 grantedMask) = _checkData(request.datanetIds, request.versions);

        jobId = ++_jobCount;
        JobData storage job = _jobs[jobId];
        job.poster = msg.sender;
        job.status = JobStatus.Open;
        job.baseModelId = request.baseModelId;
        job.duration = request.duration;
        job.paidMask = paidMask;
        job.grantedMask = grantedMask;
        uint128 dataFee = uint128(uint256(budget) * _dataFeeBps / BPS);
        job.budget = budget;
        job.dataFee = dataFee;
        if (request.parentModelId != 0) job.parentModelId = request.parentModelId;
        job.dataRefs = refs;
        _emitPosted(jobId, request, dataFee);
        _token.safeTransferFrom(msg.sender, address(this), budget);
    }

    /// @inheritdoc IJobMarket
    function claimJob(uint256 jobId) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Open);
        uint40 dueAt = uint40(block.timestamp) + job.duration;
        uint256 collateral = uint256(job.budget) * _collateralBps / BPS;
        if (collateral < _slashAmount) collateral = _slashAmount;
        job.status = JobStatus.Claimed;
        job.trainer = msg.sender;
        job.dueAt = dueAt;
        job.collateral = SafeCast.toUint128(collateral);
        emit JobClaimed(jobId, msg.sender, dueAt, collateral);
        _trainers.beginJob(msg.sender, collateral); // reverts unless the caller's free stake covers it
    }

    /// @inheritdoc IJobMarket
    function submitResult(uint256 jobId, Result calldata result) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Claimed);
        if (job.trainer != msg.sender) revert NotTrainer(jobId, msg.sender);
        if (block.timestamp > job.dueAt) revert DeadlinePassed(jobId, job.dueAt);
        if (bytes(result.adapterCID).length == 0 || bytes(result.metricsCID).length == 0) revert EmptyCID();
        if ((result.attributionRoot == bytes32(0)) != (result.attributionTotalWeight == 0)) {
            revert InvalidAttribution(result.attributionRoot, result.attributionTotalWeight);
        }
        if (result.attributionRoot != bytes32(0) && bytes(result.reportCID).length == 0) revert EmptyCID();
        uint40 challengeEndsAt = uint40(block.timestamp) + _challengeWindow;
        job.status = JobStatus.Submitted;
        job.challengeEndsAt = challengeEndsAt;
        _results[jobId] = result;
        emit ResultSubmitted(
            jobId,
            msg.sender,
            result.adapterCID,
            result.adapterHash,
            result.metricsCID,
            result.attributionRoot,
            result.attributionTotalWeight,
            result.reportCID,
            challengeEndsAt
        );
    }

    /// @inheritdoc IJobMarket
    function acceptResult(uint256 jobId) external returns (uint256 modelId) {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Submitted);
        if (job.poster != msg.sender) revert NotPoster(jobId, msg.sender);
        emit ResultAccepted(jobId, msg.sender);
        return _finalize(jobId, job);
    }

    /// @inheritdoc IJobMarket
    function finalizeJob(uint256 jobId) external returns (uint256 modelId) {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Submitted);
        if (block.timestamp < job.challengeEndsAt) revert ChallengeWindowOpen(jobId, job.challengeEndsAt);
        return _finalize(jobId, job);
    }

    /// @inheritdoc IJobMarket
    function setDisputeGame(address game) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_game != address(0) || game == address(0)) revert DisputeGameFixed(_game);
        _game = game;
        emit DisputeGameSet(game);
    }

    /// @inheritdoc IJobMarket
    function openDispute(uint256 jobId, address challenger, string calldata reasonCID) external {
        JobData storage job = _fromGame(jobId);
        JobStatus status = job.status;
        if (status != JobStatus.Submitted && status != JobStatus.Disputed) {
            revert InvalidJobStatus(jobId, status, JobStatus.Submitted);
        }
        if (block.timestamp >= job.challengeEndsAt) revert ChallengeWindowClosed(jobId, job.challengeEndsAt);
        job.status = JobStatus.Disputed;
        ++job.openDisputes;
        emit JobDisputed(jobId, challenger, reasonCID);
    }

    /// @inheritdoc IJobMarket
    function closeDispute(uint256 jobId, bool trainerWins, uint256 gameShare) external returns (uint256 slashed) {
        JobData storage job = _fromGame(jobId);
        if (job.status != JobStatus.Disputed) revert InvalidJobStatus(jobId, job.status, JobStatus.Disputed);
        if (trainerWins) {
            // The result stands; the job finalizes once no other challenge is open (and the window is over).
            if (--job.openDisputes == 0) job.status = JobStatus.Submitted;
            emit DisputeResolved(jobId, msg.sender, true, 0, "");
            return 0;
        }
        address poster = job.poster;
        uint256 refund = job.budget;
        job.status = JobStatus.Refunded;
        job.openDisputes = 0;
        slashed = _trainers.endJob(job.trainer, job.collateral, job.collateral);
        if (gameShare > slashed) gameShare = slashed;
        _withdrawable[poster] += refund;
        emit DisputeResolved(jobId, msg.sender, false, slashed, "");
        emit JobRefunded(jobId, poster, refund);
        _fundPools(jobId, job.dataRefs, slashed - gameShare, false);
        if (gameShare != 0) _token.safeTransfer(msg.sender, gameShare);
    }

    /// @inheritdoc IJobMarket
    function cancelJob(uint256 jobId) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Open);
        if (job.poster != msg.sender) revert NotPoster(jobId, msg.sender);
        uint256 refund = job.budget;
        job.status = JobStatus.Cancelled;
        _withdrawable[msg.sender] += refund;
        emit JobCancelled(jobId, msg.sender, refund);
        // Review finding 7: the access uses posting consumed go back to the poster.
        uint256 paidMask = job.paidMask;
        uint256 grantedMask = job.grantedMask;
        uint256[] storage refs = job.dataRefs;
        for (uint256 i = 0; i < refs.length; ++i) {
            bool paid = (paidMask >> i) & 1 == 1;
            if (paid || (grantedMask >> i) & 1 == 1) _access.restoreAccess(refs[i] >> 32, msg.sender, paid);
        }
    }

    /// @inheritdoc IJobMarket
    function reclaimJob(uint256 jobId) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Claimed);
        if (block.timestamp <= job.dueAt) revert DeadlineNotPassed(jobId, job.dueAt);
        address trainer = job.trainer;
        uint256 collateral = _reopen(job);
        // To the Datanets whose data the trainer held, never to the poster, who chose the deadline.
        uint256 slashed = _trainers.endJob(trainer, collateral, collateral);
        emit JobReclaimed(jobId, trainer, slashed);
        _fundPools(jobId, job.dataRefs, slashed, false);
    }

    /// @inheritdoc IJobMarket
    function releaseJob(uint256 jobId) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Claimed);
        if (job.trainer != msg.sender) revert NotTrainer(jobId, msg.sender);
        if (block.timestamp > job.dueAt) revert DeadlinePassed(jobId, job.dueAt);
        uint256 collateral = _reopen(job);
        uint256 fee = _trainers.endJob(msg.sender, collateral, collateral * _releaseFeeBps / BPS);
        emit JobReleased(jobId, msg.sender, fee);
        _fundPools(jobId, job.dataRefs, fee, false);
    }

    /// @inheritdoc IJobMarket
    function releaseJobNoFault(uint256 jobId, uint256 datanetId, uint256 contributionId) external {
        JobData storage job = _jobWithStatus(jobId, JobStatus.Claimed);
        if (job.trainer != msg.sender) revert NotTrainer(jobId, msg.sender);
        uint32 version;
        uint256[] storage refs = job.dataRefs;
        for (uint256 i = 0; i < refs.length; ++i) {
            if (refs[i] >> 32 == datanetId) version = uint32(refs[i]);
        }
        (uint32 approvedIn, uint40 withdrawnAt) = _datanets.inclusionOf(datanetId, contributionId);
        // The job's version includes the contribution, and its consent was withdrawn while this claim ran
        // (one before the claim, or in its block, was visible to the trainer when it claimed).
        if (
            version == 0 || approvedIn == 0 || approvedIn > version || withdrawnAt == 0
                || withdrawnAt <= job.dueAt - job.duration
        ) revert NoFaultCauseUnproven(jobId, datanetId, contributionId);
        uint256 collateral = _reopen(job);
        _trainers.endJob(msg.sender, collateral, 0);
        emit JobReleasedNoFault(jobId, msg.sender, datanetId, contributionId);
    }

    /// @inheritdoc IJobMarket
    function withdraw() external returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IJobMarket
    function setChallengeWindow(uint40 challengeWindow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengeWindow(challengeWindow_);
    }

    /// @inheritdoc IJobMarket
    function setDataFeeBps(uint16 dataFeeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDataFeeBps(dataFeeBps_);
    }

    /// @inheritdoc IJobMarket
    function setSlashAmount(uint256 slashAmount_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _slashAmount = slashAmount_;
        emit SlashAmountUpdated(slashAmount_);
    }

    /// @inheritdoc IJobMarket
    function setReleaseFeeBps(uint16 releaseFeeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setReleaseFeeBps(releaseFeeBps_);
    }

    /// @inheritdoc IJobMarket
    function setCollateralBps(uint16 collateralBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCollateralBps(collateralBps_);
    }

    /// @inheritdoc IJobMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        JobData storage job = _existing(jobId);
        return Job({
            poster: job.poster,
            status: job.status,
            baseModelId: job.baseModelId,
            duration: job.duration,
            trainer: job.trainer,
            dueAt: job.dueAt,
            challengeEndsAt: job.challengeEndsAt,
            budget: job.budget,
            dataFee: job.dataFee,
            collateral: job.collateral,
            parentModelId: job.parentModelId,
            modelId: job.modelId
        });
    }

    /// @inheritdoc IJobMarket
    function getJobDatanets(uint256 jobId)
        external
        view
        returns (uint256[] memory datanetIds, uint32[] memory versions)
    {
        uint256[] storage refs = _existing(jobId).dataRefs;
        uint256 n = refs.length;
        datanetIds = new uint256[](n);
        versions = new uint32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 ref = refs[i];
            datanetIds[i] = ref >> 32;
            versions[i] = uint32(ref);
        }
    }

    /// @inheritdoc IJobMarket
    function getResult(uint256 jobId) external view returns (Result memory) {
        _existing(jobId);
        return _results[jobId];
    }

    /// @inheritdoc IJobMarket
    function isAssigned(uint256 jobId, address trainer, uint256 datanetId) external view returns (bool) {
        JobData storage job = _jobs[jobId];
        JobStatus status = job.status;
        if (
            trainer == address(0) || job.trainer != trainer
                || (status != JobStatus.Claimed && status != JobStatus.Submitted && status != JobStatus.Disputed)
        ) return false;
        uint256[] storage refs = job.dataRefs;
        for (uint256 i = 0; i < refs.length; ++i) {
            if (refs[i] >> 32 == datanetId) return true;
        }
        return false;
    }

    /// @inheritdoc IJobMarket
    function withdrawable(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IJobMarket
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobMarket
    function disputeGame() external view returns (address) {
        return _game;
    }

    /// @inheritdoc IJobMarket
    function challengeWindow() external view returns (uint40) {
        return _challengeWindow;
    }

    /// @inheritdoc IJobMarket
    function dataFeeBps() external view returns (uint16) {
        return _dataFeeBps;
    }

    /// @inheritdoc IJobMarket
    function slashAmount() external view returns (uint256) {
        return _slashAmount;
    }

    /// @inheritdoc IJobMarket
    function releaseFeeBps() external view returns (uint16) {
        return _releaseFeeBps;
    }

    /// @inheritdoc IJobMarket
    function collateralBps() external view returns (uint16) {
        return _collateralBps;
    }

    /// @inheritdoc IJobMarket
    function collateralFor(uint256 budget) external view returns (uint256) {
        uint256 collateral = budget * _collateralBps / BPS;
        return collateral < _slashAmount ? _slashAmount : collateral;
    }

    /// @dev Validates the data references, consumes one access use per Datanet and packs them; bit `i` of
    /// the masks says Datanet `i` consumed a paid or a granted use (restored on cancel).
    function _checkData(uint256[] calldata datanetIds, uint32[] calldata versions)
        private
        returns (uint256[] memory refs, uint8 paidMask, uint8 grantedMask)
    {
        uint256 n = datanetIds.length;
        if (n == 0 || n > MAX_DATANETS) revert InvalidDatanetCount(n, MAX_DATANETS);
        if (versions.length != n) revert LengthMismatch(n, versions.length);
        refs = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = datanetIds[i];
            for (uint256 j = 0; j < i; ++j) {
                if (datanetIds[j] == id) revert DuplicateDatanet(id);
            }
            uint32 version = versions[i];
            uint32 current = _datanets.versionOf(id);
            if (version == 0 || version > current) revert InvalidVersion(id, version, current);
            uint8 kind = _access.consumeAccess(id, msg.sender);
            if (kind == 2) paidMask |= uint8(1 << i);
            else if (kind == 1) grantedMask |= uint8(1 << i);
            // Datanet ids are sequential from 1, far below 2^224.
            refs[i] = (id << 32) | version;
        }
    }

    function _emitPosted(uint256 jobId, JobRequest calldata request, uint128 dataFee) private {
        emit JobPosted(
            jobId,
            msg.sender,
            request.specCID,
            request.baseModelId,
            request.parentModelId,
            request.datanetIds,
            request.versions,
            request.budget,
            dataFee,
            request.duration
        );
    }

    /// @dev Settles a submitted or disputed job: credits the trainer, mints and registers the model, then
    /// moves the data fee to the Datanets' pools.
    function _finalize(uint256 jobId, JobData storage job) private returns (uint256 modelId) {
        address trainer = job.trainer;
        uint256 dataFee = job.dataFee;
        uint256 payment = job.budget - dataFee;
        job.status = JobStatus.Finalized;
        _withdrawable[trainer] += payment;

        Result storage result = _results[jobId];
        uint256[] memory refs = job.dataRefs;
        uint256 n = refs.length;
        uint256[] memory datanetIds = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            datanetIds[i] = refs[i] >> 32;
        }
        modelId = _models.mintModelVersion(
            IModelRegistry.MintRequest({
                to: job.poster,
                jobId: jobId,
                baseModelId: job.baseModelId,
                parentId: job.parentModelId,
                trainer: trainer,
                adapterCID: result.adapterCID,
                adapterHash: result.adapterHash,
                attributionRoot: result.attributionRoot,
                attributionTotalWeight: result.attributionTotalWeight,
                reportCID: result.reportCID,
                datanetIds: datanetIds
            })
        );
        job.modelId = modelId;
        _rewards.registerModel(modelId, trainer, result.attributionRoot, result.attributionTotalWeight, refs);
        _trainers.endJob(trainer, job.collateral, 0);
        emit JobFinalized(jobId, trainer, modelId, payment, dataFee);

        _fundPools(jobId, refs, dataFee, true);
    }

    /// @dev Returns a claimed job to Open; returns the collateral its claim locked.
    function _reopen(JobData storage job) private returns (uint256 collateral) {
        collateral = job.collateral;
        job.status = JobStatus.Open;
        job.trainer = address(0);
        job.dueAt = 0;
        job.collateral = 0;
    }

    /// @dev Pays `amount` (held by the market) to the pools of the Datanets in `refs`, in equal shares; the
    /// first Datanet also takes the rounding remainder. `isDataFee` emits `DataFeePaid` per Datanet (slashed
    /// collateral is reported by its own event and the distributor's `DatanetPoolFunded`).
    function _fundPools(uint256 jobId, uint256[] memory refs, uint256 amount, bool isDataFee) private {
        if (amount == 0) return;
        uint256 n = refs.length;
        uint256 share = amount / n;
        for (uint256 i = 0; i < n; ++i) {
            uint256 part = i == 0 ? amount - share * (n - 1) : share;
            if (part == 0) continue;
            uint256 datanetId = refs[i] >> 32;
            if (isDataFee) emit DataFeePaid(jobId, datanetId, part);
            _rewards.fundDatanetPool(datanetId, part);
        }
    }

    function _fromGame(uint256 jobId) private view returns (JobData storage job) {
        if (msg.sender != _game || msg.sender == address(0)) revert NotDisputeGame(msg.sender);
        job = _existing(jobId);
    }

    function _existing(uint256 jobId) private view returns (JobData storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert JobNotFound(jobId);
    }

    function _jobWithStatus(uint256 jobId, JobStatus expected) private view returns (JobData storage job) {
        job = _existing(jobId);
        if (job.status != expected) revert InvalidJobStatus(jobId, job.status, expected);
    }

    function _setChallengeWindow(uint40 challengeWindow_) private {
        if (challengeWindow_ == 0) revert ZeroChallengeWindow();
        _challengeWindow = challengeWindow_;
        emit ChallengeWindowUpdated(challengeWindow_);
    }

    function _setReleaseFeeBps(uint16 releaseFeeBps_) private {
        if (releaseFeeBps_ == 0 || releaseFeeBps_ >= BPS) revert InvalidReleaseFeeBps(releaseFeeBps_);
        _releaseFeeBps = releaseFeeBps_;
        emit ReleaseFeeBpsUpdated(releaseFeeBps_);
    }

    function _setCollateralBps(uint16 collateralBps_) private {
        if (collateralBps_ > BPS) revert InvalidBps(collateralBps_);
        _collateralBps = collateralBps_;
        emit CollateralBpsUpdated(collateralBps_);
    }

    function _setDataFeeBps(uint16 dataFeeBps_) private {
        if (dataFeeBps_ > BPS) revert InvalidBps(dataFeeBps_);
        _dataFeeBps = dataFeeBps_;
        emit DataFeeBpsUpdated(dataFeeBps_);
    }
}
