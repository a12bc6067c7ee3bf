"""The decision core: given what the operator observes, what happens next?

`plan` is a pure function of the chain view, the FLTask, its Participants and its Jobs. It holds no state:
the shell calls it on every reconcile and after every restart, so a crash at any moment loses nothing and
duplicates nothing (the actions it returns are idempotent, see `actions`). It never decides what the chain
decides (roles, acceptance, payouts); it only chooses which of the chain's open steps this cluster takes.
"""

from __future__ import annotations

from collections.abc import Sequence

from flalliance.controller.actions import (
    Action,
    Claim,
    Close,
    CreateJob,
    CreateTask,
    Finalize,
    Join,
    Missed,
    RefundPool,
    Reveal,
    StartRound,
    Withdraw,
)
from flalliance.controller.views import (
    ChainView,
    JobKind,
    JobState,
    JobView,
    ParticipantView,
    Role,
    RoundPhase,
    Seat,
    TaskStatus,
    TaskView,
)

# The worker's exit code for a permanent failure (refused spec, bad data): retrying cannot help.
EXIT_PERMANENT = 2


def plan(
    task: TaskView,
    chain: ChainView | None,
    participants: Sequence[ParticipantView],
    jobs: Sequence[JobView],
    *,
    needs_close: bool = False,
) -> list[Action]:
    """Return the actions to take now, in the order to take them.

    `needs_close` is the contract's own verdict that the task may be closed (lifecycle over, or enrolment
    failed) but nobody has closed it yet.
    """
    if chain is None:
        if task.contract_address is None and task.creates_contract and not task.deleting:
            return [CreateTask()]
        return []

    if needs_close:
        return [Close()]
    if chain.ended:
        return _settle(chain, funder=task.creates_contract)
    if task.deleting:
        return []  # no new work for a task being deleted; stakes stay withdrawable on-chain

    actions: list[Action] = []
    usable = [p for p in participants if p.usable and not p.deleting and p.address is not None]
    if chain.status == TaskStatus.ENROLLING:
        actions.extend(_enrol(chain, usable))
    if chain.phase == RoundPhase.AWAITING_START:
        actions.append(StartRound(round=chain.round))
    elif chain.status == TaskStatus.RUNNING:
        actions.extend(_round_work(chain, jobs, task.max_job_attempts))
    return actions


def _enrol(chain: ChainView, participants: Sequence[ParticipantView]) -> list[Action]:
    if chain.now > chain.join_deadline:
        return []
    free = chain.max_participants - chain.participants
    actions: list[Action] = []
    for p in sorted(participants, key=lambda p: p.name):
        seat = chain.seat(p.name)
        if (seat is None or not seat.joined) and p.stake >= chain.min_stake and free > 0:
            actions.append(Join(participant=p.name, amount=p.stake))
            free -= 1
    return actions


def _round_work(chain: ChainView, jobs: Sequence[JobView], max_attempts: int) -> list[Action]:
    phase = chain.phase
    actions: list[Action] = []
    for seat in sorted(chain.seats, key=lambda s: s.participant):
        if not seat.joined:
            continue
        if phase == RoundPhase.PIONEERING and seat.pioneer and not seat.pioneered:
            actions.extend(_ensure_job(chain, jobs, seat, JobKind.PIONEER, max_attempts))
        elif phase == RoundPhase.PROPOSING and seat.role == Role.PROPOSER and not seat.proposed:
            actions.extend(_ensure_job(chain, jobs, seat, JobKind.TRAIN, max_attempts))
        elif phase == RoundPhase.COMMITTING and seat.role == Role.VOTER and not seat.committed:
            actions.extend(_ensure_job(chain, jobs, seat, JobKind.VALIDATE, max_attempts))
        elif (
            phase == RoundPhase.REVEALING and seat.role == Role.VOTER and seat.committed and not seat.revealed
        ):
            actions.append(Reveal(participant=seat.participant, round=chain.round))
    if phase == RoundPhase.FINALIZABLE:
        actions.append(Finalize(round=chain.round))
    return actions


def _ensure_job(
    chain: ChainView, jobs: Sequence[JobView], seat: Seat, kind: JobKind, max_attempts: int
) -> list[Action]:
    """One Job at a time per participant, phase and round; a failed one is replaced while time remains."""
    mine = [
        j for j in jobs if j.kind == kind and j.round == chain.round and j.participant == seat.participant
    ]
    if any(j.state in (JobState.ACTIVE, JobState.SUCCEEDED) for j in mine):
        return []
    attempts = len(mine)
    if chain.now >= chain.phase_deadline:
        return []  # too late to start; the contract's liveness rule applies
    permanent = any(j.exit_code == EXIT_PERMANENT for j in mine)
    if attempts >= max_attempts or permanent:
        last = max(mine, key=lambda j: j.attempt)
        reason = _failure_reason(last)
        return [Missed(participant=seat.participant, round=chain.round, kind=kind, reason=reason)]
    return [
        CreateJob(
            kind=kind,
            round=chain.round,
            participant=seat.participant,
            attempt=attempts,
            deadline=chain.phase_deadline,
        )
    ]


def _failure_reason(job: JobView) -> str:
    if job.result and isinstance(job.result.get("error"), str):
        return str(job.result["error"])
    return f"Job {job.name} failed (exit code {job.exit_code})"


def _settle(chain: ChainView, *, funder: bool) -> list[Action]:
    """After the end: withdraw the remaining stake (which also vests PerProposal rewards), then claim what
    is claimable, for every local seat. Rewards a withdrawal vests are claimed on the next pass.

    The task's creator (`funder`: this FLTask made the contract) then refunds the pool once its own seats
    are settled; other organisations' withdrawals may forfeit more into it later, refunded the same way.
    """
    actions: list[Action] = []
    for seat in sorted(chain.seats, key=lambda s: s.participant):
        if seat.joined and not seat.withdrawn:
            actions.append(Withdraw(participant=seat.participant))
        if seat.claimable > 0:
            actions.append(Claim(participant=seat.participant))
    if funder and not actions and chain.pool > 0:
        actions.append(RefundPool(amount=chain.pool))
    return actions
