from __future__ import annotations

import json

import pytest

from flalliance.fl.plugin import PluginError, TrainingPlugin
from flalliance.fl.plugins import available, check_runtime, load_plugin, plugin_for
from flalliance.fl.spec import TrainingLogicSpec, canonical_json, parse_spec

pytestmark = pytest.mark.unit
DIGEST = "sha256:" + "ab" * 32


def _with(spec: TrainingLogicSpec, **runtime: object) -> TrainingLogicSpec:
    data = json.loads(canonical_json(spec))
    data["runtime"] = runtime
    return parse_spec(json.dumps(data))


def test_builtins_are_available_and_satisfy_the_protocol() -> None:
    assert {"classifier", "lora_causal_lm"} <= set(available())
    plugin = load_plugin("classifier")
    assert isinstance(plugin, TrainingPlugin) and plugin.name == "classifier"


def test_unknown_plugin_names_the_field_and_what_is_installed() -> None:
    with pytest.raises(PluginError, match=r"runtime.plugin: no plugin 'nope'.*classifier"):
        load_plugin("nope")


def test_plugin_version_pin_is_checked(digits_spec: TrainingLogicSpec) -> None:
    assert plugin_for(_with(digits_spec, plugin="classifier", plugin_version="1")).name == "classifier"
    with pytest.raises(PluginError, match=r"runtime.plugin_version: .*pins classifier 2, this worker has 1"):
        plugin_for(_with(digits_spec, plugin="classifier", plugin_version="2"))


def test_pinned_image_must_be_the_one_running(digits_spec: TrainingLogicSpec) -> None:
    pinned = _with(digits_spec, image=f"flalliance/worker@{DIGEST}")
    assert check_runtime(pinned, f"flalliance/worker@{DIGEST}").name == "classifier"
    other = "flalliance/worker@sha256:" + "cd" * 32
    with pytest.raises(
        PluginError, match=rf"pins the worker image flalliance/worker@{DIGEST}, .*runs {other}"
    ):
        check_runtime(pinned, other)
    with pytest.raises(PluginError, match=r"FLALLIANCE_WORKER_IMAGE unset"):
        check_runtime(pinned, None)
    assert check_runtime(digits_spec, "anything:dev").name == "classifier"  # not pinned: any image


def test_image_must_be_a_digest_reference(digits_spec: TrainingLogicSpec) -> None:
    data = json.loads(canonical_json(digits_spec))
    data["runtime"] = {"image": "flalliance/worker:dev"}
    with pytest.raises(ValueError, match=r"runtime.image"):
        parse_spec(json.dumps(data))


def test_default_runtime_keeps_the_hash_and_a_pinned_one_changes_it(digits_spec: TrainingLogicSpec) -> None:
    assert b"runtime" not in canonical_json(digits_spec)  # tasks created before plugins keep their hash
    pinned = _with(digits_spec, image=f"flalliance/worker@{DIGEST}")
    assert f'"image":"flalliance/worker@{DIGEST}"'.encode() in canonical_json(pinned)


def test_classifier_settings_and_config_are_exclusive(digits_spec: TrainingLogicSpec) -> None:
    data = json.loads(canonical_json(digits_spec))
    with pytest.raises(ValueError, match=r"config: the classifier plugin takes dataset/model/training"):
        parse_spec(json.dumps({**data, "config": {"x": 1}}))
    with pytest.raises(ValueError, match=r"model: required by the classifier plugin"):
        parse_spec(json.dumps({k: v for k, v in data.items() if k != "model"}))
    with pytest.raises(ValueError, match=r"dataset, model, training: only the classifier plugin reads these"):
        parse_spec(json.dumps({**data, "runtime": {"plugin": "mine"}, "config": {}}))
    with pytest.raises(ValueError, match=r"config: required by plugin 'mine'"):
        parse_spec(json.dumps({"runtime": {"plugin": "mine"}}))
