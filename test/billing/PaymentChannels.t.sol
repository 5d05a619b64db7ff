// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {PaymentChannels} from "../../contracts/billing/PaymentChannels.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {Protocol} from "../utils/Protocol.sol";

contract PaymentChannelsTest is Protocol {
    uint256 internal payerKey = 0xBA1E;
    uint256 internal sessionPk = 0x5E55;
    address internal payer;
    address internal session;
    address internal provider = address(0x9A0);
    uint256 internal model;
    bytes32 internal channel;

    function setUp() public {
        vm.warp(1_000_000);
        deployProtocol();
        payer = vm.addr(payerKey);
        session = vm.addr(sessionPk);
        model = mintModel(keccak256("root"), 1);
        fund(payer, 1_000e18);
        vm.prank(payer);
        channel = channels.openChannel(provider, model, 100e18, session, 1_500_000);
    }

    function _sign(uint256 key, bytes32 id, uint256 cumulative) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, channels.voucherDigest(id, cumulative, channels.getChannel(id).epoch));
        return abi.encodePacked(r, s, v);
    }

    function _redeem(uint256 key, uint256 cumulative) internal returns (uint256) {
        bytes memory sig = _sign(key, channel, cumulative);
        vm.prank(provider);
        return channels.redeemVoucher(channel, cumulative, sig);
    }

    function test_open_storesChannel() public view {
        IPaymentChannels.Channel memory c = channels.getChannel(channel);
        assertEq(c.payer, payer, "payer");
        assertEq(c.provider, provider, "provider");
        assertEq(c.modelId, model, "model");
        assertEq(c.sessionKey, session, "key");
        assertEq(c.sessionKeyExpiresAt, 1_500_000, "expiry");
        assertEq(c.deposit, 100e18, "deposit");
        assertEq(channel, channels.channelIdOf(payer, provider, model), "id");
        assertEq(token.balanceOf(address(channels)), 100e18, "escrow");
        assertEq(channels.closeTimeout(), CLOSE_TIMEOUT, "timeout");
    }

    function test_open_withoutSessionKeyIgnoresExpiry() public {
        address other = address(0x0777);
        vm.expectEmit();
        emit IPaymentChannels.ChannelOpened(channels.channelIdOf(payer, other, model), payer, other, model, 1, address(0), 0);
        vm.prank(payer);
        bytes32 id = channels.openChannel(other, model, 1, address(0), 5);
        assertEq(channels.getChannel(id).sessionKeyExpiresAt, 0, "no expiry");
    }

    function test_open_reverts() public {
        vm.startPrank(payer);
        vm.expectRevert(IPaymentChannels.ZeroAddress.selector);
        channels.openChannel(address(0), model, 1, address(0), 0);
        vm.expectRevert(IPaymentChannels.ZeroAmount.selector);
        channels.openChannel(provider, model, 0, address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.AmountTooLarge.selector, uint256(type(uint128).max) + 1));
        channels.openChannel(provider, model, uint256(type(uint128).max) + 1, address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownModel.selector, 99));
        channels.openChannel(provider, 99, 1, address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownModel.selector, uint256(type(uint96).max) + 1));
        channels.openChannel(provider, uint256(type(uint96).max) + 1, 1, address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSessionKeyExpiry.selector, 1_000_000));
        channels.openChannel(address(0x0777), model, 1, session, 1_000_000);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelExists.selector, channel));
        channels.openChannel(provider, model, 1, address(0), 0);
        vm.stopPrank();
    }

    function test_constructor_reverts() public {
        vm.expectRevert(IPaymentChannels.ZeroAddress.selector);
        new PaymentChannels(IERC20(address(0)), rewards, address(this), 1);
        vm.expectRevert(IPaymentChannels.ZeroTimeout.selector);
        new PaymentChannels(IERC20(address(token)), rewards, address(this), 0);
    }

    function test_redeem_payerVoucherMovesRevenue() public {
        vm.expectEmit();
        emit IPaymentChannels.VoucherRedeemed(channel, model, payer, 3e18, 3e18);
        assertEq(_redeem(payerKey, 3e18), 3e18, "first");
        assertEq(_redeem(payerKey, 5e18), 2e18, "delta only");
        assertEq(rewards.getModelRewards(model).revenue, 5e18, "revenue");
        assertEq(token.balanceOf(address(channels)), 95e18, "escrow reduced");
        assertEq(channels.getChannel(channel).redeemed, 5e18, "redeemed");
    }

    function test_redeem_sessionKeyVoucher() public {
        assertEq(_redeem(sessionPk, 1e18), 1e18, "session key accepted");
        vm.warp(1_500_001);
        bytes memory sig = _sign(sessionPk, channel, 2e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, session));
        channels.redeemVoucher(channel, 2e18, sig);
    }

    function test_redeem_capsAtDeposit() public {
        assertEq(_redeem(payerKey, 500e18), 100e18, "capped");
        bytes memory sig = _sign(payerKey, channel, 500e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToRedeem.selector, channel, 500e18, 100e18, 100e18));
        channels.redeemVoucher(channel, 500e18, sig);
        vm.prank(payer);
        channels.topUp(channel, 50e18);
        vm.prank(provider);
        assertEq(channels.redeemVoucher(channel, 500e18, sig), 50e18, "rest after top-up");
    }

    function test_redeem_reverts() public {
        bytes memory sig = _sign(payerKey, channel, 1e18);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NotProvider.selector, channel, stranger));
        channels.redeemVoucher(channel, 1e18, sig);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotFound.selector, bytes32(uint256(1))));
        channels.redeemVoucher(bytes32(uint256(1)), 1e18, sig);
        bytes memory forged = _sign(0xBAD, channel, 1e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, vm.addr(0xBAD)));
        channels.redeemVoucher(channel, 1e18, forged);
        // A voucher for 1e18 does not authorise 2e18.
        address wrongSigner = ECDSA.recover(channels.voucherDigest(channel, 2e18, 0), sig);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, wrongSigner));
        channels.redeemVoucher(channel, 2e18, sig);
        _redeem(payerKey, 2e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToRedeem.selector, channel, 1e18, 100e18, 2e18));
        channels.redeemVoucher(channel, 1e18, sig);
    }

    function test_sessionKey_setAndRevokeWithGrace() public {
        address key2 = vm.addr(0x2222);
        vm.expectEmit();
        emit IPaymentChannels.SessionKeySet(channel, key2, 2_000_000);
        vm.prank(payer);
        channels.setSessionKey(channel, key2, 2_000_000);
        assertEq(_redeem(0x2222, 1e18), 1e18, "new key works");
        // Review finding 5: the replaced key's vouchers stay valid for the grace, like a revoked key's.
        assertEq(_redeem(sessionPk, 2e18), 1e18, "replaced key valid during its grace");
        vm.warp(1_000_000 + CLOSE_TIMEOUT + 1);
        bytes memory old = _sign(sessionPk, channel, 3e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, session));
        channels.redeemVoucher(channel, 3e18, old);
        vm.warp(1_000_000);
        vm.expectEmit();
        emit IPaymentChannels.SessionKeyRevoked(channel, key2, 1_000_000 + CLOSE_TIMEOUT);
        vm.prank(payer);
        channels.revokeSessionKey(channel);
        assertEq(_redeem(0x2222, 2e18 + 1), 1, "valid during grace");
        vm.warp(1_000_000 + CLOSE_TIMEOUT + 1);
        bytes memory late = _sign(0x2222, channel, 4e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, key2));
        channels.redeemVoucher(channel, 4e18, late);
        vm.startPrank(payer);
        vm.expectRevert(IPaymentChannels.ZeroAddress.selector);
        channels.setSessionKey(channel, address(0), 2_000_000);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSessionKeyExpiry.selector, 5));
        channels.setSessionKey(channel, key2, 5);
        vm.stopPrank();
    }

    /// Review finding 5: the payer replaced the session key to void an unredeemed voucher, then withdrew.
    function test_sessionKey_replacementCannotVoidAnUnredeemedVoucher() public {
        bytes memory owed = _sign(sessionPk, channel, 60e18);
        address key2 = vm.addr(0x2222);
        vm.expectEmit();
        emit IPaymentChannels.SessionKeyRevoked(channel, session, 1_000_000 + CLOSE_TIMEOUT);
        vm.startPrank(payer);
        channels.setSessionKey(channel, key2, 2_000_000);
        channels.requestWithdrawal(channel);
        // Rotating again during the grace would drop the first key early: refused.
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.KeyRotationPending.selector, channel, 1_000_000 + CLOSE_TIMEOUT)
        );
        channels.setSessionKey(channel, vm.addr(0x3333), 2_000_000);
        vm.stopPrank();
        vm.prank(provider);
        assertEq(channels.redeemVoucher(channel, 60e18, owed), 60e18, "the provider still redeems what it was signed");
        vm.warp(1_000_000 + CLOSE_TIMEOUT);
        vm.prank(payer);
        assertEq(channels.withdraw(channel), 40e18, "the payer takes back only the unspent part");
        IPaymentChannels.Channel memory c = channels.getChannel(channel);
        assertEq(c.previousKey, session, "replaced key recorded");
        assertEq(c.previousKeyValidUntil, 1_000_000 + CLOSE_TIMEOUT, "until the grace ends");
        vm.warp(1_000_000 + CLOSE_TIMEOUT + 1);
        vm.prank(payer);
        channels.setSessionKey(channel, vm.addr(0x3333), 2_000_000); // after the grace: allowed
    }

    function test_revoke_keepsEarlierExpiryAndNeedsKey() public {
        vm.prank(payer);
        channels.setSessionKey(channel, session, 1_000_010);
        vm.prank(payer);
        channels.revokeSessionKey(channel);
        assertEq(channels.getChannel(channel).sessionKeyExpiresAt, 1_000_010, "earlier expiry kept");
        address other = address(0x0777);
        vm.prank(payer);
        bytes32 bare = channels.openChannel(other, model, 1, address(0), 0);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NoSessionKey.selector, bare));
        channels.revokeSessionKey(bare);
    }

    function test_payerOnlyFunctions() public {
        bytes memory err = abi.encodeWithSelector(IPaymentChannels.NotPayer.selector, channel, stranger);
        vm.startPrank(stranger);
        vm.expectRevert(err);
        channels.topUp(channel, 1);
        vm.expectRevert(err);
        channels.setSessionKey(channel, stranger, 2_000_000);
        vm.expectRevert(err);
        channels.revokeSessionKey(channel);
        vm.expectRevert(err);
        channels.requestWithdrawal(channel);
        vm.expectRevert(err);
        channels.withdraw(channel);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotFound.selector, bytes32(0)));
        channels.topUp(bytes32(0), 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotFound.selector, bytes32(0)));
        channels.getChannel(bytes32(0));
    }

    function test_topUp_addsAndCancelsWithdrawal() public {
        vm.startPrank(payer);
        channels.requestWithdrawal(channel);
        vm.expectEmit();
        emit IPaymentChannels.ChannelToppedUp(channel, 5e18, 105e18);
        channels.topUp(channel, 5e18);
        assertEq(channels.getChannel(channel).withdrawableAt, 0, "withdrawal cancelled");
        vm.expectRevert(IPaymentChannels.ZeroAmount.selector);
        channels.topUp(channel, 0);
        token.approve(address(channels), type(uint256).max);
        vm.stopPrank();
        token.mint(payer, type(uint128).max);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.AmountTooLarge.selector, uint256(type(uint128).max) + 105e18));
        channels.topUp(channel, type(uint128).max);
    }

    function test_withdraw_afterTimeoutReturnsUnspent() public {
        _redeem(payerKey, 30e18);
        vm.startPrank(payer);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.WithdrawalNotRequested.selector, channel));
        channels.withdraw(channel);
        vm.expectEmit();
        emit IPaymentChannels.WithdrawalRequested(channel, payer, 1_000_000 + CLOSE_TIMEOUT);
        channels.requestWithdrawal(channel);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.WithdrawalTimeoutActive.selector, channel, 1_000_000 + CLOSE_TIMEOUT)
        );
        channels.withdraw(channel);
        vm.stopPrank();
        // The provider can still redeem during the timeout.
        assertEq(_redeem(payerKey, 40e18), 10e18, "redeem during timeout");
        vm.warp(1_000_000 + CLOSE_TIMEOUT);
        uint256 before = token.balanceOf(payer);
        vm.prank(payer);
        assertEq(channels.withdraw(channel), 60e18, "unspent");
        assertEq(token.balanceOf(payer) - before, 60e18, "received");
        assertEq(token.balanceOf(address(channels)), 0, "escrow empty");
        vm.prank(payer);
        channels.requestWithdrawal(channel);
        vm.warp(1_000_000 + 3 * CLOSE_TIMEOUT);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToWithdraw.selector, channel));
        channels.withdraw(channel);
        // Old vouchers move nothing after the withdrawal.
        bytes memory sig = _sign(payerKey, channel, 100e18);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToRedeem.selector, channel, 100e18, 40e18, 40e18));
        channels.redeemVoucher(channel, 100e18, sig);
    }

    /// Review finding 5 (second half): a voucher signed before a withdrawal is void against a later top-up; one
    /// signed in the new epoch continues the cumulative count.
    function test_withdraw_voidsEarlierVouchersAgainstALaterTopUp() public {
        assertEq(channels.getChannel(channel).epoch, 0, "first epoch");
        bytes memory early = _sign(payerKey, channel, 100e18); // signed while 100 was deposited
        _redeem(payerKey, 30e18);
        vm.prank(payer);
        channels.requestWithdrawal(channel);
        vm.warp(1_000_000 + CLOSE_TIMEOUT);
        vm.prank(payer);
        assertEq(channels.withdraw(channel), 70e18, "unspent back");
        assertEq(channels.getChannel(channel).epoch, 1, "next epoch");
        vm.prank(payer);
        channels.topUp(channel, 50e18);
        address recovered = ECDSA.recover(channels.voucherDigest(channel, 100e18, 1), early);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSigner.selector, channel, recovered));
        channels.redeemVoucher(channel, 100e18, early);
        assertEq(_redeem(payerKey, 40e18), 10e18, "a new-epoch voucher moves what it adds");
        assertEq(channels.getChannel(channel).redeemed, 40e18, "cumulative count continues");
    }

    function test_setCloseTimeout_admin() public {
        vm.expectEmit();
        emit IPaymentChannels.CloseTimeoutUpdated(2 hours);
        channels.setCloseTimeout(2 hours);
        assertEq(channels.closeTimeout(), 2 hours, "set");
        vm.expectRevert(IPaymentChannels.ZeroTimeout.selector);
        channels.setCloseTimeout(0);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        channels.setCloseTimeout(1);
    }

    /// Fuzz: any sequence of three vouchers moves exactly min(max signed, deposit) in total, never more.
    function testFuzz_vouchers_neverMoveMoreThanSigned(uint128 a, uint128 b, uint128 c, uint128 deposit) public {
        deposit = uint128(bound(deposit, 1, 1e27));
        address p2 = address(0x0888);
        token.mint(payer, deposit);
        vm.prank(payer);
        bytes32 id = channels.openChannel(p2, model, deposit, address(0), 0);
        uint128[3] memory amounts = [a, b, c];
        uint256 maxSigned;
        uint256 moved;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 cumulative = bound(amounts[i], 0, 2e27);
            bytes memory sig = _sign(payerKey, id, cumulative);
            uint256 capped = cumulative < deposit ? cumulative : deposit;
            uint256 redeemed = channels.getChannel(id).redeemed;
            vm.prank(p2);
            if (capped <= (maxSigned < deposit ? maxSigned : deposit)) {
                vm.expectRevert(
                    abi.encodeWithSelector(IPaymentChannels.NothingToRedeem.selector, id, cumulative, deposit, redeemed)
                );
                channels.redeemVoucher(id, cumulative, sig);
            } else {
                moved += channels.redeemVoucher(id, cumulative, sig);
            }
            if (cumulative > maxSigned) maxSigned = cumulative;
            assertEq(moved, maxSigned < deposit ? maxSigned : deposit, "moved == min(max signed, deposit)");
            assertEq(channels.getChannel(id).redeemed, moved, "redeemed bookkeeping");
        }
    }

}
