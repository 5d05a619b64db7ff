// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Builds small OpenZeppelin-standard Merkle trees in tests: `(address, uint256)` leaves of pool
/// distributions and `(datanetId, contributionId, weight)` leaves of model attribution.
library Merkle {
    function leaf(address account, uint256 weight) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, weight))));
    }

    function leaf(uint256 datanetId, uint256 contributionId, uint256 weight) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(datanetId, contributionId, weight))));
    }

    /// @dev Root of a tree over 4 leaves (pad with distinct dummy leaves) and the proof of leaf `index`.
    function rootAndProof(bytes32[4] memory leaves, uint256 index)
        internal
        pure
        returns (bytes32 root, bytes32[] memory proof)
    {
        bytes32 left = Hashes.commutativeKeccak256(leaves[0], leaves[1]);
        bytes32 right = Hashes.commutativeKeccak256(leaves[2], leaves[3]);
        root = Hashes.commutativeKeccak256(left, right);
        proof = new bytes32[](2);
        proof[0] = leaves[index ^ 1];
        proof[1] = index < 2 ? right : left;
    }
}
