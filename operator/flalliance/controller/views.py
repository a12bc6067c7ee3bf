"""What the operator observes, as plain models: the chain, the custom resources and the Jobs it owns.

The shell fills these from the chain client and the Kubernetes API; the decision core (`plan`) reads only
these, so every decision is unit-testable without a chain or a cluster, and recomputable after a restart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskStatus(StrEnum):
    """The contract's task status."""

    ENROLLING = "Enrolling"
    RUNNING = "Running"
    COMPLETED = "Completed"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"


class RoundPhase(StrEnum):
    """The contract's computed phase of the current round."""

    AWAITING_START = "AwaitingStart"  # enrolment done or previous round finalized; startRound() is due
    PIONEERING = "Pioneering"
    PROPOSING = "Proposing"
    COMMITTING = "Committing"
    REVEALING = "Revealing"
    FINALIZABLE = "Finalizable"
    NONE = "None"  # enrolling, or the task has ended


class Role(StrEnum):
    NONE = "none"
    PROPOSER = "proposer"
    VOTER = "voter"


class JobKind(StrEnum):
    """The three kinds of worker Job; reveal, claim and withdraw are small transactions the operator sends."""

    PIONEER = "pioneer"
    TRAIN = "train"
    VALIDATE = "validate"


class Seat(Frozen):
    """One local participant as the chain sees it, for the current round."""

    participant: str = Field(description="Participant resource name")
    address: str
    joined: bool = False
    stake: int = 0
    role: Role = Role.NONE
    pioneer: bool = False
    proposed: bool = False
    committed: bool = False
    revealed: bool = False
    pioneered: bool = False
    claimable: int = 0
    withdrawn: bool = False
    rewarded: int = Field(default=0, description="All rewards ever credited (settled rounds), wei")
    slashed: int = Field(default=0, description="All stake slashed so far (settled rounds), wei")
    fees: int = Field(default=0, description="Finalizer fees ever credited, wei")
    unvested: int = Field(default=0, description="PerProposal: credited rewards that vest after the end, wei")
    vested: int = Field(default=0, description="PerProposal: rewards vested after the end, wei")
    forfeited: int = Field(
        default=0, description="PerProposal: rewards forfeited to the pool at vesting, wei"
    )
    accepted_proposals: int = 0
    rejected_proposals: int = 0

    @property
    def kept(self) -> int:
        """Rewards that are the participant's: all settled ones (Collective) or the vested part."""
        return self.rewarded - self.unvested - self.forfeited


class ChainView(Frozen):
    """The task contract's state, read at one block."""

    address: str
    status: TaskStatus
    round: int = Field(ge=0, description="Current round (the next one to start while AwaitingStart)")
    rounds_total: int = Field(ge=1)
    phase: RoundPhase
    phase_deadline: int = Field(default=0, description="Unix time the current phase ends (chain time)")
    now: int = Field(description="Timestamp of the block the view was read at")
    expires_at: int
    join_deadline: int
    participants: int = 0
    min_participants: int
    max_participants: int
    min_stake: int
    global_model: str | None = None
    pool: int = Field(default=0, description="Reward not allocated to anyone, wei (refundable after the end)")
    seats: tuple[Seat, ...] = ()

    def seat(self, participant: str) -> Seat | None:
        return next((s for s in self.seats if s.participant == participant), None)

    @property
    def ended(self) -> bool:
        return self.status in (TaskStatus.COMPLETED, TaskStatus.EXPIRED, TaskStatus.CANCELLED)


class ParticipantView(Frozen):
    """A Participant resource, after the shell checked its Secret and dataset."""

    name: str
    address: str | None = Field(default=None, description="Derived from the wallet Secret; None if unusable")
    stake: int = Field(description="Stake in base units, from spec.stake")
    usable: bool = True
    problem: str | None = Field(default=None, description="Why it is not usable (missing Secret, ...)")
    deleting: bool = False


class JobState(StrEnum):
    ACTIVE = "Active"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class JobView(Frozen):
    """A worker Job owned by the FLTask, identified by its labels."""

    name: str
    kind: JobKind
    round: int
    participant: str
    attempt: int = 0
    state: JobState
    result: dict[str, Any] | None = Field(default=None, description="Parsed termination message")
    exit_code: int | None = None


class TaskView(Frozen):
    """The FLTask resource fields the decision core needs."""

    name: str
    namespace: str
    generation: int = 0
    deleting: bool = False
    contract_address: str | None = Field(default=None, description="From spec or status")
    creates_contract: bool = Field(description="spec.arenaTaskId is set: this operator creates the task")
    max_job_attempts: int = Field(default=3, ge=1, description="Fresh Jobs per participant per phase")
