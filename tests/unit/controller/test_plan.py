from __future__ import annotations

from typing import Any

import pytest

from flalliance.controller.actions import (
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
from flalliance.controller.plan import plan
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

pytestmark = pytest.mark.unit

NOW = 1_000_000
TASK = TaskView(name="digits", namespace="ns", contract_address="0x" + "1" * 40, creates_contract=True)
PEOPLE = [
    ParticipantView(name=n, address=f"0x{i:040x}", stake=20 * 10**18) for i, n in enumerate("abcd", start=1)
]


def chain(**kw: Any) -> ChainView:
    base: dict[str, Any] = {
        "address": "0x" + "1" * 40,
        "status": TaskStatus.RUNNING,
        "round": 0,
        "rounds_total": 3,
        "phase": RoundPhase.PROPOSING,
        "phase_deadline": NOW + 100,
        "now": NOW,
        "expires_at": NOW + 10_000,
        "join_deadline": NOW - 1,
        "participants": 4,
        "min_participants": 3,
        "max_participants": 10,
        "min_stake": 10 * 10**18,
    }
    base.update(kw)
    return ChainView(**base)


def seats(**per: dict[str, Any]) -> tuple[Seat, ...]:
    return tuple(
        Seat(participant=p.name, address=p.address or "", joined=True, stake=p.stake, **per.get(p.name, {}))
        for p in PEOPLE
    )


def job(kind: JobKind, who: str, state: JobState, attempt: int = 0, exit_code: int | None = None) -> JobView:
    return JobView(
        name=f"j-{who}-{attempt}",
        kind=kind,
        round=0,
        participant=who,
        attempt=attempt,
        state=state,
        exit_code=exit_code,
    )


ROLES = {
    "a": {"role": Role.PROPOSER},
    "b": {"role": Role.PROPOSER},
    "c": {"role": Role.VOTER},
    "d": {"role": Role.VOTER},
}


def test_without_a_contract_the_task_is_created_once() -> None:
    fresh = TASK.model_copy(update={"contract_address": None})
    assert plan(fresh, None, PEOPLE, []) == [CreateTask()]
    joining = fresh.model_copy(update={"creates_contract": False})
    assert plan(joining, None, PEOPLE, []) == []


def test_enrolment_joins_every_usable_participant_and_skips_understaked() -> None:
    view = chain(status=TaskStatus.ENROLLING, phase=RoundPhase.NONE, join_deadline=NOW + 50, participants=0)
    people = [*PEOPLE[:3], PEOPLE[3].model_copy(update={"stake": 1})]
    people.append(ParticipantView(name="e", stake=20 * 10**18, usable=False, problem="Secret missing"))
    actions = plan(TASK, view, people, [])
    assert actions == [Join(participant=n, amount=20 * 10**18) for n in "abc"]


def test_enrolment_respects_free_seats_and_the_join_window() -> None:
    view = chain(status=TaskStatus.ENROLLING, phase=RoundPhase.NONE, join_deadline=NOW + 50, participants=8)
    assert [a.participant for a in plan(TASK, view, PEOPLE, []) if isinstance(a, Join)] == ["a", "b"]
    late = view.model_copy(update={"join_deadline": NOW - 1})
    assert plan(TASK, late, PEOPLE, []) == []


def test_round_starts_when_due() -> None:
    view = chain(status=TaskStatus.ENROLLING, phase=RoundPhase.AWAITING_START, seats=seats())
    assert plan(TASK, view, PEOPLE, []) == [StartRound(round=0)]
    view = chain(phase=RoundPhase.AWAITING_START, round=2, seats=seats())
    assert plan(TASK, view, PEOPLE, []) == [StartRound(round=2)]


def test_pioneer_job_only_for_the_local_pioneer() -> None:
    view = chain(phase=RoundPhase.PIONEERING, seats=seats(a={"role": Role.PROPOSER, "pioneer": True}))
    assert plan(TASK, view, PEOPLE, []) == [
        CreateJob(kind=JobKind.PIONEER, round=0, participant="a", deadline=NOW + 100)
    ]


def test_training_jobs_for_proposers_that_have_not_proposed() -> None:
    view = chain(seats=seats(**dict(ROLES, b={"role": Role.PROPOSER, "proposed": True})))
    assert plan(TASK, view, PEOPLE, []) == [
        CreateJob(kind=JobKind.TRAIN, round=0, participant="a", deadline=NOW + 100)
    ]


def test_running_or_succeeded_job_is_not_duplicated() -> None:
    view = chain(seats=seats(**ROLES))
    jobs = [job(JobKind.TRAIN, "a", JobState.ACTIVE), job(JobKind.TRAIN, "b", JobState.SUCCEEDED)]
    assert plan(TASK, view, PEOPLE, jobs) == []


def test_failed_job_is_retried_with_the_next_attempt_then_reported() -> None:
    view = chain(seats=seats(**ROLES))
    jobs = [
        job(JobKind.TRAIN, "a", JobState.FAILED, 0, exit_code=1),
        job(JobKind.TRAIN, "b", JobState.ACTIVE),
    ]
    assert plan(TASK, view, PEOPLE, jobs) == [
        CreateJob(kind=JobKind.TRAIN, round=0, participant="a", attempt=1, deadline=NOW + 100)
    ]
    jobs = [job(JobKind.TRAIN, "a", JobState.FAILED, i, exit_code=1) for i in range(3)]
    jobs.append(job(JobKind.TRAIN, "b", JobState.ACTIVE))
    [missed] = plan(TASK, view, PEOPLE, jobs)
    assert isinstance(missed, Missed) and missed.participant == "a" and "exit code 1" in missed.reason


def test_permanent_failure_is_not_retried() -> None:
    view = chain(seats=seats(**ROLES))
    jobs = [
        job(JobKind.TRAIN, "a", JobState.FAILED, 0, exit_code=2),
        job(JobKind.TRAIN, "b", JobState.ACTIVE),
    ]
    assert [type(a) for a in plan(TASK, view, PEOPLE, jobs)] == [Missed]


def test_no_new_job_after_the_phase_deadline() -> None:
    view = chain(seats=seats(**ROLES), now=NOW + 100)
    assert plan(TASK, view, PEOPLE, []) == []


def test_validation_jobs_in_commit_phase_then_reveals() -> None:
    view = chain(phase=RoundPhase.COMMITTING, seats=seats(**ROLES))
    kinds = [(a.kind, a.participant) for a in plan(TASK, view, PEOPLE, []) if isinstance(a, CreateJob)]
    assert kinds == [(JobKind.VALIDATE, "c"), (JobKind.VALIDATE, "d")]
    roles = dict(ROLES, c={"role": Role.VOTER, "committed": True}, d={"role": Role.VOTER, "committed": False})
    view = chain(phase=RoundPhase.REVEALING, seats=seats(**roles))
    assert plan(TASK, view, PEOPLE, []) == [Reveal(participant="c", round=0)]


def test_finalize_when_finalizable() -> None:
    view = chain(phase=RoundPhase.FINALIZABLE, round=1, seats=seats(**ROLES))
    assert plan(TASK, view, PEOPLE, []) == [Finalize(round=1)]


def test_after_the_end_withdraw_then_claim_even_when_deleting() -> None:
    """Withdrawing first vests a PerProposal seat's rewards, so one claim can pay fees and rewards."""
    done = dict(ROLES, a={"claimable": 5}, b={"withdrawn": True})
    view = chain(status=TaskStatus.COMPLETED, phase=RoundPhase.NONE, seats=seats(**done))
    expected = [Withdraw(participant="a"), Claim(participant="a"), Withdraw(participant="c")]
    expected.append(Withdraw(participant="d"))
    assert plan(TASK, view, PEOPLE, []) == expected
    assert plan(TASK.model_copy(update={"deleting": True}), view, PEOPLE, []) == expected


def test_the_creator_refunds_the_pool_once_its_own_seats_are_settled() -> None:
    settled = {n: {"withdrawn": True} for n in "abcd"}
    pending = dict(settled, c={"withdrawn": True, "claimable": 1})
    for status in (TaskStatus.COMPLETED, TaskStatus.EXPIRED, TaskStatus.CANCELLED):
        view = chain(status=status, phase=RoundPhase.NONE, seats=seats(**settled), pool=7)
        assert plan(TASK, view, PEOPLE, []) == [RefundPool(amount=7)]
        # another organisation's FLTask (attached by address) leaves the refund to the creator
        assert plan(TASK.model_copy(update={"creates_contract": False}), view, PEOPLE, []) == []
        assert plan(TASK, view.model_copy(update={"pool": 0}), PEOPLE, []) == []
        busy = chain(status=status, phase=RoundPhase.NONE, seats=seats(**pending), pool=7)
        assert plan(TASK, busy, PEOPLE, []) == [Claim(participant="c")]


def test_deleting_a_running_task_starts_no_new_work() -> None:
    view = chain(seats=seats(**ROLES))
    assert plan(TASK.model_copy(update={"deleting": True}), view, PEOPLE, []) == []


def test_expired_task_is_closed_first() -> None:
    view = chain(seats=seats(**ROLES), now=NOW + 20_000)
    assert plan(TASK, view, PEOPLE, [], needs_close=True) == [Close()]


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    view = chain(phase=RoundPhase.COMMITTING, seats=tuple(reversed(seats(**ROLES))))
    assert plan(TASK, view, list(reversed(PEOPLE)), []) == plan(TASK, view, PEOPLE, [])
