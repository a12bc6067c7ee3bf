// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title FMLToken
/// @notice The $FML ERC-20 used for stakes and rewards on dev chains. The owner may mint (faucet for dev
/// accounts); production deployments may point the factory at any standard ERC-20 instead. Minting has no
/// power over tokens already held by task contracts: a task's stakes and pool are ordinary balances.
contract FMLToken is ERC20, Ownable {
    constructor(address initialOwner) ERC20("FLock ML", "FML") Ownable(initialOwner) {}

    /// @notice Mint `amount` to `to` (owner only).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
