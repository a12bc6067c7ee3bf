from __future__ import annotations

import hashlib
import json

import pytest

from flalliance.fl.spec import (
    SpecError,
    SpecHashMismatch,
    TrainingLogicSpec,
    canonical_json,
    load_verified_spec,
    parse_spec,
    spec_hash,
    verify_spec_hash,
)

pytestmark = pytest.mark.unit


def test_canonical_json_is_sorted_compact_and_complete(digits_spec: TrainingLogicSpec) -> None:
    text = canonical_json(digits_spec).decode()
    assert " " not in text and "\n" not in text
    data = json.loads(text)
    assert json.dumps(data, sort_keys=True, separators=(",", ":")) == text
    assert data["validation"]["test_fraction"] == 0.2  # defaults are part of what is hashed
    assert spec_hash(digits_spec) == hashlib.sha256(text.encode()).digest()


def test_hash_ignores_input_key_order_and_whitespace(digits_spec: TrainingLogicSpec) -> None:
    data = json.loads(canonical_json(digits_spec))
    shuffled = json.dumps(dict(reversed(list(data.items()))), indent=4)
    assert spec_hash(parse_spec(shuffled)) == spec_hash(digits_spec)


def test_hash_changes_with_any_setting(digits_spec: TrainingLogicSpec) -> None:
    other = digits_spec.model_copy(update={"max_model_bytes": digits_spec.max_model_bytes + 1})
    assert spec_hash(other) != spec_hash(digits_spec)


def test_float_canonical_form(digits_spec: TrainingLogicSpec) -> None:
    data = json.loads(canonical_json(digits_spec))
    data["training"]["optimizer"]["learning_rate"] = 1e-05
    text = canonical_json(parse_spec(json.dumps(data))).decode()
    assert '"learning_rate":1e-05' in text


def test_pinned_hash_of_a_reference_spec() -> None:
    # Changing this value means every deployed task's training-logic hash changes: bump SPEC_VERSION.
    spec = parse_spec(
        '{"dataset":{"source":"digits","feature_shape":[64],"num_classes":10},"model":{"kind":"logreg"},'
        '"training":{"epochs":1,"batch_size":8,"optimizer":{"learning_rate":0.1}}}'
    )
    assert spec_hash(spec).hex() == "c529fd6e8862772216cb50da832c3ca1f4e0cb759d626baa378e31a9e2cdd0aa"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["training"].update(epochs="3"), "training.epochs"),
        (lambda d: d["model"].update(kind="transformer"), "model"),
        (lambda d: d["training"]["optimizer"].update(learning_rate=-1.0), "training.optimizer.learning_rate"),
        (lambda d: d["metric"].update(name="cross_entropy", direction="maximize"), "metric"),
        (lambda d: d["dataset"].update(feature_shape=[8, 0]), "dataset"),
        (lambda d: d["aggregation"].update(rule="trimmed_mean", beta=0.6), "aggregation.trimmed_mean.beta"),
    ],
)
def test_invalid_specs_name_the_field(digits_spec: TrainingLogicSpec, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(canonical_json(digits_spec))
    mutate(data)
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        parse_spec(json.dumps(data))


def test_nan_is_refused(digits_spec: TrainingLogicSpec) -> None:
    text = canonical_json(digits_spec).decode().replace('"learning_rate":0.1', '"learning_rate":NaN')
    with pytest.raises(SpecError):
        parse_spec(text)


def test_verify_spec_hash(digits_spec: TrainingLogicSpec) -> None:
    good = spec_hash(digits_spec)
    verify_spec_hash(digits_spec, good)
    assert load_verified_spec(canonical_json(digits_spec), good) == digits_spec
    wrong = bytes(32)
    with pytest.raises(SpecHashMismatch, match="refusing to run") as info:
        load_verified_spec(canonical_json(digits_spec), wrong)
    assert info.value.expected == wrong and info.value.actual == good
    with pytest.raises(SpecError, match="32 bytes"):
        verify_spec_hash(digits_spec, b"short")


def test_a_trial_validation_field_at_its_default_keeps_the_hash(digits_spec: TrainingLogicSpec) -> None:
    # judge_in_aggregate came after tasks were deployed: off, it is left out of the canonical form
    assert "judge_in_aggregate" not in canonical_json(digits_spec).decode()
    on = digits_spec.model_copy(
        update={"validation": digits_spec.validation.model_copy(update={"judge_in_aggregate": True})}
    )
    assert '"judge_in_aggregate":true' in canonical_json(on).decode()
    assert spec_hash(on) != spec_hash(digits_spec)
    # aligned_loss_cosine became the default (0.1) after tasks were deployed: at it, left out; off, written
    assert digits_spec.validation.aligned_loss_cosine == 0.1
    assert "aligned_loss_cosine" not in canonical_json(digits_spec).decode()
    off = digits_spec.model_copy(
        update={"validation": digits_spec.validation.model_copy(update={"aligned_loss_cosine": None})}
    )
    assert '"aligned_loss_cosine":null' in canonical_json(off).decode()
