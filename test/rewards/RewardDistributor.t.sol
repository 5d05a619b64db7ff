// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {RewardDistributor} from "../../contracts/rewards/RewardDistributor.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Protocol} from "../utils/Protocol.sol";

contract RewardDistributorTest is Protocol {
    address internal dave = address(0xDA7E);
    /// @dev Leaves of the contribution trees: bob's contribution 1 weighs 1, carol's contribution 2 weighs 3.
    bytes32[4] internal leaves;
    /// @dev The same contributors as `(account, weight)` leaves, for pool distributions.
    bytes32[4] internal poolLeaves;
    bytes32 internal root;
    bytes32 internal poolRoot;
    uint256 internal model;
    /// @dev Datanet with bob's contribution 1 and carol's contribution 2, both approved (version 2).
    uint256 internal net;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        vm.prank(alice);
        net = datanets.createDatanet("bafymeta", IDatanetRegistry.AccessPolicy.Open, 0, new address[](0));
        _contribute(bob);
        _contribute(carol);
        leaves[0] = Merkle.leaf(net, 1, 1);
        leaves[1] = Merkle.leaf(net, 2, 3);
        leaves[2] = Merkle.leaf(0, 1, 0);
        leaves[3] = Merkle.leaf(0, 2, 0);
        (root,) = Merkle.rootAndProof(leaves, 0);
        poolLeaves[0] = Merkle.leaf(bob, 1);
        poolLeaves[1] = Merkle.leaf(carol, 3);
        poolLeaves[2] = Merkle.leaf(address(1), 0);
        poolLeaves[3] = Merkle.leaf(address(2), 0);
        (poolRoot,) = Merkle.rootAndProof(poolLeaves, 0);
        model = _mint(root, 4);
        fund(dave, 1_000_000e18);
    }

    /// @dev `account` submits a contribution to `net` and alice approves it; returns its id.
    function _contribute(address account) internal returns (uint256 c) {
        vm.prank(account);
        c = datanets.submitContribution(net, "bafyc", keccak256(abi.encode(account, block.number)), 10, 1000, true);
        vm.prank(alice);
        datanets.approveContribution(net, c);
    }

    /// @dev Posts, claims, submits and accepts a job on `net` at its current version; returns the model id.
    function _mint(bytes32 r, uint128 w) internal returns (uint256 modelId) {
        IJobMarket.JobRequest memory req = jobRequest(net, 1_000e18);
        req.versions[0] = datanets.versionOf(net);
        fund(builder, 1_000e18);
        vm.prank(builder);
        uint256 jobId = market.postJob(req);
        if (trainers.freeStakeOf(trainer) < market.collateralFor(1_000e18)) stakeTrainer(trainer);
        vm.prank(trainer);
        market.claimJob(jobId);
        vm.prank(trainer);
        market.submitResult(jobId, result(r, w));
        vm.prank(builder);
        modelId = market.acceptResult(jobId);
    }

    function _proof(uint256 i) internal view returns (bytes32[] memory proof) {
        (, proof) = Merkle.rootAndProof(leaves, i);
    }

    function _poolProof(uint256 i) internal view returns (bytes32[] memory proof) {
        (, proof) = Merkle.rootAndProof(poolLeaves, i);
    }

    function _refs() internal view returns (uint256[] memory refs) {
        refs = new uint256[](1);
        refs[0] = (net << 32) | 2;
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
        assertEq(m.claimEndsAt, block.timestamp + rewards.DEFAULT_CLAIM_WINDOW(), "claim window");
        assertEq(rewards.dataRefsOf(model)[0], (net << 32) | 2, "trained on net version 2");
        rewards.setSplit(IRewardDistributor.Split(0, 0, 0));
        assertEq(rewards.getModelRewards(model).split.ownerBps, 2_000, "unchanged for registered model");
        assertEq(rewards.currentSplit().ownerBps, 0, "new split");
    }

    function test_register_reverts() public {
        rewards.grantRole(rewards.REGISTRAR_ROLE(), address(this));
        vm.expectRevert(IRewardDistributor.ZeroAddress.selector);
        rewards.registerModel(50, address(0), root, 1, _refs());
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidDataRefs.selector, 9));
        rewards.registerModel(50, trainer, root, 1, new uint256[](9));
        // Review finding 7: a registrar pre-registering a future model id bricked every later finalize.
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 50));
        rewards.registerModel(50, trainer, root, 4, _refs());
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidAttribution.selector, root, 0));
        rewards.registerModel(model, trainer, root, 0, _refs());
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelAlreadyRegistered.selector, model));
        rewards.registerModel(model, trainer, root, 4, _refs());
        bytes32 role = rewards.REGISTRAR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rewards.registerModel(51, trainer, root, 4, _refs());
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
        assertEq(rewards.claimable(model, net, 2, 3), uint256(650) * 3 / 4, "carol 3/4 of 65%");
        assertEq(rewards.claimable(model, net, 2, 5), 0, "weight above total");
        assertEq(rewards.claimable(99, net, 2, 3), 0, "unknown model");
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

    /// Review finding 2: a poster who is also the trainer submitted root 0 and the contributors' share went to
    /// the owner (the poster). Now it goes to the Datanet's pool; the owner gets only its own share.
    function test_finding2_rootZeroBenefitsNeitherPosterNorTrainer() public {
        address both = address(0xB07);
        fund(both, 1_000e18);
        stakeTrainer(both);
        IJobMarket.JobRequest memory req = jobRequest(net, 1_000e18);
        vm.prank(both);
        uint256 jobId = market.postJob(req);
        vm.prank(both);
        market.claimJob(jobId);
        vm.prank(both);
        market.submitResult(jobId, result(bytes32(0), 0));
        vm.prank(both);
        uint256 plain = market.acceptResult(jobId);
        vm.prank(dave);
        rewards.depositRevenue(plain, 1_000);
        (uint256 o, uint256 t, uint256 p) = rewards.pendingShares(plain);
        assertEq(o, 200, "owner gets its own 20% only");
        assertEq(t, 100, "trainer its own 10% only");
        assertEq(p, 50, "protocol");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NoAttribution.selector, plain));
        rewards.claimReward(plain, net, 1, 1, new bytes32[](0));
        uint256 poolBefore = rewards.poolBalance(net);
        assertEq(rewards.sweepable(plain), 650, "sweepable at once without attribution");
        vm.expectEmit();
        emit IRewardDistributor.UnclaimedSwept(plain, 0, 650, 650);
        vm.prank(stranger);
        assertEq(rewards.sweepUnclaimed(plain), 650, "contributors' 65% swept");
        assertEq(rewards.poolBalance(net) - poolBefore, 650, "to the Datanet's pool");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToSweep.selector, plain));
        rewards.sweepUnclaimed(plain);
        uint256 ownerBefore = token.balanceOf(both);
        rewards.payShares(plain);
        assertEq(token.balanceOf(both) - ownerBefore, 300, "poster-trainer: owner + trainer shares, nothing more");
    }

    /// Review finding 2: a trainer named itself sole contributor and took the whole share. Leaves now name
    /// contributions; a claim pays the contributor the DatanetRegistry records, and only for a contribution
    /// approved in the version the model was trained on.
    function test_finding2_trainerCannotNameItself() public {
        // The trainer's own contribution, approved only after the job's version: not in the model.
        uint256 own = _contribute(trainer);
        bytes32[4] memory ls;
        ls[0] = Merkle.leaf(net, own, 4);
        ls[1] = Merkle.leaf(net, 1, 0);
        ls[2] = Merkle.leaf(99, 1, 4); // a Datanet the job did not train on
        ls[3] = Merkle.leaf(net, 77, 4); // a contribution that does not exist
        IJobMarket.JobRequest memory req = jobRequest(net, 1_000e18);
        req.versions[0] = 2;
        fund(builder, 1_000e18);
        vm.prank(builder);
        uint256 jobId = market.postJob(req);
        vm.prank(trainer);
        market.claimJob(jobId);
        (bytes32 r,) = Merkle.rootAndProof(ls, 0);
        vm.prank(trainer);
        market.submitResult(jobId, result(r, 4));
        vm.prank(builder);
        uint256 m = market.acceptResult(jobId);
        vm.prank(dave);
        rewards.depositRevenue(m, 1_000);
        uint256[3] memory idx = [uint256(0), 2, 3];
        uint256[3] memory ids = [own, 1, 77];
        uint256[3] memory nets = [net, 99, net];
        for (uint256 k = 0; k < 3; ++k) {
            (, bytes32[] memory proof) = Merkle.rootAndProof(ls, idx[k]);
            vm.prank(trainer);
            vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ContributionNotInModel.selector, m, nets[k], ids[k]));
            rewards.claimReward(m, nets[k], ids[k], 4, proof);
        }
        // The old `(account, weight)` leaf naming the trainer proves nothing in a contribution tree.
        bytes32[4] memory old;
        old[0] = Merkle.leaf(trainer, 4);
        old[1] = Merkle.leaf(address(1), 0);
        old[2] = Merkle.leaf(address(2), 0);
        old[3] = Merkle.leaf(address(3), 0);
        (, bytes32[] memory oldProof) = Merkle.rootAndProof(old, 0);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidLeafProof.selector, net, 1, 4));
        rewards.claimReward(model, net, 1, 4, oldProof);
        // Whoever triggers a valid claim, the contributor is paid: the trainer calling for bob's leaf pays bob.
        _deposit(1_000);
        uint256 trainerBefore = token.balanceOf(trainer);
        vm.prank(trainer);
        rewards.claimReward(model, net, 1, 1, _proof(0));
        assertEq(token.balanceOf(bob), 162, "bob paid");
        assertEq(token.balanceOf(trainer), trainerBefore, "caller paid nothing");
        assertEq(rewards.getModelRewards(m).contributorsClaimed, 0, "nothing claimed from the self-attributed model");
        assertEq(rewards.sweepable(m), 0, "window still open");
    }

    /// Review finding 2: a total weight far above the leaves (2^128 - 1) locked the contributors' share forever.
    /// The leaves claim their exact share; after the claim window the rest goes to the Datanet's pool, also
    /// for revenue that comes later, and a leaf that never claimed in the window cannot start afterwards.
    function test_finding2_inflatedTotalIsSweptToThePoolAfterTheWindow() public {
        uint128 huge = type(uint128).max;
        uint256 m = _mint(root, huge);
        vm.prank(dave);
        rewards.depositRevenue(m, 1e24);
        uint256 accrued = 1e24 * 6_500 / 10_000;
        rewards.claimReward(m, net, 2, 3, _proof(1));
        assertEq(token.balanceOf(carol), accrued * 3 / huge, "carol's exact (tiny) share");
        IRewardDistributor.ModelRewards memory mr = rewards.getModelRewards(m);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ClaimWindowOpen.selector, m, mr.claimEndsAt));
        rewards.sweepUnclaimed(m);
        assertEq(rewards.sweepable(m), 0, "nothing before the window closes");
        vm.warp(uint256(mr.claimEndsAt) + 1);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ClaimWindowClosed.selector, m, mr.claimEndsAt));
        rewards.claimReward(m, net, 1, 1, _proof(0));
        assertEq(rewards.claimable(m, net, 1, 1), 0, "bob's leaf never claimed: closed");
        uint256 poolBefore = rewards.poolBalance(net);
        uint256 due = accrued * (huge - 3) / huge;
        vm.expectEmit();
        emit IRewardDistributor.UnclaimedSwept(m, huge - 3, due, due);
        assertEq(rewards.sweepUnclaimed(m), due, "the unclaimed weight's share");
        assertEq(rewards.poolBalance(net) - poolBefore, due, "to the pool");
        // Revenue after the sweep is swept again (carol's leaf, recorded in the window, keeps its tiny share).
        token.mint(dave, 1e24);
        vm.prank(dave);
        rewards.depositRevenue(m, 1e24);
        assertEq(rewards.claimable(m, net, 2, 3), 2 * accrued * 3 / huge - accrued * 3 / huge, "carol's new share");
        uint256 second = rewards.sweepUnclaimed(m);
        assertEq(second, 2 * accrued * (huge - 3) / huge - due, "the new accrual of the unclaimed weight");
        mr = rewards.getModelRewards(m);
        assertLe(uint256(mr.contributorsClaimed) + mr.sweptPaid, 2 * accrued, "never more than the contributors' part");
        assertLe(2 * accrued, uint256(mr.contributorsClaimed) + mr.sweptPaid + 2, "all but rounding dust paid out");
    }

    /// Review finding 2: leaves weighing more than the stated total cannot all claim; together the claimed
    /// leaves never exceed it, so no leaf takes another's share.
    function test_finding2_claimedWeightNeverExceedsTheTotal() public {
        bytes32[4] memory bad;
        bad[0] = Merkle.leaf(net, 1, 4);
        bad[1] = Merkle.leaf(net, 2, 4);
        bad[2] = Merkle.leaf(0, 1, 0);
        bad[3] = Merkle.leaf(0, 2, 0);
        (bytes32 badRoot, bytes32[] memory bobProof) = Merkle.rootAndProof(bad, 0);
        (, bytes32[] memory carolProof) = Merkle.rootAndProof(bad, 1);
        uint256 m = _mint(badRoot, 4);
        vm.prank(dave);
        rewards.depositRevenue(m, 1_000);
        assertEq(rewards.claimReward(m, net, 1, 4, bobProof), 650, "bob's leaf claims its (overstated) weight");
        assertEq(rewards.claimable(m, net, 2, 4), 0, "carol's leaf would exceed the total");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.LeafWeightsExceedTotal.selector, 8, 4));
        rewards.claimReward(m, net, 2, 4, carolProof);
        assertEq(rewards.getModelRewards(m).weightClaimed, 4, "claimed weight = total");
    }

    /// A tree holding one contribution twice (weights 1 and 3 of 4) cannot claim it at both weights: the weight
    /// recorded first is the leaf's, so the sweep and the claims stay within the contributors' part.
    function test_finding2_duplicateContributionLeafCountsOnce() public {
        bytes32[4] memory dup;
        dup[0] = Merkle.leaf(net, 1, 1);
        dup[1] = Merkle.leaf(net, 1, 3);
        dup[2] = Merkle.leaf(0, 1, 0);
        dup[3] = Merkle.leaf(0, 2, 0);
        (bytes32 r, bytes32[] memory p1) = Merkle.rootAndProof(dup, 0);
        (, bytes32[] memory p3) = Merkle.rootAndProof(dup, 1);
        uint256 m = _mint(r, 4);
        vm.prank(dave);
        rewards.depositRevenue(m, 1_000);
        assertEq(rewards.claimReward(m, net, 1, 1, p1), 162, "first leaf: weight 1");
        assertEq(rewards.claimable(m, net, 1, 3), 0, "the other weight is not claimable");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.LeafWeightMismatch.selector, net, 1, 1, 3));
        rewards.claimReward(m, net, 1, 3, p3);
        vm.warp(block.timestamp + rewards.DEFAULT_CLAIM_WINDOW() + 1);
        assertEq(rewards.sweepUnclaimed(m), 487, "the other 3/4 go to the pool");
        IRewardDistributor.ModelRewards memory mr = rewards.getModelRewards(m);
        assertLe(uint256(mr.contributorsClaimed) + mr.sweptPaid, 650, "within the contributors' part");
    }

    function test_setClaimWindow_appliesToModelsRegisteredLater() public {
        vm.expectEmit();
        emit IRewardDistributor.ClaimWindowUpdated(1 days);
        rewards.setClaimWindow(1 days);
        assertEq(rewards.claimWindow(), 1 days, "window");
        assertEq(rewards.getModelRewards(model).claimEndsAt, 1_000_000 + 180 days, "registered model keeps its own");
        uint256 m = _mint(root, 4);
        assertEq(rewards.getModelRewards(m).claimEndsAt, block.timestamp + 1 days, "new model");
        vm.expectRevert(IRewardDistributor.ZeroClaimWindow.selector);
        rewards.setClaimWindow(0);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        rewards.setClaimWindow(2 days);
    }

    function test_claim_firstClaimWithNothingAccruedRecordsTheLeaf() public {
        assertEq(rewards.claimReward(model, net, 1, 1, _proof(0)), 0, "nothing yet");
        assertEq(rewards.getModelRewards(model).weightClaimed, 1, "recorded in the window");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, bob));
        rewards.claimReward(model, net, 1, 1, _proof(0));
        vm.warp(block.timestamp + 200 days);
        _deposit(1_000);
        assertEq(rewards.claimReward(model, net, 1, 1, _proof(0)), 162, "a recorded leaf claims after the window");
        assertEq(rewards.sweepUnclaimed(model), 487, "carol never came: her share goes to the pool");
    }

    function test_claim_paysWeightedShareOnce() public {
        _deposit(1_000);
        vm.expectEmit();
        emit IRewardDistributor.RewardClaimed(model, carol, net, 2, 3, 487, 487);
        vm.prank(stranger);
        assertEq(rewards.claimReward(model, net, 2, 3, _proof(1)), 487, "carol");
        assertEq(token.balanceOf(carol), 487, "sent to carol");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, carol));
        rewards.claimReward(model, net, 2, 3, _proof(1));
        _deposit(1_000);
        assertEq(rewards.claimReward(model, net, 2, 3, _proof(1)), 975 - 487, "only the new accrual");
        assertEq(rewards.claimedBy(model, carol), 975, "claimed total");
        assertEq(rewards.leafClaimed(model, net, 2), 975, "by the leaf");
        assertEq(rewards.claimReward(model, net, 1, 1, _proof(0)), 325, "bob");
        assertEq(rewards.getModelRewards(model).contributorsClaimed, 1_300, "pool claimed");
    }

    function test_claim_reverts() public {
        _deposit(1_000);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidLeafProof.selector, net, 1, 3));
        rewards.claimReward(model, net, 1, 3, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.WeightExceedsTotal.selector, 5, 4));
        rewards.claimReward(model, net, 1, 5, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.ModelNotRegistered.selector, 99));
        rewards.claimReward(99, net, 1, 1, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, address(0)));
        rewards.claimReward(model, 0, 1, 0, _proof(2));
    }

    function test_claimBatch_sumsAcrossModels() public {
        uint256 second = _mint(root, 4);
        _deposit(1_000);
        vm.prank(dave);
        rewards.depositRevenue(second, 2_000);
        IRewardDistributor.LeafClaim[] memory cs = new IRewardDistributor.LeafClaim[](2);
        cs[0] = IRewardDistributor.LeafClaim(model, net, 2, 3, _proof(1));
        cs[1] = IRewardDistributor.LeafClaim(second, net, 2, 3, _proof(1));
        assertEq(rewards.claimRewards(carol, cs), 487 + 975, "sum");
        assertEq(token.balanceOf(carol), 487 + 975, "one transfer");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, carol));
        rewards.claimRewards(carol, cs);
        cs[1] = IRewardDistributor.LeafClaim(second, net, 1, 1, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotContributor.selector, carol, bob));
        rewards.claimRewards(carol, cs);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.BatchTooLarge.selector, 33, 32));
        rewards.claimRewards(carol, new IRewardDistributor.LeafClaim[](33));
    }

    function test_pool_fundDistributeClaim() public {
        uint256 pnet = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 0);
        vm.expectEmit();
        emit IRewardDistributor.DatanetPoolFunded(pnet, dave, 1_000, 1_000);
        vm.prank(dave);
        rewards.fundDatanetPool(pnet, 1_000);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotDatanetOwner.selector, pnet, stranger));
        rewards.createPoolDistribution(pnet, poolRoot, 4, "bafydist");
        // Review finding 6: one curator alone no longer turns the pool into a distribution.
        vm.prank(alice);
        datanets.addCurator(pnet, carol);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NotDatanetOwner.selector, pnet, carol));
        rewards.createPoolDistribution(pnet, poolRoot, 4, "bafydist");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidAttribution.selector, poolRoot, 0));
        rewards.createPoolDistribution(pnet, poolRoot, 0, "bafydist");
        vm.expectEmit();
        emit IRewardDistributor.PoolDistributionCreated(1, pnet, alice, poolRoot, 4, 1_000, "bafydist");
        vm.prank(alice);
        uint256 dist = rewards.createPoolDistribution(pnet, poolRoot, 4, "bafydist");
        assertEq(rewards.poolBalance(pnet), 0, "pool emptied");
        assertEq(rewards.distributionCount(), 1, "count");
        assertEq(rewards.getDistribution(dist).amount, 1_000, "amount");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.EmptyPool.selector, pnet));
        rewards.createPoolDistribution(pnet, poolRoot, 4, "bafydist");

        vm.expectEmit();
        emit IRewardDistributor.PoolRewardClaimed(dist, pnet, carol, 3, 750);
        assertEq(rewards.claimPoolReward(dist, carol, 3, _poolProof(1)), 750, "carol");
        assertTrue(rewards.isPoolRewardClaimed(dist, carol), "marked");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.AlreadyClaimed.selector, dist, carol));
        rewards.claimPoolReward(dist, carol, 3, _poolProof(1));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.InvalidProof.selector, bob, 2));
        rewards.claimPoolReward(dist, bob, 2, _poolProof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.WeightExceedsTotal.selector, 9, 4));
        rewards.claimPoolReward(dist, bob, 9, _poolProof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, address(1)));
        rewards.claimPoolReward(dist, address(1), 0, _poolProof(2));
        assertEq(rewards.claimPoolReward(dist, bob, 1, _poolProof(0)), 250, "bob");
        assertEq(rewards.getDistribution(dist).claimed, 1_000, "all claimed");
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.DistributionNotFound.selector, 9));
        rewards.claimPoolReward(9, bob, 1, _poolProof(0));
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.DistributionNotFound.selector, 9));
        rewards.getDistribution(9);
    }

    function test_pool_capsOverstatedTree() public {
        uint256 pnet = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 0);
        vm.prank(dave);
        rewards.fundDatanetPool(pnet, 100);
        bytes32[4] memory bad;
        bad[0] = Merkle.leaf(bob, 1);
        bad[1] = Merkle.leaf(carol, 1);
        bad[2] = Merkle.leaf(address(1), 0);
        bad[3] = Merkle.leaf(address(2), 0);
        (bytes32 badRoot, bytes32[] memory bobProof) = Merkle.rootAndProof(bad, 0);
        (, bytes32[] memory carolProof) = Merkle.rootAndProof(bad, 1);
        vm.prank(alice);
        uint256 dist = rewards.createPoolDistribution(pnet, badRoot, 1, "r");
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
        ls[0] = Merkle.leaf(net, 1, bobWeight);
        ls[1] = Merkle.leaf(net, 2, 4 - bobWeight);
        ls[2] = Merkle.leaf(0, 1, 0);
        ls[3] = Merkle.leaf(0, 2, 0);
        bytes32 r;
        (r, _bobProof) = Merkle.rootAndProof(ls, 0);
        (, _carolProof) = Merkle.rootAndProof(ls, 1);
        m = _mint(r, 4);
    }

    function _claimBoth(uint256 m, uint256 bobWeight) internal returns (uint256 paid) {
        if (rewards.claimable(m, net, 1, bobWeight) > 0) paid += rewards.claimReward(m, net, 1, bobWeight, _bobProof);
        if (rewards.claimable(m, net, 2, 4 - bobWeight) > 0) {
            paid += rewards.claimReward(m, net, 2, 4 - bobWeight, _carolProof);
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
            if (rewards.claimable(model, net, 2, 3) > 0) claimed += rewards.claimReward(model, net, 2, 3, _proof(1));
            IRewardDistributor.ModelRewards memory mr = rewards.getModelRewards(model);
            uint256 accrued = uint256(mr.revenue) * 6_500 / 10_000;
            assertLe(claimed, accrued * 3 / 4, "within share");
            assertEq(claimed, rewards.claimedBy(model, carol), "bookkeeping");
        }
    }
}
