// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title CommitteeVotes
/// @notice The commit-reveal arithmetic both dispute games share (inlined: internal functions only).
library CommitteeVotes {
    /// @notice What a drawn verifier commits: `keccak256(abi.encode(disputeId, round, verifier, verdict, witness,
    /// salt))`.
    function commitment(
        uint256 disputeId,
        uint8 round,
        address verifier,
        bytes32 verdict,
        bytes32 witness,
        bytes32 salt
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(disputeId, round, verifier, verdict, witness, salt));
    }

    /// @notice The seat holding the most held revealed key (`keys[i]` zero: seat i did not reveal), how many seats
    /// hold it, and how many revealed.
    function majority(bytes32[] memory keys) internal pure returns (uint256 bestSeat, uint256 best, uint256 revealed) {
        uint256 n = keys.length;
        for (uint256 i = 0; i < n; ++i) {
            if (keys[i] == bytes32(0)) continue;
            ++revealed;
            uint256 same;
            for (uint256 k = 0; k < n; ++k) {
                if (keys[k] == keys[i]) ++same;
            }
            if (same > best) (best, bestSeat) = (same, i);
        }
    }

    /// @notice Which seats revealed, and which revealed `bestKey` (none when it is zero: no decision).
    function masks(bytes32[] memory keys, bytes32 bestKey)
        internal
        pure
        returns (bool[] memory shown, bool[] memory coherent)
    {
        uint256 n = keys.length;
        shown = new bool[](n);
        coherent = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            shown[i] = keys[i] != bytes32(0);
            coherent[i] = bestKey != bytes32(0) && keys[i] == bestKey;
        }
    }
}
