"""Read the task contract into the decision core's `ChainView` (adapter; a few view calls per reconcile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

from flalliance.chain.codec import EncodedCall
from flalliance.chain.errors import ChainError
from flalliance.chain.models import (
    Action,
    ParticipantInfo,
    Phase,
    Role,
    Status,
    TaskConfig,
    TaskState,
    from_abi,
)
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


def _batch(task: TaskClient, calls: list[EncodedCall], *, with_block: bool = False) -> list[Any]:
    """Several view calls in one JSON-RPC batch (one round trip instead of one per call), sent to the
    provider as encoded by the codec and decoded the same way: web3's per-call ABI lookups and
    middlewares cost more than the node's work at hundreds of calls. `with_block` appends the latest
    block (the raw JSON-RPC object: hex quantities)."""
    requests: list[tuple[RPCEndpoint, Any]] = [
        (RPCEndpoint("eth_call"), [{"to": c.to, "data": "0x" + c.data.hex()}, "latest"]) for c in calls
    ]
    if with_block:
        requests.append((RPCEndpoint("eth_getBlockByNumber"), ["latest", False]))

    def send() -> list[Any]:
        responses = cast(JSONBaseProvider, task.client.w3.provider).make_batch_request(requests)
        if not isinstance(responses, list) or len(responses) != len(requests):
            raise ChainError(f"reading the task state: the node answered the batch with {responses!r:.300}")
        out = []
        for (method, _), response in zip(requests, responses, strict=True):
            if response.get("error") is not None:
                raise ChainError(f"reading the task state: {method} failed: {response['error']!r:.300}")
            out.append(response.get("result"))
        return out

    # An unreachable node is a ChainError (the ChainReachable condition), not a crash of the pass.
    results = task.client.retrying("read the task state", send)
    decoded: list[Any] = [
        c.function.decode(bytes.fromhex(r[2:])) for c, r in zip(calls, results, strict=False)
    ]
    if with_block:
        decoded.append(results[-1])
    return decoded


def read_view(task: TaskClient, config: TaskConfig, seats: Mapping[str, str]) -> tuple[views.ChainView, bool]:
    """The chain view and whether the task awaits `close()`; `seats` maps Participant name → address.

    Two JSON-RPC batches whatever the number of participants: the task state with the block, then every
    local participant's account and role.
    """
    fn = task.fn
    raw_state, block = _batch(task, [fn.state()], with_block=True)
    state = from_abi(TaskState, raw_state)
    now = int(block["timestamp"], 16)
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
    ordered = sorted(seats.items())
    with_roles = started and state.phase != Phase.IDLE
    calls: list[EncodedCall] = [fn.participant(to_checksum_address(a)) for _, a in ordered]
    if with_roles:
        calls += [fn.roleOf(current, to_checksum_address(a)) for _, a in ordered]
    if state.phase == Phase.PIONEERING:
        calls.append(fn.pioneerOf(current))
    answers = _batch(task, calls) if calls else []
    infos = [from_abi(ParticipantInfo, answers[i]) for i in range(len(ordered))]
    roles = [Role(answers[len(ordered) + i]) for i in range(len(ordered))] if with_roles else []
    pioneer = str(answers[-1]).lower() if state.phase == Phase.PIONEERING else None
    seat_views = []
    for i, (name, address) in enumerate(ordered):
        info = infos[i]
        role = views.Role.NONE
        if info.joined and with_roles:
            role = _ROLE[roles[i]]
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
                unvested=info.unvested,
                vested=info.vested,
                forfeited=info.forfeited,
                accepted_proposals=info.accepted_proposals,
                rejected_proposals=info.rejected_proposals,
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
        pool=state.pool,
        seats=tuple(seat_views),
    )
    return view, needs_close and not view.ended
