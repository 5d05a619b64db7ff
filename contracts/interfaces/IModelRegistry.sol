// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title IModelRegistry
/// @notice Model versions as ERC-721 tokens (token URI `ipfs://<adapterCID>`), minted by the job market to
/// the job's poster, plus a governance-kept list of base models that jobs may fine-tune.
/// @notice Told by the ModelRegistry before a model version changes hands (the RewardDistributor, which pays
/// the previous owner what accrued to it).
interface IModelTransferHook {
    /// @notice Model `modelId` is leaving `from` (never the zero address). Must not revert for known models.
    function onModelTransfer(uint256 modelId, address from) external;
}

interface IModelRegistry {
    /// @notice A base model.
    /// @param name Human name / Hugging Face repo id (e.g. "tributary/tiny-llama-13m").
    /// @param cid IPFS CID of the base model directory (Hugging Face layout).
    /// @param active Whether new jobs may use it.
    struct BaseModel {
        string name;
        string cid;
        bool active;
    }

    /// @notice Arguments of `mintModelVersion`.
    /// @param to Owner of the new token.
    /// @param jobId Job that produced it (0 for none).
    /// @param baseModelId Base model id.
    /// @param parentId Parent model version (0 for none).
    /// @param trainer Trainer that produced the adapter.
    /// @param adapterCID IPFS CID of the adapter directory.
    /// @param adapterHash SHA-256 of the adapter weights file.
    /// @param attributionRoot Merkle root of contributor weights (zero for none).
    /// @param attributionTotalWeight Sum of the weights.
    /// @param reportCID IPFS CID of the attribution report.
    /// @param datanetIds Datanets it was trained on.
    struct MintRequest {
        address to;
        uint256 jobId;
        uint32 baseModelId;
        uint256 parentId;
        address trainer;
        string adapterCID;
        bytes32 adapterHash;
        bytes32 attributionRoot;
        uint128 attributionTotalWeight;
        string reportCID;
        uint256[] datanetIds;
    }

    /// @notice A model version as stored.
    struct ModelVersion {
        uint32 baseModelId;
        uint64 jobId;
        address trainer;
        uint256 parentId;
        bytes32 adapterHash;
        bytes32 attributionRoot;
        uint128 attributionTotalWeight;
        uint128 inferencePrice;
        string adapterCID;
    }

    /// @notice Governance added base model `baseModelId`.
    event BaseModelRegistered(uint32 indexed baseModelId, string name, string cid);
    /// @notice Governance (de)activated base model `baseModelId`.
    event BaseModelStatusChanged(uint32 indexed baseModelId, bool active);
    /// @notice Model version `tokenId` was minted to `owner`.
    event ModelVersionMinted(
        uint256 indexed tokenId,
        uint256 indexed jobId,
        address indexed owner,
        uint32 baseModelId,
        uint256 parentId,
        string adapterCID,
        bytes32 adapterHash,
        address trainer,
        bytes32 attributionRoot,
        uint128 attributionTotalWeight,
        string reportCID,
        uint256[] datanetIds
    );
    /// @notice The owner set the inference price of `tokenId` (OPEN wei per 1,000 tokens).
    event InferencePriceSet(uint256 indexed tokenId, uint128 price);
    /// @notice The contract told of every transfer changed.
    event TransferHookSet(address hook);

    /// @notice No model version `tokenId`.
    error ModelNotFound(uint256 tokenId);
    /// @notice No base model `baseModelId`.
    error BaseModelNotFound(uint32 baseModelId);
    /// @notice `account` does not own model `tokenId`.
    error NotModelOwner(uint256 tokenId, address account);
    /// @notice A name argument was empty.
    error EmptyName();
    /// @notice A CID argument was empty.
    error EmptyCID();
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();

    /// @notice Sets the contract told of every transfer of a model version (`address(0)`: none).
    /// `DEFAULT_ADMIN_ROLE` only.
    function setTransferHook(IModelTransferHook hook) external;

    /// @notice The contract told of every transfer (the RewardDistributor once wired).
    function transferHook() external view returns (IModelTransferHook);

    /// @notice Adds an active base model. `GOVERNOR_ROLE` only.
    /// @return baseModelId The new id (1-based).
    function registerBaseModel(string calldata name, string calldata cid) external returns (uint32 baseModelId);

    /// @notice (De)activates a base model for new jobs. `GOVERNOR_ROLE` only.
    function setBaseModelActive(uint32 baseModelId, bool active) external;

    /// @notice Mints a model version. `MINTER_ROLE` only (the job market).
    /// @return tokenId The new token id (1-based).
    function mintModelVersion(MintRequest calldata request) external returns (uint256 tokenId);

    /// @notice Sets the inference price of a model version (OPEN wei per 1,000 tokens). Its owner only.
    function setInferencePrice(uint256 tokenId, uint128 price) external;

    /// @notice Returns a model version; reverts with `ModelNotFound` if absent.
    function getModelVersion(uint256 tokenId) external view returns (ModelVersion memory);

    /// @notice Returns a base model; reverts with `BaseModelNotFound` if absent.
    function getBaseModel(uint32 baseModelId) external view returns (BaseModel memory);

    /// @notice Whether base model `baseModelId` exists and is active.
    function isActiveBaseModel(uint32 baseModelId) external view returns (bool);

    /// @notice Base model id of model version `tokenId`; reverts if absent.
    function baseModelOf(uint256 tokenId) external view returns (uint32);

    /// @notice Whether model version `tokenId` exists.
    function exists(uint256 tokenId) external view returns (bool);

    /// @notice Number of base models registered.
    function baseModelCount() external view returns (uint32);

    /// @notice Number of model versions minted.
    function modelCount() external view returns (uint256);
}
