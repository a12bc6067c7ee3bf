// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title FLTypes
/// @notice Enums and structs shared by FLTask, FLTaskFactory and the Python mirrors
/// (operator/flalliance/chain/models.py). Changing an order here is an ABI change.

/// @notice Lifecycle of a task. `None` only for an uninitialised clone.
enum Status {
    None,
    Enrolling,
    Running,
    Completed,
    Expired,
    Cancelled
}

/// @notice The phase of the current round, computed from the clock and the submission counters.
/// `Idle`: no round in progress (enrolment, between a finalized round and the next `startRound`, or ended).
enum Phase {
    Idle,
    Pioneering,
    Proposing,
    Committing,
    Revealing,
    Finalizable
}

/// @notice A participant's role in one round.
enum Role {
    None,
    Proposer,
    Voter
}

/// @notice A participant's last submission (in `lastActionRound`).
enum Action {
    None,
    Proposed,
    Committed,
    RevealedFor, // revealed a score >= 0
    RevealedAgainst // revealed a score < 0
}

/// @notice How proposers are paid. `PerProposal`: on their own proposal's verdict. `Collective`: FLock's
/// rule, every proposer rewarded when the round is accepted and slashed when it is rejected.
enum Policy {
    PerProposal,
    Collective
}

/// @notice Parameters of a task, chosen by its creator. Times are seconds.
struct TaskParams {
    uint128 minStake; // minimum stake to join, token wei; also the unit of voting weight is the stake
    uint16 minParticipants; // >= 2 (one proposer and one voter)
    uint16 maxParticipants; // >= minParticipants
    uint16 totalRounds; // >= 1
    uint16 proposerFractionBps; // share of participants drawn as proposers each round, 1..9999
    uint16 maxProposers; // committee cap: at most this many proposers a round, 1..256
    uint16 maxVoters; // committee cap: at most this many voters a round, >= 1 (the rest hold no role)
    uint16 slashBps; // share of the current stake taken by one slash, 0..10000
    Policy policy;
    bool useArenaModel; // start from the Arena task's model instead of a pioneering model
    uint32 joinDuration; // enrolment window from creation
    uint32 maxLifecycle; // after creation + maxLifecycle anyone may close() the task
    uint24 pioneerDuration;
    uint24 proposeDuration;
    uint24 commitDuration;
    uint24 revealDuration;
}

/// @notice The full, immutable configuration of a task as `config()` returns it.
struct TaskConfig {
    address token;
    address factory;
    address funder;
    address randomness;
    uint256 arenaTaskId;
    bytes32 trainingLogicHash;
    uint256 totalReward;
    uint256 weightUnit; // stake wei per unit of voting weight
    uint64 createdAt;
    uint64 joinDeadline;
    uint64 expiresAt;
    TaskParams params;
}

/// @notice Live state of a task as `state()` returns it.
struct TaskState {
    Status status;
    uint256 round; // the current (or last) round index; meaningful once `roundStarted`
    bool roundStarted;
    Phase phase;
    uint256 phaseDeadline; // end of the current phase (0 when Idle or Finalizable)
    uint256 finalizedRounds;
    uint256 participantCount;
    uint256 numProposers;
    uint256 numVoters;
    uint256 proposalCount;
    uint256 commitCount;
    uint256 revealCount;
    uint256 pool; // unallocated reward (including recycled slashes), token wei
    uint256 totalStake;
    bytes32 globalModel;
    uint256 positiveWeight; // live tallies of the current round, in weight units
    uint256 negativeWeight;
    bytes32 leadingAggregate;
    uint256 leadingWeight;
}

/// @notice Deadlines and decision of one round.
struct RoundInfo {
    uint256 round;
    uint256 seed; // the 64-bit role seed kept on chain
    uint256 startedAt;
    uint256 pioneerDeadline; // == startedAt when the round had no pioneering phase
    uint256 proposeDeadline;
    uint256 commitDeadline;
    uint256 revealDeadline;
    uint256 numProposers;
    uint256 numVoters;
    uint256 proposalCount;
    uint256 revealCount;
    bool pioneering; // the round started without a global model
    bool finalized;
    bool accepted;
    bool aborted; // pioneering round whose pioneer never delivered
    uint256 verdicts; // bit k set = proposal k accepted
    uint256 rewardPerWeight; // token wei per weight unit for rewarded participants
    uint256 rewardedWeight;
    address finalizer;
}

/// @notice One proposal of a round.
struct Proposal {
    address proposer;
    bytes32 modelHash;
    uint256 samples;
    uint256 weight; // proposer's stake in weight units when proposing
}

/// @notice A participant's account as `participant()` returns it.
struct ParticipantInfo {
    bool joined;
    uint256 index; // roster index (role derivation input)
    uint256 stake; // current stake (after settled slashes)
    uint256 joinedStake;
    uint256 claimable; // what claim() pays now: finalizer fees, and rewards (PerProposal: once vested)
    uint256 rewardedTotal; // all rewards ever credited by settlement (PerProposal: vested or not)
    uint256 slashedTotal; // joinedStake - stake while not withdrawn
    uint256 feesEarned; // finalizer fees ever credited
    uint256 settledRounds; // rounds [0, settledRounds) are settled
    bool withdrawn;
    uint256 lastActionRound; // the round of `lastAction` (meaningless while lastAction == None)
    Action lastAction;
    uint256 proposalIndex; // when lastAction == Proposed
    uint256 acceptedProposals; // settled proposals accepted (verdict bit set in a round with reveals)
    uint256 rejectedProposals; // settled proposals rejected, and proposer turns missed (absent)
    uint256 unvested; // PerProposal: rewards credited by settlement, not claimable until they vest
    uint256 vested; // PerProposal, after vesting: unvested x (accepted - rejected) / (accepted + rejected), 0 unless accepted > rejected
    uint256 forfeited; // PerProposal, after vesting: the rest, returned to the pool
    bool vestingDone; // PerProposal: vested (once, on the first claim / withdraw / settle after the end)
}
