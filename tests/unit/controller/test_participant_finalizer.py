"""When may a Participant being deleted go? Only once no stake of it is left in the contract."""

from __future__ import annotations

from typing import Any

import pytest

from flalliance.chain.models import Action, ParticipantInfo, Status
from flalliance.controller.participant_finalizer import release_verdict

pytestmark = pytest.mark.unit
ADDRESS = "0x" + "1" * 40


def seat(**kw: Any) -> ParticipantInfo:
    base: dict[str, Any] = dict.fromkeys(
        ("index", "stake", "joined_stake", "claimable", "rewarded_total", "slashed_total", "fees_earned"), 0
    )
    counters = ("settled_rounds", "last_action_round", "proposal_index")
    base |= dict.fromkeys((*counters, "accepted_proposals", "rejected_proposals"), 0)
    base |= {"unvested": 0, "vested": 0, "forfeited": 0, "vesting_done": False, "withdrawn": False}
    base |= {"joined": True, "stake": 20 * 10**18, "last_action": Action.NONE}
    base.update(kw)
    return ParticipantInfo(**base)


def verdict(**kw: Any) -> tuple[bool, str]:
    args: dict[str, Any] = {"task_exists": True, "address": ADDRESS, "status": Status.RUNNING, "rounds": "r"}
    args["seat"] = seat()
    args.update(kw)
    v = release_verdict(**args)
    return v.release, v.reason


def test_a_staked_participant_waits_while_the_task_runs_or_settles() -> None:
    assert verdict() == (False, "WaitingForTaskEnd")
    assert verdict(status=Status.ENROLLING) == (False, "WaitingForTaskEnd")
    assert verdict(status=Status.COMPLETED) == (False, "Settling")  # not withdrawn yet
    unclaimed = seat(withdrawn=True, claimable=1)
    assert verdict(status=Status.EXPIRED, seat=unclaimed) == (False, "Settling")
    assert verdict(status=None) == (False, "ChainUnreadable")  # never released on a guess


def test_it_goes_once_settled_or_when_it_never_staked() -> None:
    done = seat(withdrawn=True, stake=0)
    for status in (Status.COMPLETED, Status.EXPIRED, Status.CANCELLED):
        assert verdict(status=status, seat=done) == (True, "Settled")
    assert verdict(seat=seat(joined=False)) == (True, "NeverJoined")
    assert verdict(address=None) == (True, "NeverJoined")
    assert verdict(task_exists=False) == (True, "TaskGone")
