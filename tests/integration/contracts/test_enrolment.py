"""Enrolment and the ends of a task: stake rules, the join window, start conditions, cancel and expiry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flalliance.chain.errors import ContractRevert
from flalliance.chain.harness import ETHER, DevTask
from flalliance.chain.models import Phase, Status

from .conftest import STAKE, fast_params

pytestmark = pytest.mark.integration

MakeTask = Callable[..., DevTask]


def test_join_records_stake_and_roster(make_task: MakeTask) -> None:
    t = make_task(members=3)
    addresses = list(t.members)
    for i, a in enumerate(addresses):
        t.members[a].join(STAKE + i * ETHER)
    assert t.task.participants() == addresses
    info = t.task.participant(addresses[2])
    assert info.joined and info.index == 2 and info.stake == info.joined_stake == STAKE + 2 * ETHER
    state = t.task.state()
    assert state.participant_count == 3 and state.total_stake == 3 * STAKE + 3 * ETHER
    assert t.task.token().balance_of(t.address) == state.pool + state.total_stake


def test_join_twice_is_refused(make_task: MakeTask) -> None:
    t = make_task(members=1)
    a = next(iter(t.members))
    t.members[a].join(STAKE)
    with pytest.raises(ContractRevert) as exc:
        t.members[a].join(STAKE)
    assert exc.value.name == "AlreadyJoined" and exc.value.args == {"account": a}


def test_under_stake_is_refused(make_task: MakeTask) -> None:
    t = make_task(members=1)
    a = next(iter(t.members))
    with pytest.raises(ContractRevert) as exc:
        t.members[a].join(10 * ETHER - 1)
    assert exc.value.name == "StakeTooLow"
    assert exc.value.args == {"amount": 10 * ETHER - 1, "minStake": 10 * ETHER}


def test_task_full_and_join_window(make_task: MakeTask) -> None:
    t = make_task(fast_params(max_participants=3), members=5)
    addresses = list(t.members)
    for a in addresses[:3]:
        t.members[a].join(STAKE)
    with pytest.raises(ContractRevert, match="TaskFull"):
        t.members[addresses[3]].join(STAKE)

    t2 = make_task(members=1)
    t2.advance_to(t2.task.config().join_deadline + 1)
    with pytest.raises(ContractRevert, match="JoinWindowClosed"):
        t2.members[next(iter(t2.members))].join(STAKE)


def test_start_needs_min_participants_and_a_closed_window(make_task: MakeTask) -> None:
    t = make_task(members=4)
    addresses = list(t.members)
    for a in addresses[:2]:
        t.members[a].join(STAKE)
    with pytest.raises(ContractRevert, match="NotReadyToStart"):
        t.task.start_round()  # 2 < minParticipants (3)
    t.members[addresses[2]].join(STAKE)
    with pytest.raises(ContractRevert, match="NotReadyToStart"):
        t.task.start_round()  # enough, but the window is open and the task not full
    t.advance_to(t.task.config().join_deadline + 1)
    t.task.start_round()
    state = t.task.state()
    assert state.status == Status.RUNNING and state.round == 0 and state.phase == Phase.PIONEERING


def test_full_task_starts_before_the_deadline(make_task: MakeTask) -> None:
    t = make_task(fast_params(max_participants=3), members=3)
    t.join_all((a, STAKE) for a in t.members)
    t.task.start_round()
    assert t.task.state().status == Status.RUNNING


def test_cancelled_below_minimum_returns_stakes_and_pool(make_task: MakeTask) -> None:
    t = make_task(members=2)
    addresses = list(t.members)
    t.join_all((a, STAKE) for a in addresses)
    with pytest.raises(ContractRevert, match="NotClosable"):
        t.task.close()
    with pytest.raises(ContractRevert, match="TaskNotEnded"):
        t.members[addresses[0]].withdraw()  # withdraw before the end
    t.advance_to(t.task.config().join_deadline + 1)
    with pytest.raises(ContractRevert, match="NotReadyToStart"):
        t.task.start_round()
    t.task.close()
    assert t.task.state().status == Status.CANCELLED
    token = t.task.token()
    before = token.balance_of(addresses[0])
    t.members[addresses[0]].withdraw()
    assert token.balance_of(addresses[0]) == before + STAKE
    with pytest.raises(ContractRevert, match="AlreadyWithdrawn"):
        t.members[addresses[0]].withdraw()
    funder = t.task.config().funder
    pool = t.task.state().pool
    funder_before = token.balance_of(funder)
    t.task.refund_pool()
    assert token.balance_of(funder) == funder_before + pool
    with pytest.raises(ContractRevert, match="NothingToRefund"):
        t.task.refund_pool()
    t.members[addresses[1]].withdraw()
    assert token.balance_of(t.address) == 0


def test_expiry_lets_anyone_close_and_everyone_leave(make_task: MakeTask) -> None:
    t = make_task(members=3)
    addresses = list(t.members)
    t.join_all((a, STAKE) for a in addresses)
    t.play_round()
    config = t.task.config()
    t.advance_to(config.expires_at + 1)
    with pytest.raises(ContractRevert, match="TaskExpired"):
        t.task.start_round()
    t.members[addresses[0]].close()  # anyone, here a participant
    assert t.task.state().status == Status.EXPIRED
    for a in addresses:
        t.members[a].withdraw()
        if t.task.participant(a).claimable:
            t.members[a].claim()
    t.task.refund_pool()
    if t.task.participant(t.owner.address or "").claimable:  # finalizer fees, if any slash happened
        t.task.claim()
    assert t.task.token().balance_of(t.address) == 0
