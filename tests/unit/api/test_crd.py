from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flalliance.api.cli_crds import generated_files
from flalliance.api.crd import fltask_crd, participant_crd

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def test_generated_files_match_the_models() -> None:
    """CRDs, the chart's values schema/defaults and docs/configuration.md are never stale."""
    for rel, text in generated_files().items():
        path = REPO / rel
        assert path.exists(), f"{rel} missing: run `make crds`"
        assert path.read_text() == text, f"{rel} is stale: run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, value in node.get("properties", {}).items():
            out.extend(_walk(value, f"{path}.{key}"))
        if isinstance(node.get("items"), dict):
            out.extend(_walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return out


@pytest.mark.parametrize("crd", [fltask_crd(), participant_crd()], ids=["fltask", "participant"])
def test_schemas_are_structural(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    text = yaml.safe_dump(schema)
    assert "$ref" not in text and "title:" not in text
    for path, node in _walk(schema):
        if node.get("x-kubernetes-int-or-string"):
            continue
        assert "type" in node, f"{path or '<root>'} has no type"
        assert "anyOf" not in node, f"{path} keeps an anyOf"
        assert node.get("default", 0) is not None, f"{path} has default null"
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(key) in (None, True), f"{path}.{key} must be boolean in OpenAPI 3.0"


def test_fltask_crd_has_status_subresource_columns_and_cel_rules() -> None:
    version = fltask_crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    assert {"Phase", "Round", "Participants", "Quality", "Age"} <= set(names)
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    messages = [rule["message"] for rule in spec["x-kubernetes-validations"]]
    assert "exactly one of arenaTaskId and contractAddress must be set" in messages
    assert spec["properties"]["proposerFraction"]["exclusiveMinimum"] is True
    assert spec["properties"]["phaseDurations"]["default"] == {}
    assert fltask_crd()["spec"]["names"]["shortNames"] == ["flt"]
