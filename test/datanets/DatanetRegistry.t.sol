// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {DatanetRegistry} from "../../contracts/datanets/DatanetRegistry.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {Test} from "../utils/Test.sol";

contract DatanetRegistryTest is Test {
    DatanetRegistry internal reg;
    address internal owner = address(0x0A);
    address internal curator = address(0xC1);
    address internal contributor = address(0xC0);
    address internal stranger = address(0x55);
    uint256 internal id;

    function setUp() public {
        reg = new DatanetRegistry();
        address[] memory curators = new address[](1);
        curators[0] = curator;
        vm.prank(owner);
        id = reg.createDatanet("bafymeta", IDatanetRegistry.AccessPolicy.Approval, 0, curators);
    }

    function _submit() internal returns (uint256 c) {
        vm.prank(contributor);
        c = reg.submitContribution(id, "bafyc", keccak256("x"), 5, 500, true);
    }

    function test_create_storesDatanetAndCurators() public view {
        IDatanetRegistry.Datanet memory d = reg.getDatanet(id);
        assertEq(d.owner, owner, "owner");
        assertEq(uint256(d.policy), uint256(IDatanetRegistry.AccessPolicy.Approval), "policy");
        assertEq(d.metadataCID, "bafymeta", "cid");
        assertEq(d.version, 0, "version");
        assertEq(reg.datanetCount(), 1, "count");
        assertTrue(reg.isCurator(id, curator), "curator");
        assertTrue(reg.isCurator(id, owner), "owner is curator");
        assertTrue(!reg.isCurator(id, stranger), "stranger");
        assertTrue(!reg.isCurator(99, owner), "absent datanet");
    }

    function test_create_emitsEvent() public {
        address[] memory curators = new address[](0);
        vm.expectEmit();
        emit IDatanetRegistry.DatanetCreated(2, owner, "m2", IDatanetRegistry.AccessPolicy.Paid, 7, curators);
        vm.prank(owner);
        reg.createDatanet("m2", IDatanetRegistry.AccessPolicy.Paid, 7, curators);
    }

    function test_create_revertsOnBadInput() public {
        address[] memory none = new address[](0);
        vm.expectRevert(IDatanetRegistry.EmptyCID.selector);
        reg.createDatanet("", IDatanetRegistry.AccessPolicy.Open, 0, none);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.InvalidPrice.selector, IDatanetRegistry.AccessPolicy.Paid, 0));
        reg.createDatanet("m", IDatanetRegistry.AccessPolicy.Paid, 0, none);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.InvalidPrice.selector, IDatanetRegistry.AccessPolicy.Open, 1));
        reg.createDatanet("m", IDatanetRegistry.AccessPolicy.Open, 1, none);
        address[] memory many = new address[](17);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyCurators.selector, 17, 16));
        reg.createDatanet("m", IDatanetRegistry.AccessPolicy.Open, 0, many);
        address[] memory zero = new address[](1);
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        reg.createDatanet("m", IDatanetRegistry.AccessPolicy.Open, 0, zero);
        address[] memory dup = new address[](2);
        dup[0] = curator;
        dup[1] = curator;
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.AlreadyCurator.selector, 2, curator));
        reg.createDatanet("m", IDatanetRegistry.AccessPolicy.Open, 0, dup);
    }

    function test_ownerFunctions_updateState() public {
        vm.startPrank(owner);
        reg.setMetadata(id, "bafynew");
        reg.setAccessPolicy(id, IDatanetRegistry.AccessPolicy.Paid, 9);
        reg.addCurator(id, stranger);
        reg.removeCurator(id, curator);
        vm.stopPrank();
        IDatanetRegistry.Datanet memory d = reg.getDatanet(id);
        assertEq(d.metadataCID, "bafynew", "cid");
        assertEq(d.price, 9, "price");
        (IDatanetRegistry.AccessPolicy policy, uint128 price, address o) = reg.accessTermsOf(id);
        assertEq(uint256(policy), uint256(IDatanetRegistry.AccessPolicy.Paid), "policy");
        assertEq(price, 9, "terms price");
        assertEq(o, owner, "terms owner");
        assertTrue(reg.isCurator(id, stranger), "added");
        assertTrue(!reg.isCurator(id, curator), "removed");
        vm.prank(owner);
        reg.transferDatanetOwnership(id, stranger);
        assertEq(reg.getDatanet(id).owner, stranger, "new owner");
    }

    function test_ownerFunctions_revertForOthersAndBadInput() public {
        bytes memory notOwner = abi.encodeWithSelector(IDatanetRegistry.NotDatanetOwner.selector, id, curator);
        vm.startPrank(curator);
        vm.expectRevert(notOwner);
        reg.setMetadata(id, "x");
        vm.expectRevert(notOwner);
        reg.setAccessPolicy(id, IDatanetRegistry.AccessPolicy.Open, 0);
        vm.expectRevert(notOwner);
        reg.addCurator(id, stranger);
        vm.expectRevert(notOwner);
        reg.removeCurator(id, curator);
        vm.expectRevert(notOwner);
        reg.transferDatanetOwnership(id, stranger);
        vm.stopPrank();
        vm.startPrank(owner);
        vm.expectRevert(IDatanetRegistry.EmptyCID.selector);
        reg.setMetadata(id, "");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.InvalidPrice.selector, IDatanetRegistry.AccessPolicy.Paid, 0));
        reg.setAccessPolicy(id, IDatanetRegistry.AccessPolicy.Paid, 0);
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        reg.addCurator(id, address(0));
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.AlreadyCurator.selector, id, curator));
        reg.addCurator(id, curator);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.AlreadyCurator.selector, id, owner));
        reg.addCurator(id, owner);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, id, stranger));
        reg.removeCurator(id, stranger);
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        reg.transferDatanetOwnership(id, address(0));
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 5));
        reg.setMetadata(5, "x");
        vm.stopPrank();
    }

    function test_submit_storesContributionAndEmits() public {
        vm.expectEmit();
        emit IDatanetRegistry.ContributionSubmitted(id, 1, contributor, "bafyc", keccak256("x"), 5, 500, true);
        uint256 c = _submit();
        assertEq(c, 1, "id");
        IDatanetRegistry.Contribution memory k = reg.getContribution(id, c);
        assertEq(k.contributor, contributor, "contributor");
        assertEq(k.records, 5, "records");
        assertEq(k.byteSize, 500, "bytes");
        assertTrue(k.encrypted, "encrypted");
        assertEq(k.contentHash, keccak256("x"), "hash");
        assertEq(uint256(k.status), uint256(IDatanetRegistry.ContributionStatus.Pending), "pending");
        assertEq(reg.getDatanet(id).contributionCount, 1, "count");
    }

    function test_submit_revertsOnBadInput() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 9));
        reg.submitContribution(9, "c", 0, 1, 1, false);
        vm.expectRevert(IDatanetRegistry.EmptyCID.selector);
        reg.submitContribution(id, "", 0, 1, 1, false);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.EmptyContribution.selector, 0, 1));
        reg.submitContribution(id, "c", 0, 0, 1, false);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.EmptyContribution.selector, 1, 0));
        reg.submitContribution(id, "c", 0, 1, 0, false);
    }

    function test_approve_raisesVersion() public {
        uint256 c1 = _submit();
        uint256 c2 = _submit();
        vm.expectEmit();
        emit IDatanetRegistry.ContributionApproved(id, c2, curator, 1);
        vm.prank(curator);
        assertEq(reg.approveContribution(id, c2), 1, "version 1");
        vm.prank(owner);
        assertEq(reg.approveContribution(id, c1), 2, "version 2");
        assertEq(reg.versionOf(id), 2, "versionOf");
        assertEq(uint256(reg.getContribution(id, c1).status), uint256(IDatanetRegistry.ContributionStatus.Approved), "st");
    }

    function test_approve_revertsForNonCuratorOrNonPending() public {
        uint256 c = _submit();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, id, stranger));
        reg.approveContribution(id, c);
        vm.prank(curator);
        reg.approveContribution(id, c);
        vm.prank(curator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.InvalidContributionStatus.selector, id, c, IDatanetRegistry.ContributionStatus.Approved
            )
        );
        reg.approveContribution(id, c);
        vm.prank(curator);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ContributionNotFound.selector, id, 7));
        reg.approveContribution(id, 7);
    }

    function test_approveBatch_approvesAllInOrder() public {
        uint256[] memory ids = new uint256[](3);
        for (uint256 i = 0; i < 3; ++i) {
            ids[i] = _submit();
        }
        vm.prank(curator);
        assertEq(reg.approveContributions(id, ids), 3, "version");
        assertEq(reg.versionOf(id), 3, "stored");
    }

    function test_approveBatch_revertsWhenTooLargeOrAnyNotPending() public {
        uint256[] memory big = new uint256[](101);
        vm.prank(curator);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.BatchTooLarge.selector, 101, 100));
        reg.approveContributions(id, big);
        uint256 c = _submit();
        uint256[] memory twice = new uint256[](2);
        twice[0] = c;
        twice[1] = c;
        vm.prank(curator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.InvalidContributionStatus.selector, id, c, IDatanetRegistry.ContributionStatus.Approved
            )
        );
        reg.approveContributions(id, twice);
        assertEq(reg.versionOf(id), 0, "rolled back");
    }

    function test_reject_marksRejected() public {
        uint256 c = _submit();
        vm.expectEmit();
        emit IDatanetRegistry.ContributionRejected(id, c, curator);
        vm.prank(curator);
        reg.rejectContribution(id, c);
        assertEq(uint256(reg.getContribution(id, c).status), uint256(IDatanetRegistry.ContributionStatus.Rejected), "st");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, id, stranger));
        reg.rejectContribution(id, c);
    }

    function test_withdraw_pendingOrApproved() public {
        uint256 c1 = _submit();
        uint256 c2 = _submit();
        vm.prank(curator);
        reg.approveContribution(id, c2);
        vm.startPrank(contributor);
        vm.expectEmit();
        emit IDatanetRegistry.ContributionWithdrawn(id, c1, contributor);
        reg.withdrawContribution(id, c1);
        reg.withdrawContribution(id, c2);
        vm.stopPrank();
        assertEq(uint256(reg.getContribution(id, c2).status), uint256(IDatanetRegistry.ContributionStatus.Withdrawn), "st");
        assertEq(reg.versionOf(id), 1, "version stays monotonic");
    }

    function test_withdraw_reverts() public {
        uint256 c = _submit();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotContributor.selector, id, c, stranger));
        reg.withdrawContribution(id, c);
        vm.prank(contributor);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ContributionNotFound.selector, id, 5));
        reg.withdrawContribution(id, 5);
        vm.prank(curator);
        reg.rejectContribution(id, c);
        vm.prank(contributor);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.InvalidContributionStatus.selector, id, c, IDatanetRegistry.ContributionStatus.Rejected
            )
        );
        reg.withdrawContribution(id, c);
    }

    function test_inclusionOf_recordsApprovalVersionAndWithdrawalTime() public {
        uint256[] memory ids = new uint256[](10);
        for (uint256 i = 0; i < 10; ++i) {
            ids[i] = _submit();
        }
        uint256 rejected = _submit();
        vm.prank(curator);
        reg.rejectContribution(id, rejected);
        // Approve out of order and across the 8-per-word boundary: each keeps its own version.
        vm.prank(curator);
        reg.approveContribution(id, ids[9]);
        uint256[] memory batch = new uint256[](9);
        for (uint256 i = 0; i < 9; ++i) {
            batch[i] = ids[8 - i];
        }
        vm.prank(owner);
        reg.approveContributions(id, batch);
        (uint32 v, uint40 w) = reg.inclusionOf(id, ids[9]);
        assertEq(v, 1, "first approval");
        assertEq(w, 0, "not withdrawn");
        for (uint256 i = 0; i < 9; ++i) {
            (v,) = reg.inclusionOf(id, ids[8 - i]);
            assertEq(v, i + 2, "batch order");
        }
        (v,) = reg.inclusionOf(id, rejected);
        assertEq(v, 0, "rejected: never in a version");
        vm.warp(5_000);
        vm.prank(contributor);
        reg.withdrawContribution(id, ids[3]);
        (v, w) = reg.inclusionOf(id, ids[3]);
        assertEq(v, 7, "still records the version it was approved in");
        assertEq(w, 5_000, "withdrawal time");
        uint256 pending = _submit();
        vm.prank(contributor);
        reg.withdrawContribution(id, pending);
        (v, w) = reg.inclusionOf(id, pending);
        assertEq(w, 0, "a pending withdrawal affects no version");
    }

    /// Review finding 7: addCurator had no cap although the docs said 16.
    function test_addCurator_cappedAtMaxCurators() public {
        // setUp created the Datanet with one curator.
        vm.startPrank(owner);
        for (uint256 i = 1; i < 16; ++i) {
            reg.addCurator(id, address(uint160(0x1000 + i)));
        }
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyCurators.selector, 17, 16));
        reg.addCurator(id, address(0x2000));
        reg.removeCurator(id, address(0x1001));
        reg.addCurator(id, address(0x2000)); // a removal frees a seat
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyCurators.selector, 17, 16));
        reg.addCurator(id, address(0x2001));
        vm.stopPrank();
    }

    function test_views_revertForMissing() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 3));
        reg.getDatanet(3);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ContributionNotFound.selector, id, 3));
        reg.getContribution(id, 3);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 3));
        reg.versionOf(3);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 3));
        reg.accessTermsOf(3);
    }
}
