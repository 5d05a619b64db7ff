// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IJobMarket
/// @notice Fine-tuning jobs with escrow. State machine:
/// Open -claim-> Claimed -submit-> Submitted -accept|finalize-> Finalized;
/// Open -cancel-> Cancelled; Claimed -reclaim after dueAt (trainer slashed)-> Open;
/// Claimed -release by the trainer (fee), or no-fault release (a contribution withdrawn)-> Open;
/// Submitted -challenge in the DisputeGame within the window-> Disputed -every challenge lost by the challenger->
/// Submitted (then finalize) | -any challenge lost by the trainer-> Refunded (trainer slashed).
/// Finalizing pays the trainer `budget - dataFee` (pull: `withdraw`), splits `dataFee` over the job's
/// Datanets' reward pools and mints the model version (ERC-721) to the poster.
/// Collateral: a claim locks `max(slashAmount, budget * collateralBps / 10_000)` of the trainer's stake for that
/// job alone (fixed at claim; admin changes apply to later claims). Finalizing unlocks it; a missed deadline
/// slashes all of it to the job's Datanet pools (never to the poster, who chose the deadline); a release slashes
/// `releaseFeeBps` of it to the pools; a lost dispute slashes all of it, to the dispute game (verifier fees,
/// the challenger's reward; see {IDisputeGame}) and the pools.
interface IJobMarket {
    /// @notice Job status; see the contract notice for transitions.
    enum JobStatus {
        None,
        Open,
        Claimed,
        Submitted,
        Disputed,
        Finalized,
        Cancelled,
        Refunded
    }

    /// @notice Arguments of `postJob`.
    /// @param specCID IPFS CID of the `tributary/job-spec@1` JSON.
    /// @param baseModelId Base model id in the `ModelRegistry` (must be active).
    /// @param parentModelId Model version this job fine-tunes further (0 for none); must share `baseModelId`.
    /// @param datanetIds Datanets to train on (1..MAX_DATANETS, no duplicates); the poster needs access to each.
    /// @param versions Datanet version per entry of `datanetIds` (1..current version).
    /// @param budget OPEN escrowed (approve this contract first): trainer pay plus data fee.
    /// @param duration Seconds the trainer has from claiming to submitting.
    struct JobRequest {
        string specCID;
        uint32 baseModelId;
        uint256 parentModelId;
        uint256[] datanetIds;
        uint32[] versions;
        uint128 budget;
        uint32 duration;
    }

    /// @notice A job as returned by `getJob`.
    /// @param poster Account that posted and funded the job; receives the model version.
    /// @param status Current status.
    /// @param baseModelId Base model id.
    /// @param duration Seconds from claim to the submission deadline.
    /// @param trainer Claiming trainer (zero while Open).
    /// @param dueAt Submission deadline (set on claim).
    /// @param challengeEndsAt End of the challenge window (set on submit).
    /// @param budget Escrowed OPEN.
    /// @param dataFee Part of `budget` that goes to the Datanets' pools on finalize.
    /// @param collateral Stake the trainer's claim locked (0 while Open).
    /// @param parentModelId Parent model version (0 for none).
    /// @param modelId Model version minted on finalize (0 before).
    struct Job {
        address poster;
        JobStatus status;
        uint32 baseModelId;
        uint32 duration;
        address trainer;
        uint40 dueAt;
        uint40 challengeEndsAt;
        uint128 budget;
        uint128 dataFee;
        uint128 collateral;
        uint256 parentModelId;
        uint256 modelId;
    }

    /// @notice A trainer's result, as submitted.
    /// @param adapterCID IPFS CID of the adapter directory (PEFT adapter, metrics, attribution, manifest).
    /// @param adapterHash SHA-256 of `adapter_model.safetensors`.
    /// @param metricsCID IPFS CID of `metrics.json`.
    /// @param attributionRoot Merkle root (OpenZeppelin standard tree of `(address, uint256)`) of contributor
    /// weights; zero for no contributor attribution.
    /// @param attributionTotalWeight Sum of all weights in the tree (0 iff `attributionRoot` is zero).
    /// @param reportCID IPFS CID of the full attribution report.
    struct Result {
        string adapterCID;
        bytes32 adapterHash;
        string metricsCID;
        bytes32 attributionRoot;
        uint128 attributionTotalWeight;
        string reportCID;
    }

    /// @notice A job was posted and `budget` escrowed; `dataFee` of it goes to the Datanets' pools.
    event JobPosted(
        uint256 indexed jobId,
        address indexed poster,
        string specCID,
        uint32 baseModelId,
        uint256 parentModelId,
        uint256[] datanetIds,
        uint32[] versions,
        uint256 budget,
        uint256 dataFee,
        uint32 duration
    );
    /// @notice `trainer` claimed the job, locking `collateral` of its stake, and must submit by `dueAt`.
    event JobClaimed(uint256 indexed jobId, address indexed trainer, uint40 dueAt, uint256 collateral);
    /// @notice `trainer` submitted its result; it can be disputed until `challengeEndsAt`.
    event ResultSubmitted(
        uint256 indexed jobId,
        address indexed trainer,
        string adapterCID,
        bytes32 adapterHash,
        string metricsCID,
        bytes32 attributionRoot,
        uint128 attributionTotalWeight,
        string reportCID,
        uint40 challengeEndsAt
    );
    /// @notice The poster accepted the result before the challenge window ended.
    event ResultAccepted(uint256 indexed jobId, address indexed poster);
    /// @notice `challenger` opened a challenge in the dispute game, giving reasons at `reasonCID`.
    event JobDisputed(uint256 indexed jobId, address indexed challenger, string reasonCID);
    /// @notice The dispute game (`resolver`) closed a challenge. When the trainer lost, its whole collateral
    /// `slashed` went to the game (verifier fees, the challenger's reward) and the job's Datanet pools, and the
    /// budget was refunded to the poster.
    event DisputeResolved(
        uint256 indexed jobId, address indexed resolver, bool trainerWins, uint256 slashed, string reasonCID
    );
    /// @notice The dispute game was wired (once).
    event DisputeGameSet(address game);
    /// @notice The job finalized: `trainerPayment` credited to `trainer`, model version `modelId` minted.
    event JobFinalized(
        uint256 indexed jobId, address indexed trainer, uint256 indexed modelId, uint256 trainerPayment, uint256 dataFee
    );
    /// @notice `amount` of the data fee went to Datanet `datanetId`'s reward pool.
    event DataFeePaid(uint256 indexed jobId, uint256 indexed datanetId, uint256 amount);
    /// @notice The poster cancelled the open job; `refund` credited back.
    event JobCancelled(uint256 indexed jobId, address indexed poster, uint256 refund);
    /// @notice The trainer missed `dueAt`; its collateral `slashed` went to the job's Datanet pools and the job
    /// reopened.
    event JobReclaimed(uint256 indexed jobId, address indexed trainer, uint256 slashed);
    /// @notice The trainer gave the claimed job back before its deadline; `fee` OPEN of its collateral went to
    /// the job's Datanet pools (the trainer has seen their data), the rest was unlocked and the job reopened.
    event JobReleased(uint256 indexed jobId, address indexed trainer, uint256 fee);
    /// @notice The trainer gave the claimed job back without a fee because contribution `contributionId` of
    /// Datanet `datanetId`, part of the job's version, was withdrawn while the claim ran; the job reopened.
    event JobReleasedNoFault(
        uint256 indexed jobId, address indexed trainer, uint256 indexed datanetId, uint256 contributionId
    );
    /// @notice The share of its collateral a trainer pays to release a job changed.
    event ReleaseFeeBpsUpdated(uint16 releaseFeeBps);
    /// @notice The poster won the dispute; `refund` credited back.
    event JobRefunded(uint256 indexed jobId, address indexed poster, uint256 refund);
    /// @notice `account` withdrew `amount` of its credited OPEN.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The challenge window for new submissions changed.
    event ChallengeWindowUpdated(uint40 challengeWindow);
    /// @notice The data fee share for new jobs changed.
    event DataFeeBpsUpdated(uint16 dataFeeBps);
    /// @notice The collateral floor of later claims changed.
    event SlashAmountUpdated(uint256 slashAmount);
    /// @notice The share of a job's budget later claims lock as collateral changed.
    event CollateralBpsUpdated(uint16 collateralBps);

    /// @notice No job has id `jobId`.
    error JobNotFound(uint256 jobId);
    /// @notice The job is in `status`, the operation needs `expected`.
    error InvalidJobStatus(uint256 jobId, JobStatus status, JobStatus expected);
    /// @notice `account` is not the job's poster.
    error NotPoster(uint256 jobId, address account);
    /// @notice `account` is not the job's trainer.
    error NotTrainer(uint256 jobId, address account);
    /// @notice The submission deadline `dueAt` has passed.
    error DeadlinePassed(uint256 jobId, uint40 dueAt);
    /// @notice The submission deadline `dueAt` has not passed yet.
    error DeadlineNotPassed(uint256 jobId, uint40 dueAt);
    /// @notice The challenge window runs until `challengeEndsAt`.
    error ChallengeWindowOpen(uint256 jobId, uint40 challengeEndsAt);
    /// @notice The challenge window ended at `challengeEndsAt`.
    error ChallengeWindowClosed(uint256 jobId, uint40 challengeEndsAt);
    /// @notice A job needs 1..`max` Datanets; `count` given.
    error InvalidDatanetCount(uint256 count, uint256 max);
    /// @notice `datanetIds` and `versions` differ in length.
    error LengthMismatch(uint256 datanets, uint256 versions);
    /// @notice `datanetId` appears twice.
    error DuplicateDatanet(uint256 datanetId);
    /// @notice `version` is 0 or above the Datanet's current version `current`.
    error InvalidVersion(uint256 datanetId, uint32 version, uint32 current);
    /// @notice Base model `baseModelId` is unknown or inactive.
    error InactiveBaseModel(uint32 baseModelId);
    /// @notice The parent model `parentModelId` is built on `parentBase`, not on `baseModelId`.
    error ParentModelMismatch(uint256 parentModelId, uint32 baseModelId, uint32 parentBase);
    /// @notice The budget must be non-zero.
    error ZeroBudget();
    /// @notice `duration` is outside `min..max` seconds.
    error InvalidDuration(uint32 duration, uint32 min, uint32 max);
    /// @notice A CID argument was empty.
    error EmptyCID();
    /// @notice The attribution root and total weight must be both zero or both non-zero.
    error InvalidAttribution(bytes32 root, uint128 totalWeight);
    /// @notice Contribution `contributionId` of Datanet `datanetId` is not in the job's Datanet version, or was
    /// not withdrawn after the job was claimed: no on-chain cause for a no-fault release.
    error NoFaultCauseUnproven(uint256 jobId, uint256 datanetId, uint256 contributionId);
    /// @notice `account` has nothing to withdraw.
    error NothingToWithdraw(address account);
    /// @notice Only the dispute game may open and close disputes.
    error NotDisputeGame(address account);
    /// @notice The dispute game is set once, to a non-zero address (`current` is what is set).
    error DisputeGameFixed(address current);
    /// @notice A basis-point value above 10,000.
    error InvalidBps(uint256 bps);
    /// @notice A challenge window of zero.
    error ZeroChallengeWindow();
    /// @notice A release fee share of zero (releasing must cost something) or of the whole collateral or more
    /// (releasing must cost less than missing the deadline).
    error InvalidReleaseFeeBps(uint256 bps);

    /// @notice Posts a job and escrows `request.budget`. Consumes one access use per Datanet.
    /// @return jobId The new job id (1-based).
    function postJob(JobRequest calldata request) external returns (uint256 jobId);

    /// @notice Claims an open job, locking `collateralFor(budget)` of the caller's stake. The caller must be an
    /// eligible trainer (stake >= min stake) whose free stake covers the collateral.
    function claimJob(uint256 jobId) external;

    /// @notice Submits the result of a claimed job before its deadline; opens the challenge window.
    function submitResult(uint256 jobId, Result calldata result) external;

    /// @notice The poster accepts the submitted result early and finalizes the job.
    /// @return modelId The minted model version.
    function acceptResult(uint256 jobId) external returns (uint256 modelId);

    /// @notice Finalizes a submitted job after its challenge window. Anyone.
    /// @return modelId The minted model version.
    function finalizeJob(uint256 jobId) external returns (uint256 modelId);

    /// @notice Wires the dispute game, once. `DEFAULT_ADMIN_ROLE`.
    function setDisputeGame(address game) external;

    /// @notice The dispute game opens a challenge by `challenger` on a submitted (or already disputed) job within
    /// its challenge window: the job becomes Disputed and cannot finalize until every challenge is closed.
    function openDispute(uint256 jobId, address challenger, string calldata reasonCID) external;

    /// @notice The dispute game closes a challenge. The trainer winning closes only that challenge (the job
    /// returns to Submitted when none is left open). The trainer losing refunds the budget to the poster and
    /// slashes the whole collateral: `gameShare` of it goes to the game, the rest to the job's Datanet pools.
    /// @return slashed The collateral slashed (0 when the trainer wins).
    function closeDispute(uint256 jobId, bool trainerWins, uint256 gameShare) external returns (uint256 slashed);

    /// @notice The poster cancels an open (unclaimed) job; the budget is credited back and the access use
    /// posting consumed on each Datanet is restored (as paid or granted, as it was).
    function cancelJob(uint256 jobId) external;

    /// @notice Reopens a claimed job whose deadline passed, slashing the trainer's collateral to the job's
    /// Datanet pools. Anyone.
    function reclaimJob(uint256 jobId) external;

    /// @notice The trainer gives a claimed job back before its deadline instead of letting it run out: the job
    /// reopens at once and the trainer pays `collateral * releaseFeeBps / 10_000` of the job's collateral (less than
    /// a missed deadline, more than nothing: it has seen the data) to the job's Datanet pools.
    function releaseJob(uint256 jobId) external;

    /// @notice The trainer gives a claimed job back without a fee for a cause the chain proves: contribution
    /// `contributionId` of Datanet `datanetId` was approved in or before the job's version of that Datanet and
    /// its contributor withdrew it after the claim (`DatanetRegistry.inclusionOf`). The whole collateral is
    /// unlocked and the job reopens; the poster may cancel it or leave it for a trainer who claims knowing.
    function releaseJobNoFault(uint256 jobId, uint256 datanetId, uint256 contributionId) external;

    /// @notice Withdraws the caller's credited OPEN (trainer pay, refunds, slashed stake).
    /// @return amount The amount sent.
    function withdraw() external returns (uint256 amount);

    /// @notice Sets the challenge window for future submissions. `DEFAULT_ADMIN_ROLE` only.
    function setChallengeWindow(uint40 challengeWindow) external;

    /// @notice Sets the data fee share of future budgets, in basis points. `DEFAULT_ADMIN_ROLE` only.
    function setDataFeeBps(uint16 dataFeeBps) external;

    /// @notice Sets the collateral floor of later claims. `DEFAULT_ADMIN_ROLE` only.
    function setSlashAmount(uint256 slashAmount) external;

    /// @notice Sets the share of a job's budget later claims lock as collateral, in basis points (at most
    /// 10,000; default 10,000: the whole budget). `DEFAULT_ADMIN_ROLE` only.
    function setCollateralBps(uint16 collateralBps) external;

    /// @notice Sets the share of its collateral a release costs, in basis points, strictly between 0 and
    /// 10,000. `DEFAULT_ADMIN_ROLE` only.
    function setReleaseFeeBps(uint16 releaseFeeBps) external;

    /// @notice Returns a job; reverts with `JobNotFound` if absent.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice The Datanets and versions a job trains on.
    function getJobDatanets(uint256 jobId)
        external
        view
        returns (uint256[] memory datanetIds, uint32[] memory versions);

    /// @notice The submitted result of a job (empty before submission).
    function getResult(uint256 jobId) external view returns (Result memory);

    /// @notice Whether `trainer` currently holds job `jobId` (Claimed, Submitted or Disputed) and the job
    /// trains on `datanetId`: what a custodian checks before releasing data keys.
    function isAssigned(uint256 jobId, address trainer, uint256 datanetId) external view returns (bool);

    /// @notice OPEN credited to `account` and not yet withdrawn.
    function withdrawable(address account) external view returns (uint256);

    /// @notice Number of jobs posted.
    function jobCount() external view returns (uint256);

    /// @notice The dispute game allowed to open and close disputes (zero until wired).
    function disputeGame() external view returns (address);

    /// @notice Seconds after submission during which the result may be challenged.
    function challengeWindow() external view returns (uint40);

    /// @notice Data fee share of new budgets in basis points.
    function dataFeeBps() external view returns (uint16);

    /// @notice Collateral floor of a claim.
    function slashAmount() external view returns (uint256);

    /// @notice Share of a job's budget a claim locks as collateral, in basis points.
    function collateralBps() external view returns (uint16);

    /// @notice The collateral a claim of a job with `budget` locks now: `max(slashAmount, budget * collateralBps
    /// / 10_000)`.
    function collateralFor(uint256 budget) external view returns (uint256);

    /// @notice Share of its collateral a trainer pays to release a claimed job, in basis points.
    function releaseFeeBps() external view returns (uint16);
}
