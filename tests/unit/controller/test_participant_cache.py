"""The watch's Participant cache: newest version wins, deletions stick, a list folds in what the watch
missed (issue 13: a pass reads its Participants from here instead of listing ~570 KB at 200)."""

from __future__ import annotations

from typing import Any

import pytest

from flalliance.controller import participant_cache
from flalliance.controller.participant_cache import ParticipantCache

pytestmark = pytest.mark.unit


def obj(
    name: str, rv: int, task: str = "t", uid: str | None = None, ns: str = "n", **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name, "uid": uid or f"uid-{name}", "resourceVersion": str(rv)},
        "spec": {"taskRef": {"name": task}},
        "status": status,
    }


def names(cache: ParticipantCache, task: str = "t", ns: str = "n") -> list[str]:
    return [o["metadata"]["name"] for o in cache.list(ns, task)]


def test_lists_a_tasks_participants_in_name_order_and_only_that_task() -> None:
    cache = ParticipantCache()
    for o in (obj("p2", 3), obj("p1", 4), obj("q1", 5, task="other"), obj("p3", 6, ns="elsewhere")):
        cache.put(o)
    assert names(cache) == ["p1", "p2"]
    assert names(cache, "other") == ["q1"]
    assert names(cache, ns="elsewhere") == ["p3"]
    assert len(cache) == 4


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = ParticipantCache()
    assert cache.put(obj("p1", 10, phase="Joined"))
    # the watch delivers a version older than the one a write's answer already put
    assert not cache.put(obj("p1", 9, phase="Pending"))
    assert cache.list("n", "t")[0]["status"] == {"phase": "Joined"}
    assert cache.put(obj("p1", 11, phase="Withdrawn"))
    assert cache.list("n", "t")[0]["status"] == {"phase": "Withdrawn"}


def test_a_deleted_participant_is_not_put_back_by_a_late_answer_but_its_successor_is_kept() -> None:
    cache = ParticipantCache()
    cache.put(obj("p1", 10))
    cache.delete(obj("p1", 12))
    assert names(cache) == []
    assert not cache.put(obj("p1", 11))  # the answer to a write made before the deletion
    assert names(cache) == []
    assert cache.put(obj("p1", 13, uid="uid-p1-again"))  # created again under the same name
    assert names(cache) == ["p1"]


def test_a_participant_moved_to_another_task_leaves_the_first() -> None:
    cache = ParticipantCache()
    cache.put(obj("p1", 1, task="a"))
    cache.put(obj("p1", 2, task="b"))
    assert names(cache, "a") == [] and names(cache, "b") == ["p1"]


def test_a_resync_drops_what_the_list_lacks_unless_it_is_newer_than_the_list() -> None:
    cache = ParticipantCache()
    cache.put(obj("gone", 5))  # deleted during a watch gap: no DELETED event came
    cache.put(obj("new", 30))  # created after the list was taken: the watch delivered it first
    cache.put(obj("kept", 7))
    cache.resync("n", "t", [obj("kept", 8, phase="Joined"), obj("listed", 9)], list_version="20")
    assert names(cache) == ["kept", "listed", "new"]
    assert cache.list("n", "t")[0]["status"] == {"phase": "Joined"}


def test_a_task_is_due_for_a_list_at_first_and_again_after_the_resync_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(participant_cache.time, "monotonic", lambda: now[0])
    cache = ParticipantCache()
    assert cache.due("n", "t")
    cache.resync("n", "t", [], list_version="1")
    assert not cache.due("n", "t")
    now[0] += participant_cache.RESYNC_SECONDS - 1
    assert not cache.due("n", "t")
    now[0] += 1
    assert cache.due("n", "t")
    assert cache.due("n", "other")  # per task


def test_each_read_is_the_callers_own_copy_without_managed_fields() -> None:
    cache = ParticipantCache()
    held = obj("p1", 1, phase="Joined")
    held["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    cache.put(held)
    first = cache.list("n", "t")[0]
    assert "managedFields" not in first["metadata"]
    first["status"]["phase"] = "changed by a reader"
    assert cache.list("n", "t")[0]["status"] == {"phase": "Joined"}
    assert held["metadata"]["managedFields"]  # the object put is not changed either
