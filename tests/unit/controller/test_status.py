from __future__ import annotations

import pytest

from flalliance.api.fltask import FLTaskStatus, RoundSummary, TaskPhase
from flalliance.api.participant import ParticipantPhase, ParticipantStatus, RoleRecord
from flalliance.controller.status import Problem, participant_status, task_status
from flalliance.controller.views import ParticipantView, Seat, TaskStatus
from flalliance.testing.chain_views import running_view

pytestmark = pytest.mark.unit

VIEW = running_view()


def test_running_task_status_reflects_the_chain() -> None:
    rounds = [RoundSummary(round=0, accepted=True, accuracy=0.81)]
    status = task_status(
        FLTaskStatus(), generation=3, chain=VIEW, training_logic_hash="0x" + "a" * 64, rounds=rounds, now="t"
    )
    assert status.phase == TaskPhase.RUNNING and status.round == 1 and status.round_phase == "Committing"
    assert status.phase_deadline == "2023-11-14T22:13:20Z"
    assert status.accuracy == 0.81 and status.participants == 4 and status.observed_generation == 3
    assert status.quality == "81.0%"  # the printer column, for a person
    ready = {c.type: c for c in status.conditions}["Ready"]
    assert ready.status == "True" and ready.reason == "Committing" and ready.observed_generation == 3
    assert status.message == "round 2/5: Committing"


def test_a_pass_that_finds_the_task_as_it_was_changes_nothing_in_its_status() -> None:
    """Only the chain's clock moved: the status must be equal, so the pass writes nothing (the chain time
    in a condition's message made every pass a status write)."""
    first = task_status(
        FLTaskStatus(), generation=3, chain=VIEW, training_logic_hash=None, rounds=[], now="t"
    )
    later = VIEW.model_copy(update={"now": VIEW.now + 120})
    again = task_status(first, generation=3, chain=later, training_logic_hash=None, rounds=[], now="t2")
    assert again.to_k8s() == first.to_k8s()


def test_problems_become_false_conditions_and_unready() -> None:
    problem = Problem("ChainReachable", "RpcUnreachable", "connection refused to http://x:8545")
    status = task_status(
        FLTaskStatus(), generation=1, chain=None, training_logic_hash=None, rounds=[], problems=[problem]
    )
    conds = {c.type: c for c in status.conditions}
    assert (
        conds["ChainReachable"].status == "False" and "connection refused" in conds["ChainReachable"].message
    )
    status = task_status(
        status, generation=1, chain=VIEW, training_logic_hash=None, rounds=[], problems=[problem]
    )
    ready = {c.type: c for c in status.conditions}["Ready"]
    assert ready.status == "False" and ready.reason == "RpcUnreachable"  # the problem, not the progress
    assert status.message == problem.message


def test_cancelled_enrolment_is_failed_with_a_message() -> None:
    view = VIEW.model_copy(update={"status": TaskStatus.CANCELLED, "participants": 2})
    status = task_status(FLTaskStatus(), generation=1, chain=view, training_logic_hash=None, rounds=[])
    assert status.phase == TaskPhase.FAILED and "withdrawable" in (status.message or "")
    assert status.round_phase is None
    enrolled = {c.type: c for c in status.conditions}["Enrolled"]
    assert enrolled.status == "False" and enrolled.reason == "WaitingForParticipants"


def test_participant_status_money_in_fml() -> None:
    seat = Seat(
        participant="a", address="0x" + "3" * 40, joined=True, stake=20 * 10**18, claimable=15 * 10**17
    )
    view = ParticipantView(name="a", address=seat.address, stake=20 * 10**18)
    status = participant_status(
        ParticipantStatus(),
        generation=2,
        view=view,
        seat=seat,
        chain=VIEW,
        rewards=2 * 10**18,
        slashes=5 * 10**17,
        claimed=0,
        withdrawn=0,
        roles=[RoleRecord(round=0, role="proposer", submitted=True)],
    )
    assert status.phase == ParticipantPhase.JOINED and status.stake == "20" and status.claimable == "1.5"
    assert status.rewards == "2" and status.slashes == "0.5" and status.roles[0].role == "proposer"


def test_unusable_participant_is_reported_not_crashed() -> None:
    view = ParticipantView(name="a", stake=1, usable=False, problem="Secret alice-wallet not found")
    status = participant_status(
        ParticipantStatus(),
        generation=1,
        view=view,
        seat=None,
        chain=None,
        rewards=0,
        slashes=0,
        claimed=0,
        withdrawn=0,
        roles=[],
    )
    assert status.phase == ParticipantPhase.FAILED
    assert status.conditions[0].message == "Secret alice-wallet not found"


def test_quality_names_a_loss_metric() -> None:
    rounds = [RoundSummary(round=0, accepted=True, accuracy=5.23728)]
    status = task_status(
        FLTaskStatus(),
        generation=1,
        chain=VIEW,
        training_logic_hash=None,
        rounds=rounds,
        metric="cross_entropy",
    )
    assert status.quality == "cross_entropy 5.237"
