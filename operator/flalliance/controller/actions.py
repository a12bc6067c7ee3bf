"""What the operator may do; `plan` returns a list of these, the shell carries them out in order.

Every action is idempotent at execution time: a transaction is only sent after re-checking the chain (and
a duplicate reverts with a decoded custom error the shell treats as done); Job names are deterministic,
so a second create hits AlreadyExists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flalliance.controller.views import Frozen, JobKind


class CreateTask(Frozen):
    type: Literal["CreateTask"] = "CreateTask"


class Join(Frozen):
    type: Literal["Join"] = "Join"
    participant: str
    amount: int


class StartRound(Frozen):
    type: Literal["StartRound"] = "StartRound"
    round: int


class CreateJob(Frozen):
    type: Literal["CreateJob"] = "CreateJob"
    kind: JobKind
    round: int
    participant: str
    attempt: int = 0
    deadline: int = Field(description="Chain time the phase ends; the Job's activeDeadlineSeconds")


class Reveal(Frozen):
    type: Literal["Reveal"] = "Reveal"
    participant: str
    round: int


class Finalize(Frozen):
    type: Literal["Finalize"] = "Finalize"
    round: int


class Claim(Frozen):
    type: Literal["Claim"] = "Claim"
    participant: str


class Withdraw(Frozen):
    type: Literal["Withdraw"] = "Withdraw"
    participant: str


class Close(Frozen):
    """Close an expired (or never started) task so that stakes can be withdrawn and the pool refunded."""

    type: Literal["Close"] = "Close"


class RefundPool(Frozen):
    """After the end: send the reward nobody earned (unspent rounds, forfeits, dust) back to the funder."""

    type: Literal["RefundPool"] = "RefundPool"
    amount: int


class Missed(Frozen):
    """A local participant could not submit in its phase (Jobs exhausted); reported, the chain slashes it."""

    type: Literal["Missed"] = "Missed"
    participant: str
    round: int
    kind: JobKind
    reason: str


Action = (
    CreateTask
    | Join
    | StartRound
    | CreateJob
    | Reveal
    | Finalize
    | Claim
    | Withdraw
    | Close
    | RefundPool
    | Missed
)
