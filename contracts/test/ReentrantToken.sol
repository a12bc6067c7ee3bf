// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken (TEST ONLY)
/// @notice A malicious ERC-20: whenever the armed `target` sends tokens out, it calls `target` back with
/// `payload` before finishing the transfer, and records whether that nested call succeeded and what it
/// returned. The token can also act as an account itself (`execute`), so the re-entrant call comes from
/// the very account being paid. Tests use it to prove FLTask's payouts cannot be re-entered.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public attackAttempted;
    bool public attackSucceeded;
    bytes public attackReturnData;
    uint256 public attacks;

    constructor() ERC20("Reentrant", "EVIL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Call `target` with `data` as this contract (to join, finalize, claim, withdraw ...).
    function execute(address target_, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target_.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    /// @notice Let `spender` pull this contract's own tokens.
    function approveFromSelf(address spender, uint256 amount) external {
        _approve(address(this), spender, amount);
    }

    /// @notice Arm the attack: on the next transfer out of `target`, call `target` with `data`.
    function arm(address target_, bytes calldata data) external {
        target = target_;
        payload = data;
        attackAttempted = false;
        attackSucceeded = false;
        delete attackReturnData;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == target && target != address(0) && !attackAttempted) {
            attackAttempted = true;
            attacks += 1;
            (bool ok, bytes memory ret) = target.call(payload);
            attackSucceeded = ok;
            attackReturnData = ret;
        }
        super._update(from, to, value);
    }
}
