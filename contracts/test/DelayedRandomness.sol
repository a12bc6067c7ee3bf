// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IRandomness} from "../IRandomness.sol";

/// @title DelayedRandomness (TEST ONLY)
/// @notice Stands in for an asynchronous (VRF-like) seed source: the first request for a (task, round)
/// is recorded and answered with 0 ("not ready"); once `fulfil` delivered a seed, it is returned.
contract DelayedRandomness is IRandomness {
    mapping(address task => mapping(uint256 round => uint256 seed)) public seeds;
    mapping(address task => mapping(uint256 round => bool)) public requested;

    event Requested(address indexed task, uint256 indexed round);

    function roundSeed(uint256 round) external returns (uint256) {
        uint256 seed = seeds[msg.sender][round];
        if (seed == 0 && !requested[msg.sender][round]) {
            requested[msg.sender][round] = true;
            emit Requested(msg.sender, round);
        }
        return seed;
    }

    /// @notice The oracle's callback (here: anyone, for tests).
    function fulfil(address task, uint256 round, uint256 seed) external {
        seeds[task][round] = seed;
    }
}
