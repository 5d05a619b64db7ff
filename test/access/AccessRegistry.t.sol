// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {AccessRegistry} from "../../contracts/access/AccessRegistry.sol";
import {IAccessRegistry} from "../../contracts/interfaces/IAccessRegistry.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {Protocol} from "../utils/Protocol.sol";

contract AccessRegistryTest is Protocol {
    uint256 internal openNet;
    uint256 internal approvalNet;
    uint256 internal paidNet;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        openNet = makeDatanet(IDatanetRegistry.AccessPolicy.Open, 0, 0);
        approvalNet = makeDatanet(IDatanetRegistry.AccessPolicy.Approval, 0, 0);
        paidNet = makeDatanet(IDatanetRegistry.AccessPolicy.Paid, 5e18, 0);
        fund(builder, 100e18);
    }

    function test_constructor_revertsOnZeroArgs() public {
        vm.expectRevert(IAccessRegistry.ZeroAddress.selector);
        new AccessRegistry(IERC20(address(0)), datanets, rewards, address(this), 1);
        vm.expectRevert(IAccessRegistry.ZeroDuration.selector);
        new AccessRegistry(IERC20(address(token)), datanets, rewards, address(this), 0);
    }

    function test_request_recordsTimeAndEmits() public {
        vm.expectEmit();
        emit IAccessRegistry.AccessRequested(approvalNet, builder, "bafyreq");
        vm.prank(builder);
        access.requestAccess(approvalNet, "bafyreq");
        assertEq(access.requestedAt(approvalNet, builder), 1_000_000, "requestedAt");
        vm.expectRevert(IAccessRegistry.EmptyCID.selector);
        access.requestAccess(approvalNet, "");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 77));
        access.requestAccess(77, "x");
    }

    function test_openDatanet_alwaysAccessibleAndConsumeIsNoop() public {
        assertTrue(access.hasAccess(openNet, stranger), "open");
        access.grantRole(access.CONSUMER_ROLE(), address(this));
        access.consumeAccess(openNet, stranger);
        assertEq(access.getGrant(openNet, stranger).usesLeft, 0, "no grant touched");
    }

    function test_grant_givesAccessUntilUsesOrExpiry() public {
        assertTrue(!access.hasAccess(approvalNet, builder), "no access before");
        vm.expectEmit();
        emit IAccessRegistry.AccessGranted(approvalNet, builder, alice, 2_000_000, 2);
        vm.prank(alice);
        access.grantAccess(approvalNet, builder, 2_000_000, 2);
        assertTrue(access.hasAccess(approvalNet, builder), "granted");
        access.grantRole(access.CONSUMER_ROLE(), address(this));
        vm.expectEmit();
        emit IAccessRegistry.AccessConsumed(approvalNet, builder, address(this), 1);
        access.consumeAccess(approvalNet, builder);
        access.consumeAccess(approvalNet, builder);
        assertTrue(!access.hasAccess(approvalNet, builder), "uses spent");
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.AccessDenied.selector, approvalNet, builder));
        access.consumeAccess(approvalNet, builder);
        vm.prank(alice);
        access.grantAccess(approvalNet, builder, 2_000_000, 5);
        vm.warp(2_000_000);
        assertTrue(!access.hasAccess(approvalNet, builder), "expired");
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.AccessDenied.selector, approvalNet, builder));
        access.consumeAccess(approvalNet, builder);
    }

    function test_grant_revertsForNonCuratorAndBadGrant() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.NotCurator.selector, approvalNet, stranger));
        access.grantAccess(approvalNet, builder, 2_000_000, 1);
        vm.startPrank(alice);
        vm.expectRevert(IAccessRegistry.ZeroAddress.selector);
        access.grantAccess(approvalNet, address(0), 2_000_000, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.InvalidGrant.selector, 1_000_000, 1, 1_000_000));
        access.grantAccess(approvalNet, builder, 1_000_000, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.InvalidGrant.selector, 2_000_000, 0, 1_000_000));
        access.grantAccess(approvalNet, builder, 2_000_000, 0);
        vm.stopPrank();
    }

    function test_revoke_removesGrant() public {
        vm.startPrank(alice);
        access.grantAccess(approvalNet, builder, 2_000_000, 3);
        vm.expectEmit();
        emit IAccessRegistry.AccessRevoked(approvalNet, builder, alice, 0);
        access.revokeAccess(approvalNet, builder);
        vm.stopPrank();
        assertTrue(!access.hasAccess(approvalNet, builder), "revoked");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.NotCurator.selector, approvalNet, stranger));
        access.revokeAccess(approvalNet, builder);
    }

    function test_buy_paysPoolAndAddsUses() public {
        vm.expectEmit();
        emit IAccessRegistry.AccessPurchased(paidNet, builder, 2, 10e18, 1_000_000 + PAID_DURATION, 2);
        vm.prank(builder);
        uint64 exp = access.buyAccess(paidNet, 2, 5e18);
        assertEq(exp, 1_000_000 + PAID_DURATION, "expiry");
        assertEq(token.balanceOf(builder), 90e18, "paid");
        assertEq(rewards.poolBalance(paidNet), 10e18, "pool funded");
        assertEq(token.balanceOf(address(rewards)), 10e18, "distributor holds fee");
        assertEq(token.balanceOf(address(access)), 0, "nothing rests in access registry");
        vm.warp(1_000_000 + 10 days);
        vm.prank(builder);
        access.buyAccess(paidNet, 1, 5e18);
        IAccessRegistry.Grant memory g = access.getGrant(paidNet, builder);
        assertEq(g.usesLeft, 3, "uses accumulate");
        assertEq(g.expiresAt, 1_000_000 + 10 days + PAID_DURATION, "expiry extended");
        vm.warp(g.expiresAt);
        vm.prank(builder);
        access.buyAccess(paidNet, 1, 5e18);
        assertEq(access.getGrant(paidNet, builder).usesLeft, 1, "expired uses lapse");
    }

    function test_buy_keepsLongerGrantExpiry() public {
        vm.prank(alice);
        access.grantAccess(paidNet, builder, 1_000_000 + 365 days, 1);
        vm.prank(builder);
        assertEq(access.buyAccess(paidNet, 1, 5e18), 1_000_000 + 365 days, "longer expiry kept");
    }

    function test_buy_reverts() public {
        vm.prank(builder);
        vm.expectRevert(IAccessRegistry.ZeroUses.selector);
        access.buyAccess(paidNet, 0, 5e18);
        vm.prank(builder);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessRegistry.NotPaidDatanet.selector, approvalNet, IDatanetRegistry.AccessPolicy.Approval)
        );
        access.buyAccess(approvalNet, 1, 5e18);
    }

    /// Review finding 6: curators deleted access uses a builder paid for.
    function test_paidUses_surviveCuratorsRevokeAndGrant() public {
        vm.prank(builder);
        access.buyAccess(paidNet, 2, 5e18);
        vm.prank(alice);
        access.grantAccess(paidNet, builder, 1_000_000 + 1 days, 1); // an earlier expiry, one granted use
        IAccessRegistry.Grant memory g = access.getGrant(paidNet, builder);
        assertEq(g.usesLeft, 3, "2 paid + 1 granted");
        assertEq(g.paidUses, 2, "paid");
        assertEq(g.expiresAt, 1_000_000 + PAID_DURATION, "paid expiry kept");
        vm.prank(alice);
        access.revokeAccess(paidNet, builder);
        g = access.getGrant(paidNet, builder);
        assertEq(g.usesLeft, 2, "revoke keeps paid uses");
        assertTrue(access.hasAccess(paidNet, builder), "still has access");
        // Granted uses are consumed first, and a consumer can restore what it took.
        vm.prank(alice);
        access.grantAccess(paidNet, builder, 2_000_000, 1);
        access.grantRole(access.CONSUMER_ROLE(), address(this));
        assertEq(access.consumeAccess(paidNet, builder), 1, "granted first");
        assertEq(access.consumeAccess(paidNet, builder), 2, "then paid");
        g = access.getGrant(paidNet, builder);
        assertEq(g.usesLeft, 1, "one left");
        assertEq(g.paidUses, 1, "a paid one");
        vm.expectEmit();
        emit IAccessRegistry.AccessRestored(paidNet, builder, address(this), 2);
        access.restoreAccess(paidNet, builder, true);
        assertEq(access.getGrant(paidNet, builder).paidUses, 2, "paid use restored");
        vm.prank(alice);
        access.revokeAccess(paidNet, builder);
        assertEq(access.getGrant(paidNet, builder).usesLeft, 2, "restored use survives a revoke too");
    }

    /// Review finding 6: the owner front-ran a purchase with a 1000x price.
    function test_buy_refusesAPriceAboveTheBuyersMax() public {
        vm.prank(alice);
        datanets.setAccessPolicy(paidNet, IDatanetRegistry.AccessPolicy.Paid, 5_000e18);
        vm.prank(builder);
        vm.expectRevert(abi.encodeWithSelector(IAccessRegistry.PriceAboveMax.selector, paidNet, 5_000e18, 5e18));
        access.buyAccess(paidNet, 1, 5e18);
        assertEq(token.balanceOf(builder), 100e18, "nothing paid");
    }

    function test_restore_requiresConsumerRole() public {
        bytes32 role = access.CONSUMER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        access.restoreAccess(paidNet, stranger, true);
    }

    function test_consume_requiresConsumerRole() public {
        bytes32 role = access.CONSUMER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        access.consumeAccess(openNet, stranger);
    }

    function test_setPaidAccessDuration_adminOnly() public {
        vm.expectEmit();
        emit IAccessRegistry.PaidAccessDurationUpdated(5 days);
        access.setPaidAccessDuration(5 days);
        assertEq(access.paidAccessDuration(), 5 days, "duration");
        vm.expectRevert(IAccessRegistry.ZeroDuration.selector);
        access.setPaidAccessDuration(0);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        access.setPaidAccessDuration(1);
    }

}
