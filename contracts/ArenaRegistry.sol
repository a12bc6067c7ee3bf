// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IArena} from "./IArena.sol";

/// @title ArenaRegistry
/// @notice A minimal on-chain record of AI Arena tasks (id, reward allocated to the version, finished flag,
/// resulting model hash). FLock runs the Arena itself; this registry stands in for it on dev chains and is
/// the `IArena` the factory reads. Only the owner (the Arena operator) registers and finishes tasks.
contract ArenaRegistry is IArena, Ownable {
    mapping(uint256 id => ArenaTask) private _tasks;

    error ArenaTaskExists(uint256 id);
    error UnknownArenaTask(uint256 id);
    error ArenaTaskAlreadyFinished(uint256 id);
    error ZeroModelHash();

    event ArenaTaskRegistered(uint256 indexed id, uint256 totalReward);
    event ArenaTaskFinished(uint256 indexed id, bytes32 modelHash);

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Register Arena task `id` with the reward allocated to its version.
    function registerTask(uint256 id, uint256 totalReward) external onlyOwner {
        if (_tasks[id].exists) revert ArenaTaskExists(id);
        _tasks[id] = ArenaTask({exists: true, finished: false, totalReward: totalReward, modelHash: bytes32(0)});
        emit ArenaTaskRegistered(id, totalReward);
    }

    /// @notice Mark Arena task `id` finished with its resulting model's content hash.
    function finishTask(uint256 id, bytes32 modelHash) external onlyOwner {
        ArenaTask storage t = _tasks[id];
        if (!t.exists) revert UnknownArenaTask(id);
        if (t.finished) revert ArenaTaskAlreadyFinished(id);
        if (modelHash == bytes32(0)) revert ZeroModelHash();
        t.finished = true;
        t.modelHash = modelHash;
        emit ArenaTaskFinished(id, modelHash);
    }

    /// @inheritdoc IArena
    function arenaTask(uint256 id) external view returns (ArenaTask memory) {
        return _tasks[id];
    }
}
