"""When Job events wake a task's daemon, and how long it lets a burst of finishing Jobs settle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flalliance.controller import handlers

pytestmark = pytest.mark.unit

NS, TASK = "ns", "digits"


def _job(name: str, *, succeeded: bool = False, failed: bool = False) -> dict[str, Any]:
    conditions = []
    if succeeded:
        conditions.append({"type": "Complete", "status": "True"})
    if failed:
        conditions.append({"type": "Failed", "status": "True"})
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {handlers.LABEL_TASK: TASK}},
        "status": {"succeeded": 1 if succeeded else 0, "conditions": conditions},
    }


async def _event(body: dict[str, Any], type: str = "MODIFIED") -> None:
    await handlers._job_event(body=body, type=type)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean() -> Any:
    yield
    for table in (handlers._wakers, handlers._unfinished, handlers._settled):
        table.clear()


def test_the_last_job_of_a_burst_wakes_without_waiting() -> None:
    async def scenario() -> tuple[bool, bool, float]:
        waker = handlers._wakers.setdefault((NS, TASK), asyncio.Event())
        await _event(_job("a"), "ADDED")
        await _event(_job("b"), "ADDED")
        await _event(_job("a", succeeded=True))
        woken_by_first = waker.is_set()
        started = time.monotonic()

        async def finish_b() -> None:
            await asyncio.sleep(0.05)
            await _event(_job("b", succeeded=True))

        finisher = asyncio.create_task(finish_b())
        await handlers._debounce((NS, TASK))  # returns when b finishes, well before DEBOUNCE_SECONDS
        await finisher
        return woken_by_first, not handlers._unfinished[(NS, TASK)], time.monotonic() - started

    woken, all_done, waited = asyncio.run(scenario())
    assert woken and all_done
    assert 0.04 <= waited < handlers.DEBOUNCE_SECONDS / 2


def test_no_wait_when_nothing_else_runs() -> None:
    async def scenario() -> float:
        await _event(_job("a"), "ADDED")
        await _event(_job("a", succeeded=True))
        started = time.monotonic()
        await handlers._debounce((NS, TASK))
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.01


def test_a_failure_ends_the_wait_at_once() -> None:
    async def scenario() -> float:
        waker = handlers._wakers.setdefault((NS, TASK), asyncio.Event())
        await _event(_job("a"), "ADDED")
        await _event(_job("b"), "ADDED")
        started = time.monotonic()

        async def fail_a() -> None:
            await asyncio.sleep(0.05)
            await _event(_job("a", failed=True))

        failer = asyncio.create_task(fail_a())
        await handlers._debounce((NS, TASK))
        await failer
        assert waker.is_set()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < handlers.DEBOUNCE_SECONDS / 2


def test_progress_events_do_not_wake() -> None:
    async def scenario() -> bool:
        waker = handlers._wakers.setdefault((NS, TASK), asyncio.Event())
        await _event(_job("a"), "ADDED")
        await _event(_job("a"))  # a pod started: no decision to make
        return waker.is_set()

    assert asyncio.run(scenario()) is False


def test_a_job_that_finishes_during_a_pass_wakes_the_next_pass_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wake arrives while the pass runs (its status stage overlaps the round's Jobs): the daemon passes
    again at once instead of sleeping out the pass's poll delay."""
    starts: list[float] = []

    class Reconciler:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.loop = asyncio.get_running_loop()

        def reconcile(self) -> float:
            starts.append(time.monotonic())
            if len(starts) == 1:  # a Job event during the pass, delivered on the loop as kopf does
                done = asyncio.run_coroutine_threadsafe(_event(_job("a", succeeded=True)), self.loop)
                done.result(timeout=5)
                return 5.0  # the poll delay a pass returns while a round is under way
            return handlers.STOP

    class Running:
        def __bool__(self) -> bool:
            return False

    monkeypatch.setattr(handlers, "TaskReconciler", Reconciler)
    monkeypatch.setattr(handlers, "_kube", lambda: None)

    async def scenario() -> None:
        daemon: Any = handlers.fltask_daemon  # kopf's decorator types it with every handler argument
        await daemon(name=TASK, namespace=NS, stopped=Running())

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert len(starts) == 2 and starts[1] - starts[0] < 1.0, starts
