// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IArena
/// @notice Read side of FLock's AI Arena as the FL task factory needs it: an FL Alliance task derives
/// from a *finished* Arena task, its reward is a share of the reward allocated to that Arena version, and
/// it may start from the Arena's resulting model instead of a pioneering model.
interface IArena {
    /// @notice One Arena task (a version of an Arena competition).
    struct ArenaTask {
        bool exists;
        bool finished;
        uint256 totalReward; // reward allocated to this Arena version, in token wei
        bytes32 modelHash; // content hash of the Arena's resulting model (zero until finished)
    }

    /// @notice The Arena task `id` (all fields zero when it does not exist).
    function arenaTask(uint256 id) external view returns (ArenaTask memory);
}
