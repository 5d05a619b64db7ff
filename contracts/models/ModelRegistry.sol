// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IModelRegistry, IModelTransferHook} from "../interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice See {IModelRegistry}. Tokens are minted with `_mint`, not `_safeMint`: a poster that is a
/// contract gets its model without a receiver callback into the middle of the job market's finalize.
contract ModelRegistry is IModelRegistry, ERC721, AccessControl {
    /// @notice Role that keeps the base model list.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Role that mints model versions (the job market).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    uint32 private _baseModelCount;
    uint256 private _modelCount;
    mapping(uint32 baseModelId => BaseModel baseModel) private _baseModels;
    mapping(uint256 tokenId => ModelVersion version) private _versions;
    IModelTransferHook private _transferHook;

    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `GOVERNOR_ROLE`.
    constructor(address admin) ERC721("Tributary Model Version", "TMV") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    /// @inheritdoc IModelRegistry
    function registerBaseModel(string calldata name, string calldata cid)
        external
        onlyRole(GOVERNOR_ROLE)
        returns (uint32 baseModelId)
    {
        if (bytes(name).length == 0) revert EmptyName();
        if (bytes(cid).length == 0) revert EmptyCID();
        baseModelId = ++_baseModelCount;
        _baseModels[baseModelId] = BaseModel({name: name, cid: cid, active: true});
        emit BaseModelRegistered(baseModelId, name, cid);
    }

    /// @inheritdoc IModelRegistry
    function setTransferHook(IModelTransferHook hook) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _transferHook = hook;
        emit TransferHookSet(address(hook));
    }

    function transferHook() external view returns (IModelTransferHook) {
        return _transferHook;
    }

    function setBaseModelActive(uint32 baseModelId, bool active) external onlyRole(GOVERNOR_ROLE) {
        _existingBase(baseModelId).active = active;
        emit BaseModelStatusChanged(baseModelId, active);
    }

    /// @inheritdoc IModelRegistry
    function mintModelVersion(MintRequest calldata request) external onlyRole(MINTER_ROLE) returns (uint256 tokenId) {
        if (request.to == address(0) || request.trainer == address(0)) revert ZeroAddress();
        if (bytes(request.adapterCID).length == 0) revert EmptyCID();
        _existingBase(request.baseModelId);
        if (request.parentId != 0 && _versions[request.parentId].trainer == address(0)) {
            revert ModelNotFound(request.parentId);
        }
        tokenId = ++_modelCount;
        _versions[tokenId] = ModelVersion({
            baseModelId: request.baseModelId,
            jobId: SafeCast.toUint64(request.jobId),
            trainer: request.trainer,
            parentId: request.parentId,
            adapterHash: request.adapterHash,
            attributionRoot: request.attributionRoot,
            attributionTotalWeight: request.attributionTotalWeight,
            inferencePrice: 0,
            adapterCID: request.adapterCID
        });
        _mint(request.to, tokenId);
        _emitMinted(tokenId, request);
    }

    /// @inheritdoc IModelRegistry
    function setInferencePrice(uint256 tokenId, uint128 price) external {
        address owner = _ownerOf(tokenId);
        if (owner == address(0)) revert ModelNotFound(tokenId);
        if (owner != msg.sender) revert NotModelOwner(tokenId, msg.sender);
        _versions[tokenId].inferencePrice = price;
        emit InferencePriceSet(tokenId, price);
    }

    /// @inheritdoc IModelRegistry
    function getModelVersion(uint256 tokenId) external view returns (ModelVersion memory) {
        return _existingVersion(tokenId);
    }

    /// @inheritdoc IModelRegistry
    function getBaseModel(uint32 baseModelId) external view returns (BaseModel memory) {
        return _existingBase(baseModelId);
    }

    /// @inheritdoc IModelRegistry
    function isActiveBaseModel(uint32 baseModelId) external view returns (bool) {
        return _baseModels[baseModelId].active;
    }

    /// @inheritdoc IModelRegistry
    function baseModelOf(uint256 tokenId) external view returns (uint32) {
        return _existingVersion(tokenId).baseModelId;
    }

    /// @inheritdoc IModelRegistry
    function exists(uint256 tokenId) external view returns (bool) {
        return _ownerOf(tokenId) != address(0);
    }

    /// @inheritdoc IModelRegistry
    function baseModelCount() external view returns (uint32) {
        return _baseModelCount;
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @notice `ipfs://<adapterCID>`: the adapter directory of the model version.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        return string.concat("ipfs://", _existingVersion(tokenId).adapterCID);
    }

    /// @inheritdoc ERC721
    /// @dev Review finding 7: the owner's accrued share is settled to the previous owner before a transfer,
    /// so revenue earned under one owner is never paid to the next.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = _ownerOf(tokenId);
        IModelTransferHook hook = _transferHook;
        if (from != address(0) && from != to && address(hook) != address(0)) hook.onModelTransfer(tokenId, from);
        return super._update(to, tokenId, auth);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Emitting from a memory copy keeps each string at one stack slot (no stack-too-deep without via-IR).
    function _emitMinted(uint256 tokenId, MintRequest memory r) private {
        emit ModelVersionMinted(
            tokenId,
            r.jobId,
            r.to,
            r.baseModelId,
            r.parentId,
            r.adapterCID,
            r.adapterHash,
            r.trainer,
            r.attributionRoot,
            r.attributionTotalWeight,
            r.reportCID,
            r.datanetIds
        );
    }

    function _existingVersion(uint256 tokenId) private view returns (ModelVersion storage v) {
        v = _versions[tokenId];
        if (v.trainer == address(0)) revert ModelNotFound(tokenId);
    }

    function _existingBase(uint32 baseModelId) private view returns (BaseModel storage b) {
        b = _baseModels[baseModelId];
        if (bytes(b.name).length == 0) revert BaseModelNotFound(baseModelId);
    }
}
