"""A chain view as the decision core sees it, for unit tests of the status and its writer."""

from __future__ import annotations

from typing import Any

from flalliance.controller.views import ChainView, RoundPhase, TaskStatus


def running_view(**overrides: Any) -> ChainView:
    """A running task in round 1's commit phase, 4 of 3-10 participants; fields replaced by `overrides`."""
    fields: dict[str, Any] = {
        "address": "0x" + "1" * 40,
        "status": TaskStatus.RUNNING,
        "round": 1,
        "rounds_total": 5,
        "phase": RoundPhase.COMMITTING,
        "phase_deadline": 1_700_000_000,
        "now": 1_699_999_000,
        "expires_at": 1_800_000_000,
        "join_deadline": 1_600_000_000,
        "participants": 4,
        "min_participants": 3,
        "max_participants": 10,
        "min_stake": 1,
    }
    return ChainView(**(fields | overrides))
