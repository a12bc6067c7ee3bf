"""Pydantic mirrors of the task contracts' enums and structs (contracts/FLTypes.sol).

The contract is the authority; these models only give its answers names and types. Field order follows the
Solidity structs, so a struct returned by web3 as a tuple maps onto a model by position
(:func:`from_abi`); a unit test checks every model against the ABI in the committed artifacts, so the two
cannot drift apart silently. Hashes are lower-case ``0x`` + 64 hex digits, addresses are checksummed, and
token amounts are integers in wei.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from flalliance.protocol import roles
from flalliance.protocol.ledger import Status as Status  # one enum for the chain client and the model

ZERO_HASH = "0x" + "00" * 32
BPS = 10_000


def _hash32(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"expected 32 bytes, got {len(value)}")
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        text = value.lower()
        body = text[2:] if text.startswith("0x") else text
        if len(body) != 64 or any(c not in "0123456789abcdef" for c in body):
            raise ValueError("expected 0x + 64 hex digits")
        return "0x" + body
    raise ValueError(f"expected a 32-byte hash, got {type(value).__name__}")


def _address(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        value = "0x" + bytes(value).hex()
    if not isinstance(value, str):
        raise ValueError(f"expected an address, got {type(value).__name__}")
    try:
        return str(to_checksum_address(value))
    except ValueError as exc:
        raise ValueError(f"invalid address {value!r}") from exc


Hash32 = Annotated[str, BeforeValidator(_hash32)]
Address = Annotated[str, BeforeValidator(_address)]


def hash_bytes(value: str | bytes) -> bytes:
    """A 32-byte hash given as hex or bytes, as the bytes web3 sends."""
    return bytes.fromhex(_hash32(value)[2:])


# ---------------------------------------------------------------------------------------------------------
# Enums (values are the Solidity enum ordinals)
class Phase(IntEnum):
    IDLE = 0
    PIONEERING = 1
    PROPOSING = 2
    COMMITTING = 3
    REVEALING = 4
    FINALIZABLE = 5


class Role(IntEnum):
    NONE = 0
    PROPOSER = 1
    VOTER = 2


class Action(IntEnum):
    NONE = 0
    PROPOSED = 1
    COMMITTED = 2
    REVEALED_FOR = 3
    REVEALED_AGAINST = 4


class Policy(IntEnum):
    PER_PROPOSAL = 0
    COLLECTIVE = 1


class SlashReason(IntEnum):
    ABSENT = 0
    PROPOSAL_REJECTED = 1
    MINORITY_VOTE = 2


# ---------------------------------------------------------------------------------------------------------
# Structs
class _Struct(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=_Struct)

UINT16 = 2**16 - 1
UINT24 = 2**24 - 1
UINT32 = 2**32 - 1


class TaskParams(_Struct):
    """A task's parameters, as its creator passes them to ``FLTaskFactory.createTask``.

    The bounds here repeat the contract's checks so a bad value fails before a transaction, naming the
    field; the contract still enforces them (``InvalidParameter(field)``).
    """

    min_stake: int = Field(gt=0, lt=2**128, description="Minimum stake to join (wei); >= the weight unit")
    min_participants: int = Field(default=2, ge=2, le=UINT16)
    max_participants: int = Field(default=100, ge=2, le=UINT16)
    total_rounds: int = Field(default=10, ge=1, le=UINT16)
    proposer_fraction_bps: int = Field(default=3_000, ge=1, le=9_999)
    max_proposers: int = Field(
        default=roles.MAX_PROPOSERS,
        ge=1,
        le=roles.MAX_PROPOSERS,
        description="Committee cap: proposers a round",
    )
    max_voters: int = Field(
        default=roles.MAX_VOTERS,
        ge=1,
        le=UINT16,
        description="Committee cap: voters a round (the rest: no role)",
    )
    slash_bps: int = Field(default=1_000, ge=0, le=10_000, description="Share of stake one slash takes")
    policy: Policy = Policy.PER_PROPOSAL
    use_arena_model: bool = False
    join_duration: int = Field(default=3_600, ge=1, le=UINT32)
    max_lifecycle: int = Field(default=7 * 86_400, ge=1, le=UINT32)
    pioneer_duration: int = Field(default=600, ge=0, le=UINT24)
    propose_duration: int = Field(default=1_800, ge=1, le=UINT24)
    commit_duration: int = Field(default=900, ge=1, le=UINT24)
    reveal_duration: int = Field(default=600, ge=1, le=UINT24)

    @model_validator(mode="after")
    def _consistent(self) -> TaskParams:
        if self.max_participants < self.min_participants:
            raise ValueError("max_participants must be >= min_participants")
        if not self.use_arena_model and self.pioneer_duration == 0:
            raise ValueError("pioneer_duration must be > 0 unless use_arena_model")
        if self.max_lifecycle < self.min_lifecycle:
            raise ValueError(f"max_lifecycle must be >= {self.min_lifecycle} (enrolment + all rounds)")
        if self.policy == Policy.PER_PROPOSAL:
            # attacking must lose (docs/protocol.md, "Attacking loses"); the contract refuses the same
            if self.slash_bps == 0:
                raise ValueError("slash_bps must be > 0 under PerProposal")
            if self.min_stake * self.slash_bps < BPS:
                raise ValueError(
                    "min_stake * slash_bps must be >= 10,000 under PerProposal (a slash of the minimum "
                    "stake must take something)"
                )
            if self.total_rounds < self.max_epoch_length:
                raise ValueError(
                    f"total_rounds must be >= {self.max_epoch_length} under PerProposal: the longest epoch "
                    f"for {self.min_participants}..{self.max_participants} participants (every participant "
                    "proposes once per epoch)"
                )
        return self

    @property
    def max_epoch_length(self) -> int:
        """The longest epoch (rounds in which every participant proposes once) over the possible rosters."""
        return roles.max_epoch_length(
            self.min_participants, self.max_participants, self.proposer_fraction_bps, self.max_proposers
        )

    @property
    def round_duration(self) -> int:
        return self.propose_duration + self.commit_duration + self.reveal_duration

    @property
    def min_lifecycle(self) -> int:
        """The shortest max_lifecycle the contract accepts: enrolment, a pioneer phase and every round."""
        return self.join_duration + self.pioneer_duration + self.round_duration * self.total_rounds

    def to_abi(self) -> tuple[Any, ...]:
        """The tuple web3 encodes for the Solidity ``TaskParams`` struct (field order = struct order)."""
        return tuple(int(v) if isinstance(v, IntEnum) else v for v in self.model_dump().values())


class TaskConfig(_Struct):
    token: Address
    factory: Address
    funder: Address
    randomness: Address
    arena_task_id: int
    training_logic_hash: Hash32
    total_reward: int
    weight_unit: int
    created_at: int
    join_deadline: int
    expires_at: int
    params: TaskParams


class TaskState(_Struct):
    status: Status
    round: int
    round_started: bool
    phase: Phase
    phase_deadline: int
    finalized_rounds: int
    participant_count: int
    num_proposers: int
    num_voters: int
    proposal_count: int
    commit_count: int
    reveal_count: int
    pool: int
    total_stake: int
    global_model: Hash32
    positive_weight: int
    negative_weight: int
    leading_aggregate: Hash32
    leading_weight: int

    @property
    def has_global_model(self) -> bool:
        return self.global_model != ZERO_HASH


class RoundInfo(_Struct):
    round: int
    seed: int
    started_at: int
    pioneer_deadline: int
    propose_deadline: int
    commit_deadline: int
    reveal_deadline: int
    num_proposers: int
    num_voters: int
    proposal_count: int
    reveal_count: int
    pioneering: bool
    finalized: bool
    accepted: bool
    aborted: bool
    verdicts: int
    reward_per_weight: int
    rewarded_weight: int
    finalizer: Address

    def proposal_accepted(self, index: int) -> bool:
        return bool((self.verdicts >> index) & 1)


class Proposal(_Struct):
    proposer: Address
    model_hash: Hash32
    samples: int
    weight: int


class ParticipantInfo(_Struct):
    joined: bool
    index: int
    stake: int
    joined_stake: int
    claimable: int
    rewarded_total: int
    slashed_total: int
    fees_earned: int
    settled_rounds: int
    withdrawn: bool
    last_action_round: int
    last_action: Action
    proposal_index: int
    accepted_proposals: int
    rejected_proposals: int
    unvested: int
    vested: int
    forfeited: int
    vesting_done: bool

    def action_in(self, round: int) -> Action:
        """What this participant submitted in ``round`` (only the latest round is remembered on chain)."""
        return self.last_action if self.last_action_round == round else Action.NONE

    @property
    def rewards_kept(self) -> int:
        """Rewards that are the participant's: Collective, all settled ones; PerProposal, the vested part
        (0 until its rewards vest after the end)."""
        return self.rewarded_total - self.unvested - self.forfeited


def from_abi(model: type[M], values: Sequence[Any]) -> M:
    """Build ``model`` from a struct web3 decoded as a tuple, by field position (nested structs too)."""
    names = list(model.model_fields)
    if len(values) != len(names):
        raise ValueError(f"{model.__name__}: expected {len(names)} fields, got {len(values)}")
    data: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        annotation = model.model_fields[name].annotation
        if (
            isinstance(annotation, type)
            and issubclass(annotation, _Struct)
            and isinstance(value, tuple | list)
        ):
            data[name] = from_abi(annotation, value)
        else:
            data[name] = value
    return model.model_validate(data)
