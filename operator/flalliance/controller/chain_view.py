"""Read the task contract into the decision core's `ChainView` (adapter; a few view calls per reconcile)."""

from __future__ import annotations

from collections.abc import Mapping

from flalliance.chain.models import Action, Phase, Role, Status, TaskConfig
from flalliance.chain.task import TaskClient
from flalliance.controller import views

_STATUS = {
    Status.ENROLLING: views.TaskStatus.ENROLLING,
    Status.RUNNING: views.TaskStatus.RUNNING,
    Status.COMPLETED: views.TaskStatus.COMPLETED,
    Status.EXPIRED: views.TaskStatus.EXPIRED,
    Status.CANCELLED: views.TaskStatus.CANCELLED,
}
_PHASE = {
    Phase.PIONEERING: views.RoundPhase.PIONEERING,
    Phase.PROPOSING: views.RoundPhase.PROPOSING,
    Phase.COMMITTING: views.RoundPhase.COMMITTING,
    Phase.REVEALING: views.RoundPhase.REVEALING,
    Phase.FINALIZABLE: views.RoundPhase.FINALIZABLE,
}
_ROLE = {Role.PROPOSER: views.Role.PROPOSER, Role.VOTER: views.Role.VOTER, Role.NONE: views.Role.NONE}
_REVEALED = (Action.REVEALED_FOR, Action.REVEALED_AGAINST)


def read_view(task: TaskClient, config: TaskConfig, seats: Mapping[str, str]) -> tuple[views.ChainView, bool]:
    """The chain view and whether the task awaits `close()`; `seats` maps Participant name → address."""
    state = task.state()
    now = task.client.block_timestamp()
    params = config.params
    status = state.status
    started = state.round_started
    current = state.round if started else 0
    finalized = started and state.finalized_rounds > state.round
    if state.phase != Phase.IDLE:
        phase = _PHASE[state.phase]
        round_index = current
    elif status == Status.ENROLLING:
        full = state.participant_count >= params.max_participants
        ready = state.participant_count >= params.min_participants and (now > config.join_deadline or full)
        phase = views.RoundPhase.AWAITING_START if ready else views.RoundPhase.NONE
        round_index = 0
    elif status == Status.RUNNING and finalized and state.finalized_rounds < params.total_rounds:
        phase = views.RoundPhase.AWAITING_START
        round_index = state.finalized_rounds
    else:
        phase = views.RoundPhase.NONE
        round_index = current
    needs_close = (status in (Status.ENROLLING, Status.RUNNING) and now > config.expires_at) or (
        status == Status.ENROLLING
        and now > config.join_deadline
        and state.participant_count < params.min_participants
    )
    pioneer = task.pioneer_of(current).lower() if state.phase == Phase.PIONEERING else None
    seat_views = []
    for name, address in sorted(seats.items()):
        info = task.participant(address)
        role = views.Role.NONE
        if info.joined and started and state.phase != Phase.IDLE:
            role = _ROLE[task.role_of(current, address)]
        act = info.action_in(current) if started else Action.NONE
        seat_views.append(
            views.Seat(
                participant=name,
                address=address,
                joined=info.joined,
                stake=info.stake,
                role=role,
                pioneer=pioneer == address.lower(),
                proposed=act == Action.PROPOSED,
                committed=act in (Action.COMMITTED, *_REVEALED),
                revealed=act in _REVEALED,
                claimable=info.claimable,
                withdrawn=info.withdrawn,
                rewarded=info.rewarded_total,
                slashed=info.slashed_total,
                fees=info.fees_earned,
            )
        )
    view = views.ChainView(
        address=task.address,
        status=_STATUS[status],
        round=round_index,
        rounds_total=params.total_rounds,
        phase=phase,
        phase_deadline=state.phase_deadline,
        now=now,
        expires_at=config.expires_at,
        join_deadline=config.join_deadline,
        participants=state.participant_count,
        min_participants=params.min_participants,
        max_participants=params.max_participants,
        min_stake=params.min_stake,
        global_model=None if int(state.global_model, 16) == 0 else state.global_model,
        seats=tuple(seat_views),
    )
    return view, needs_close and not view.ended
