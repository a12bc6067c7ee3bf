"""An FLTask's inline training logic, published to its workers through a ConfigMap (pure).

The operator never touches the artifact store: a `file://` store may live on a PVC in the task's namespace
that only the task's pods mount. Instead the operator hashes the inline spec (the on-chain
training-logic hash) and writes its canonical JSON into a ConfigMap owned by the FLTask; every worker Job
mounts that ConfigMap read-only, and a worker that misses the spec in the store reads the file, checks it
against the chain's hash, and puts it into the store for later readers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flalliance.controller.labels import LABEL_TASK, MANAGED_BY, owner_reference

# Key in the ConfigMap, file name in the mounted directory and path the worker is told about.
TRAINING_LOGIC_KEY = "training-logic.json"
TRAINING_LOGIC_DIR = "/var/run/flalliance/training-logic"
TRAINING_LOGIC_FILE = f"{TRAINING_LOGIC_DIR}/{TRAINING_LOGIC_KEY}"
# The worker's read limit for the spec (store or file); a ConfigMap is capped at 1 MiB by the API server too.
MAX_TRAINING_LOGIC_BYTES = 1024 * 1024
COMPONENT = "training-logic"
_MAX_NAME = 253  # a ConfigMap name is a DNS-1123 subdomain


@dataclass(frozen=True)
class PublishedLogic:
    """The canonical JSON of an inline spec and its digest (``0x`` + sha256 hex, the on-chain hash)."""

    data: bytes
    digest: str


def digest_inline(inline: dict[str, Any]) -> PublishedLogic:
    """Parse `inline` as a training-logic spec and hash its canonical JSON; raises SpecError."""
    from flalliance.fl.spec import canonical_json, parse_spec

    data = canonical_json(parse_spec(json.dumps(inline)))
    return PublishedLogic(data=data, digest="0x" + hashlib.sha256(data).hexdigest())


def config_map_name(task_name: str) -> str:
    """`<task>-training-logic`, shortened with a digest when the task's name is very long."""
    name = f"{task_name}-{COMPONENT}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(task_name.encode()).hexdigest()[:10]
    return f"{task_name[: _MAX_NAME - len(COMPONENT) - 12].rstrip('-.')}-{digest}-{COMPONENT}"


def labels(task_name: str) -> dict[str, str]:
    return {**MANAGED_BY, LABEL_TASK: task_name, "app.kubernetes.io/component": COMPONENT}


def render_config_map(
    *, task_name: str, namespace: str, task_uid: str, logic: PublishedLogic
) -> dict[str, Any]:
    """The ConfigMap manifest: owned by the FLTask (deleted with it), immutable content per digest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(task_name),
            "namespace": namespace,
            "labels": labels(task_name),
            "annotations": {"flalliance.io/training-logic-hash": logic.digest},
            "ownerReferences": [owner_reference(task_name, task_uid)],
        },
        "data": {TRAINING_LOGIC_KEY: logic.data.decode("ascii")},  # canonical JSON is ASCII
    }


def is_ours(existing: dict[str, Any], task_name: str) -> bool:
    """Whether the operator made `existing` for a task of this name (then it may rewrite it)."""
    found = existing.get("metadata", {}).get("labels") or {}
    return all(found.get(k) == v for k, v in labels(task_name).items())


def up_to_date(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Same content and owned by the same FLTask (a recreated FLTask must own it, or the garbage
    collector deletes it with the old one)."""
    if (existing.get("data") or {}) != desired["data"] or existing.get("binaryData"):
        return False
    uid = desired["metadata"]["ownerReferences"][0]["uid"]
    owners = existing.get("metadata", {}).get("ownerReferences") or []
    return any(o.get("uid") == uid and o.get("controller") for o in owners)


def replacement(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """`desired` carrying `existing`'s resourceVersion: the replace fails (409) if it changed meanwhile."""
    body: dict[str, Any] = json.loads(json.dumps(desired))
    body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
    return body


def job_volume(task_name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The read-only ConfigMap volume, its mount and the env var that tells the worker the file's path."""
    volume = {
        "name": COMPONENT,
        "configMap": {
            "name": config_map_name(task_name),
            "items": [{"key": TRAINING_LOGIC_KEY, "path": TRAINING_LOGIC_KEY}],
            "defaultMode": 0o444,
        },
    }
    mount = {"name": COMPONENT, "mountPath": TRAINING_LOGIC_DIR, "readOnly": True}
    env = {"name": "FLALLIANCE_TRAINING_LOGIC_FILE", "value": TRAINING_LOGIC_FILE}
    return volume, mount, env
