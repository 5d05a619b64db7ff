// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Protocol} from "../utils/Protocol.sol";

contract RewardDistributorTest is Protocol {
    address internal dave = address(0xDA7E);
    bytes32[4] internal leaves;
    bytes32 internal root;
    uint256 internal model;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        // Weights: bob 1, carol 3 (of 4) plus two zero-weight padding leaves.
        leaves[0] = Merkle.leaf(bob, 1);
        leaves[1] = Merkle.leaf(carol, 3);
        leaves[2] = Merkle.leaf(address(1), 0);
        leaves[3] = Merkle.leaf(address(2), 0);
        (root,) = Merkle.rootAndProof(leaves, 0);
        model = mintModel(root, 4);
        fund(dave, 1_000_000e18);
    }

    function _proof(uint256 i) internal view returns (bytes32[] memory proof) {
        (, proof) = Merkle.rootAndProof(leaves, i);
    }

    function _deposit(uint256 amount) internal {
        vm.prank(dave);
        rewards.depositRevenue(model, amount);
    }

    function test_constructor_rejectsZeroAndBadSplit() public {
        IRewardDistributor.Split memory s = IRewardDistributor.Split(1, 1, 1);
        vm.expectRevert(IRewardDistributor.ZeroAddress.selector);
        new RewardDistributor(IERC20(address(token)), datanets, IERC721(address(models)), address(this), address(0), s);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidSplit.selector, 9_000, 1_000, 1));
        new RewardDistributor(
            IERC20(address(token)),
            datanets,
            IERC721(address(models)),
            address(this),
            treasury,
            IRewardDistributor.Split(9_000, 1_000, 1)
        );
    }

    function test_register_snapshotsSplit() public {
        IRewardDistributor.ModelRewards memory m = rewards.getModelRewards(model);
        assertEq(m.split.ownerBps, 2_000, "owner bps");
        assertEq(m.trainer, trainer, "trainer");
        assertEq(m.attributionRoot, root, "root");
        assertEq(m.totalWeight, 4, "weight");
        rewards.setSplit(IRewardDistributor.Split(0, 0, 0));
        assertEq(rewards.getModelRewards(model).split.ownerBps, 2_000, "unchanged for registered model");
        assertEq(rewards.currentSplit().ownerBps, 0, "new split");
    }

    function test_register_reverts() public {
        rewards.grantRole(rewards.REGISTRAR_ROLE(), address(this));
        vm.expectRevert(IRewardDistributor.ZeroAddress.selector);
        rewards.registerModel(50, address(0), root, 1);
        // Review finding 7: a registrar pre-registering a future model id bricked every later finalize.
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 50));
        rewards.registerModel(50, trainer, root, 4);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidAttribution.selector, root, 0));
        rewards.registerModel(model, trainer, root, 0);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelAlreadyRegistered.selector, model));
        rewards.registerModel(model, trainer, root, 4);
        bytes32 role = rewards.REGISTRAR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rewards.registerModel(51, trainer, root, 4);
    }

    /// Review finding 7: the owner's share was not settled when the model NFT moved; the next owner took it.
    function test_transfer_settlesTheOwnersShareToThePreviousOwner() public {
        _deposit(1_000e18);
        uint256 ownerShare = 1_000e18 * 2_000 / 10_000;
        uint256 before = token.balanceOf(builder);
        vm.expectEmit();
        emit IRewardDistributor.SharesPaid(model, builder, ownerShare, trainer, 0, treasury, 0);
        vm.prank(builder);
        models.transferFrom(builder, dave, model);
        assertEq(token.balanceOf(builder) - before, ownerShare, "previous owner paid what accrued to it");
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(model);
        assertEq(o, 0, "nothing left for the new owner from before");
        assertEq(t, 1_000e18 * 1_000 / 10_000, "trainer share untouched");
        assertEq(p, 1_000e18 * 500 / 10_000, "protocol share untouched");
        _deposit(500e18);
        uint256 daveBefore = token.balanceOf(dave);
        rewards.payShares(model);
        assertEq(token.balanceOf(dave) - daveBefore, 500e18 * 2_000 / 10_000, "new owner gets only what came after");
        // A transfer with nothing accrued moves the token without paying anything.
        vm.prank(dave);
        models.transferFrom(dave, builder, model);
        assertEq(models.ownerOf(model), builder, "moved back");
    }

    function test_onModelTransfer_onlyTheModelRegistry() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotModelRegistry.selector, stranger));
        rewards.onModelTransfer(model, builder);
    }

    function test_deposit_accruesRevenue() public {
        vm.expectEmit();
        emit IRewardDistributor.RevenueDeposited(model, dave, 1_000, 1_000);
        _deposit(1_000);
        assertEq(rewards.getModelRewards(model).revenue, 1_000, "revenue");
        assertEq(token.balanceOf(address(rewards)), 1_000 + 100e18, "held (plus data fee pool)");
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(model);
        assertEq(o, 200, "owner 20%");
        assertEq(t, 100, "trainer 10%");
        assertEq(p, 50, "protocol 5%");
        assertEq(rewards.claimable(model, carol, 3), uint256(650) * 3 / 4, "carol 3/4 of 65%");
        assertEq(rewards.claimable(model, carol, 5), 0, "weight above total");
        assertEq(rewards.claimable(99, carol, 3), 0, "unknown model");
    }

    function test_deposit_reverts() public {
        vm.startPrank(dave);
        vm.expectRevert(IRewardDistributor.ZeroAmount.selector);
        rewards.depositRevenue(model, 0);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelNotRegistered.selector, 99));
        rewards.depositRevenue(99, 1);
        vm.stopPrank();
        token.mint(dave, type(uint96).max);
        vm.prank(dave);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.AmountTooLarge.selector, uint256(type(uint96).max) + 1));
        rewards.depositRevenue(model, uint256(type(uint96).max) + 1);
    }

    function test_payShares_paysOwnerTrainerTreasury() public {
        _deposit(1_000);
        uint256 trainerBefore = token.balanceOf(trainer);
        vm.expectEmit();
        emit IRewardDistributor.SharesPaid(model, builder, 200, trainer, 100, treasury, 50);
        vm.prank(stranger);
        rewards.payShares(model);
        assertEq(token.balanceOf(builder), 200, "owner");
        assertEq(token.balanceOf(trainer) - trainerBefore, 100, "trainer");
        assertEq(token.balanceOf(treasury), 50, "treasury");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToPay.selector, model));
        rewards.payShares(model);
        // The owner share follows the NFT.
        vm.prank(builder);
        models.transferFrom(builder, alice, model);
        _deposit(10);
        rewards.payShares(model);
        assertEq(token.balanceOf(alice), 2, "new owner paid");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelNotRegistered.selector, 99));
        rewards.payShares(99);
    }

    function test_payShares_modelWithoutAttributionGivesContributorsPartToOwner() public {
        uint256 plain = mintModel(bytes32(0), 0);
        vm.prank(dave);
        rewards.depositRevenue(plain, 1_000);
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(plain);
        assertEq(o, 850, "owner + contributors");
        assertEq(t + p, 150, "rest");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NoAttribution.selector, plain));
        rewards.claimReward(plain, bob, 1, new bytes32[](0));
    }

    function test_claim_paysWeightedShareOnce() public {
        _deposit(1_000);
        vm.expectEmit();
        emit IRewardDistributor.RewardClaimed(model, carol, 3, 487, 487);
        vm.prank(stranger);
        assertEq(rewards.claimReward(model, carol, 3, _proof(1)), 487, "carol");
        assertEq(token.balanceOf(carol), 487, "sent to carol");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, carol));
        rewards.claimReward(model, carol, 3, _proof(1));
        _deposit(1_000);
        assertEq(rewards.claimReward(model, carol, 3, _proof(1)), 975 - 487, "only the new accrual");
        assertEq(rewards.claimedBy(model, carol), 975, "claimed total");
        assertEq(rewards.claimReward(model, bob, 1, _proof(0)), 325, "bob");
        assertEq(rewards.getModelRewards(model).contributorsClaimed, 1_300, "pool claimed");
    }

    function test_claim_reverts() public {
        _deposit(1_000);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidProof.selector, bob, 3));
        rewards.claimReward(model, bob, 3, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.WeightExceedsTotal.selector, 5, 4));
        rewards.claimReward(model, bob, 5, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelNotRegistered.selector, 99));
        rewards.claimReward(99, bob, 1, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, address(1)));
        rewards.claimReward(model, address(1), 0, _proof(2));
    }

    function test_claim_capsOverstatedTree() public {
        // A tree whose weights (4 + 4) exceed the stated total 4 cannot drain more than the contributors' part.
        bytes32[4] memory bad;
        bad[0] = Merkle.leaf(bob, 4);
        bad[1] = Merkle.leaf(carol, 4);
        bad[2] = Merkle.leaf(address(1), 0);
        bad[3] = Merkle.leaf(address(2), 0);
        (bytes32 badRoot, bytes32[] memory bobProof) = Merkle.rootAndProof(bad, 0);
        (, bytes32[] memory carolProof) = Merkle.rootAndProof(bad, 1);
        uint256 m = mintModel(badRoot, 4);
        vm.prank(dave);
        rewards.depositRevenue(m, 1_000);
        assertEq(rewards.claimReward(m, bob, 4, bobProof), 650, "bob takes all");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ClaimExceedsRewards.selector, 650, 0));
        rewards.claimReward(m, carol, 4, carolProof);
    }

    function test_claimBatch_sumsAcrossModels() public {
        uint256 second = mintModel(root, 4);
        _deposit(1_000);
        vm.prank(dave);
        rewards.depositRevenue(second, 2_000);
        uint256[] memory ids = new uint256[](2);
        ids[0] = model;
        ids[1] = second;
        uint256[] memory weights = new uint256[](2);
        weights[0] = 3;
        weights[1] = 3;
        bytes32[][] memory proofs = new bytes32[][](2);
        proofs[0] = _proof(1);
        proofs[1] = _proof(1);
        assertEq(rewards.claimRewards(ids, carol, weights, proofs), 487 + 975, "sum");
        assertEq(token.balanceOf(carol), 487 + 975, "one transfer");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, carol));
        rewards.claimRewards(ids, carol, weights, proofs);
        vm.expectRevert(IRewardDistributor.LengthMismatch.selector);
        rewards.claimRewards(ids, carol, new uint256[](1), proofs);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.BatchTooLarge.selector, 33, 32));
        rewards.claimRewards(new uint256[](33), carol, new uint256[](33), new bytes32[][](33));
    }

    function test_pool_fundDistributeClaim() public {
        uint256 net = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 0);
        vm.expectEmit();
        emit IRewardDistributor.DatanetPoolFunded(net, dave, 1_000, 1_000);
        vm.prank(dave);
        rewards.fundDatanetPool(net, 1_000);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotDatanetOwner.selector, net, stranger));
        rewards.createPoolDistribution(net, root, 4, "bafydist");
        // Review finding 6: one curator alone no longer turns the pool into a distribution.
        vm.prank(alice);
        datanets.addCurator(net, carol);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotDatanetOwner.selector, net, carol));
        rewards.createPoolDistribution(net, root, 4, "bafydist");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidAttribution.selector, root, 0));
        rewards.createPoolDistribution(net, root, 0, "bafydist");
        vm.expectEmit();
        emit IRewardDistributor.PoolDistributionCreated(1, net, alice, root, 4, 1_000, "bafydist");
        vm.prank(alice);
        uint256 dist = rewards.createPoolDistribution(net, root, 4, "bafydist");
        assertEq(rewards.poolBalance(net), 0, "pool emptied");
        assertEq(rewards.distributionCount(), 1, "count");
        assertEq(rewards.getDistribution(dist).amount, 1_000, "amount");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.EmptyPool.selector, net));
        rewards.createPoolDistribution(net, root, 4, "bafydist");

        vm.expectEmit();
        emit IRewardDistributor.PoolRewardClaimed(dist, net, carol, 3, 750);
        assertEq(rewards.claimPoolReward(dist, carol, 3, _proof(1)), 750, "carol");
        assertTrue(rewards.isPoolRewardClaimed(dist, carol), "marked");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.AlreadyClaimed.selector, dist, carol));
        rewards.claimPoolReward(dist, carol, 3, _proof(1));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidProof.selector, bob, 2));
        rewards.claimPoolReward(dist, bob, 2, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.WeightExceedsTotal.selector, 9, 4));
        rewards.claimPoolReward(dist, bob, 9, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, address(1)));
        rewards.claimPoolReward(dist, address(1), 0, _proof(2));
        assertEq(rewards.claimPoolReward(dist, bob, 1, _proof(0)), 250, "bob");
        assertEq(rewards.getDistribution(dist).claimed, 1_000, "all claimed");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.DistributionNotFound.selector, 9));
        rewards.claimPoolReward(9, bob, 1, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.DistributionNotFound.selector, 9));
        rewards.getDistribution(9);
    }

    function test_pool_capsOverstatedTree() public {
        uint256 net = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 0);
        vm.prank(dave);
        rewards.fundDatanetPool(net, 100);
        bytes32[4] memory bad;
        bad[0] = Merkle.leaf(bob, 1);
        bad[1] = Merkle.leaf(carol, 1);
        bad[2] = Merkle.leaf(address(1), 0);
        bad[3] = Merkle.leaf(address(2), 0);
        (bytes32 badRoot, bytes32[] memory bobProof) = Merkle.rootAndProof(bad, 0);
        (, bytes32[] memory carolProof) = Merkle.rootAndProof(bad, 1);
        vm.prank(alice);
        uint256 dist = rewards.createPoolDistribution(net, badRoot, 1, "r");
        rewards.claimPoolReward(dist, bob, 1, bobProof);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ClaimExceedsRewards.selector, 100, 0));
        rewards.claimPoolReward(dist, carol, 1, carolProof);
    }

    function test_pool_fundReverts() public {
        vm.startPrank(dave);
        vm.expectRevert(IRewardDistributor.ZeroAmount.selector);
        rewards.fundDatanetPool(1, 0);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.UnknownDatanet.selector, 0));
        rewards.fundDatanetPool(0, 1);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.UnknownDatanet.selector, 500));
        rewards.fundDatanetPool(500, 1);
        vm.stopPrank();
    }

    function test_admin_setSplitAndTreasury() public {
        vm.expectEmit();
        emit IRewardDistributor.TreasuryUpdated(alice);
        rewards.setTreasury(alice);
        assertEq(rewards.treasury(), alice, "treasury");
        vm.expectRevert(IRewardDistributor.ZeroAddress.selector);
        rewards.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidSplit.selector, 10_000, 1, 0));
        rewards.setSplit(IRewardDistributor.Split(10_000, 1, 0));
        bytes memory err =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0));
        vm.startPrank(stranger);
        vm.expectRevert(err);
        rewards.setTreasury(alice);
        vm.expectRevert(err);
        rewards.setSplit(IRewardDistributor.Split(0, 0, 0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelNotRegistered.selector, 77));
        rewards.getModelRewards(77);
    }

    bytes32[] internal _bobProof;
    bytes32[] internal _carolProof;

    function _modelWithWeights(uint256 bobWeight) internal returns (uint256 m) {
        bytes32[4] memory ls;
        ls[0] = Merkle.leaf(bob, bobWeight);
        ls[1] = Merkle.leaf(carol, 4 - bobWeight);
        ls[2] = Merkle.leaf(address(1), 0);
        ls[3] = Merkle.leaf(address(2), 0);
        bytes32 r;
        (r, _bobProof) = Merkle.rootAndProof(ls, 0);
        (, _carolProof) = Merkle.rootAndProof(ls, 1);
        m = mintModel(r, 4);
    }

    function _claimBoth(uint256 m, uint256 bobWeight) internal returns (uint256 paid) {
        if (rewards.claimable(m, bob, bobWeight) > 0) paid += rewards.claimReward(m, bob, bobWeight, _bobProof);
        if (rewards.claimable(m, carol, 4 - bobWeight) > 0) {
            paid += rewards.claimReward(m, carol, 4 - bobWeight, _carolProof);
        }
    }

    /// Fuzz: for any split and revenue, each part is its exact floor, the parts never exceed the revenue,
    /// contributors never over-claim, and payouts leave the distributor exactly.
    function testFuzz_split_partsSumToRevenue(uint16 o, uint16 t, uint16 p, uint96 revenue, uint8 w) public {
        o = uint16(bound(o, 0, 10_000));
        t = uint16(bound(t, 0, 10_000 - o));
        p = uint16(bound(p, 0, 10_000 - o - t));
        revenue = uint96(bound(revenue, 1, 1e27));
        uint256 bobWeight = bound(w, 0, 4);
        rewards.setSplit(IRewardDistributor.Split(o, t, p));
        uint256 m = _modelWithWeights(bobWeight);
        token.mint(dave, revenue);
        vm.prank(dave);
        rewards.depositRevenue(m, revenue);
        uint256 before = token.balanceOf(address(rewards));
        (uint256 ownerDue, uint256 trainerDue, uint256 protocolDue) = rewards.pendingShares(m);
        assertEq(ownerDue, uint256(revenue) * o / 10_000, "owner exact");
        assertEq(trainerDue, uint256(revenue) * t / 10_000, "trainer exact");
        assertEq(protocolDue, uint256(revenue) * p / 10_000, "protocol exact");
        uint256 contributors = uint256(revenue) * (10_000 - uint256(o) - t - p) / 10_000;
        assertLe(revenue - (ownerDue + trainerDue + protocolDue + contributors), 3, "dust under 4 wei");
        uint256 paid = _claimBoth(m, bobWeight);
        assertLe(paid, contributors, "contributors never over-claim");
        assertLe(contributors - paid, 2, "rounding dust at most one per claimant");
        if (ownerDue + trainerDue + protocolDue > 0) rewards.payShares(m);
        assertEq(before - token.balanceOf(address(rewards)), paid + ownerDue + trainerDue + protocolDue, "paid out");
    }

    /// Fuzz: repeated deposits and claims never let an account exceed `accrued * weight / total`.
    function testFuzz_claim_neverExceedsShare(uint64 a, uint64 b, uint64 c) public {
        uint256 claimed;
        uint64[3] memory deposits = [a, b, c];
        for (uint256 i = 0; i < 3; ++i) {
            uint256 amount = bound(deposits[i], 1, 1e24);
            _deposit(amount);
            if (rewards.claimable(model, carol, 3) > 0) claimed += rewards.claimReward(model, carol, 3, _proof(1));
            IRewardDistributor.ModelRewards memory mr = rewards.getModelRewards(model);
            uint256 accrued = uint256(mr.revenue) * 6_500 / 10_000;
            assertLe(claimed, accrued * 3 / 4, "within share");
            assertEq(claimed, rewards.claimedBy(model, carol), "bookkeeping");
        }
    }
}
