// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IVerifierPool} from "../interfaces/IVerifierPool.sol";

/// @title VerifierPool
/// @notice See {IVerifierPool}. Split out of the job dispute game so that the usage game draws from the same
/// stakes (and the job game keeps room under the 24,576-byte limit).
contract VerifierPool is IVerifierPool {
    using SafeERC20 for IERC20;

    /// @notice Most listed verifiers at once (bounds the draw's loop).
    uint256 public constant MAX_VERIFIERS = 64;

    IERC20 private immutable _token;
    uint128 private immutable _minStake;
    uint32 private immutable _exitDelay;
    address private _deployer;

    mapping(address account => bool game) private _games;
    mapping(address verifier => Verifier data) private _verifiers;
    address[] private _list;

    /// @param token OPEN.
    /// @param minStake_ The least stake a verifier is drawn with (at least every game's penalty).
    /// @param exitDelay_ Seconds between an exit request and the withdrawal (longer than a whole dispute).
    constructor(IERC20 token, uint128 minStake_, uint32 exitDelay_) {
        if (address(token) == address(0) || minStake_ == 0 || exitDelay_ == 0) revert InvalidParams();
        _token = token;
        _minStake = minStake_;
        _exitDelay = exitDelay_;
        _deployer = msg.sender;
    }

    modifier onlyGame() {
        if (!_games[msg.sender]) revert NotGame(msg.sender);
        _;
    }

    /// @inheritdoc IVerifierPool
    function setGames(address[] calldata games) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (games.length == 0) revert InvalidParams();
        _deployer = address(0);
        for (uint256 i = 0; i < games.length; ++i) {
            if (games[i] == address(0)) revert InvalidParams();
            _games[games[i]] = true;
        }
        emit GamesSet(games);
    }

    /// @inheritdoc IVerifierPool
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Verifier storage v = _verifiers[msg.sender];
        uint256 total = uint256(v.stake) + amount;
        if (total < _minStake) revert StakeBelowMinimum(total, _minStake);
        if (!_listed(msg.sender)) {
            if (_list.length >= MAX_VERIFIERS) revert TooManyVerifiers(MAX_VERIFIERS);
            _list.push(msg.sender);
        }
        v.stake = uint128(total);
        v.exitAt = 0;
        emit VerifierStaked(msg.sender, amount, total);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IVerifierPool
    function requestExit() external {
        if (!_listed(msg.sender)) revert NotVerifier(msg.sender);
        uint40 exitAt = uint40(block.timestamp) + _exitDelay;
        _verifiers[msg.sender].exitAt = exitAt;
        emit VerifierExitRequested(msg.sender, exitAt);
    }

    /// @inheritdoc IVerifierPool
    function withdrawStake() external returns (uint256 amount) {
        Verifier storage v = _verifiers[msg.sender];
        if (v.exitAt == 0 || block.timestamp < v.exitAt) revert ExitNotReady(msg.sender, v.exitAt);
        if (v.duties != 0) revert VerifierBusy(msg.sender, v.duties);
        amount = v.stake;
        delete _verifiers[msg.sender];
        uint256 n = _list.length;
        for (uint256 i = 0; i < n; ++i) {
            if (_list[i] == msg.sender) {
                _list[i] = _list[n - 1];
                _list.pop();
                break;
            }
        }
        emit VerifierWithdrawn(msg.sender, amount);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IVerifierPool
    function draw(bytes32 seed, uint256 seats, address[] calldata excluded)
        external
        onlyGame
        returns (address[] memory members)
    {
        (uint256[] memory weights, uint256 eligible) = _weights(excluded);
        if (eligible < seats) revert NotEnoughVerifiers(eligible, seats);
        uint256 n = weights.length;
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            total += weights[i];
        }
        members = new address[](seats);
        for (uint256 s = 0; s < seats; ++s) {
            uint256 r = uint256(keccak256(abi.encode(seed, s))) % total;
            for (uint256 i = 0; i < n; ++i) {
                if (r < weights[i]) {
                    address m = _list[i];
                    members[s] = m;
                    ++_verifiers[m].duties;
                    total -= weights[i];
                    weights[i] = 0;
                    break;
                }
                r -= weights[i];
            }
        }
    }

    /// @inheritdoc IVerifierPool
    function release(address[] calldata members) external onlyGame {
        for (uint256 i = 0; i < members.length; ++i) {
            --_verifiers[members[i]].duties;
        }
    }

    /// @inheritdoc IVerifierPool
    function penalise(address verifier, uint128 amount) external onlyGame returns (uint128 taken) {
        Verifier storage v = _verifiers[verifier];
        taken = v.stake < amount ? v.stake : amount;
        if (taken == 0) return 0;
        v.stake -= taken;
        emit StakeTaken(msg.sender, verifier, taken);
        _token.safeTransfer(msg.sender, taken);
    }

    /// @inheritdoc IVerifierPool
    function eligibleCount(address[] calldata excluded) external view returns (uint256 eligible) {
        (, eligible) = _weights(excluded);
    }

    /// @inheritdoc IVerifierPool
    function getVerifier(address verifier) external view returns (Verifier memory) {
        return _verifiers[verifier];
    }

    /// @inheritdoc IVerifierPool
    function verifierCount() external view returns (uint256) {
        return _list.length;
    }

    /// @inheritdoc IVerifierPool
    function isGame(address account) external view returns (bool) {
        return _games[account];
    }

    /// @inheritdoc IVerifierPool
    function minStake() external view returns (uint128) {
        return _minStake;
    }

    /// @inheritdoc IVerifierPool
    function exitDelay() external view returns (uint32) {
        return _exitDelay;
    }

    /// @dev The draw weight of each listed verifier (its stake, or 0 when not eligible) and how many are eligible.
    function _weights(address[] calldata excluded) private view returns (uint256[] memory weights, uint256 eligible) {
        uint256 n = _list.length;
        weights = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            address a = _list[i];
            Verifier storage v = _verifiers[a];
            if (v.stake < _minStake || v.exitAt != 0 || _isIn(a, excluded)) continue;
            weights[i] = v.stake;
            ++eligible;
        }
    }

    function _isIn(address a, address[] calldata list) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }

    function _listed(address account) private view returns (bool) {
        uint256 n = _list.length;
        for (uint256 i = 0; i < n; ++i) {
            if (_list[i] == account) return true;
        }
        return false;
    }
}
