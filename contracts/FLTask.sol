// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRandomness} from "./IRandomness.sol";
import {RolePermutation} from "./RolePermutation.sol";
import {
    Status,
    Phase,
    Role,
    Policy,
    TaskParams,
    TaskConfig,
    TaskState,
    RoundInfo,
    Proposal,
    ParticipantInfo,
    Action
} from "./FLTypes.sol";

/// @title FLTask
/// @notice One FL Alliance task: enrolment with stake, rounds of pioneer -> propose -> commit -> reveal ->
/// finalize, stake-weighted decisions, lazily settled rewards and slashes, pull payments.
/// Deployed as an EIP-1167 clone by FLTaskFactory, which escrows the reward in the same transaction.
/// Under the default PerProposal policy rewards *vest by contribution*: what settlement credits is held
/// until the task has ended, and then `unvested * (accepted - rejected) / (accepted + rejected)` of it
/// (counting the participant's decided proposals; nothing unless accepted > rejected: each rejected
/// proposal cancels an accepted one) becomes claimable, the rest returns to the pool. Roles are drawn without replacement over epochs of ceil(n / proposers) rounds, so every
/// participant proposes at least once per epoch. Rounds are committees: at most `maxProposers` proposers
/// (slots [0, P)) and `maxVoters` voters (slots [P, P + V)); the others hold no role that round and are
/// neither paid nor slashed for it, so a round's gas, bytes moved and voter work stay bounded whatever n.
/// @dev Gas design (see docs/protocol.md and docs/gas.md):
///  - no transaction loops over participants: roles derive from the epoch's seed through a keyed
///    permutation (O(1) per check), and each participant's rewards/slashes are settled lazily, round by
///    round, from a compact per-round record when that participant next acts, claims or withdraws (or
///    when anyone calls `settle`);
///  - the voting weight of a participant in round r is its stake after settling rounds < r; every
///    submission settles first, so the stake a settlement sees equals the weight counted at submission;
///  - per-round working state lives in fixed slots that stay non-zero across rounds (reset by
///    overwriting, never by zeroing), so a round costs warm 2.9k writes rather than fresh 20k ones;
///    the round's absolute deadlines and seed sit in the one header slot every submission reads;
///    proposal slots are reused round after round (pre-warmed by the joins that may fill them);
///    per-proposal reject tallies are packed four per slot with a round tag;
///  - a vote commitment is stored as its first 224 bits with a round tag in one slot (binding stays
///    2^112-collision hard), so `commitVote` touches no other account state.
/// Nobody, the factory and the funder included, can move participants' stake: the only transfers out are
/// `withdraw` (own stake, after the end), `claim` (own accrued rewards and fees) and `refundPool` (the
/// unallocated pool, to the funder, after the end).
contract FLTask is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------------------------------------
    // Constants
    uint256 private constant BPS = 10_000;
    /// @notice Share of every slash credited to the finalizer of the round (the rest returns to the pool).
    uint256 internal constant FINALIZER_FEE_BPS = 1_000;
    /// @notice Bound on the total voting weight (in weight units) so packed tallies cannot overflow.
    uint256 internal constant MAX_TOTAL_WEIGHT = (uint256(1) << 56) - 1;
    /// @notice Verdicts are one bit per proposal in a uint256.
    uint256 internal constant MAX_PROPOSERS = 256;
    uint256 private constant MAX_SCORE = uint256(uint32(type(int32).max));

    // Values of the Action enum, stored as uint8 in Account.actionKind.
    uint8 private constant ACT_NONE = uint8(Action.None);
    uint8 private constant ACT_PROPOSED = uint8(Action.Proposed);
    uint8 private constant ACT_COMMITTED = uint8(Action.Committed);
    uint8 private constant ACT_REVEALED_FOR = uint8(Action.RevealedFor);
    uint8 private constant ACT_REVEALED_AGAINST = uint8(Action.RevealedAgainst);

    // Header.flags
    uint8 private constant H_STARTED = 1; // a round has been started (round is meaningful)
    uint8 private constant H_PIONEERING = 2; // the current round started without a global model
    uint8 private constant H_PIONEER_DONE = 4; // ... and its pioneer delivered one
    uint8 private constant H_HAS_MODEL = 8; // a global model exists (Arena model or a pioneer's)

    // What a settled round counts toward the participant's decided proposals (_outcome).
    uint8 private constant DECIDED_NONE = 0;
    uint8 private constant DECIDED_ACCEPTED = 1;
    uint8 private constant DECIDED_REJECTED = 2;

    // RoundRecord.flags
    uint8 private constant F_PIONEERING = 1;
    uint8 private constant F_FINALIZED = 2;
    uint8 private constant F_ACCEPTED = 4;
    uint8 private constant F_ABORTED = 8;

    /// @notice Why a participant was slashed in a round.
    enum SlashReason {
        Absent, // held a role and did not submit / reveal (or, as pioneer, did not deliver the model)
        ProposalRejected, // PerProposal: own proposal rejected; Collective: round rejected
        MinorityVote // revealed on the losing side of the aggregate vote
    }

    // ------------------------------------------------------------------------------------------------
    // Storage: configuration (written once by initialize)
    struct Config0 {
        address token;
        Policy policy;
        uint16 totalRounds;
        uint16 proposerFractionBps;
        uint16 slashBps;
        uint16 minParticipants;
        uint16 maxParticipants;
        bool useArenaModel;
    }

    struct Config1 {
        address randomness;
        uint24 pioneerDuration;
        uint24 proposeDuration;
        uint24 commitDuration;
        uint24 revealDuration;
    }

    /// @dev The committee caps sit with the deadlines: startRound and join read this slot anyway.
    struct Config2 {
        address funder;
        uint32 joinDeadline;
        uint32 expiresAt;
        uint16 maxProposers;
        uint16 maxVoters;
    }

    struct Config3 {
        uint128 minStake;
        uint128 totalReward;
    }

    struct Config4 {
        address factory;
        uint40 createdAt;
        uint56 arenaTaskId;
    }

    // Storage: live state
    /// @dev The one slot every submission reads: status, round, clock and seed of the current round.
    /// Timestamps are uint32 (valid until 2106; initialize refuses lifecycles reaching past that).
    struct Header {
        Status status;
        uint16 round;
        uint16 finalizedRounds;
        uint8 flags;
        uint16 participantCount;
        uint32 pioneerEnd;
        uint32 proposeEnd;
        uint32 commitEnd;
        uint32 revealEnd;
        uint64 seed;
    }

    /// @dev Counters and tallies of the current round, plus the constants settlement needs (so settling
    /// reads no configuration slot).
    struct Counts {
        uint16 numProposers;
        uint16 proposalCount;
        uint16 commitCount;
        uint16 revealCount;
        uint56 positiveWeight;
        uint56 negativeWeight;
        uint56 leadingWeight;
        uint16 slashBps;
        Policy policy;
    }

    struct Funds {
        uint128 pool;
        uint128 totalStake;
    }

    struct RoundRecord {
        // slot 0 (start, completed at finalize)
        uint64 seed;
        uint16 numProposers;
        uint40 startedAt;
        uint8 flags;
        uint16 proposalCount;
        uint112 rewardPerWeight;
        // slot 1 (finalize)
        address finalizer;
        uint64 rewardedWeight;
        uint16 commitCount;
        uint16 revealCount;
        // slot 2 (finalize, only when non-zero)
        uint256 verdicts;
    }

    struct ProposalSlot {
        bytes32 modelHash;
        address proposer;
        uint40 samples;
        uint56 weight;
    }

    struct Account {
        uint96 stake;
        uint16 settledRounds;
        uint16 index;
        uint16 actionRound;
        uint8 actionKind;
        uint8 proposalIndex;
        bool joined;
        uint16 acceptedProposals; // decided proposals accepted (here, not in Ledger: settling a reward writes this slot anyway)
        uint72 pendingReward; // settled rewards not yet moved to Balance/Ledger (saves a write per round)
    }

    /// @dev What can be paid out, and the finalizer fees: the one slot a fee credit writes.
    struct Balance {
        uint128 claimable;
        uint120 feesEarned;
        bool active; // set at join / first finalize so later credits write a non-zero slot
    }

    struct Ledger {
        uint96 joinedStake;
        uint128 rewardedTotal; // rewards moved out of Account.pendingReward (PerProposal: unvested until vested)
        uint16 rejectedProposals; // decided proposals rejected, absent proposers included (written with slashes)
        bool withdrawn;
        bool vested; // PerProposal: the rewards vested (once, after the end)
    }
    struct Commitment {
        bytes28 digest; // first 224 bits of the voter's commitment
        uint32 tag; // round + 1
    }

    struct Member {
        Account acct;
        Balance bal;
        Commitment commitment;
        Ledger ledger;
    }

    /// @dev The implementation itself (clones see the implementation's address here) may never be
    /// initialised.
    address private immutable _self;
    /// @notice Stake wei per unit of voting weight (tallies count whole units).
    uint256 internal immutable WEIGHT_UNIT;

    Config0 private _c0;
    Config1 private _c1;
    Config2 private _c2;
    Config3 private _c3;
    Config4 private _c4;
    bytes32 private _trainingLogicHash;

    Header private _h;
    Counts private _counts;
    bytes32 private _leadingAggregate;
    bytes32 private _globalModel;
    Funds private _funds;

    address[] private _roster;
    mapping(address account => Member) private _members;
    mapping(uint256 round => RoundRecord) private _rounds;
    mapping(uint256 index => ProposalSlot) private _proposals;
    mapping(uint256 slotIndex => uint256) private _rejectTally;
    mapping(bytes32 roundAndHash => uint256) private _aggregateWeight;

    // ------------------------------------------------------------------------------------------------
    // Errors
    error ImplementationNotInitializable();
    error AlreadyInitialized();
    error InvalidParameter(string field);
    error WrongStatus(Status expected, Status actual);
    error WrongPhase(Phase expected, Phase actual);
    error TaskExpired(uint256 expiresAt);
    error JoinWindowClosed(uint256 joinDeadline);
    error TaskFull(uint256 maxParticipants);
    error AlreadyJoined(address account);
    error StakeTooLow(uint256 amount, uint256 minStake);
    error StakeTooHigh(uint256 amount);
    error NotParticipant(address account);
    error NotReadyToStart();
    error NotPioneer(uint256 round, address account);
    error NotProposer(uint256 round, address account);
    error NotVoter(uint256 round, address account);
    error AlreadyProposed(uint256 round, address account);
    error AlreadyCommitted(uint256 round, address account);
    error AlreadyRevealed(uint256 round, address account);
    error NoCommitment(uint256 round, address account);
    error CommitmentMismatch(uint256 round, address account);
    error ZeroHash();
    error InvalidSamples(uint256 samples);
    error ScoreOutOfRange(int256 score);
    error UnknownRound(uint256 round);
    error ProposalsNotRetained(uint256 round);
    error NotClosable(Status status);
    error TaskNotEnded(Status status);
    error AlreadyWithdrawn(address account);
    error NothingToClaim(address account);
    error NothingToRefund();

    // ------------------------------------------------------------------------------------------------
    // Events
    event TaskInitialized(
        address indexed factory,
        address indexed funder,
        uint256 indexed arenaTaskId,
        bytes32 trainingLogicHash,
        bytes32 initialModel,
        uint256 totalReward
    );
    event Joined(address indexed account, uint256 index, uint256 stake);
    event StatusChanged(Status status);
    event SeedRequested(uint256 indexed round);
    event RoundStarted(
        uint256 indexed round,
        uint256 seed,
        uint256 numProposers,
        uint256 pioneerDeadline,
        uint256 proposeDeadline,
        uint256 commitDeadline,
        uint256 revealDeadline
    );
    event PioneerModelSubmitted(uint256 indexed round, address indexed pioneer, bytes32 modelHash);
    event ProposalSubmitted(
        uint256 indexed round,
        uint256 indexed index,
        address indexed proposer,
        bytes32 modelHash,
        uint256 samples,
        uint256 weight
    );
    event VoteCommitted(uint256 indexed round, address indexed voter, bytes32 commitment);
    event VoteRevealed(
        uint256 indexed round,
        address indexed voter,
        bytes32 aggregateHash,
        int256 score,
        uint256 verdicts,
        uint256 weight
    );
    event RoundFinalized(
        uint256 indexed round,
        bool accepted,
        bool aborted,
        bytes32 globalModel,
        uint256 verdicts,
        uint256 rewardPerWeight,
        uint256 rewardedWeight,
        uint256 positiveWeight,
        uint256 negativeWeight,
        address finalizer
    );
    /// @notice `amount` was taken from `account`'s stake for round `round`; `fee` of it was credited to the
    /// round's `finalizer`, the rest returned to the pool.
    event Slashed(
        address indexed account,
        uint256 indexed round,
        address indexed finalizer,
        uint256 amount,
        uint256 fee,
        SlashReason reason
    );
    /// @notice Rounds up to `settledRounds` of `account` are settled; `rewarded` was credited (Collective:
    /// claimable; PerProposal: unvested until `Vested`) and `slashed` taken from its stake by this settlement.
    event Settled(address indexed account, uint256 settledRounds, uint256 rewarded, uint256 slashed);
    /// @notice PerProposal, once per participant after the end: of its unvested rewards `vested` became
    /// claimable (its accepted minus its rejected proposals, over its decided ones) and `forfeited` returned
    /// to the pool.
    event Vested(address indexed account, uint256 vested, uint256 forfeited);
    event Claimed(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event PoolRefunded(address indexed funder, uint256 amount);

    /// @param weightUnitExp_ stake wei per unit of voting weight is 10 ** weightUnitExp_ (<= 12); shared by
    /// every clone of this implementation.
    constructor(uint8 weightUnitExp_) {
        if (weightUnitExp_ > 12) revert InvalidParameter("weightUnitExp");
        _self = address(this);
        WEIGHT_UNIT = 10 ** weightUnitExp_;
    }

    // ------------------------------------------------------------------------------------------------
    // Creation

    /// @notice Set up a fresh clone. Called once by the factory in the creating transaction, before the
    /// reward is transferred in.
    function initialize(
        TaskParams calldata p,
        address token,
        address funder,
        address randomness,
        uint256 arenaTaskId,
        bytes32 arenaModelHash,
        bytes32 trainingLogicHash,
        uint256 totalReward
    ) external {
        if (address(this) == _self) revert ImplementationNotInitializable();
        if (_h.status != Status.None) revert AlreadyInitialized();
        _validate(p, arenaModelHash);
        if (token == address(0)) revert InvalidParameter("token");
        if (funder == address(0)) revert InvalidParameter("funder");
        if (randomness == address(0)) revert InvalidParameter("randomness");
        if (arenaTaskId > type(uint56).max) revert InvalidParameter("arenaTaskId");
        if (trainingLogicHash == bytes32(0)) revert InvalidParameter("trainingLogicHash");
        if (totalReward == 0 || totalReward > type(uint96).max) revert InvalidParameter("totalReward");
        if (p.minStake < WEIGHT_UNIT) revert InvalidParameter("minStake");
        if (p.policy == Policy.PerProposal) {
            uint256 minSlash;
            unchecked {
                minSlash = (uint256(p.minStake) * p.slashBps) / BPS; // < 2^144
            }
            if (minSlash == 0) revert InvalidParameter("slashBps"); // 0, or rounds to 0 on the minimum stake
        }
        uint256 nowTs = block.timestamp;
        if (nowTs + p.maxLifecycle > type(uint32).max) revert InvalidParameter("maxLifecycle");

        _c0 = Config0({
            token: token,
            policy: p.policy,
            totalRounds: p.totalRounds,
            proposerFractionBps: p.proposerFractionBps,
            slashBps: p.slashBps,
            minParticipants: p.minParticipants,
            maxParticipants: p.maxParticipants,
            useArenaModel: p.useArenaModel
        });
        _c1 = Config1({
            randomness: randomness,
            pioneerDuration: p.pioneerDuration,
            proposeDuration: p.proposeDuration,
            commitDuration: p.commitDuration,
            revealDuration: p.revealDuration
        });
        _c2 = Config2({
            funder: funder,
            joinDeadline: uint32(nowTs + p.joinDuration),
            expiresAt: uint32(nowTs + p.maxLifecycle),
            maxProposers: p.maxProposers,
            maxVoters: p.maxVoters
        });
        _c3 = Config3({minStake: p.minStake, totalReward: uint128(totalReward)});
        _c4 = Config4({factory: msg.sender, createdAt: uint40(nowTs), arenaTaskId: uint56(arenaTaskId)});
        _trainingLogicHash = trainingLogicHash;
        _h.status = Status.Enrolling;
        if (p.useArenaModel) _h.flags = H_HAS_MODEL;
        // Pre-set the per-round working slots to non-zero values so round 0 writes them warm; the
        // settlement constants live next to the counters.
        _counts = Counts({
            numProposers: 0,
            proposalCount: 0,
            commitCount: 0,
            revealCount: 0,
            positiveWeight: 0,
            negativeWeight: 0,
            leadingWeight: 0,
            slashBps: p.slashBps,
            policy: p.policy
        });
        if (p.slashBps == 0) _counts.numProposers = 1; // keep the slot non-zero
        _leadingAggregate = bytes32(uint256(1));
        bytes32 initialModel = p.useArenaModel ? arenaModelHash : bytes32(0);
        if (initialModel != bytes32(0)) _globalModel = initialModel;
        _funds.pool = uint128(totalReward);
        emit TaskInitialized(msg.sender, funder, arenaTaskId, trainingLogicHash, initialModel, totalReward);
        emit StatusChanged(Status.Enrolling);
    }

    function _validate(TaskParams calldata p, bytes32 arenaModelHash) private pure {
        if (p.minParticipants < 2) revert InvalidParameter("minParticipants");
        if (p.maxParticipants < p.minParticipants) revert InvalidParameter("maxParticipants");
        if (p.totalRounds == 0) revert InvalidParameter("totalRounds");
        if (p.proposerFractionBps == 0 || p.proposerFractionBps >= BPS) {
            revert InvalidParameter("proposerFractionBps");
        }
        if (p.maxProposers == 0 || p.maxProposers > MAX_PROPOSERS) revert InvalidParameter("maxProposers");
        if (p.maxVoters == 0) revert InvalidParameter("maxVoters");
        if (p.slashBps > BPS) revert InvalidParameter("slashBps");
        // PerProposal, attacking must lose: the task lasts at least one full epoch (every participant
        // proposes once) whatever the number of participants, and slashes take something (initialize).
        if (
            p.policy == Policy.PerProposal
                && p.totalRounds
                    < _maxEpochLength(p.minParticipants, p.maxParticipants, p.proposerFractionBps, p.maxProposers)
        ) revert InvalidParameter("totalRounds");
        if (p.joinDuration == 0) revert InvalidParameter("joinDuration");
        if (p.proposeDuration == 0) revert InvalidParameter("proposeDuration");
        if (p.commitDuration == 0) revert InvalidParameter("commitDuration");
        if (p.revealDuration == 0) revert InvalidParameter("revealDuration");
        if (p.useArenaModel) {
            if (arenaModelHash == bytes32(0)) revert InvalidParameter("useArenaModel");
        } else if (p.pioneerDuration == 0) {
            revert InvalidParameter("pioneerDuration");
        }
        uint256 roundTime = uint256(p.proposeDuration) + p.commitDuration + p.revealDuration;
        uint256 minLifecycle = uint256(p.joinDuration) + p.pioneerDuration + roundTime * p.totalRounds;
        if (p.maxLifecycle < minLifecycle) revert InvalidParameter("maxLifecycle");
    }

    // ------------------------------------------------------------------------------------------------
    // Enrolment

    /// @notice Join the task with `amount` of stake (>= minStake). The stake is also the voting weight.
    /// The first joiners (as many as there can be proposers) also pre-warm one proposal slot each and,
    /// every fourth, one reject-tally slot, so proposing and revealing never pay for fresh storage.
    function join(uint256 amount) external nonReentrant {
        Header memory h = _h;
        if (h.status != Status.Enrolling) revert WrongStatus(Status.Enrolling, h.status);
        Config2 memory c2 = _c2;
        if (block.timestamp > c2.joinDeadline) revert JoinWindowClosed(c2.joinDeadline);
        Config0 memory c0 = _c0;
        if (h.participantCount >= c0.maxParticipants) revert TaskFull(c0.maxParticipants);
        Member storage m = _members[msg.sender];
        if (m.acct.joined) revert AlreadyJoined(msg.sender);
        uint256 minStake = _c3.minStake;
        if (amount < minStake) revert StakeTooLow(amount, minStake);
        Funds memory f = _funds;
        uint256 newTotal = uint256(f.totalStake) + amount;
        if (newTotal / WEIGHT_UNIT > MAX_TOTAL_WEIGHT) revert StakeTooHigh(amount);

        uint256 index = h.participantCount;
        m.acct = Account({
            stake: uint96(amount),
            settledRounds: 0,
            index: uint16(index),
            actionRound: 0,
            actionKind: ACT_NONE,
            proposalIndex: 0,
            joined: true,
            acceptedProposals: 0,
            pendingReward: 0
        });
        m.bal.active = true;
        m.commitment.tag = type(uint32).max; // pre-warm: the first commit overwrites a non-zero slot
        m.ledger.joinedStake = uint96(amount);
        if (index < _numProposers(c0.maxParticipants, c0.proposerFractionBps, c2.maxProposers)) {
            _proposals[index] =
                ProposalSlot({modelHash: bytes32(uint256(1)), proposer: address(0), samples: 0, weight: 1});
            if (index & 3 == 0) _rejectTally[index >> 2] = uint256(type(uint32).max) << 224; // stale tag
        }
        _roster.push(msg.sender);
        _h.participantCount = uint16(index + 1);
        _funds.totalStake = uint128(newTotal);
        emit Joined(msg.sender, index, amount);
        IERC20(c0.token).safeTransferFrom(msg.sender, address(this), amount);
    }

    // ------------------------------------------------------------------------------------------------
    // Rounds

    /// @notice Start the next round: from enrolment once enough participants joined and the join window
    /// closed (or the task is full), or after the previous round was finalized. Anyone may call.
    /// Stores only the seed and the clock: O(1) gas whatever the number of participants. The seed is drawn
    /// at an epoch's first round (round % epochLength == 0); the epoch's other rounds reuse it.
    function startRound() external nonReentrant {
        Header memory h = _h;
        Config2 memory c2 = _c2;
        if (block.timestamp > c2.expiresAt) revert TaskExpired(c2.expiresAt);
        Config0 memory c0 = _c0;
        uint256 round;
        if (h.status == Status.Enrolling) {
            if (
                h.participantCount < c0.minParticipants
                    || (block.timestamp <= c2.joinDeadline && h.participantCount < c0.maxParticipants)
            ) revert NotReadyToStart();
            round = 0;
        } else if (h.status == Status.Running) {
            if (h.finalizedRounds != uint256(h.round) + 1) revert WrongPhase(Phase.Idle, _phase(h));
            round = uint256(h.round) + 1;
        } else {
            revert WrongStatus(Status.Running, h.status);
        }

        Config1 memory c1 = _c1;
        uint256 numProposers = _numProposers(h.participantCount, c0.proposerFractionBps, c2.maxProposers);
        uint64 seed = h.seed; // the epoch's seed, from its first round
        if (round % RolePermutation.epochLength(h.participantCount, numProposers) == 0) {
            uint256 fullSeed = IRandomness(c1.randomness).roundSeed(round);
            if (fullSeed == 0) {
                emit SeedRequested(round);
                return;
            }
            seed = uint64(fullSeed);
        }
        bool pioneering = h.flags & H_HAS_MODEL == 0;

        if (h.status == Status.Enrolling) {
            h.status = Status.Running;
            emit StatusChanged(Status.Running);
        }
        uint256 t = block.timestamp;
        h.round = uint16(round);
        h.flags = H_STARTED | (pioneering ? H_PIONEERING : H_HAS_MODEL);
        h.pioneerEnd = uint32(t + (pioneering ? c1.pioneerDuration : 0));
        h.proposeEnd = uint32(uint256(h.pioneerEnd) + c1.proposeDuration);
        h.commitEnd = uint32(uint256(h.proposeEnd) + c1.commitDuration);
        h.revealEnd = uint32(uint256(h.commitEnd) + c1.revealDuration);
        h.seed = seed;
        _h = h;
        Counts storage c = _counts;
        c.numProposers = uint16(numProposers);
        c.proposalCount = 0;
        c.commitCount = 0;
        c.revealCount = 0;
        c.positiveWeight = 0;
        c.negativeWeight = 0;
        c.leadingWeight = 0;
        RoundRecord storage rec = _rounds[round];
        rec.seed = seed;
        rec.numProposers = uint16(numProposers);
        rec.startedAt = uint40(t);
        rec.flags = pioneering ? F_PIONEERING : 0;
        emit RoundStarted(round, seed, numProposers, h.pioneerEnd, h.proposeEnd, h.commitEnd, h.revealEnd);
    }

    /// @notice The pioneer (slot 0 of a pioneering round) publishes the initial global model.
    function submitPioneer(bytes32 modelHash) external {
        Header memory h = _h;
        Counts memory c = _counts;
        _requirePhase(h, c, Phase.Pioneering);
        if (modelHash == bytes32(0)) revert ZeroHash();
        Account memory a = _members[msg.sender].acct;
        if (!a.joined || _slotOf(h, a.index, c.numProposers) != 0) {
            revert NotPioneer(h.round, msg.sender);
        }
        _globalModel = modelHash;
        _h.flags = h.flags | H_PIONEER_DONE | H_HAS_MODEL;
        emit PioneerModelSubmitted(h.round, msg.sender, modelHash);
    }

    /// @notice A proposer of the current round publishes its trained model (content hash and sample count).
    function propose(bytes32 modelHash, uint256 samples) external nonReentrant {
        Header memory h = _h;
        Counts memory c = _counts;
        _requirePhase(h, c, Phase.Proposing);
        if (modelHash == bytes32(0)) revert ZeroHash();
        if (samples == 0 || samples > type(uint40).max) revert InvalidSamples(samples);
        Member storage m = _members[msg.sender];
        Account memory a = m.acct;
        if (!a.joined) revert NotParticipant(msg.sender);
        if (_slotOf(h, a.index, c.numProposers) >= c.numProposers) {
            revert NotProposer(h.round, msg.sender);
        }
        if (a.actionRound == h.round && a.actionKind == ACT_PROPOSED) revert AlreadyProposed(h.round, msg.sender);
        a = _settle(msg.sender, m, a, h.finalizedRounds, c);
        uint256 weight = a.stake / WEIGHT_UNIT;
        uint256 k = c.proposalCount;
        _proposals[k] = ProposalSlot({
            modelHash: modelHash,
            proposer: msg.sender,
            samples: uint40(samples),
            weight: uint56(weight)
        });
        a.actionRound = h.round;
        a.actionKind = ACT_PROPOSED;
        a.proposalIndex = uint8(k);
        m.acct = a;
        _counts.proposalCount = uint16(k + 1);
        emit ProposalSubmitted(h.round, k, msg.sender, modelHash, samples, weight);
    }

    /// @notice A voter of the current round commits to its vote:
    /// keccak256(abi.encode(task, round, voter, aggregateHash, int256 score, uint256 verdicts, salt)).
    function commitVote(bytes32 commitment) external {
        Header memory h = _h;
        Counts memory c = _counts;
        _requirePhase(h, c, Phase.Committing);
        if (commitment == bytes32(0)) revert ZeroHash();
        Member storage m = _members[msg.sender];
        Account memory a = m.acct;
        if (!a.joined) revert NotParticipant(msg.sender);
        uint256 slot = _slotOf(h, a.index, c.numProposers);
        if (slot < c.numProposers || slot - c.numProposers >= _c2.maxVoters) revert NotVoter(h.round, msg.sender);
        uint32 tag = uint32(uint256(h.round) + 1);
        if (m.commitment.tag == tag) revert AlreadyCommitted(h.round, msg.sender);
        m.commitment = Commitment({digest: bytes28(commitment), tag: tag});
        _counts.commitCount = c.commitCount + 1;
        emit VoteCommitted(h.round, msg.sender, commitment);
    }

    /// @notice Reveal the committed vote. `score` is the signed validation score of the aggregate
    /// (>= 0 votes to accept the round), `verdicts` bit k accepts proposal k.
    function revealVote(bytes32 aggregateHash, int256 score, uint256 verdicts, bytes32 salt) external nonReentrant {
        Header memory h = _h;
        Counts memory c = _counts;
        _requirePhase(h, c, Phase.Revealing);
        Member storage m = _members[msg.sender];
        Account memory a = m.acct;
        uint256 tag = uint256(h.round) + 1;
        if (m.commitment.tag != tag) revert NoCommitment(h.round, msg.sender);
        if (a.actionRound == h.round && a.actionKind != ACT_NONE) revert AlreadyRevealed(h.round, msg.sender);
        bytes32 expected =
            keccak256(abi.encode(address(this), uint256(h.round), msg.sender, aggregateHash, score, verdicts, salt));
        if (bytes28(expected) != m.commitment.digest) revert CommitmentMismatch(h.round, msg.sender);
        if (score > int256(MAX_SCORE) || score < -int256(MAX_SCORE)) revert ScoreOutOfRange(score);
        if (score >= 0 && aggregateHash == bytes32(0)) revert ZeroHash();

        // Settle rounds < this one: the stake left is this round's voting weight.
        a = _settle(msg.sender, m, a, h.finalizedRounds, c);
        uint256 weight = a.stake / WEIGHT_UNIT;
        if (weight > 0) {
            _tallyRejections(tag, verdicts, c.proposalCount, weight);
            if (score >= 0) {
                c.positiveWeight += uint56(weight);
                _tallyAggregate(c, tag, aggregateHash, weight);
            } else {
                c.negativeWeight += uint56(weight);
            }
        }
        c.revealCount += 1;
        _counts = c;
        a.actionRound = h.round;
        a.actionKind = score >= 0 ? ACT_REVEALED_FOR : ACT_REVEALED_AGAINST;
        m.acct = a;
        emit VoteRevealed(h.round, msg.sender, aggregateHash, score, verdicts, weight);
    }

    /// @dev Plurality of aggregate hashes among accepting voters. The leader's weight lives only in
    /// Counts.leadingWeight (so the usual vote, for the leader, touches one extra slot); other hashes keep
    /// theirs in `_aggregateWeight`, and a dethroned leader's weight is written there when it loses the
    /// lead. Strictly more weight is needed to take the lead: on ties the earlier leader stays.
    function _tallyAggregate(Counts memory c, uint256 tag, bytes32 aggregateHash, uint256 weight) private {
        if (c.leadingWeight == 0) {
            c.leadingWeight = uint56(weight);
            _leadingAggregate = aggregateHash;
            return;
        }
        bytes32 leader = _leadingAggregate;
        if (leader == aggregateHash) {
            c.leadingWeight += uint56(weight);
            return;
        }
        bytes32 key = keccak256(abi.encode(tag, aggregateHash));
        uint256 w = _aggregateWeight[key] + weight;
        if (w > c.leadingWeight) {
            _aggregateWeight[keccak256(abi.encode(tag, leader))] = c.leadingWeight;
            c.leadingWeight = uint56(w);
            _leadingAggregate = aggregateHash;
        } else {
            _aggregateWeight[key] = w;
        }
    }

    /// @dev Add `weight` to the reject tally of every proposal whose verdict bit is clear. Four 56-bit
    /// tallies per slot with a 32-bit round tag on top; a stale tag reads as zero. Walks the groups of four
    /// up to the last rejected one (at most 64), touching only slots with a rejection.
    function _tallyRejections(uint256 tag, uint256 verdicts, uint256 count, uint256 weight) private {
        uint256 rejected = ~verdicts;
        if (count < 256) rejected &= (uint256(1) << count) - 1;
        for (uint256 slotIndex; rejected != 0; ++slotIndex) {
            uint256 group = rejected & 0xF;
            rejected >>= 4;
            if (group == 0) continue;
            uint256 packed = _rejectTally[slotIndex];
            if (packed >> 224 != tag) packed = tag << 224;
            for (uint256 j; j < 4; ++j) {
                if (group & (uint256(1) << j) != 0) packed += weight << (56 * j);
            }
            _rejectTally[slotIndex] = packed;
        }
    }

    /// @notice Decide the current round once its reveal phase is over (deadline passed or every committed
    /// voter revealed). Anyone may call; the caller earns 10% of every slash of this round.
    /// O(number of proposals).
    function finalizeRound() external nonReentrant {
        Header memory h = _h;
        Counts memory c = _counts;
        _requirePhase(h, c, Phase.Finalizable);
        uint256 round = h.round;
        uint256 totalRounds = _c0.totalRounds;
        RoundRecord storage rec = _rounds[round];
        Decision memory d = _decide(h, totalRounds, c);
        d.flags |= rec.flags | F_FINALIZED;
        rec.flags = d.flags;
        rec.proposalCount = c.proposalCount;
        rec.rewardPerWeight = uint112(d.rewardPerWeight);
        rec.finalizer = msg.sender;
        Member storage fm = _members[msg.sender];
        // the finalizer pays once for its own fee slot, not the participants it later slashes
        if (!fm.bal.active) fm.bal.active = true;
        rec.rewardedWeight = uint64(d.rewardedWeight);
        rec.commitCount = c.commitCount;
        rec.revealCount = c.revealCount;
        if (d.verdicts != 0) rec.verdicts = d.verdicts;
        h.finalizedRounds = uint16(round + 1);
        if (round + 1 == totalRounds) h.status = Status.Completed;
        _h = h;
        _emitFinalized(round, d, c);
        if (h.status == Status.Completed) emit StatusChanged(Status.Completed);
    }

    struct Decision {
        uint8 flags;
        bytes32 model;
        uint256 verdicts;
        uint256 rewardPerWeight;
        uint256 rewardedWeight;
    }

    /// @dev The round decision: acceptance (some positive weight, positive >= negative), per-proposal
    /// verdicts, the new global model and the reward per unit of rewarded weight (taken from the pool).
    function _decide(Header memory h, uint256 totalRounds, Counts memory c) private returns (Decision memory d) {
        if (h.flags & H_PIONEERING != 0 && h.flags & H_PIONEER_DONE == 0) {
            d.flags = F_ABORTED; // pioneering round without a pioneer model
            return d;
        }
        d.model = _globalModel;
        if (c.revealCount == 0) return d; // nobody voted: nobody is paid, the reward stays in the pool
        uint256 round = h.round;
        bool accepted = c.leadingWeight > 0 && c.positiveWeight >= c.negativeWeight;
        (uint256 verdicts, uint256 proposerWeight, uint256 acceptedProposerWeight) =
            _verdicts(round, c.proposalCount, uint256(c.positiveWeight) + c.negativeWeight);
        d.verdicts = verdicts;
        uint256 rewardedWeight = accepted ? c.positiveWeight : c.negativeWeight;
        if (c.policy == Policy.PerProposal) rewardedWeight += acceptedProposerWeight;
        else if (accepted) rewardedWeight += proposerWeight;
        d.rewardedWeight = rewardedWeight;
        if (accepted) {
            d.flags = F_ACCEPTED;
            d.model = _leadingAggregate;
            _globalModel = d.model;
        }
        if (rewardedWeight > 0) {
            uint256 pool = _funds.pool;
            uint256 roundReward = pool / (totalRounds - round);
            d.rewardPerWeight = roundReward / rewardedWeight;
            _funds.pool = uint128(pool - d.rewardPerWeight * rewardedWeight);
        }
    }

    function _emitFinalized(uint256 round, Decision memory d, Counts memory c) private {
        emit RoundFinalized(
            round,
            d.flags & F_ACCEPTED != 0,
            d.flags & F_ABORTED != 0,
            d.model,
            d.verdicts,
            d.rewardPerWeight,
            d.rewardedWeight,
            c.positiveWeight,
            c.negativeWeight,
            msg.sender
        );
    }

    /// @dev Per-proposal verdicts (accept iff accept weight >= reject weight; ties accept) and the summed
    /// proposer weights, all and accepted only.
    function _verdicts(uint256 round, uint256 count, uint256 revealedWeight)
        private
        view
        returns (uint256 verdicts, uint256 proposerWeight, uint256 acceptedProposerWeight)
    {
        uint256 tag = round + 1;
        uint256 packed;
        for (uint256 k; k < count; ++k) {
            if (k & 3 == 0) {
                packed = _rejectTally[k >> 2];
                if (packed >> 224 != tag) packed = 0;
            }
            uint256 rejectWeight = (packed >> (56 * (k & 3))) & MAX_TOTAL_WEIGHT;
            uint256 w = _proposals[k].weight;
            proposerWeight += w;
            if (revealedWeight - rejectWeight >= rejectWeight) {
                verdicts |= uint256(1) << k;
                acceptedProposerWeight += w;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Ending, settlement and payments

    /// @notice Close the task: Cancelled when the join window closed below minParticipants, Expired once
    /// the maximum lifecycle has passed. Anyone may call.
    function close() external {
        Header memory h = _h;
        Status next;
        if (
            h.status == Status.Enrolling && block.timestamp > _c2.joinDeadline
                && h.participantCount < _c0.minParticipants
        ) {
            next = Status.Cancelled;
        } else if ((h.status == Status.Enrolling || h.status == Status.Running) && block.timestamp > _c2.expiresAt)
        {
            next = Status.Expired;
        } else {
            revert NotClosable(h.status);
        }
        _h.status = next;
        emit StatusChanged(next);
    }

    /// @notice Settle up to `maxRounds` finalized rounds of `account` (rewards credited — PerProposal:
    /// unvested —, slashes taken from its stake); after the end, once every finalized round is settled,
    /// vest its rewards (PerProposal). Anyone may call; lets long backlogs be settled in bounded batches.
    function settle(address account, uint256 maxRounds) external nonReentrant returns (uint256 settledRounds) {
        Member storage m = _members[account];
        Account memory a = m.acct;
        if (!a.joined) revert NotParticipant(account);
        uint256 upTo = _h.finalizedRounds;
        if (upTo > uint256(a.settledRounds) + maxRounds) upTo = uint256(a.settledRounds) + maxRounds;
        Counts memory c = _counts;
        a = _settle(account, m, a, upTo, c);
        if (c.policy == Policy.PerProposal) a = _vestIfDue(account, m, a, _h.status);
        m.acct = a;
        return a.settledRounds;
    }

    /// @notice Pay the caller's claimable balance, settling its finalized rounds first: finalizer fees at
    /// any time; rewards under Collective as they are settled, under PerProposal once vested (the first
    /// claim, withdraw or settle after the end vests them).
    function claim() external nonReentrant returns (uint256 amount) {
        Member storage m = _members[msg.sender];
        Account memory a = m.acct;
        if (a.joined) m.acct = _payable(msg.sender, m, a);
        amount = m.bal.claimable;
        if (amount == 0) revert NothingToClaim(msg.sender);
        m.bal.claimable = 0;
        emit Claimed(msg.sender, amount);
        IERC20(_c0.token).safeTransfer(msg.sender, amount);
    }

    /// @notice Return the caller's remaining stake once the task is Completed, Expired or Cancelled.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Status s = _h.status;
        if (!_ended(s)) revert TaskNotEnded(s);
        Member storage m = _members[msg.sender];
        Account memory a = m.acct;
        if (!a.joined) revert NotParticipant(msg.sender);
        if (m.ledger.withdrawn) revert AlreadyWithdrawn(msg.sender);
        a = _payable(msg.sender, m, a);
        amount = a.stake;
        m.ledger.withdrawn = true;
        m.acct = a;
        _funds.totalStake -= uint128(amount);
        emit Withdrawn(msg.sender, amount);
        if (amount > 0) IERC20(_c0.token).safeTransfer(msg.sender, amount);
    }

    /// @notice After the end, send the unallocated pool (unspent reward, rounding dust and recycled
    /// slashes settled so far) back to the funder. Anyone may call; repeatable as late settlements refill it.
    function refundPool() external nonReentrant returns (uint256 amount) {
        Status s = _h.status;
        if (!_ended(s)) revert TaskNotEnded(s);
        amount = _funds.pool;
        if (amount == 0) revert NothingToRefund();
        _funds.pool = 0;
        address funder = _c2.funder;
        emit PoolRefunded(funder, amount);
        IERC20(_c0.token).safeTransfer(funder, amount);
    }

    /// @dev Loop-invariant inputs of a settlement and its running sums, kept in memory to spare the stack.
    struct SettleCtx {
        address who;
        uint256 n;
        uint256 slashBps;
        Policy policy;
        uint256 stake;
        uint256 reward;
        uint256 toPool;
        uint256 accepted;
        uint256 rejected;
        uint256 maxVoters; // loaded on first need (a round the participant did not act in); 0 until then
    }

    /// @dev Settle rounds [a.settledRounds, upTo) of `who`. Returns the updated account (the caller
    /// writes it back); balances, pool and finalizer fees are written here.
    function _settle(address who, Member storage m, Account memory a, uint256 upTo, Counts memory c)
        private
        returns (Account memory)
    {
        uint256 from = a.settledRounds;
        if (from >= upTo) return a;
        SettleCtx memory x = SettleCtx({
            who: who,
            n: _h.participantCount,
            slashBps: c.slashBps,
            policy: c.policy,
            stake: a.stake,
            reward: 0,
            toPool: 0,
            accepted: 0,
            rejected: 0,
            maxVoters: 0
        });
        for (uint256 r = from; r < upTo; ++r) {
            _settleRound(x, a, r);
        }
        uint256 slashedTotal = a.stake - x.stake;
        if (x.reward > 0) {
            uint256 pending = uint256(a.pendingReward) + x.reward;
            if (pending <= type(uint72).max) {
                a.pendingReward = uint72(pending);
            } else {
                a.pendingReward = 0;
                if (c.policy == Policy.Collective) m.bal.claimable += uint128(pending);
                m.ledger.rewardedTotal += uint128(pending);
            }
        }
        // at most one proposal per round and <= 65,535 rounds: the counters cannot overflow
        unchecked {
            if (x.accepted > 0) a.acceptedProposals += uint16(x.accepted);
            if (x.rejected > 0) m.ledger.rejectedProposals += uint16(x.rejected);
        }
        if (slashedTotal > 0) {
            Funds memory f = _funds;
            _funds = Funds({pool: uint128(f.pool + x.toPool), totalStake: uint128(f.totalStake - slashedTotal)});
        }
        a.stake = uint96(x.stake);
        a.settledRounds = uint16(upTo);
        emit Settled(who, upTo, x.reward, slashedTotal);
        return a;
    }

    /// @dev Settle every finalized round of `who` and make what it earned payable as its policy allows
    /// (before a claim or withdraw).
    function _payable(address who, Member storage m, Account memory a) private returns (Account memory) {
        Counts memory c = _counts;
        a = _settle(who, m, a, _h.finalizedRounds, c);
        return c.policy == Policy.Collective ? _flush(m, a) : _vestIfDue(who, m, a, _h.status);
    }

    /// @dev Collective: move the account's pending rewards into its Balance (before paying, or on overflow).
    function _flush(Member storage m, Account memory a) private returns (Account memory) {
        uint256 pending = a.pendingReward;
        if (pending > 0) {
            m.bal.claimable += uint128(pending);
            m.ledger.rewardedTotal += uint128(pending);
            a.pendingReward = 0;
        }
        return a;
    }

    /// @dev PerProposal: once the task has ended and `a` is settled through every finalized round, vest its
    /// unvested rewards (once): `unvested * (accepted - rejected) / (accepted + rejected)` becomes claimable,
    /// nothing unless accepted > rejected; the forfeited rest returns to the pool.
    function _vestIfDue(address who, Member storage m, Account memory a, Status s) private returns (Account memory) {
        if (!_ended(s) || a.settledRounds != _h.finalizedRounds) return a;
        Ledger storage l = m.ledger;
        if (l.vested) return a;
        // rewards, claimable and pool are all bounded by the task's tokens (< 2^97): no overflow
        unchecked {
            uint256 unvested = uint256(l.rewardedTotal) + a.pendingReward;
            uint256 vested = _vestedShare(unvested, a.acceptedProposals, l.rejectedProposals);
            uint256 forfeited = unvested - vested;
            l.rewardedTotal = uint128(unvested);
            l.vested = true;
            a.pendingReward = 0;
            if (vested > 0) m.bal.claimable += uint128(vested);
            if (forfeited > 0) _funds.pool += uint128(forfeited);
            emit Vested(who, vested, forfeited);
        }
        return a;
    }

    function _vestedShare(uint256 unvested, uint256 accepted, uint256 rejected) private pure returns (uint256) {
        unchecked {
            return accepted <= rejected ? 0 : (unvested * (accepted - rejected)) / (accepted + rejected);
        }
    }

    function _ended(Status s) private pure returns (bool) {
        return s == Status.Completed || s == Status.Expired || s == Status.Cancelled;
    }

    function _settleRound(SettleCtx memory x, Account memory a, uint256 r) private {
        RoundRecord storage rec = _rounds[r];
        uint8 act = a.actionRound == r ? a.actionKind : ACT_NONE;
        // A submission proves the role (each was role-checked; an aborted round has none): only a round the
        // participant did not act in needs the permutation. Slots from numProposers on are voters', up to
        // maxVoters of them; beyond, no role: nothing to pay or take.
        uint256 slot = act == ACT_PROPOSED ? 0 : rec.numProposers;
        if (act == ACT_NONE) {
            slot = RolePermutation.slot(rec.seed, a.index, x.n, rec.numProposers, r);
            if (slot >= rec.numProposers) {
                if (x.maxVoters == 0) x.maxVoters = _c2.maxVoters;
                if (slot - rec.numProposers >= x.maxVoters) return;
            }
        }
        (bool rewarded, bool slashed, SlashReason reason, uint8 decided) =
            _outcome(rec, slot, act, a.proposalIndex, x.policy);
        unchecked {
            if (decided == DECIDED_ACCEPTED) ++x.accepted;
            else if (decided == DECIDED_REJECTED) ++x.rejected;
        }
        if (rewarded) {
            x.reward += (x.stake / WEIGHT_UNIT) * rec.rewardPerWeight;
        } else if (slashed) {
            uint256 amount = (x.stake * x.slashBps) / BPS;
            if (amount > 0) {
                x.stake -= amount;
                uint256 fee = (amount * FINALIZER_FEE_BPS) / BPS;
                x.toPool += amount - fee;
                address finalizer = rec.finalizer;
                if (fee > 0) {
                    Balance storage fb = _members[finalizer].bal;
                    fb.claimable += uint128(fee);
                    fb.feesEarned += uint120(fee);
                }
                emit Slashed(x.who, r, finalizer, amount, fee, reason);
            }
        }
    }

    /// @dev The payout rule of one finalized round for one participant, from its slot in the round (slots
    /// below numProposers propose, slot 0 pioneers). `decided`: whether it counts as an accepted or a
    /// rejected proposal (verdict bit of its proposal in a round with reveals; an absent proposer counts as
    /// rejected; under either policy). Kept in one place; mirrored by flalliance.protocol.payouts.outcome.
    function _outcome(RoundRecord storage rec, uint256 slot, uint8 act, uint8 proposalIndex, Policy policy)
        private
        view
        returns (bool rewarded, bool slashed, SlashReason reason, uint8 decided)
    {
        uint8 flags = rec.flags;
        if (flags & F_ABORTED != 0) {
            // only the pioneer had a task in an aborted round
            return (false, slot == 0, SlashReason.Absent, DECIDED_NONE);
        }
        bool accepted = flags & F_ACCEPTED != 0;
        if (slot < rec.numProposers) {
            if (act != ACT_PROPOSED) return (false, true, SlashReason.Absent, DECIDED_REJECTED);
            if (rec.revealCount == 0) return (false, false, SlashReason.Absent, DECIDED_NONE);
            bool verdict = (rec.verdicts >> proposalIndex) & 1 == 1;
            bool ok = policy == Policy.PerProposal ? verdict : accepted;
            return (ok, !ok, SlashReason.ProposalRejected, verdict ? DECIDED_ACCEPTED : DECIDED_REJECTED);
        }
        if (rec.proposalCount == 0) return (false, false, SlashReason.Absent, DECIDED_NONE); // nothing to vote on
        if (act != ACT_REVEALED_FOR && act != ACT_REVEALED_AGAINST) {
            return (false, true, SlashReason.Absent, DECIDED_NONE);
        }
        bool majority = (act == ACT_REVEALED_FOR) == accepted;
        return (majority, !majority, SlashReason.MinorityVote, DECIDED_NONE);
    }

    // ------------------------------------------------------------------------------------------------
    // Internal helpers

    /// @dev The slot of roster index `index` in the header's (current) round.
    function _slotOf(Header memory h, uint256 index, uint256 numProposers) private pure returns (uint256) {
        return RolePermutation.slot(h.seed, index, h.participantCount, numProposers, h.round);
    }

    /// @dev The longest epoch (ceil(n / numProposers(n)) rounds) over every n in [minN, maxN], exactly, in
    /// O(1). Within a run of n sharing k = floor(n * fractionBps / 10^4) the epoch length only grows with n;
    /// below the 256-proposer cap the run ends' lengths never grow with k, and from the cap on the length
    /// grows with n. So the maximum is at minN, at maxN, or at the end of the run holding minN (k = 0 and 1
    /// share one run: both give a single proposer). Checked against the brute-force maximum in
    /// tests/unit/protocol/test_roles.py (flalliance.protocol.roles.max_epoch_length mirrors it).
    function _maxEpochLength(uint256 minN, uint256 maxN, uint256 fractionBps, uint256 maxProposers)
        private
        pure
        returns (uint256 e)
    {
        uint256 runEnd;
        unchecked {
            // minN, maxN <= 65,535 and 0 < fractionBps < 10^4: nothing overflows
            uint256 k = (minN * fractionBps) / BPS;
            if (k == 0) k = 1;
            runEnd = ((k + 1) * BPS - 1) / fractionBps; // the largest n with floor(n f / 10^4) == k
        }
        if (runEnd > maxN) runEnd = maxN;
        e = _epochLengthAt(minN, fractionBps, maxProposers);
        uint256 x = _epochLengthAt(maxN, fractionBps, maxProposers);
        if (x > e) e = x;
        x = _epochLengthAt(runEnd, fractionBps, maxProposers);
        if (x > e) e = x;
    }

    function _epochLengthAt(uint256 n, uint256 fractionBps, uint256 maxProposers) private pure returns (uint256) {
        return RolePermutation.epochLength(n, _numProposers(n, fractionBps, maxProposers));
    }

    /// @dev floor(n * fraction), at least 1, leaving at least one voter, at most the committee cap.
    function _numProposers(uint256 n, uint256 fractionBps, uint256 maxProposers) private pure returns (uint256 p) {
        p = (n * fractionBps) / BPS;
        if (p == 0) p = 1;
        if (p >= n) p = n - 1;
        if (p > maxProposers) p = maxProposers;
    }

    /// @dev Voters of a round: the participants after the proposers, at most the committee cap.
    function _numVoters(uint256 n, uint256 numProposers) private view returns (uint256 v) {
        v = n - numProposers;
        uint256 cap = _c2.maxVoters;
        if (v > cap) v = cap;
    }

    function _phase(Header memory h) private view returns (Phase) {
        return _phaseWith(h, _counts);
    }

    /// @dev The phase machine. Every submission checks its phase through here; it reads only the header
    /// and the counters.
    function _phaseWith(Header memory h, Counts memory c) private view returns (Phase) {
        if (h.status != Status.Running || h.finalizedRounds > h.round) return Phase.Idle;
        uint256 t = block.timestamp;
        if (h.flags & H_PIONEERING != 0 && h.flags & H_PIONEER_DONE == 0) {
            return t <= h.pioneerEnd ? Phase.Pioneering : Phase.Finalizable;
        }
        if (t <= h.proposeEnd && c.proposalCount < c.numProposers) return Phase.Proposing;
        if (c.proposalCount == 0) return Phase.Finalizable;
        if (t <= h.commitEnd && c.commitCount < _numVoters(h.participantCount, c.numProposers)) {
            return Phase.Committing;
        }
        if (t <= h.revealEnd && c.revealCount < c.commitCount) return Phase.Revealing;
        return Phase.Finalizable;
    }

    function _requirePhase(Header memory h, Counts memory c, Phase expected) private view {
        Phase actual = _phaseWith(h, c);
        if (actual != expected) revert WrongPhase(expected, actual);
    }

    // ------------------------------------------------------------------------------------------------
    // Views

    /// @notice The task's immutable configuration.
    function config() external view returns (TaskConfig memory cfg) {
        Config0 memory c0 = _c0;
        Config1 memory c1 = _c1;
        Config2 memory c2 = _c2;
        Config3 memory c3 = _c3;
        Config4 memory c4 = _c4;
        cfg.token = c0.token;
        cfg.factory = c4.factory;
        cfg.funder = c2.funder;
        cfg.randomness = c1.randomness;
        cfg.arenaTaskId = c4.arenaTaskId;
        cfg.trainingLogicHash = _trainingLogicHash;
        cfg.totalReward = c3.totalReward;
        cfg.weightUnit = WEIGHT_UNIT;
        cfg.createdAt = c4.createdAt;
        cfg.joinDeadline = c2.joinDeadline;
        cfg.expiresAt = c2.expiresAt;
        cfg.params = TaskParams({
            minStake: c3.minStake,
            minParticipants: c0.minParticipants,
            maxParticipants: c0.maxParticipants,
            totalRounds: c0.totalRounds,
            proposerFractionBps: c0.proposerFractionBps,
            maxProposers: c2.maxProposers,
            maxVoters: c2.maxVoters,
            slashBps: c0.slashBps,
            policy: c0.policy,
            useArenaModel: c0.useArenaModel,
            joinDuration: uint32(c2.joinDeadline - c4.createdAt),
            maxLifecycle: uint32(c2.expiresAt - c4.createdAt),
            pioneerDuration: c1.pioneerDuration,
            proposeDuration: c1.proposeDuration,
            commitDuration: c1.commitDuration,
            revealDuration: c1.revealDuration
        });
    }

    /// @notice Everything an operator needs about the current round in one call.
    function state() external view returns (TaskState memory s) {
        Header memory h = _h;
        Counts memory c = _counts;
        Funds memory f = _funds;
        s.status = h.status;
        s.round = h.round;
        s.roundStarted = h.flags & H_STARTED != 0;
        s.phase = _phaseWith(h, c);
        if (s.phase == Phase.Pioneering) s.phaseDeadline = h.pioneerEnd;
        else if (s.phase == Phase.Proposing) s.phaseDeadline = h.proposeEnd;
        else if (s.phase == Phase.Committing) s.phaseDeadline = h.commitEnd;
        else if (s.phase == Phase.Revealing) s.phaseDeadline = h.revealEnd;
        s.finalizedRounds = h.finalizedRounds;
        s.participantCount = h.participantCount;
        s.pool = f.pool;
        s.totalStake = f.totalStake;
        s.globalModel = _globalModel;
        if (s.roundStarted) {
            s.numProposers = c.numProposers;
            s.numVoters = _numVoters(h.participantCount, c.numProposers);
            s.proposalCount = c.proposalCount;
            s.commitCount = c.commitCount;
            s.revealCount = c.revealCount;
            s.positiveWeight = c.positiveWeight;
            s.negativeWeight = c.negativeWeight;
            if (c.leadingWeight > 0) {
                s.leadingAggregate = _leadingAggregate;
                s.leadingWeight = c.leadingWeight;
            }
        }
    }

    /// @notice Deadlines, counts and decision of round `round` (started rounds only).
    function roundInfo(uint256 round) external view returns (RoundInfo memory info) {
        Header memory h = _h;
        if (h.flags & H_STARTED == 0 || round > h.round) revert UnknownRound(round);
        RoundRecord storage rec = _rounds[round];
        uint8 flags = rec.flags;
        Config1 memory c1 = _c1;
        info.round = round;
        info.seed = rec.seed;
        info.startedAt = rec.startedAt;
        info.pioneering = flags & F_PIONEERING != 0;
        info.pioneerDeadline = info.startedAt + (info.pioneering ? c1.pioneerDuration : 0);
        info.proposeDeadline = info.pioneerDeadline + c1.proposeDuration;
        info.commitDeadline = info.proposeDeadline + c1.commitDuration;
        info.revealDeadline = info.commitDeadline + c1.revealDuration;
        info.numProposers = rec.numProposers;
        info.numVoters = _numVoters(h.participantCount, rec.numProposers);
        info.finalized = flags & F_FINALIZED != 0;
        if (info.finalized) {
            info.proposalCount = rec.proposalCount;
            info.revealCount = rec.revealCount;
            info.accepted = flags & F_ACCEPTED != 0;
            info.aborted = flags & F_ABORTED != 0;
            info.verdicts = rec.verdicts;
            info.rewardPerWeight = rec.rewardPerWeight;
            info.rewardedWeight = rec.rewardedWeight;
            info.finalizer = rec.finalizer;
        } else {
            Counts memory c = _counts;
            info.proposalCount = c.proposalCount;
            info.revealCount = c.revealCount;
        }
    }

    /// @notice The proposals of round `round`, in index order (verdict bit k = proposal k). Kept for the
    /// current round only (the slots are reused); earlier ones are in the ProposalSubmitted events.
    function proposals(uint256 round) external view returns (Proposal[] memory out) {
        Header memory h = _h;
        if (h.flags & H_STARTED == 0 || round > h.round) revert UnknownRound(round);
        if (round != h.round) revert ProposalsNotRetained(round);
        uint256 count = _counts.proposalCount;
        out = new Proposal[](count);
        for (uint256 k; k < count; ++k) {
            ProposalSlot memory p = _proposals[k];
            out[k] = Proposal({proposer: p.proposer, modelHash: p.modelHash, samples: p.samples, weight: p.weight});
        }
    }

    /// @notice The role of `account` in round `round` (None when not a participant).
    function roleOf(uint256 round, address account) external view returns (Role) {
        Header memory h = _h;
        if (h.flags & H_STARTED == 0 || round > h.round) revert UnknownRound(round);
        Account memory a = _members[account].acct;
        if (!a.joined) return Role.None;
        RoundRecord storage rec = _rounds[round];
        uint256 slot = RolePermutation.slot(rec.seed, a.index, h.participantCount, rec.numProposers, round);
        if (slot < rec.numProposers) return Role.Proposer;
        return slot - rec.numProposers < _c2.maxVoters ? Role.Voter : Role.None;
    }

    /// @notice The pioneer of round `round` (slot 0: the first position of its proposer window; acts only in
    /// a pioneering round).
    function pioneerOf(uint256 round) external view returns (address) {
        Header memory h = _h;
        if (h.flags & H_STARTED == 0 || round > h.round) revert UnknownRound(round);
        RoundRecord storage rec = _rounds[round];
        return _roster[RolePermutation.holder(rec.seed, 0, h.participantCount, rec.numProposers, round)];
    }

    /// @notice Stake, balances and settlement progress of `account`.
    function participant(address account) external view returns (ParticipantInfo memory info) {
        Member storage m = _members[account];
        Account memory a = m.acct;
        Ledger memory l = m.ledger;
        bool collective = _c0.policy == Policy.Collective;
        info.joined = a.joined;
        info.index = a.index;
        info.stake = a.stake;
        info.joinedStake = l.joinedStake;
        info.claimable = uint256(m.bal.claimable) + (collective ? a.pendingReward : 0);
        info.rewardedTotal = uint256(l.rewardedTotal) + a.pendingReward;
        info.slashedTotal = l.joinedStake - a.stake;
        info.feesEarned = m.bal.feesEarned;
        info.settledRounds = a.settledRounds;
        info.withdrawn = l.withdrawn;
        info.acceptedProposals = a.acceptedProposals;
        info.rejectedProposals = l.rejectedProposals;
        info.vestingDone = l.vested;
        if (l.vested) {
            info.vested = _vestedShare(l.rewardedTotal, a.acceptedProposals, l.rejectedProposals);
            info.forfeited = l.rewardedTotal - info.vested;
        } else if (!collective) {
            info.unvested = info.rewardedTotal;
        }
        info.lastActionRound = a.actionRound;
        info.lastAction = Action(a.actionKind);
        info.proposalIndex = a.proposalIndex;
        // A commit is kept next to the commitment, not in the action record: report it as the last action
        // when it is newer than the recorded one (committed, not yet revealed).
        uint256 tag = m.commitment.tag;
        if (tag != 0 && tag != type(uint32).max) {
            uint256 committedRound = tag - 1;
            if (a.actionKind == ACT_NONE || committedRound > a.actionRound) {
                info.lastActionRound = committedRound;
                info.lastAction = Action.Committed;
            }
        }
    }

    /// @notice The roster in join order (index i = roster position used for roles).
    function participants() external view returns (address[] memory) {
        return _roster;
    }
}
