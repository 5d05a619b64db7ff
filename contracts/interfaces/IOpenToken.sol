// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title IOpenToken
/// @notice The OPEN token for local chains and tests: ERC-20 with ERC-2612 permit and a minter role.
/// Real deployments point the protocol at the existing OPEN token instead.
interface IOpenToken is IERC20, IERC20Permit {
    /// @notice Mints `amount` tokens to `to`. Only accounts with `MINTER_ROLE`.
    /// @param to The recipient of the new tokens.
    /// @param amount The amount to mint, in wei (18 decimals).
    function mint(address to, uint256 amount) external;
}
