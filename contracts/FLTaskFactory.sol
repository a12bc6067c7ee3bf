// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IArena} from "./IArena.sol";
import {IRandomness} from "./IRandomness.sol";
import {FLTask} from "./FLTask.sol";
import {TaskParams} from "./FLTypes.sol";

/// @title FLTaskFactory
/// @notice Creates FL Alliance tasks from finished AI Arena tasks. Each task is an EIP-1167 minimal-proxy
/// clone of one FLTask implementation; its reward (the Arena version's total reward x `rewardShareBps`) is
/// pulled from the caller (the funder) straight into the clone in the same transaction, so the factory
/// never holds funds. The owner can only change the reward share for future tasks; it has no power over
/// existing tasks.
contract FLTaskFactory is Ownable {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    IERC20 public immutable token;
    IArena public immutable arena;
    IRandomness public immutable randomness;
    address public immutable implementation;
    /// @notice Share of the Arena version's total reward given to a new FL task, in basis points (<= 10000).
    uint16 public rewardShareBps;

    address[] private _tasks;

    error ArenaTaskNotFinished(uint256 arenaTaskId);
    error ZeroReward(uint256 arenaTaskId);
    error InvalidRewardShare(uint256 bps);
    error InvalidAddress(string field);
    error EscrowShortfall(uint256 expected, uint256 received);
    error TaskIndexOutOfRange(uint256 index);
    error TaskExists(address task);

    event TaskCreated(
        address indexed task,
        uint256 indexed arenaTaskId,
        address indexed funder,
        uint256 reward,
        bytes32 trainingLogicHash,
        uint256 index
    );
    event RewardShareChanged(uint256 bps);

    constructor(
        IERC20 token_,
        IArena arena_,
        IRandomness randomness_,
        address implementation_,
        uint16 rewardShareBps_,
        address initialOwner
    ) Ownable(initialOwner) {
        if (address(token_) == address(0)) revert InvalidAddress("token");
        if (address(arena_) == address(0)) revert InvalidAddress("arena");
        if (address(randomness_) == address(0)) revert InvalidAddress("randomness");
        if (implementation_.code.length == 0) revert InvalidAddress("implementation");
        if (rewardShareBps_ == 0 || rewardShareBps_ > BPS) revert InvalidRewardShare(rewardShareBps_);
        token = token_;
        arena = arena_;
        randomness = randomness_;
        implementation = implementation_;
        rewardShareBps = rewardShareBps_;
        emit RewardShareChanged(rewardShareBps_);
    }

    /// @notice Set the reward share for tasks created from now on.
    function setRewardShare(uint16 bps) external onlyOwner {
        if (bps == 0 || bps > BPS) revert InvalidRewardShare(bps);
        rewardShareBps = bps;
        emit RewardShareChanged(bps);
    }

    /// @notice The reward a task derived from Arena task `arenaTaskId` would escrow now.
    function rewardFor(uint256 arenaTaskId) public view returns (uint256) {
        IArena.ArenaTask memory a = arena.arenaTask(arenaTaskId);
        if (!a.finished) revert ArenaTaskNotFinished(arenaTaskId);
        uint256 reward = (a.totalReward * rewardShareBps) / BPS;
        if (reward == 0) revert ZeroReward(arenaTaskId);
        return reward;
    }

    /// @notice The address `createTask` gives a task that `creator` creates with `salt` (whether or not it
    /// exists yet): a caller that lost track of a mined createTask finds its task here instead of paying
    /// for a second one.
    function predictTask(address creator, bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(implementation, _salt(creator, salt));
    }

    /// @dev The CREATE2 salt binds the creator: nobody else can take (and block) a creator's address.
    function _salt(address creator, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }

    /// @notice Create an FL task from the finished Arena task `arenaTaskId`. The caller is the funder: it
    /// must have approved this factory for `rewardFor(arenaTaskId)`; the reward moves into the new task.
    /// The task's address is deterministic in (caller, `salt`) (see `predictTask`): a second createTask with
    /// the same salt reverts, so a retried request can never escrow a second reward.
    function createTask(uint256 arenaTaskId, TaskParams calldata params, bytes32 trainingLogicHash, bytes32 salt)
        external
        returns (address task)
    {
        IArena.ArenaTask memory a = arena.arenaTask(arenaTaskId);
        if (!a.finished) revert ArenaTaskNotFinished(arenaTaskId);
        uint256 reward = (a.totalReward * rewardShareBps) / BPS;
        if (reward == 0) revert ZeroReward(arenaTaskId);

        bytes32 fullSalt = _salt(msg.sender, salt);
        task = Clones.predictDeterministicAddress(implementation, fullSalt);
        if (task.code.length != 0) revert TaskExists(task);
        Clones.cloneDeterministic(implementation, fullSalt);
        FLTask(task).initialize(
            params,
            address(token),
            msg.sender,
            address(randomness),
            arenaTaskId,
            a.modelHash,
            trainingLogicHash,
            reward
        );
        uint256 index = _tasks.length;
        _tasks.push(task);
        emit TaskCreated(task, arenaTaskId, msg.sender, reward, trainingLogicHash, index);
        token.safeTransferFrom(msg.sender, task, reward);
        uint256 received = token.balanceOf(task);
        if (received < reward) revert EscrowShortfall(reward, received);
    }

    /// @notice Number of tasks created.
    function taskCount() external view returns (uint256) {
        return _tasks.length;
    }

    /// @notice The task created `index`-th.
    function taskAt(uint256 index) external view returns (address) {
        if (index >= _tasks.length) revert TaskIndexOutOfRange(index);
        return _tasks[index];
    }

    /// @notice Tasks [start, start + count) in creation order (clipped to the registry's end).
    function tasks(uint256 start, uint256 count) external view returns (address[] memory out) {
        uint256 end = _tasks.length;
        if (start > end) start = end;
        if (count > end - start) count = end - start;
        out = new address[](count);
        for (uint256 i; i < count; ++i) {
            out[i] = _tasks[start + i];
        }
    }
}
