"""Kubernetes-style status conditions and the pure function that updates a list of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from flalliance.api.base import ApiModel

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """One observation about the resource, as in Kubernetes API conventions."""

    type: str = Field(description="Condition type, e.g. Ready, ChainReachable, Enrolled")
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", description="CamelCase reason")
    message: str = Field(default="", description="Human-readable detail")
    last_transition_time: str = Field(description="RFC 3339 time of the last status change")
    observed_generation: int = Field(default=0, ge=0)


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[Condition],
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int,
    now: str | None = None,
) -> list[Condition]:
    """Return a new list with `type` set; lastTransitionTime only moves when the status changes."""
    stamp = now or now_rfc3339()
    previous = get_condition(conditions, type)
    transition = previous.last_transition_time if previous and previous.status == status else stamp
    updated = Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=transition,
        observed_generation=observed_generation,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if c.type == type else c for c in conditions]


def get_condition(conditions: list[Condition], type: str) -> Condition | None:
    return next((c for c in conditions if c.type == type), None)
