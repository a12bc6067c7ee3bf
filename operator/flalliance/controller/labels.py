"""The labels the operator puts on what it creates (Jobs, their Pods, the training-logic ConfigMap)."""

from __future__ import annotations

from typing import Any

LABEL_PREFIX = "flalliance.io"
LABEL_TASK = f"{LABEL_PREFIX}/task"
LABEL_ROUND = f"{LABEL_PREFIX}/round"
LABEL_KIND = f"{LABEL_PREFIX}/kind"
LABEL_PARTICIPANT = f"{LABEL_PREFIX}/participant"
LABEL_ATTEMPT = f"{LABEL_PREFIX}/attempt"
# Test mode only (`flalliance operator --test-mode`, the chart's `testMode`): the attack a Participant's
# worker runs, for demos and e2e tests. Not an API field: a production operator ignores it and says so.
ANNOTATION_BEHAVIOUR = "test.flalliance.io/behaviour"
MANAGED_BY = {
    "app.kubernetes.io/managed-by": "flalliance-operator",
    "app.kubernetes.io/name": "flalliance-worker",
}


def owner_reference(task_name: str, task_uid: str) -> dict[str, Any]:
    """Makes an object the FLTask's: deleted with it, and the FLTask cannot vanish before it."""
    return {
        "apiVersion": "flalliance.io/v1alpha1",
        "kind": "FLTask",
        "name": task_name,
        "uid": task_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
