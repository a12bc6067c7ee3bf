"""When Job events wake a task's daemon: once per wave of Jobs (the last to end), or at once on a failure."""

from __future__ import annotations

import asyncio
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
    for table in (handlers._wakers, handlers._unfinished):
        table.clear()


def _run(*steps: tuple[dict[str, Any], str] | set[str]) -> list[bool]:
    """Play Job events (or, for a set, a pass that saw those Jobs live); whether the daemon is woken after
    each step."""

    async def scenario() -> list[bool]:
        waker = handlers._wakers.setdefault((NS, TASK), asyncio.Event())
        woken = []
        for step in steps:
            if isinstance(step, set):
                handlers._forget_settled((NS, TASK), step)
            else:
                await _event(*step)
            woken.append(waker.is_set())
        return woken

    return asyncio.run(scenario())


def test_only_the_last_job_of_a_wave_wakes() -> None:
    woken = _run(
        (_job("a"), "ADDED"),
        (_job("b"), "ADDED"),
        (_job("a", succeeded=True), "MODIFIED"),
        (_job("b", succeeded=True), "MODIFIED"),
    )
    assert woken == [False, False, False, True]


def test_a_failure_wakes_at_once() -> None:
    woken = _run((_job("a"), "ADDED"), (_job("b"), "ADDED"), (_job("a", failed=True), "MODIFIED"))
    assert woken == [False, False, True]


def test_progress_events_do_not_wake() -> None:
    assert _run((_job("a"), "ADDED"), (_job("a"), "MODIFIED")) == [False, False]


def test_a_job_whose_end_was_never_seen_holds_no_wake_after_a_pass() -> None:
    """`a` ended in a watch gap: the next pass saw only `b` live, so `b`'s end is the wave's last."""
    woken = _run(
        (_job("a"), "ADDED"),
        (_job("b"), "ADDED"),
        {"b"},
        (_job("b", succeeded=True), "MODIFIED"),
    )
    assert woken == [False, False, False, True]


def test_a_deleted_job_no_longer_counts_as_running() -> None:
    woken = _run(
        (_job("a"), "ADDED"),
        (_job("b"), "ADDED"),
        (_job("a"), "DELETED"),
        (_job("b", succeeded=True), "MODIFIED"),
    )
    assert woken == [False, False, False, True]
