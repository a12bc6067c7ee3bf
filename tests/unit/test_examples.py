"""Every example's FLTask carries a training logic the operator accepts (as it would at apply time)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flalliance.api.fltask import FLTaskSpec
from flalliance.controller.training_logic import digest_inline

pytestmark = pytest.mark.unit
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TASKS = sorted(p for p in EXAMPLES.rglob("*.yaml") if "kind: FLTask" in p.read_text())


@pytest.mark.parametrize("path", TASKS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_training_logic_is_valid(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc["kind"] == "FLTask":
            spec = FLTaskSpec.model_validate(doc["spec"])
            assert spec.training_logic.inline is not None
            assert digest_inline(spec.training_logic.inline).digest.startswith("0x")


def test_every_example_task_is_covered() -> None:
    assert {p.parent.name for p in TASKS} == {"digits", "llm-lora", "plugin-ridge"}
