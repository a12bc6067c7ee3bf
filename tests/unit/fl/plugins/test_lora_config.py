from __future__ import annotations

import json
from typing import Any

import pytest

from flalliance.fl.plugin import PluginError
from flalliance.fl.plugins.lora import choose_device
from flalliance.fl.spec import SpecError, parse_spec

pytestmark = pytest.mark.unit
SHA = "ab" * 32


def _spec(config: dict[str, Any], metric: str = "cross_entropy") -> str:
    direction = "minimize" if metric == "cross_entropy" else "maximize"
    return json.dumps(
        {
            "runtime": {"plugin": "lora_causal_lm"},
            "metric": {"name": metric, "direction": direction},
            "config": config,
        }
    )


def test_a_minimal_lora_spec_parses_with_documented_defaults() -> None:
    spec = parse_spec(_spec({"base_model": {"sha256": SHA}, "training": {"steps": 10}}))
    assert spec.config is not None and spec.runtime.plugin == "lora_causal_lm"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"training": {"steps": 1}}, "config.base_model"),
        ({"base_model": {"sha256": "xyz"}, "training": {"steps": 1}}, "config.base_model.sha256"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1, "epochs": 1}}, "config.training"),
        ({"base_model": {"sha256": SHA}, "training": {}}, "config.training"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1}, "lora": {"rank": 0}}, "config.lora.rank"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1}, "lora": {"target_modules": []}},
         "config.lora.target_modules"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1}, "sequence_length": 2},
         "config.sequence_length"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1}, "device": "tpu"}, "config.device"),
        ({"base_model": {"sha256": SHA}, "training": {"steps": 1}, "typo": 1}, "config.typo"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        parse_spec(_spec(config))


def test_the_metric_must_be_the_evaluation_loss() -> None:
    with pytest.raises(SpecError, match=r"metric.name: the lora_causal_lm plugin scores by evaluation loss"):
        parse_spec(_spec({"base_model": {"sha256": SHA}, "training": {"steps": 1}}, metric="accuracy"))


def test_device_choice() -> None:
    assert choose_device("auto", cuda_available=False) == "cpu"
    assert choose_device("auto", cuda_available=True) == "cuda:0"
    assert choose_device("cpu", cuda_available=True) == "cpu"
    assert choose_device("cuda", cuda_available=True) == "cuda:0"
    with pytest.raises(PluginError, match=r"config.device: 'cuda' requested but this pod has no CUDA device"):
        choose_device("cuda", cuda_available=False)
