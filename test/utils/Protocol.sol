// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {OpenToken} from "../../contracts/token/OpenToken.sol";
import {DatanetRegistry} from "../../contracts/datanets/DatanetRegistry.sol";
import {AccessRegistry} from "../../contracts/access/AccessRegistry.sol";
import {TrainerRegistry} from "../../contracts/trainers/TrainerRegistry.sol";
import {JobMarket} from "../../contracts/jobs/JobMarket.sol";
import {ModelRegistry} from "../../contracts/models/ModelRegistry.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {DisputeGame} from "../../contracts/disputes/DisputeGame.sol";
import {VerifierPool} from "../../contracts/disputes/VerifierPool.sol";
import {UsageGame} from "../../contracts/disputes/UsageGame.sol";
import {UsageEpochs} from "../../contracts/rewards/UsageEpochs.sol";
import {IUsageGame} from "../../contracts/interfaces/IUsageGame.sol";
import {IDisputeGame} from "../../contracts/interfaces/IDisputeGame.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IModelTransferHook} from "../../contracts/interfaces/IModelRegistry.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {Test} from "./Test.sol";

/// @notice The whole protocol deployed and wired like `scripts/deploy.ts`, with this contract as admin.
abstract contract Protocol is Test {
    uint256 internal constant MIN_STAKE = 100e18;
    uint64 internal constant COOLDOWN = 7 days;
    uint40 internal constant CHALLENGE_WINDOW = 1 days;
    uint16 internal constant DATA_FEE_BPS = 1_000;
    uint256 internal constant SLASH = 50e18;
    /// @dev What `stakeTrainer` stakes: the minimum plus the collateral of one 1,000 OPEN job.
    uint256 internal constant TRAINER_STAKE = 1_100e18;
    uint40 internal constant CLOSE_TIMEOUT = 1 days;
    uint64 internal constant PAID_DURATION = 30 days;
    uint128 internal constant CHALLENGE_BOND = 100e18;
    uint128 internal constant VERIFIER_FEE = 10e18;
    uint128 internal constant VERIFIER_PENALTY = 20e18;
    uint128 internal constant MIN_VERIFIER_STAKE = 100e18;
    uint32 internal constant MOVE_TIME = 1 hours;
    uint32 internal constant COMMIT_TIME = 1 hours;
    uint32 internal constant REVEAL_TIME = 1 hours;
    uint32 internal constant LOOKAHEAD = 4;
    uint32 internal constant EXIT_DELAY = 14 days;
    uint32 internal constant EMERGENCY_DELAY = 3 days;

    OpenToken internal token;
    DatanetRegistry internal datanets;
    AccessRegistry internal access;
    TrainerRegistry internal trainers;
    JobMarket internal market;
    ModelRegistry internal models;
    RewardDistributor internal rewards;
    PaymentChannels internal channels;
    DisputeGame internal game;
    VerifierPool internal pool;
    uint32 internal baseModel;

    address internal treasury = address(0x7EA5);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA201);
    address internal builder = address(0xB1D);
    address internal trainer = address(0x7AA1);
    address internal stranger = address(0x5757);

    function deployProtocol() internal {
        token = new OpenToken(address(this));
        datanets = new DatanetRegistry();
        models = new ModelRegistry(address(this));
        rewards = new RewardDistributor(
            IERC20(address(token)),
            datanets,
            IERC721(address(models)),
            address(this),
            treasury,
            IRewardDistributor.Split({ownerBps: 2_000, trainerBps: 1_000, protocolBps: 500})
        );
        access = new AccessRegistry(IERC20(address(token)), datanets, rewards, address(this), PAID_DURATION);
        trainers = new TrainerRegistry(IERC20(address(token)), address(this), MIN_STAKE, COOLDOWN);
        market = new JobMarket(
            JobMarket.Deps({
                token: IERC20(address(token)),
                datanets: datanets,
                access: access,
                trainers: trainers,
                models: models,
                rewards: rewards
            }),
            address(this),
            CHALLENGE_WINDOW,
            DATA_FEE_BPS,
            SLASH
        );
        channels = new PaymentChannels(IERC20(address(token)), rewards, address(this), CLOSE_TIMEOUT);
        pool = new VerifierPool(IERC20(address(token)), MIN_VERIFIER_STAKE, EXIT_DELAY);
        game = new DisputeGame(
            IERC20(address(token)),
            market,
            rewards,
            pool,
            address(this),
            IDisputeGame.Params({
                challengeBond: CHALLENGE_BOND,
                verifierFee: VERIFIER_FEE,
                verifierPenalty: VERIFIER_PENALTY,
                moveTime: MOVE_TIME,
                commitTime: COMMIT_TIME,
                revealTime: REVEAL_TIME,
                lookahead: LOOKAHEAD,
                emergencyDelay: EMERGENCY_DELAY
            })
        );
        market.setDisputeGame(address(game));
        wirePool();
        access.grantRole(access.CONSUMER_ROLE(), address(market));
        trainers.grantRole(trainers.JOB_MARKET_ROLE(), address(market));
        models.grantRole(models.MINTER_ROLE(), address(market));
        rewards.grantRole(rewards.REGISTRAR_ROLE(), address(market));
        models.setTransferHook(IModelTransferHook(address(rewards)));
        baseModel = models.registerBaseModel("tributary/tiny-llama", "bafybase");
    }

    /// @dev Names the games of the verifier pool (once); a test that adds the usage game overrides it.
    function wirePool() internal virtual {
        address[] memory games = new address[](1);
        games[0] = address(game);
        pool.setGames(games);
    }

    /// @dev Usage epochs wired as deploy.ts does: UsageEpochs with a PaymentChannels of its own (voucher revenue held
    /// by UsageEpochs), the usage game, and the pool naming both games (call it from a `wirePool` override).
    function deployUsage(uint40 window, uint40 release, uint128 providerBond)
        internal
        returns (UsageEpochs usage_, PaymentChannels channels_, UsageGame game_)
    {
        usage_ = new UsageEpochs(
            IERC20(address(token)), rewards, IERC721(address(models)), address(this), window, release, providerBond
        );
        channels_ =
            new PaymentChannels(IERC20(address(token)), IRewardDistributor(address(usage_)), address(this), CLOSE_TIMEOUT);
        usage_.setPaymentChannels(channels_);
        game_ = new UsageGame(
            IERC20(address(token)),
            usage_,
            pool,
            address(this),
            IUsageGame.Params({
                challengeBond: CHALLENGE_BOND,
                verifierFee: VERIFIER_FEE,
                verifierPenalty: VERIFIER_PENALTY,
                commitTime: COMMIT_TIME,
                revealTime: REVEAL_TIME,
                lookahead: LOOKAHEAD,
                emergencyDelay: EMERGENCY_DELAY
            })
        );
        usage_.setUsageGame(address(game_));
        address[] memory games = new address[](2);
        (games[0], games[1]) = (address(game), address(game_));
        pool.setGames(games);
    }

    function fund(address account, uint256 amount) internal {
        token.mint(account, amount);
        vm.prank(account);
        token.approve(address(market), type(uint256).max);
        vm.prank(account);
        token.approve(address(access), type(uint256).max);
        vm.prank(account);
        token.approve(address(rewards), type(uint256).max);
        vm.prank(account);
        token.approve(address(channels), type(uint256).max);
        vm.prank(account);
        token.approve(address(trainers), type(uint256).max);
        vm.prank(account);
        token.approve(address(game), type(uint256).max);
        vm.prank(account);
        token.approve(address(pool), type(uint256).max);
    }

    /// @dev A datanet owned by `alice` with `approved` approved contributions by bob.
    function makeDatanet(IDatanetRegistry.AccessPolicy policy, uint128 price, uint256 approved)
        internal
        returns (uint256 id)
    {
        vm.prank(alice);
        id = datanets.createDatanet("bafymeta", policy, price, new address[](0));
        for (uint256 i = 0; i < approved; ++i) {
            vm.prank(bob);
            uint256 c = datanets.submitContribution(id, "bafycontrib", keccak256(abi.encode(i)), 10, 1000, true);
            vm.prank(alice);
            datanets.approveContribution(id, c);
        }
    }

    function stakeTrainer(address account) internal {
        fund(account, TRAINER_STAKE);
        vm.prank(account);
        trainers.stake(TRAINER_STAKE);
    }

    function jobRequest(uint256 datanetId, uint128 budget) internal view returns (IJobMarket.JobRequest memory r) {
        uint256[] memory ids = new uint256[](1);
        ids[0] = datanetId;
        uint32[] memory versions = new uint32[](1);
        versions[0] = 1;
        r = IJobMarket.JobRequest({
            specCID: "bafyspec",
            baseModelId: baseModel,
            parentModelId: 0,
            datanetIds: ids,
            versions: versions,
            budget: budget,
            duration: 1 days
        });
    }

    function result(bytes32 root, uint128 totalWeight) internal pure returns (IJobMarket.Result memory) {
        return IJobMarket.Result({
            adapterCID: "bafyadapter",
            adapterHash: keccak256("adapter"),
            metricsCID: "bafymetrics",
            attributionRoot: root,
            attributionTotalWeight: totalWeight,
            reportCID: "bafyreport"
        });
    }

    /// @dev Posts, claims, submits and accepts a job on a fresh Open datanet; returns the model id.
    function mintModel(bytes32 root, uint128 totalWeight) internal returns (uint256 modelId) {
        uint256 d = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 1);
        fund(builder, 1_000e18);
        vm.prank(builder);
        uint256 jobId = market.postJob(jobRequest(d, 1_000e18));
        if (trainers.freeStakeOf(trainer) < market.collateralFor(1_000e18)) stakeTrainer(trainer);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(root, totalWeight));
        vm.prank(builder);
        modelId = market.acceptResult(jobId);
    }
}
