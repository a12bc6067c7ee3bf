// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IRandomness
/// @notice Source of the per-round seed from which a task derives every participant's role.
/// @dev Designed to admit an asynchronous source (a VRF): `roundSeed` is not `view`, so an
/// implementation may record a request on the first call and return 0 until its oracle has delivered the
/// value; the task then emits `SeedRequested` and `startRound` is simply called again later. Synchronous
/// sources return a non-zero seed at once. The caller (`msg.sender`) is the task; a seed must depend on it
/// and on `round` so two tasks or two rounds never share one.
interface IRandomness {
    /// @notice The seed for round `round` of the calling task, or 0 when it is not available yet.
    function roundSeed(uint256 round) external returns (uint256 seed);
}
