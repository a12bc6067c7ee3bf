from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from flalliance.controller.training_logic import (
    TRAINING_LOGIC_FILE,
    TRAINING_LOGIC_KEY,
    config_map_name,
    digest_inline,
    is_ours,
    job_volume,
    render_config_map,
    replacement,
    up_to_date,
)
from flalliance.fl.spec import SpecError, parse_spec, spec_hash

pytestmark = pytest.mark.unit

SPEC = {
    "dataset": {"source": "participant", "feature_shape": [64], "num_classes": 10},
    "model": {"kind": "logreg"},
    "training": {"epochs": 2, "batch_size": 16, "optimizer": {"kind": "sgd", "learning_rate": 0.1}},
}


def cm(uid: str = "uid-1", spec: dict[str, Any] = SPEC) -> dict[str, Any]:
    return render_config_map(task_name="digits", namespace="team-a", task_uid=uid, logic=digest_inline(spec))


def test_digest_is_the_on_chain_hash_of_the_canonical_json() -> None:
    logic = digest_inline(SPEC)
    assert logic.digest == "0x" + spec_hash(parse_spec(json.dumps(SPEC))).hex()
    assert logic.digest == "0x" + hashlib.sha256(logic.data).hexdigest()
    # Key order and defaults spelled out do not change the hash: it pins the resolved, canonical spec.
    assert digest_inline(dict(reversed(list(SPEC.items())))).digest == logic.digest
    assert digest_inline({**SPEC, "model": {"kind": "mlp"}}).digest != logic.digest


def test_invalid_inline_logic_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="model"):
        digest_inline({**SPEC, "model": {"kind": "transformer"}})


def test_config_map_is_owned_labelled_and_holds_the_canonical_json() -> None:
    body = cm()
    meta = body["metadata"]
    assert meta["name"] == "digits-training-logic" and meta["namespace"] == "team-a"
    [owner] = meta["ownerReferences"]
    assert owner["kind"] == "FLTask" and owner["name"] == "digits" and owner["uid"] == "uid-1"
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    assert meta["labels"]["flalliance.io/task"] == "digits"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "flalliance-operator"
    data = body["data"][TRAINING_LOGIC_KEY].encode()
    assert "0x" + hashlib.sha256(data).hexdigest() == digest_inline(SPEC).digest
    assert meta["annotations"]["flalliance.io/training-logic-hash"] == digest_inline(SPEC).digest


def test_config_map_name_stays_a_valid_name_for_long_task_names() -> None:
    long = config_map_name("t" * 250)
    assert len(long) <= 253 and long.endswith("-training-logic") and long == config_map_name("t" * 250)
    assert long != config_map_name("t" * 249 + "u")


def test_up_to_date_needs_the_same_content_and_this_owner() -> None:
    current = cm()
    assert up_to_date(json.loads(json.dumps(current)), current)
    assert not up_to_date(cm(spec={**SPEC, "model": {"kind": "mlp"}}), current)  # edited content
    assert not up_to_date(cm(uid="uid-old"), current)  # left by a deleted FLTask of the same name
    assert not up_to_date({**current, "binaryData": {"x": "eA=="}}, current)


def test_only_the_operators_own_config_map_may_be_rewritten() -> None:
    assert is_ours(cm(uid="uid-old"), "digits")
    assert not is_ours({"metadata": {"name": "digits-training-logic", "labels": {"app": "mine"}}}, "digits")
    assert not is_ours(cm(), "other-task")


def test_replacement_carries_the_resource_version_it_was_read_at() -> None:
    existing = {**cm(uid="uid-old"), "metadata": {**cm(uid="uid-old")["metadata"], "resourceVersion": "42"}}
    desired = cm()
    body = replacement(existing, desired)
    assert body["metadata"]["resourceVersion"] == "42"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert "resourceVersion" not in desired["metadata"]  # the desired manifest is not changed


def test_job_volume_is_read_only_and_points_the_worker_at_the_file() -> None:
    volume, mount, env = job_volume("digits")
    assert volume["configMap"]["name"] == "digits-training-logic"
    assert volume["configMap"]["items"] == [{"key": TRAINING_LOGIC_KEY, "path": TRAINING_LOGIC_KEY}]
    assert mount["readOnly"] is True and mount["name"] == volume["name"]
    assert env == {"name": "FLALLIANCE_TRAINING_LOGIC_FILE", "value": TRAINING_LOGIC_FILE}
    assert f"{mount['mountPath']}/{TRAINING_LOGIC_KEY}" == TRAINING_LOGIC_FILE
