"""Participants' actions run in parallel lanes, each participant's own in plan order."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from flalliance.controller.act import Actor, PassContext
from flalliance.controller.actions import Action, Claim, Join, Withdraw

pytestmark = pytest.mark.unit


class Recorder(Actor):
    def __init__(self) -> None:  # no Kube, no chain: only the scheduling is under test
        self.done: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def act(self, action: Action, ctx: PassContext) -> None:
        if isinstance(action, Withdraw):
            time.sleep(0.05)  # a slow first step must still come before the same participant's next
        with self.lock:
            self.done.append((str(getattr(action, "participant", "")), type(action).__name__))
            self.threads.add(threading.get_ident())


def _ctx() -> Any:
    return PassContext({}, None, None, None, None, [], [], [])  # type: ignore[arg-type]


def test_each_participants_actions_keep_their_order_across_parallel_lanes() -> None:
    actor = Recorder()
    actions: list[Action] = []
    for name in ("a", "b", "c"):
        actions += [Withdraw(participant=name), Claim(participant=name)]
    started = time.monotonic()
    actor.act_parallel(actions, _ctx())
    elapsed = time.monotonic() - started
    for name in ("a", "b", "c"):
        mine = [kind for who, kind in actor.done if who == name]
        assert mine == ["Withdraw", "Claim"], actor.done
    assert len(actor.threads) > 1  # the lanes ran at once:
    assert elapsed < 0.14, elapsed  # the three 50 ms withdrawals overlapped (in sequence: >= 0.15 s)


def test_one_participant_runs_in_the_calling_thread_in_order() -> None:
    actor = Recorder()
    actor.act_parallel([Join(participant="a", amount=1), Claim(participant="a")], _ctx())
    assert actor.done == [("a", "Join"), ("a", "Claim")]
    assert actor.threads == {threading.get_ident()}
