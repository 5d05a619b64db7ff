// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {UsageEpochs} from "../../contracts/rewards/UsageEpochs.sol";
import {UsageGame} from "../../contracts/disputes/UsageGame.sol";
import {IUsageGame} from "../../contracts/interfaces/IUsageGame.sol";
import {IVerifierPool} from "../../contracts/interfaces/IVerifierPool.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";
import {IUsageEpochs} from "../../contracts/interfaces/IUsageEpochs.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Protocol} from "../utils/Protocol.sol";

/// @notice PaymentChannels wired to UsageEpochs and the usage game as deploy.ts does; payers, a node (the provider),
/// contributors, a challenger and staked verifiers.
contract UsageEpochsTest is Protocol {
    uint40 internal constant WINDOW = 1 days;
    uint40 internal constant RELEASE = 7 days;
    /// @dev The provider bond per epoch.
    uint128 internal constant BOND = 50e18;

    UsageEpochs internal usage;
    UsageGame internal ugame;
    /// @dev Seven verifiers (staked by `_stakeVerifiers`); the first is lazy where a test says so.
    address[7] internal verifiers =
        [address(0x7E01), address(0x7E02), address(0x7E03), address(0x7E04), address(0x7E05), address(0x7E06), address(0x7E07)];
    PaymentChannels internal pc;
    uint256 internal payerKey = 0xBA1E;
    uint256 internal payer2Key = 0xBA2E;
    address internal payer;
    address internal payer2;
    address internal node = address(0x9A0);
    address internal dave = address(0xDA7E);
    uint256 internal model;
    uint256 internal model2;
    bytes32 internal ch1;
    bytes32 internal ch2;
    bytes32 internal ch3;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        (usage, pc, ugame) = deployUsage(WINDOW, RELEASE, BOND);
        payer = vm.addr(payerKey);
        payer2 = vm.addr(payer2Key);
        model = mintModel(keccak256("root"), 1);
        model2 = mintModel(keccak256("root2"), 1);
        vm.prank(builder);
        usage.enableUsageEpochs(model);
        vm.prank(builder);
        usage.enableUsageEpochs(model2);
        ch1 = _open(payer, model);
        ch2 = _open(payer2, model);
        ch3 = _open(payer, model2);
        fund(stranger, 1_000e18);
        vm.prank(stranger);
        token.approve(address(ugame), type(uint256).max);
        vm.prank(stranger);
        token.approve(address(usage), type(uint256).max);
        fund(node, 1_000e18);
        vm.prank(node);
        token.approve(address(usage), type(uint256).max);
    }

    /// @dev The pool is named once the usage game exists (`deployUsage` in setUp).
    function wirePool() internal override {}

    function _open(address who, uint256 m) internal returns (bytes32 id) {
        token.mint(who, 1_000e18);
        vm.prank(who);
        token.approve(address(pc), type(uint256).max);
        vm.prank(who);
        id = pc.openChannel(node, m, 1_000e18, address(0), 0);
    }

    function _redeem(uint256 key, bytes32 id, uint256 cumulative) internal {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, pc.voucherDigest(id, cumulative, pc.getChannel(id).epoch));
        vm.prank(node);
        pc.redeemVoucher(id, cumulative, abi.encodePacked(r, s, v));
    }

    function _ranges(bytes32 a, uint256 toA) internal pure returns (IUsageEpochs.ChannelRange[] memory r) {
        r = new IUsageEpochs.ChannelRange[](1);
        r[0] = IUsageEpochs.ChannelRange(a, toA);
    }

    function _ranges(bytes32 a, uint256 toA, bytes32 b, uint256 toB)
        internal
        pure
        returns (IUsageEpochs.ChannelRange[] memory r)
    {
        r = new IUsageEpochs.ChannelRange[](2);
        r[0] = IUsageEpochs.ChannelRange(a, toA);
        r[1] = IUsageEpochs.ChannelRange(b, toB);
    }

    /// @dev Claims tree: alice `a`, bob `b`, carol `c` and a dummy leaf.
    function _tree(uint256 a, uint256 b, uint256 c) internal view returns (bytes32[4] memory l) {
        l[0] = Merkle.leaf(alice, a);
        l[1] = Merkle.leaf(bob, b);
        l[2] = Merkle.leaf(carol, c);
        l[3] = Merkle.leaf(address(this), 0);
    }

    function _commit(uint256 m, IUsageEpochs.ChannelRange[] memory r, uint256 cited, bytes32 claimsRoot)
        internal
        returns (uint256)
    {
        vm.prank(node);
        return usage.commitEpoch(m, r, cited, 3, keccak256("records"), claimsRoot, "bafyreport");
    }

    function _escrow() internal view {
        assertEq(token.balanceOf(address(usage)), usage.liabilities(), "escrow balances");
    }

    function test_redeem_holdsRevenueUntilAnEpoch() public {
        _redeem(payerKey, ch1, 5e18);
        assertEq(usage.held(model), 5e18, "held");
        assertEq(rewards.getModelRewards(model).revenue, 0, "nothing reached the distributor yet");
        _escrow();
        // a deposit by anyone else goes straight on (it is not voucher revenue)
        vm.prank(stranger);
        usage.depositRevenue(model, 1e18);
        assertEq(rewards.getModelRewards(model).revenue, 1e18, "donation forwarded");
        assertEq(usage.held(model), 5e18, "held unchanged");
        assertTrue(usage.isRegistered(model) && !usage.isRegistered(999), "registered as the distributor says");
        _escrow();
    }

    function test_commit_revenueIsWhatTheChainRedeemed() public {
        _redeem(payerKey, ch1, 5e18);
        _redeem(payer2Key, ch2, 3e18);
        // the node cannot claim more than was redeemed
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.BeyondRedeemed.selector, ch1, 6e18, 5e18));
        _commit(model, _ranges(ch1, 6e18), 0, bytes32(0));
        // nor account a channel of another model, or one it is not the provider of
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.WrongChannel.selector, ch3, node, model2));
        _commit(model, _ranges(ch3, 1), 0, bytes32(0));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.WrongChannel.selector, ch1, node, model));
        usage.commitEpoch(model, _ranges(ch1, 1e18), 0, 1, keccak256("r"), bytes32(0), "");
        // nor cite more revenue than the epoch has
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.CitedExceedsHeld.selector, 9e18, 8e18));
        _commit(model, _ranges(ch1, 5e18, ch2, 3e18), 9e18, keccak256("claims"));
        vm.expectRevert(IUsageEpochs.MissingRoot.selector);
        _commit(model, _ranges(ch1, 5e18), 1, bytes32(0));

        uint256 e = _commit(model, _ranges(ch1, 4e18, ch2, 3e18), 2e18, keccak256("claims"));
        IUsageEpochs.Epoch memory ep = usage.getEpoch(e);
        assertEq(ep.revenue, 7e18, "revenue from the chain");
        assertEq(ep.citedRevenue, 2e18, "cited");
        assertEq(usage.accounted(ch1), 4e18, "accounted ch1");
        assertEq(usage.held(model), 1e18, "the rest of ch1 still held");
        // a range is accounted once
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.AlreadyAccounted.selector, ch2, 3e18, 3e18));
        _commit(model, _ranges(ch2, 3e18), 0, bytes32(0));
        uint256 e2 = _commit(model, _ranges(ch1, 5e18), 0, bytes32(0));
        assertEq(usage.getEpoch(e2).revenue, 1e18, "the next epoch starts where the last ended");
        assertEq(usage.held(model), 0, "all accounted");
        _escrow();
    }

    function test_finalize_citedRevenueToClaimsRestToTheDistributor() public {
        _redeem(payerKey, ch1, 10e18);
        (bytes32 root,) = Merkle.rootAndProof(_tree(2.6e18, 0, 0), 0);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 4e18, root);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ChallengeWindowOpen.selector, e, uint40(block.timestamp + WINDOW)));
        usage.finalizeEpoch(e);
        vm.warp(block.timestamp + WINDOW);
        address owner = models.ownerOf(model);
        uint256 ownerBefore = token.balanceOf(owner);
        uint256 trainerBefore = token.balanceOf(trainer);
        uint256 treasuryBefore = token.balanceOf(treasury);
        usage.finalizeEpoch(e);
        // cited 4: owner 20 %, trainer 10 %, protocol 5 % paid now, 65 % to the claim pool; uncited 6 to the distributor
        assertEq(token.balanceOf(owner) - ownerBefore, 0.8e18, "owner share of cited revenue");
        assertEq(token.balanceOf(trainer) - trainerBefore, 0.4e18, "trainer share");
        assertEq(token.balanceOf(treasury) - treasuryBefore, 0.2e18, "protocol share");
        assertEq(usage.getEpoch(e).pool, 2.6e18, "pool");
        assertEq(rewards.getModelRewards(model).revenue, 6e18, "uncited revenue split by training-time influence");
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.WrongStatus.selector, e, IUsageEpochs.Status.Finalized));
        usage.finalizeEpoch(e);
        _escrow();
    }

    function test_claim_manyEpochsAcrossTwoModelsInOneTransaction() public {
        IUsageEpochs.Claim[] memory cs = new IUsageEpochs.Claim[](4);
        uint256 total;
        for (uint256 i = 0; i < 4; ++i) {
            (uint256 m, bytes32 id) = i % 2 == 0 ? (model, ch1) : (model2, ch3);
            _redeem(payerKey, id, (i / 2 + 1) * 10e18);
            uint256 amount = (i + 1) * 1e18;
            (bytes32 root, bytes32[] memory proof) = Merkle.rootAndProof(_tree(amount, 1e18, 0), 0);
            cs[i] = IUsageEpochs.Claim(_commit(m, _ranges(id, (i / 2 + 1) * 10e18), 10e18, root), amount, proof);
            total += amount;
        }
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ChallengeWindowOpen.selector, 1, uint40(block.timestamp + WINDOW)));
        usage.claim(alice, cs);
        vm.warp(block.timestamp + WINDOW);
        uint256 before = token.balanceOf(alice);
        assertEq(usage.claim(alice, cs), total, "claimed");
        assertEq(token.balanceOf(alice) - before, total, "one transfer of all four epochs");
        assertTrue(usage.isClaimed(1, alice) && usage.isClaimed(4, alice), "marked");
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.AlreadyClaimed.selector, 1, alice));
        usage.claim(alice, cs);
        // bob cannot claim alice's leaf, nor more than his own
        IUsageEpochs.Claim[] memory forged = new IUsageEpochs.Claim[](1);
        forged[0] = IUsageEpochs.Claim(2, 2e18, cs[1].proof);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.InvalidProof.selector, 2, bob, 2e18));
        usage.claim(bob, forged);
        _escrow();
    }

    function test_claim_cannotExceedThePool() public {
        _redeem(payerKey, ch1, 10e18);
        // a node commits leaves worth more than the pool (6.5): the pool bounds what leaves out
        bytes32[4] memory l = _tree(5e18, 5e18, 0);
        (bytes32 root, bytes32[] memory pa) = Merkle.rootAndProof(l, 0);
        (, bytes32[] memory pb) = Merkle.rootAndProof(l, 1);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 10e18, root);
        vm.warp(block.timestamp + WINDOW);
        IUsageEpochs.Claim[] memory c = new IUsageEpochs.Claim[](1);
        c[0] = IUsageEpochs.Claim(e, 5e18, pa);
        usage.claim(alice, c);
        c[0] = IUsageEpochs.Claim(e, 5e18, pb);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ClaimExceedsPool.selector, e, 5e18, 1.5e18));
        usage.claim(bob, c);
        _escrow();
    }

    // ------------------------------------------------------------------ usage disputes (UsageGame)

    bytes32 internal constant WITNESS = keccak256("the leaf nobody published");

    function _stakeVerifiers(uint256 n) internal {
        for (uint256 i = 0; i < n; ++i) {
            if (pool.getVerifier(verifiers[i]).stake != 0) continue;
            fund(verifiers[i], MIN_VERIFIER_STAKE);
            vm.prank(verifiers[i]);
            pool.stake(MIN_VERIFIER_STAKE);
        }
    }

    /// @dev `stranger` challenges epoch `e`; the committee is drawn once the draw block is past.
    function _challenge(uint256 e) internal returns (uint256 id) {
        vm.prank(stranger);
        id = ugame.openChallenge(e, "bafyreason");
        vm.roll(block.number + LOOKAHEAD + 1);
        ugame.drawCommittee(id);
    }

    /// @dev Every member commits and reveals: verifiers[0] is lazy (copies the committed roots, cannot know the
    /// witness); the others vote `verdict` with the witness (`WITNESS`, or none with UNAVAILABLE).
    function _vote(uint256 id, bytes32 verdict) internal {
        address[] memory m = ugame.committeeOf(id);
        uint8 round = ugame.getDispute(id).round;
        bytes32[] memory v = new bytes32[](m.length);
        bytes32[] memory w = new bytes32[](m.length);
        for (uint256 i = 0; i < m.length; ++i) {
            bool lazy = m[i] == verifiers[0];
            v[i] = lazy ? ugame.expectedVerdict(ugame.getDispute(id).epochId) : verdict;
            w[i] = lazy ? bytes32(uint256(1)) : verdict == ugame.UNAVAILABLE() ? bytes32(0) : WITNESS;
            vm.prank(m[i]);
            ugame.commitVote(id, keccak256(abi.encode(id, round, m[i], v[i], w[i], bytes32(i))));
        }
        for (uint256 i = 0; i < m.length; ++i) {
            vm.prank(m[i]);
            ugame.revealVote(id, v[i], w[i], bytes32(i));
        }
    }

    function _gameSolvent() internal view {
        uint256 owed;
        uint256 stakes;
        for (uint256 i = 0; i < verifiers.length; ++i) {
            stakes += pool.getVerifier(verifiers[i]).stake;
            owed += ugame.withdrawable(verifiers[i]);
        }
        owed += ugame.withdrawable(stranger) + ugame.withdrawable(node);
        for (uint256 id = 1; id <= ugame.disputeCount(); ++id) {
            IUsageGame.Dispute memory d = ugame.getDispute(id);
            if (d.phase != IUsageGame.Phase.Settled) owed += uint256(d.bond) + d.pot;
        }
        assertEq(token.balanceOf(address(ugame)), owed, "usage game balance");
        assertEq(token.balanceOf(address(pool)), stakes, "pool balance");
        _escrow();
    }

    function test_challenge_onlyThroughTheGame_onlyByOthers_onlyInTheWindow() public {
        _redeem(payerKey, ch1, 10e18);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 0, bytes32(0));
        assertEq(usage.getEpoch(e).bond, BOND, "provider bond fixed at commit");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NotUsageGame.selector, stranger));
        usage.challengeEpoch(e, stranger, 0, "");
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NotUsageGame.selector, address(this)));
        usage.resolveChallenge(e, false);
        fund(node, CHALLENGE_BOND);
        vm.prank(node);
        token.approve(address(ugame), type(uint256).max);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ProviderCannotChallenge.selector, e));
        ugame.openChallenge(e, "self");
        vm.warp(block.timestamp + WINDOW);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ChallengeWindowOver.selector, e, uint40(block.timestamp)));
        ugame.openChallenge(e, "late");
        vm.expectRevert(IUsageEpochs.GameAlreadySet.selector);
        usage.setUsageGame(address(this));
    }

    /// A provider whose claims root is not what its records give (it paid alice more) is voided by the honest
    /// majority: all of the epoch's revenue goes by training-time influence, its bond pays the verifiers and the
    /// challenger; the lazy verifier, who copied the committed roots, is penalised and paid nothing.
    function test_usageDispute_overstatedClaimsVoided_lazyPenalised() public {
        _stakeVerifiers(3);
        _redeem(payerKey, ch1, 10e18);
        (bytes32 root, bytes32[] memory proof) = Merkle.rootAndProof(_tree(6e18, 0, 0), 0);
        (bytes32 honestRoot,) = Merkle.rootAndProof(_tree(3e18, 0, 0), 0);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 5e18, root);
        uint256 id = _challenge(e);
        assertEq(uint8(usage.getEpoch(e).status), uint8(IUsageEpochs.Status.Challenged), "frozen");
        address[] memory m = ugame.committeeOf(id);
        assertTrue(ugame.isDrawnVerifier(e, m[0]) && !ugame.isDrawnVerifier(e, stranger), "drawn verifiers only");
        _vote(id, keccak256(abi.encode(keccak256("records"), honestRoot, uint256(5e18))));
        _gameSolvent();
        uint256 strangerBefore = ugame.withdrawable(stranger);
        ugame.settle(id);
        IUsageGame.Dispute memory d = ugame.getDispute(id);
        assertTrue(d.phase == IUsageGame.Phase.Settled && !d.providerWon, "provider lost");
        assertEq(uint8(usage.getEpoch(e).status), uint8(IUsageEpochs.Status.Voided), "voided");
        assertEq(rewards.getModelRewards(model).revenue, 10e18, "all of it by influence");
        // bond 50: two coherent verifiers' fees (20) out of it, the rest and the challenge bond to the challenger
        assertEq(ugame.withdrawable(stranger) - strangerBefore, CHALLENGE_BOND + BOND - 2 * VERIFIER_FEE, "challenger");
        assertEq(pool.getVerifier(verifiers[0]).stake, MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "lazy penalised");
        assertEq(ugame.withdrawable(verifiers[0]), 0, "lazy paid nothing");
        assertEq(ugame.withdrawable(verifiers[1]), VERIFIER_FEE + VERIFIER_PENALTY / 2, "fee and half the pot");
        assertTrue(!ugame.isDrawnVerifier(e, m[0]), "released");
        assertEq(pool.getVerifier(verifiers[1]).duties, 0, "no duty left");
        IUsageEpochs.Claim[] memory c = new IUsageEpochs.Claim[](1);
        c[0] = IUsageEpochs.Claim(e, 6e18, proof);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NotClaimable.selector, e, IUsageEpochs.Status.Voided));
        usage.claim(alice, c);
        _gameSolvent();
        uint256 before = token.balanceOf(verifiers[1]);
        vm.prank(verifiers[1]);
        ugame.withdraw();
        assertEq(token.balanceOf(verifiers[1]) - before, VERIFIER_FEE + VERIFIER_PENALTY / 2, "withdrawn");
        vm.prank(verifiers[1]);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.NothingToWithdraw.selector, verifiers[1]));
        ugame.withdraw();
        _gameSolvent();
    }

    /// An honest epoch against a false challenger: upheld, claimable at once, the provider's bond back at
    /// finalisation; the challenger's bond pays the verifiers and the provider.
    function test_usageDispute_honestEpochUpheld_falseChallengerPays() public {
        _stakeVerifiers(3);
        _redeem(payerKey, ch1, 10e18);
        (bytes32 root, bytes32[] memory proof) = Merkle.rootAndProof(_tree(3e18, 0, 0), 0);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 5e18, root);
        uint256 id = _challenge(e);
        _vote(id, ugame.expectedVerdict(e));
        ugame.settle(id);
        assertTrue(ugame.getDispute(id).providerWon, "provider won");
        // the lazy one voted the same verdict but not the witness: incoherent, penalised
        assertEq(ugame.withdrawable(node), CHALLENGE_BOND - 2 * VERIFIER_FEE, "provider gets the rest of the bond");
        assertEq(pool.getVerifier(verifiers[0]).stake, MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "lazy penalised");
        IUsageEpochs.Claim[] memory c = new IUsageEpochs.Claim[](1);
        c[0] = IUsageEpochs.Claim(e, 3e18, proof);
        uint256 nodeBefore = token.balanceOf(node);
        assertEq(usage.claim(alice, c), 3e18, "claimable at once");
        assertEq(token.balanceOf(node) - nodeBefore, BOND, "provider bond back at finalisation");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.WrongStatus.selector, e, IUsageEpochs.Status.Finalized));
        ugame.openChallenge(e, "again");
        _gameSolvent();
    }

    /// A provider that serves no records building its root loses: the honest majority votes UNAVAILABLE.
    function test_usageDispute_withheldRecordsVoid() public {
        _stakeVerifiers(3);
        _redeem(payerKey, ch1, 10e18);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 0, bytes32(0));
        uint256 id = _challenge(e);
        _vote(id, ugame.UNAVAILABLE());
        ugame.settle(id);
        assertTrue(!ugame.getDispute(id).providerWon, "withheld records lose");
        assertEq(uint8(usage.getEpoch(e).status), uint8(IUsageEpochs.Status.Voided), "voided");
        _gameSolvent();
    }

    /// Every step has a clock: a split committee is redrawn larger (7), a silent one is penalised and redrawn, and
    /// with too few verifiers for the next round the dispute is stuck until the timelocked emergency account rules.
    function test_usageDispute_splitRedrawnThenStuck_emergencyTimelocked() public {
        _stakeVerifiers(3);
        _redeem(payerKey, ch1, 10e18);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 0, bytes32(0));
        uint256 id = _challenge(e);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.NotStuck.selector, id));
        ugame.scheduleEmergency(id, true);
        address[] memory m = ugame.committeeOf(id);
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 v = keccak256(abi.encode(i));
            vm.prank(m[i]);
            ugame.commitVote(id, keccak256(abi.encode(id, uint8(0), m[i], v, WITNESS, bytes32(0))));
        }
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.CommitmentMismatch.selector, id, m[0]));
        ugame.revealVote(id, keccak256(abi.encode(uint256(0))), WITNESS, bytes32(uint256(1)));
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(m[i]);
            ugame.revealVote(id, keccak256(abi.encode(i)), WITNESS, bytes32(0));
        }
        ugame.settle(id);
        IUsageGame.Dispute memory d = ugame.getDispute(id);
        assertTrue(d.phase == IUsageGame.Phase.AwaitingDraw && d.seats == 7 && d.round == 1, "redrawn with 7 seats");
        assertEq(pool.getVerifier(m[0]).stake, MIN_VERIFIER_STAKE, "a split costs nobody who revealed");
        _stakeVerifiers(7);
        vm.roll(block.number + LOOKAHEAD + 1);
        ugame.drawCommittee(id);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.VotingNotOver.selector, id));
        ugame.settle(id);
        vm.warp(block.timestamp + COMMIT_TIME + REVEAL_TIME);
        ugame.settle(id); // nobody voted: all 7 penalised, redrawn with 15 seats
        d = ugame.getDispute(id);
        assertEq(d.seats, 15, "15 seats");
        assertEq(d.pot, 7 * VERIFIER_PENALTY, "silence costs");
        vm.roll(block.number + LOOKAHEAD + 1);
        // the seven penalised ones are below the minimum stake now: nobody is eligible
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotEnoughVerifiers.selector, 0, 15));
        ugame.drawCommittee(id);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.NotEmergency.selector, stranger));
        ugame.scheduleEmergency(id, false);
        ugame.scheduleEmergency(id, false);
        vm.expectRevert(
            abi.encodeWithSelector(IUsageGame.EmergencyTimelocked.selector, id, uint40(block.timestamp + EMERGENCY_DELAY))
        );
        ugame.executeEmergency(id);
        vm.warp(block.timestamp + EMERGENCY_DELAY);
        uint256 strangerBefore = ugame.withdrawable(stranger);
        ugame.executeEmergency(id);
        d = ugame.getDispute(id);
        assertTrue(d.outcome == IUsageGame.Outcome.Emergency && !d.providerWon, "ruled");
        // no coherent verifier: the pot goes to the winner with its bond and the provider's bond
        assertEq(ugame.withdrawable(stranger) - strangerBefore, CHALLENGE_BOND + BOND + 7 * VERIFIER_PENALTY, "winner");
        _gameSolvent();
    }

    function test_usageDispute_committeeRules() public {
        _stakeVerifiers(4);
        _redeem(payerKey, ch1, 10e18);
        uint256 e = _commit(model, _ranges(ch1, 10e18), 0, bytes32(0));
        vm.prank(stranger);
        uint256 id = ugame.openChallenge(e, "why");
        assertEq(ugame.disputeOf(e), id, "latest dispute");
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.DrawBlockNotReached.selector, id, uint64(block.number + LOOKAHEAD)));
        ugame.drawCommittee(id);
        vm.roll(block.number + LOOKAHEAD + 1);
        ugame.drawCommittee(id);
        address[] memory m = ugame.committeeOf(id);
        address outsider;
        for (uint256 i = 0; i < 4; ++i) {
            bool on = verifiers[i] == m[0] || verifiers[i] == m[1] || verifiers[i] == m[2];
            if (!on) outsider = verifiers[i];
            assertTrue(ugame.isDrawnVerifier(e, verifiers[i]) == on, "drawn ones only");
        }
        vm.prank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.NotOnCommittee.selector, id, outsider));
        ugame.commitVote(id, bytes32(uint256(1)));
        vm.prank(m[0]);
        ugame.commitVote(id, keccak256("c"));
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.AlreadyCommitted.selector, id, m[0]));
        ugame.commitVote(id, keccak256("c"));
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.RevealNotOpen.selector, id, uint40(block.timestamp + COMMIT_TIME)));
        ugame.revealVote(id, bytes32(0), bytes32(0), bytes32(0));
        vm.warp(block.timestamp + COMMIT_TIME);
        vm.prank(m[1]);
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.CommitClosed.selector, id));
        ugame.commitVote(id, keccak256("c"));
        // the one who committed exits: it cannot withdraw while it serves
        vm.prank(m[0]);
        pool.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.VerifierBusy.selector, m[0], 1));
        pool.withdrawStake();
        vm.expectRevert(abi.encodeWithSelector(IUsageGame.RevealClosed.selector, id));
        vm.prank(m[0]);
        ugame.revealVote(id, bytes32(0), bytes32(0), bytes32(0));
        ugame.settle(id); // nobody revealed: all penalised, redrawn
        vm.prank(m[0]);
        assertEq(pool.withdrawStake(), MIN_VERIFIER_STAKE - VERIFIER_PENALTY, "free once released");
        _gameSolvent();
    }

    function test_pool_onlyTheGamesDrawReleaseAndPenalise() public {
        _stakeVerifiers(3);
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotDeployer.selector, address(this)));
        pool.setGames(new address[](1));
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotGame.selector, address(this)));
        pool.draw(bytes32(0), 1, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotGame.selector, address(this)));
        pool.release(new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.NotGame.selector, address(this)));
        pool.penalise(verifiers[0], 1);
        assertTrue(pool.isGame(address(game)) && pool.isGame(address(ugame)) && !pool.isGame(address(this)), "games");
        assertEq(ugame.verifierPool(), address(pool), "one pool");
        assertEq(game.verifierPool(), address(pool), "for both games");
        assertEq(ugame.usageEpochs(), address(usage), "usage");
    }

    function test_release_heldRevenueNobodyCommits() public {
        _redeem(payerKey, ch1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.ReleaseNotDue.selector, model, uint40(block.timestamp + RELEASE)));
        usage.releaseHeld(model);
        vm.warp(block.timestamp + RELEASE);
        vm.prank(stranger);
        usage.releaseHeld(model);
        assertEq(rewards.getModelRewards(model).revenue, 10e18, "released to the distributor");
        assertEq(usage.releasedCredit(model), 10e18, "credit");
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NothingHeld.selector, model));
        usage.releaseHeld(model);
        // a late commit accounts the released range but cannot cite it
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.CitedExceedsHeld.selector, 1, 0));
        _commit(model, _ranges(ch1, 10e18), 1, keccak256("claims"));
        uint256 e = _commit(model, _ranges(ch1, 10e18), 0, bytes32(0));
        assertEq(usage.getEpoch(e).heldRevenue, 0, "nothing held");
        assertEq(usage.releasedCredit(model), 0, "credit used");
        _escrow();
    }

    function test_enable_onlyOwnerOnce_andWithoutItRevenueGoesStraightOn() public {
        uint256 m3 = mintModel(keccak256("root3"), 1);
        bytes32 ch = _open(payer2, m3);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NotModelOwner.selector, m3, stranger));
        usage.enableUsageEpochs(m3);
        _redeem(payer2Key, ch, 4e18);
        assertEq(rewards.getModelRewards(m3).revenue, 4e18, "not enabled: straight to the distributor");
        assertEq(usage.held(m3), 0, "nothing held");
        vm.prank(builder);
        usage.enableUsageEpochs(m3);
        assertTrue(usage.usageEpochsEnabled(m3), "enabled");
        vm.prank(builder);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.AlreadyEnabled.selector, m3));
        usage.enableUsageEpochs(m3);
        _redeem(payer2Key, ch, 10e18);
        assertEq(usage.held(m3), 6e18, "held from now on");
        // an epoch accounts both: the earlier part uncited, as released
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.CitedExceedsHeld.selector, 7e18, 6e18));
        _commit(m3, _ranges(ch, 10e18), 7e18, keccak256("c"));
        uint256 e = _commit(m3, _ranges(ch, 10e18), 6e18, keccak256("c"));
        assertEq(usage.getEpoch(e).heldRevenue, 6e18, "held part");
        _escrow();
    }

    function test_reverts_badInputAndUnknownEpochs() public {
        vm.expectRevert(IUsageEpochs.ZeroAddress.selector);
        new UsageEpochs(IERC20(address(0)), rewards, IERC721(address(models)), address(this), 1, 1, 1);
        UsageEpochs fresh =
            new UsageEpochs(IERC20(address(token)), rewards, IERC721(address(models)), address(this), 1, 1, 1);
        vm.expectRevert(IUsageEpochs.ZeroAddress.selector);
        fresh.setPaymentChannels(PaymentChannels(address(0)));
        // an instance whose channels' revenue went elsewhere holds nothing to account it with
        fresh.setPaymentChannels(pc);
        _redeem(payerKey, ch1, 2e18);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.RevenueNotHeld.selector, model, 2e18, 0, 0));
        fresh.commitEpoch(model, _ranges(ch1, 2e18), 0, 1, keccak256("r"), bytes32(0), "");
        assertEq(fresh.paymentChannels(), address(pc), "channels");

        vm.expectRevert(IUsageEpochs.EmptyEpoch.selector);
        _commit(model, new IUsageEpochs.ChannelRange[](0), 0, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.TooManyChannels.selector, 65, 64));
        _commit(model, new IUsageEpochs.ChannelRange[](65), 0, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.EpochNotFound.selector, 1));
        usage.getEpoch(1);
        uint256 e = _commit(model, _ranges(ch1, 2e18), 0, bytes32(0));
        assertEq(usage.epochCount(), e, "count");
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NotUsageGame.selector, address(this)));
        usage.resolveChallenge(e, true);
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.BatchTooLarge.selector, 65, 64));
        usage.claim(alice, new IUsageEpochs.Claim[](65));
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.NothingToClaim.selector, alice));
        usage.claim(alice, new IUsageEpochs.Claim[](0));
    }

    function test_admin() public {
        vm.expectRevert(IUsageEpochs.ChannelsAlreadySet.selector);
        usage.setPaymentChannels(pc);
        vm.expectRevert(IUsageEpochs.InvalidParams.selector);
        usage.setParams(0, 1, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0)));
        usage.setParams(1, 1, 1);
        usage.setParams(2, 3, 4);
        (uint40 w, uint40 r, uint128 b) = usage.params();
        assertEq(w + r + b, 9, "params");
    }

    /// @dev Payers, a self-citing payer, a greedy node, double claimers and a challenger: after every step the
    /// contract holds exactly what it owes, and all of it leaves once everything is settled.
    function test_escrow_adversarial() public {
        _redeem(payerKey, ch1, 7e18);
        _redeem(payer2Key, ch2, 13e18);
        _escrow();
        vm.prank(stranger);
        usage.depositRevenue(model, 2e18); // a donation does not enter the escrow
        _escrow();
        bytes32[4] memory l = _tree(3e18, 2e18, 1e18);
        (bytes32 root, bytes32[] memory pa) = Merkle.rootAndProof(l, 0);
        (, bytes32[] memory pb) = Merkle.rootAndProof(l, 1);
        (, bytes32[] memory pc3) = Merkle.rootAndProof(l, 2);
        uint256 e1 = _commit(model, _ranges(ch1, 7e18, ch2, 9e18), 10e18, root);
        _escrow();
        uint256 e2 = _commit(model, _ranges(ch2, 13e18), 4e18, root);
        _stakeVerifiers(3);
        uint256 id = _challenge(e2);
        _gameSolvent();
        _vote(id, ugame.UNAVAILABLE());
        ugame.settle(id);
        _gameSolvent();
        vm.warp(block.timestamp + WINDOW);
        IUsageEpochs.Claim[] memory c = new IUsageEpochs.Claim[](1);
        c[0] = IUsageEpochs.Claim(e1, 3e18, pa);
        usage.claim(alice, c);
        _escrow();
        vm.expectRevert(abi.encodeWithSelector(IUsageEpochs.AlreadyClaimed.selector, e1, alice));
        usage.claim(alice, c);
        c[0] = IUsageEpochs.Claim(e1, 2e18, pb);
        usage.claim(bob, c);
        c[0] = IUsageEpochs.Claim(e1, 1e18, pc3);
        usage.claim(carol, c);
        _escrow();
        // pool 6.5 - 6 claimed: 0.5 is still owed to a leaf nobody has claimed (the dummy one holds 0); e1's
        // provider bond went back at its finalisation, e2's to the game
        assertEq(usage.liabilities(), 0.5e18, "only the unclaimed pool is left");
    }
}
