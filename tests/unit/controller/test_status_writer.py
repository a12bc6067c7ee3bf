"""What the status stage writes for Participants: each status once, and nothing re-derived for a
Participant whose inputs did not change since a pass found its status right."""

from __future__ import annotations

from typing import Any, cast

import pytest

from flalliance.api.participant import ParticipantStatus
from flalliance.controller import status, status_writer
from flalliance.controller.kube import Kube
from flalliance.controller.observe import LocalParticipant
from flalliance.controller.status_writer import StatusWriter
from flalliance.controller.views import ParticipantView, Seat
from flalliance.testing.chain_views import running_view

pytestmark = pytest.mark.unit

ADDRESS = "0x" + "3" * 40
SEAT = Seat(participant="a", address=ADDRESS, joined=True, stake=20 * 10**18, role="voter")
CHAIN = running_view(seats=(SEAT,))


class StatusStore:
    """The Participant as the API server holds it: a status patch stores it and bumps the version."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.version = 1
        self.patches = 0

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        self.patches += 1
        self.status, self.version = status, self.version + 1

    def listed(self) -> LocalParticipant:
        obj = {"metadata": {"name": "a", "uid": "u-a", "resourceVersion": str(self.version)}}
        view = ParticipantView(name="a", address=ADDRESS, stake=20 * 10**18)
        status = ParticipantStatus.model_validate(self.status)
        return LocalParticipant("a", None, status, 1, None, view, obj)


def test_a_status_is_written_once_and_not_derived_again_until_something_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    derived = 0
    real = status.participant_status

    def counting(*args: Any, **kwargs: Any) -> ParticipantStatus:
        nonlocal derived
        derived += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(status_writer, "participant_status", counting)
    store = StatusStore()
    writer = StatusWriter(cast(Kube, store), "ns", "digits", {})
    for _ in range(4):
        writer.write_participants(CHAIN, [store.listed()])
    # pass 1 writes; pass 2 derives the written status again and finds it right; passes 3-4 skip it
    assert (store.patches, derived) == (1, 2)
    assert store.status["roles"] == [{"round": 1, "role": "voter", "submitted": False}]
    committed = CHAIN.model_copy(update={"seats": (SEAT.model_copy(update={"committed": True}),)})
    writer.write_participants(committed, [store.listed()])  # the chain moved: derived and written
    assert (store.patches, derived) == (2, 3)
    assert store.status["roles"] == [{"round": 1, "role": "voter", "submitted": True}]


def test_a_write_that_failed_is_tried_again() -> None:
    class Failing(StatusStore):
        def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
            self.patches += 1
            raise RuntimeError("API server unavailable")

    store = Failing()
    writer = StatusWriter(cast(Kube, store), "ns", "digits", {})
    for _ in range(2):
        with pytest.raises(RuntimeError):
            writer.write_participants(CHAIN, [store.listed()])
    assert store.patches == 2
