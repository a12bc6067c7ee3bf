"""Derive the status of an FLTask and its Participants from what the operator observed (pure).

Status is recomputed from the chain on every reconcile, never accumulated, so it cannot drift from the
contract: the chain is the record, status is its readable summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from flalliance.api.base import wei_to_fml
from flalliance.api.conditions import ConditionStatus, set_condition
from flalliance.api.fltask import FLTaskStatus, RoundSummary, RoundTotals, TaskPhase
from flalliance.api.participant import ParticipantPhase, ParticipantStatus, RoleRecord
from flalliance.controller.round_summary import STATUS_ROUNDS
from flalliance.controller.views import ChainView, ParticipantView, RoundPhase, Seat, TaskStatus
from flalliance.fl.spec import ACCURACY_METRICS, format_metric

_PHASES = {
    TaskStatus.ENROLLING: TaskPhase.ENROLLING,
    TaskStatus.RUNNING: TaskPhase.RUNNING,
    TaskStatus.COMPLETED: TaskPhase.COMPLETED,
    TaskStatus.EXPIRED: TaskPhase.EXPIRED,
    TaskStatus.CANCELLED: TaskPhase.FAILED,
}


def rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


class Problem:
    """Something wrong the operator cannot fix by itself; becomes a condition and an Event."""

    def __init__(self, condition: str, reason: str, message: str) -> None:
        self.condition, self.reason, self.message = condition, reason, message

    def __repr__(self) -> str:
        return f"Problem({self.condition}, {self.reason}, {self.message!r})"


def quality_text(metric: str, value: float) -> str:
    """A metric value as a person reads it: accuracies in percent, anything else named."""
    text = format_metric(metric, value)
    return text if metric in ACCURACY_METRICS else f"{metric} {text}"


def task_status(
    previous: FLTaskStatus,
    *,
    generation: int,
    chain: ChainView | None,
    training_logic_hash: str | None,
    rounds: Sequence[RoundSummary],
    totals: RoundTotals | None = None,
    problems: Sequence[Problem] = (),
    creating: bool = False,
    now: str | None = None,
    metric: str = "accuracy",
) -> FLTaskStatus:
    """The FLTask status for this observation; conditions keep their transition times. ``metric`` names
    what the voters report (the training logic's metric), for the person-readable ``quality``."""
    conds = list(previous.conditions)

    def cond(type: str, status: ConditionStatus, reason: str, message: str = "") -> None:
        nonlocal conds
        conds = set_condition(
            conds,
            type=type,
            status=status,
            reason=reason,
            message=message,
            observed_generation=generation,
            now=now,
        )

    problem_types = {p.condition for p in problems}
    if problems and "Ready" not in problem_types:
        first = problems[0]
        cond("Ready", "False", first.reason, first.message)
    for p in problems:
        cond(p.condition, "False", p.reason, p.message)
    status = previous.model_copy(deep=True)
    status.observed_generation = generation
    status.training_logic_hash = training_logic_hash or previous.training_logic_hash

    if chain is None:
        status.phase = TaskPhase.CREATING if creating else previous.phase
        if not problems and not creating:
            cond("Ready", "False", "WaitingForContract", "no task contract yet")
        status.conditions = conds
        return status

    if "ChainReachable" not in problem_types:
        # Nothing in status may change with the clock alone: a pass that finds the task as it was writes
        # nothing (the chain time here made every pass a status write, and a watch event for every client).
        cond("ChainReachable", "True", "Connected", f"the task contract {chain.address} answers")
    status.contract_address = chain.address
    status.phase = _PHASES[chain.status]
    status.participants = chain.participants
    status.rounds = list(rounds)
    if totals is not None:
        status.totals = totals
    # The global model's accuracy: a rejected round's aggregate never became the global model.
    accuracies = [r.accuracy for r in rounds if r.accuracy is not None and r.accepted]
    status.accuracy = accuracies[-1] if accuracies else previous.accuracy
    status.quality = None if status.accuracy is None else quality_text(metric, status.accuracy)
    if chain.status in (TaskStatus.ENROLLING, TaskStatus.RUNNING):
        status.round = chain.round
        status.round_phase = chain.phase.value
        status.phase_deadline = rfc3339(chain.phase_deadline) if chain.phase_deadline else None
    else:
        status.round_phase = None
        status.phase_deadline = None
    enrolled = chain.participants >= chain.min_participants
    cond(
        "Enrolled",
        "True" if enrolled else "False",
        "MinimumReached" if enrolled else "WaitingForParticipants",
        f"{chain.participants} joined, {chain.min_participants} needed, at most {chain.max_participants}",
    )
    status.message = _message(chain)
    if problems:  # Ready already names the problem (set above): the chain's progress must not hide it
        ready_problem = next((p for p in problems if p.condition == "Ready"), problems[0])
        status.message = ready_problem.message
    elif chain.status == TaskStatus.CANCELLED:
        cond("Ready", "False", "Degraded", status.message)
    else:
        cond("Ready", "True", _reason(chain), status.message)
    status.conditions = conds
    return status


def _reason(chain: ChainView) -> str:
    return {
        TaskStatus.ENROLLING: "Enrolling",
        TaskStatus.RUNNING: chain.phase.value if chain.phase != RoundPhase.NONE else "Running",
        TaskStatus.COMPLETED: "Completed",
        TaskStatus.EXPIRED: "Expired",
        TaskStatus.CANCELLED: "EnrolmentFailed",
    }[chain.status]


def _message(chain: ChainView) -> str:
    if chain.status == TaskStatus.ENROLLING:
        return f"enrolling: {chain.participants}/{chain.min_participants} participants"
    if chain.status == TaskStatus.RUNNING:
        return f"round {chain.round + 1}/{chain.rounds_total}: {chain.phase.value}"
    if chain.status == TaskStatus.CANCELLED:
        return "enrolment closed below the minimum number of participants; stakes are withdrawable"
    return f"task {chain.status.value.lower()} after {chain.round} rounds"


def participant_status(
    previous: ParticipantStatus,
    *,
    generation: int,
    view: ParticipantView,
    seat: Seat | None,
    chain: ChainView | None,
    rewards: int,
    slashes: int,
    claimed: int,
    withdrawn: int,
    roles: Sequence[RoleRecord],
    stake_tx: str | None = None,
    now: str | None = None,
) -> ParticipantStatus:
    """The Participant status; money figures are read from the contract's per-participant views."""
    status = previous.model_copy(deep=True)
    status.observed_generation = generation
    status.address = view.address or previous.address
    status.stake_transaction = stake_tx or previous.stake_transaction
    conds = list(previous.conditions)
    if not view.usable:
        status.phase = ParticipantPhase.FAILED if seat is None or not seat.joined else status.phase
        conds = set_condition(
            conds,
            type="Ready",
            status="False",
            reason="Unusable",
            message=view.problem or "unusable",
            observed_generation=generation,
            now=now,
        )
        status.conditions = conds
        return status
    if seat is not None and seat.joined:
        status.phase = ParticipantPhase.WITHDRAWN if seat.withdrawn else ParticipantPhase.JOINED
        status.stake = wei_to_fml(seat.stake)
        status.claimable = wei_to_fml(seat.claimable)
        status.unvested = wei_to_fml(seat.unvested)
        status.vested = wei_to_fml(seat.vested)
        status.forfeited = wei_to_fml(seat.forfeited)
        status.accepted_proposals = seat.accepted_proposals
        status.rejected_proposals = seat.rejected_proposals
    elif chain is not None and chain.status == TaskStatus.ENROLLING:
        status.phase = ParticipantPhase.JOINING
    status.rewards = wei_to_fml(rewards)
    status.slashes = wei_to_fml(slashes)
    status.claimed = wei_to_fml(claimed)
    status.withdrawn = wei_to_fml(withdrawn)
    status.roles = list(roles)[-STATUS_ROUNDS:]  # bounded, like the FLTask's rounds
    joined = seat is not None and seat.joined
    conds = set_condition(
        conds,
        type="Ready",
        status="True" if joined else "False",
        reason="Joined" if joined else "NotJoined",
        message="staked and enrolled" if joined else "waiting to join the task",
        observed_generation=generation,
        now=now,
    )
    status.conditions = conds
    return status
