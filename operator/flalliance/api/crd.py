"""Generate CustomResourceDefinitions from the pydantic models (the models are the source of truth).

pydantic emits JSON Schema with `$ref`, `anyOf [X, null]` and titles; Kubernetes wants a *structural*
OpenAPI v3 schema: every node typed, no references, optional fields simply not required. This module does
that translation and adds what only Kubernetes knows about: the status subresource, printer columns, short
names and CEL rules (carried in the models as `x-kubernetes-validations`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from flalliance.api import GROUP, VERSION
from flalliance.api.fltask import FLTaskSpec, FLTaskStatus
from flalliance.api.participant import ParticipantSpec, ParticipantStatus

Schema = dict[str, Any]

_DROP_KEYS = {"title", "$defs", "additionalProperties_false"}


def _resolve(node: Any, defs: dict[str, Schema]) -> Any:
    """Inline every `$ref` (recursively), keeping keys written beside the reference."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
        _merge_validations(target, {k: v for k, v in node.items() if k != "$ref"})
        return _resolve(target, defs)
    return {k: _resolve(v, defs) for k, v in node.items()}


def _merge_validations(base: Schema, extra: Schema) -> None:
    rules = base.get("x-kubernetes-validations", []) + extra.get("x-kubernetes-validations", [])
    base.update({k: v for k, v in extra.items() if k != "x-kubernetes-validations"})
    if rules:
        base["x-kubernetes-validations"] = rules


def _structural(node: Any) -> Any:
    """Turn a resolved pydantic schema node into a structural Kubernetes schema node."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.get("anyOf")
    if any_of is not None and not node.get("x-kubernetes-int-or-string"):
        branches = [b for b in any_of if b.get("type") != "null"]
        if len(branches) == 1:
            merged = dict(branches[0])
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            _merge_validations(merged, outer)
            node = merged
        if node.get("default", 0) is None:
            del node["default"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for key in ("title", "discriminator"):
        node.pop(key, None)
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]  # structural schemas prune unknown fields instead
    if node.get("x-kubernetes-preserve-unknown-fields"):
        node = {k: v for k, v in node.items() if k not in ("additionalProperties", "properties")}
        node["type"] = "object"
    if node.get("additionalProperties") is True:
        node.pop("additionalProperties")
        node["x-kubernetes-preserve-unknown-fields"] = True
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
            node[bound] = node.pop(exclusive)  # JSON Schema 2020 → OpenAPI 3.0 boolean form
            node[exclusive] = True
    if node.get("type") == "integer":
        node.setdefault("format", "int64")
    out: Schema = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _structural(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _structural(value)
        elif key == "anyOf":
            # int-or-string branches must stay bare ({type: integer}, {type: string}) to be structural
            out[key] = value if node.get("x-kubernetes-int-or-string") else [_structural(b) for b in value]
        else:
            out[key] = value
    return out


def model_schema(model: type[BaseModel]) -> Schema:
    """The structural schema of one pydantic model, as used in a CRD."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    result: Schema = _structural(_resolve(raw, defs))
    return result


def _crd(
    kind: str,
    plural: str,
    short_names: list[str],
    spec_model: type[BaseModel],
    status_model: type[BaseModel],
    columns: list[dict[str, Any]],
    selectable_fields: Sequence[str] = (),
) -> dict[str, Any]:
    status_schema = model_schema(status_model)
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
    }
    if selectable_fields:
        version["selectableFields"] = [{"jsonPath": path} for path in selectable_fields]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "flalliance"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["flalliance"],
            },
            "versions": [
                {
                    **version,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": (spec_model.__doc__ or "").strip().splitlines()[0],
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": model_schema(spec_model),
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def fltask_crd() -> dict[str, Any]:
    return _crd(
        "FLTask",
        "fltasks",
        ["flt"],
        FLTaskSpec,
        FLTaskStatus,
        [
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Round", "type": "integer", "jsonPath": ".status.round"},
            {"name": "Step", "type": "string", "jsonPath": ".status.roundPhase"},
            {"name": "Participants", "type": "integer", "jsonPath": ".status.participants"},
            {"name": "Quality", "type": "string", "jsonPath": ".status.quality"},
            {"name": "Contract", "type": "string", "jsonPath": ".status.contractAddress", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def participant_crd() -> dict[str, Any]:
    return _crd(
        "Participant",
        "participants",
        ["flp"],
        ParticipantSpec,
        ParticipantStatus,
        [
            {"name": "Task", "type": "string", "jsonPath": ".spec.taskRef.name"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Stake", "type": "string", "jsonPath": ".status.stake"},
            {"name": "Rewards", "type": "string", "jsonPath": ".status.rewards"},
            {"name": "Slashes", "type": "string", "jsonPath": ".status.slashes"},
            {"name": "Address", "type": "string", "jsonPath": ".status.address", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        # the operator lists a task's Participants by field selector (spec.taskRef.name=<task>), so a pass
        # reads only its own task's whatever else the namespace holds
        selectable_fields=[".spec.taskRef.name"],
    )


HEADER = "# Generated by `make crds` from operator/flalliance/api/*.py — do not edit by hand.\n"


def render_all() -> dict[str, str]:
    """File name → YAML text of every CRD the project ships."""
    return {
        "flalliance.io_fltasks.yaml": HEADER + yaml.safe_dump(fltask_crd(), sort_keys=False, width=100),
        "flalliance.io_participants.yaml": HEADER
        + yaml.safe_dump(participant_crd(), sort_keys=False, width=100),
    }
