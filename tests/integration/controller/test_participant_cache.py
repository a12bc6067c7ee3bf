"""A pass's Participants from the watch's cache on a real API server: one list per task and resync period,
the operator's own status writes seen at once, a deletion the watch missed dropped at the next list."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from flalliance.api import GROUP, VERSION
from flalliance.controller import participant_cache
from flalliance.controller.kube import Kube
from flalliance.controller.participant_cache import ParticipantCache
from flalliance.testing.manifests import participant_manifest

pytestmark = pytest.mark.integration


def participant(i: int, task: str) -> dict[str, Any]:
    return participant_manifest(f"p{i}", task, f"wallet-{i}", f"data-{i}")


def test_cached_participants_list_once_see_own_writes_and_drop_missed_deletions(
    kube_api: client.ApiClient, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = client.CustomObjectsApi(kube_api)
    for i, task in ((1, "alpha"), (2, "alpha"), (3, "beta")):
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "participants", participant(i, task))
    kube = Kube(kube_api, participant_cache=ParticipantCache())

    def listed(task: str = "alpha") -> list[str]:
        return [o["metadata"]["name"] for o in kube.list_participants(ns, task)]

    assert listed() == ["p1", "p2"]
    assert kube.requests.count == 1
    assert listed() == ["p1", "p2"]  # from the cache: no request
    assert kube.requests.count == 1

    # the operator's own write is what the next read sees, with no watch running here
    kube.patch_status(ns, "participants", "p1", {"stakeTransaction": "0xabc"})
    first = kube.list_participants(ns, "alpha")[0]
    assert first["status"]["stakeTransaction"] == "0xabc"
    on_server = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "participants", "p1")
    assert first["metadata"]["resourceVersion"] == on_server["metadata"]["resourceVersion"]
    assert kube.requests.count == 2

    # deleted behind the cache's back (a watch gap): still held until the task is listed again
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "participants", "p2")
    assert listed() == ["p1", "p2"]
    monkeypatch.setattr(participant_cache, "RESYNC_SECONDS", 0.0)
    assert listed() == ["p1"]
    assert kube.requests.count == 3
    assert listed("beta") == ["p3"]
