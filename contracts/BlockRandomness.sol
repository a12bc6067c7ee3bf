// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IRandomness} from "./IRandomness.sol";

/// @title BlockRandomness
/// @notice The default seed source: keccak256(prevrandao, blockhash(block.number - 1), round, task).
/// @dev BIASABLE: the block producer of the block that includes `startRound` knows `prevrandao` and the
/// parent hash in advance and can withhold or reorder the transaction (or, for prevrandao, skip a slot)
/// to pick between candidate seeds. On a chain with honest-majority producers and stakes that make such
/// grinding unprofitable this is FLock's own 2025 design; where it is not acceptable, deploy the factory
/// with an `IRandomness` backed by a VRF. Stateless, so one instance serves every task.
contract BlockRandomness is IRandomness {
    /// @inheritdoc IRandomness
    function roundSeed(uint256 round) external view returns (uint256 seed) {
        seed = uint256(keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), round, msg.sender)));
        if (seed == 0) seed = 1; // 0 means "not ready" in the interface
    }
}
