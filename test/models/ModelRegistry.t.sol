// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ModelRegistry} from "../../contracts/models/ModelRegistry.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {Test} from "../utils/Test.sol";

contract ModelRegistryTest is Test {
    ModelRegistry internal models;
    address internal owner = address(0x0B);
    address internal trainer = address(0x7A);
    address internal stranger = address(0x55);
    uint32 internal base;

    function setUp() public {
        models = new ModelRegistry(address(this));
        models.grantRole(models.MINTER_ROLE(), address(this));
        base = models.registerBaseModel("tiny", "bafybase");
    }

    function _request(uint256 parent) internal view returns (IModelRegistry.MintRequest memory r) {
        uint256[] memory ids = new uint256[](2);
        ids[0] = 3;
        ids[1] = 4;
        r = IModelRegistry.MintRequest({
            to: owner,
            jobId: 7,
            baseModelId: base,
            parentId: parent,
            trainer: trainer,
            adapterCID: "bafyadapter",
            adapterHash: keccak256("w"),
            attributionRoot: keccak256("root"),
            attributionTotalWeight: 1e18,
            reportCID: "bafyreport",
            datanetIds: ids
        });
    }

    function test_baseModels_registerAndToggle() public {
        IModelRegistry.BaseModel memory b = models.getBaseModel(base);
        assertEq(b.name, "tiny", "name");
        assertEq(b.cid, "bafybase", "cid");
        assertTrue(b.active && models.isActiveBaseModel(base), "active");
        vm.expectEmit();
        emit IModelRegistry.BaseModelStatusChanged(base, false);
        models.setBaseModelActive(base, false);
        assertTrue(!models.isActiveBaseModel(base), "inactive");
        assertEq(models.baseModelCount(), 1, "count");
        assertTrue(!models.isActiveBaseModel(9), "absent");
    }

    function test_baseModels_reverts() public {
        vm.expectRevert(IModelRegistry.EmptyName.selector);
        models.registerBaseModel("", "c");
        vm.expectRevert(IModelRegistry.EmptyCID.selector);
        models.registerBaseModel("n", "");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelNotFound.selector, 9));
        models.setBaseModelActive(9, true);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelNotFound.selector, 9));
        models.getBaseModel(9);
        bytes32 role = models.GOVERNOR_ROLE();
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        models.registerBaseModel("n", "c");
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        models.setBaseModelActive(base, false);
        vm.stopPrank();
    }

    function test_mint_storesVersionAndEmits() public {
        IModelRegistry.MintRequest memory r = _request(0);
        vm.expectEmit();
        emit IModelRegistry.ModelVersionMinted(
            1, 7, owner, base, 0, "bafyadapter", keccak256("w"), trainer, keccak256("root"), 1e18, "bafyreport", r.datanetIds
        );
        uint256 id = models.mintModelVersion(r);
        assertEq(id, 1, "id");
        assertEq(models.ownerOf(id), owner, "owner");
        IModelRegistry.ModelVersion memory v = models.getModelVersion(id);
        assertEq(v.trainer, trainer, "trainer");
        assertEq(v.jobId, 7, "job");
        assertEq(v.adapterCID, "bafyadapter", "cid");
        assertEq(v.attributionRoot, keccak256("root"), "root");
        assertEq(models.tokenURI(id), "ipfs://bafyadapter", "uri");
        assertEq(models.baseModelOf(id), base, "base");
        assertTrue(models.exists(id) && !models.exists(2), "exists");
        assertEq(models.modelCount(), 1, "count");
        uint256 child = models.mintModelVersion(_request(id));
        assertEq(models.getModelVersion(child).parentId, id, "parent");
    }

    function test_mint_reverts() public {
        IModelRegistry.MintRequest memory r = _request(0);
        r.to = address(0);
        vm.expectRevert(IModelRegistry.ZeroAddress.selector);
        models.mintModelVersion(r);
        r = _request(0);
        r.trainer = address(0);
        vm.expectRevert(IModelRegistry.ZeroAddress.selector);
        models.mintModelVersion(r);
        r = _request(0);
        r.adapterCID = "";
        vm.expectRevert(IModelRegistry.EmptyCID.selector);
        models.mintModelVersion(r);
        r = _request(0);
        r.baseModelId = 5;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelNotFound.selector, 5));
        models.mintModelVersion(r);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 42));
        models.mintModelVersion(_request(42));
        r = _request(0);
        bytes32 role = models.MINTER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        models.mintModelVersion(r);
    }

    function test_inferencePrice_ownerOnly() public {
        uint256 id = models.mintModelVersion(_request(0));
        vm.expectEmit();
        emit IModelRegistry.InferencePriceSet(id, 123);
        vm.prank(owner);
        models.setInferencePrice(id, 123);
        assertEq(models.getModelVersion(id).inferencePrice, 123, "price");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, id, stranger));
        models.setInferencePrice(id, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 99));
        models.setInferencePrice(99, 1);
    }

    function test_views_revertForMissingModel() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 3));
        models.getModelVersion(3);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 3));
        models.baseModelOf(3);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 3));
        models.tokenURI(3);
    }

    function test_supportsInterface() public view {
        assertTrue(models.supportsInterface(0x80ac58cd), "ERC-721");
        assertTrue(models.supportsInterface(type(IAccessControl).interfaceId), "AccessControl");
        assertTrue(!models.supportsInterface(0xdeadbeef), "other");
    }
}
