// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {OpenToken} from "../../contracts/token/OpenToken.sol";
import {Test} from "../utils/Test.sol";

contract OpenTokenTest is Test {
    OpenToken internal token;
    uint256 internal ownerKey = 0xA11CE;
    address internal spender = address(0x5BE);

    function setUp() public {
        token = new OpenToken(address(this));
    }

    function test_mint_byMinterOnly() public {
        token.mint(spender, 5);
        assertEq(token.balanceOf(spender), 5, "minted");
        assertEq(token.totalSupply(), 5, "supply");
        bytes32 role = token.MINTER_ROLE();
        vm.prank(spender);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, spender, role));
        token.mint(spender, 1);
    }

    function test_metadata() public view {
        assertEq(token.name(), "Open", "name");
        assertEq(token.symbol(), "OPEN", "symbol");
        assertEq(token.decimals(), 18, "decimals");
    }

    function test_permit_setsAllowanceFromSignature() public {
        address owner = vm.addr(ownerKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                spender,
                77,
                token.nonces(owner),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerKey, digest);
        token.permit(owner, spender, 77, deadline, v, r, s);
        assertEq(token.allowance(owner, spender), 77, "allowance");
        assertEq(token.nonces(owner), 1, "nonce used");
        // Replayed: the nonce moved on, so the same signature recovers some other account.
        bytes32 replayDigest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                token.DOMAIN_SEPARATOR(),
                keccak256(
                    abi.encode(
                        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                        owner,
                        spender,
                        77,
                        1,
                        deadline
                    )
                )
            )
        );
        vm.expectRevert(
            abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, ecrecover(replayDigest, v, r, s), owner)
        );
        token.permit(owner, spender, 77, deadline, v, r, s);
    }
}
