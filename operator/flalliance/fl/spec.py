"""The training-logic spec: everything a participant needs to train, validate and aggregate a task.

Its canonical JSON (sorted keys, no whitespace, shortest round-trip floats, ASCII only) hashed with sha256 is
the on-chain *training-logic hash*. A worker loads the spec from the artifact store by that hash and refuses
to run when the bytes or the parsed spec do not hash to the value the chain holds
(:func:`verify_spec_hash`), so every participant provably runs the same logic.

The models are strict (no type coercion) and closed (unknown fields are errors), so a typo in a spec is a
clear error naming the field instead of a silently ignored setting that would change nobody's hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

SPEC_VERSION: Literal[1] = 1


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------------------------- data
BuiltinDataset = Literal["digits", "breast_cancer", "wine", "fashion_mnist", "mnist_5k"]


class NpzLayout(_Strict):
    """A participant's ``.npz`` files: one array of features and one of integer labels per file."""

    format: Literal["npz"] = "npz"
    features_key: str = "x"
    labels_key: str = "y"


class CsvLayout(_Strict):
    """A participant's CSV files: a header row, one label column, every other column a feature in order."""

    format: Literal["csv"] = "csv"
    label_column: str = "label"
    delimiter: Literal[",", ";", "\t"] = ","


class DatasetSpec(_Strict):
    """What a sample looks like. ``source`` is either a built-in offline dataset (demos, benchmarks) or
    ``participant``: each participant's own directory of files laid out as ``layout`` says."""

    source: BuiltinDataset | Literal["participant"]
    feature_shape: tuple[int, ...] = Field(min_length=1, max_length=3)
    num_classes: int = Field(ge=2, le=100_000)
    # Multiplier applied to raw feature values on load (e.g. 1/255 for 8-bit pixels).
    feature_scale: float = Field(default=1.0, gt=0)
    layout: Annotated[NpzLayout | CsvLayout, Field(discriminator="format")] = NpzLayout()

    @model_validator(mode="after")
    def _positive_shape(self) -> DatasetSpec:
        if any(d <= 0 for d in self.feature_shape):
            raise ValueError(f"feature_shape: every dimension must be positive, got {self.feature_shape}")
        return self

    @property
    def num_features(self) -> int:
        return math.prod(self.feature_shape)


# ----------------------------------------------------------------------------------------------- models
class LogRegSpec(_Strict):
    kind: Literal["logreg"] = "logreg"


class MLPSpec(_Strict):
    kind: Literal["mlp"] = "mlp"
    hidden: tuple[int, ...] = Field(default=(64,), min_length=1, max_length=8)
    activation: Literal["relu", "tanh"] = "relu"


class McMahan2NNSpec(_Strict):
    """McMahan et al. 2017's "2NN": two hidden layers of 200 ReLU units."""

    kind: Literal["mcmahan_2nn"] = "mcmahan_2nn"
    hidden: int = Field(default=200, ge=1)


class McMahanCNNSpec(_Strict):
    """McMahan et al. 2017's CNN: 5x5 conv 32, 2x2 max-pool, 5x5 conv 64, 2x2 max-pool, FC 512, softmax."""

    kind: Literal["mcmahan_cnn"] = "mcmahan_cnn"
    conv1: int = Field(default=32, ge=1)
    conv2: int = Field(default=64, ge=1)
    hidden: int = Field(default=512, ge=1)


ModelSpec = Annotated[LogRegSpec | MLPSpec | McMahan2NNSpec | McMahanCNNSpec, Field(discriminator="kind")]


# ----------------------------------------------------------------------------------------------- training
class OptimizerSpec(_Strict):
    kind: Literal["sgd", "adam"] = "sgd"
    learning_rate: float = Field(gt=0, le=10)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)


class TrainingSpec(_Strict):
    epochs: int = Field(ge=1, le=1000)
    batch_size: int = Field(ge=1, le=1_000_000)
    # balanced_cross_entropy: the logits are shifted by the log of the participant's own label mix during
    # training (logit adjustment); for label-skewed federations (classifier.label_prior_log, docs/fl.md).
    loss: Literal["cross_entropy", "balanced_cross_entropy"] = "cross_entropy"
    optimizer: OptimizerSpec


# The metrics the built-in plugins compute, with the direction each must have. A user's plugin may name
# its own (e.g. "mse"), with the direction it gives.
BUILTIN_METRICS: dict[str, Literal["maximize", "minimize"]] = {
    "accuracy": "maximize",
    "balanced_accuracy": "maximize",
    "cross_entropy": "minimize",
}


# Metrics that are a share of samples: a binomial standard error applies, and a person reads them in percent.
ACCURACY_METRICS = frozenset({"accuracy", "balanced_accuracy"})


def format_metric(name: str, value: float) -> str:
    """A metric value as a person reads it: an accuracy in percent, anything else with 4 digits."""
    return f"{100 * value:.1f}%" if name in ACCURACY_METRICS else f"{value:.4g}"


class MetricSpec(_Strict):
    name: str = Field(default="accuracy", pattern=r"^[a-z][a-z0-9_]{0,63}$")
    direction: Literal["maximize", "minimize"] = "maximize"

    @model_validator(mode="after")
    def _direction_matches(self) -> MetricSpec:
        natural = BUILTIN_METRICS.get(self.name)
        if natural is not None and self.direction != natural:
            raise ValueError(f"metric.direction: {self.name} must be {natural}d, got {self.direction}")
        return self


# ----------------------------------------------------------------------------------------------- aggregation
Inclusion = Literal["screened", "accepted", "all"]


class _AggregationBase(_Strict):
    # Which proposals enter this voter's aggregate (see docs/fl.md, "Which proposals are aggregated"):
    # "screened": those passing the data-independent checks (file, free rider, update norm, direction),
    #   identical for every honest voter, so their aggregate hashes agree (default);
    # "accepted": those this voter accepts, including its private-data performance check;
    # "all": every well-formed proposal (FLock's behaviour).
    include: Inclusion = "screened"


class FedAvgSpec(_AggregationBase):
    rule: Literal["fedavg"] = "fedavg"
    weighted: bool = True  # weight by declared sample counts (McMahan); False = plain mean (FLock)


class MedianSpec(_AggregationBase):
    rule: Literal["median"] = "median"


class TrimmedMeanSpec(_AggregationBase):
    rule: Literal["trimmed_mean"] = "trimmed_mean"
    beta: float = Field(default=0.1, ge=0, lt=0.5)  # fraction trimmed from each end per coordinate


class MultiKrumSpec(_AggregationBase):
    rule: Literal["multi_krum"] = "multi_krum"
    byzantine: int = Field(default=1, ge=0)  # f: assumed Byzantine proposals
    select: int | None = Field(default=None, ge=1)  # m: proposals averaged (None = n - f)


AggregationSpec = Annotated[
    FedAvgSpec | MedianSpec | TrimmedMeanSpec | MultiKrumSpec, Field(discriminator="rule")
]


# ----------------------------------------------------------------------------------------------- validation
class ValidationSpec(_Strict):
    """How a voter judges proposals and the aggregate; the rule and its reasons are in docs/fl.md."""

    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    # Aggregate vote: +1 if it beats the baseline by more than the margin, -1 if it is worse by more than
    # the margin, 0 in between. The margin is max(vote_margin, margin_z * standard error on this test set).
    vote_margin: float = Field(default=0.01, ge=0)
    margin_z: float = Field(default=2.0, ge=0)
    # Data-independent screening, relative to the median update norm of the round's proposals.
    free_rider_ratio: float = Field(default=0.05, ge=0, lt=1)
    max_norm_ratio: float = Field(default=3.0, gt=1)
    min_cosine: float = Field(default=-0.1, ge=-1, le=1)
    # Private-data check on the cross-entropy loss L_i of each screened proposal on the voter's test split:
    # rejected when L_i - median(L) > max(loss_outlier_z * 1.4826 * MAD(L), loss_outlier_floor) (a robust
    # z-score: relative to the round's other proposals, not to the global model; see docs/fl.md).
    loss_outlier_z: float = Field(default=3.5, gt=0)
    # 0.3 nats (was 0.1): with three proposals a round the MAD is tiny and the floor decides; at 0.1 it
    # rejected 3.7% of honest proposals in the simulation benchmarks, at 0.3 1.3%, label flips caught alike.
    loss_outlier_floor: float = Field(default=0.3, ge=0)
    # Regression check (added by the simulation benchmarks, docs/results.md): a proposal is rejected as
    # loss_regression when it makes the voter's data worse than the current global model does:
    # L_i - L_G > max(regression_floor, regression_ratio * L_G). Unlike the outlier check it needs no honest
    # majority among the round's few proposals, so a label-flipped model is caught even when it is one of
    # two or three. None disables it (the rule as first built).
    regression_floor: float | None = Field(default=0.3, ge=0)
    regression_ratio: float = Field(default=0.25, ge=0)
    # Judge proposals (outlier and regression checks) on the voter's train split as well as its test split:
    # 5x the samples, so far less noise. The aggregate vote is still measured on the test split only.
    judge_on_train: bool = True
    # Vote against the round (-1) only with evidence against a proposal (this voter rejected one, or there is
    # no aggregate). Under label skew an honest aggregate of other clients' updates often scores worse on a
    # voter's own classes; FLock's rule then slashes that honest voter as the minority. Without evidence
    # such a vote becomes 0 (which the chain counts as acceptance).
    dissent_needs_evidence: bool = True
    # The voter's own reference update (FLTrust's root-data direction, here each voter's private train
    # split): the voter trains the global model on its own data exactly as a proposer would and compares
    # every proposal's update Δ_i with its own Δ_v. Needs the train split (``validate_round(train=...)``).
    # A proposal is rejected as update_norm_outlier when ‖Δ_i‖ > max_own_norm_ratio · ‖Δ_v‖ (random or
    # scaled weights even when they are most of a round's proposals and so set its median), and as
    # update_direction when cos(Δ_i, Δ_v) < min_own_cosine or when the mirrored proposal G - Δ_i fits the
    # voter's data better than the proposal itself by more than mirror_margin nats (sign flips, inner-
    # product manipulation: updates that point against what the data asks for).
    reference_update: bool = True
    max_own_norm_ratio: float = Field(default=4.0, gt=1)
    min_own_cosine: float = Field(default=-0.3, ge=-1, le=1)
    mirror_margin: float = Field(default=0.5, ge=0)
    # Probation: a proposer whose on-chain record holds at least one rejected proposal and no more accepted
    # than rejected ones is judged with the stricter limits below (any evidence against it counts). History
    # across rounds, as in reputation-based FL: honest proposers are almost never rejected, so they are
    # almost never on probation, while an attacker caught once stays under the strict rule.
    probation_min_own_cosine: float = Field(default=0.0, ge=-1, le=1)
    probation_mirror_margin: float = Field(default=0.2, ge=0)
    # On probation a proposal must also *help*: lower the voter's loss (judged on test + train) by more than
    # this many nats and point no further from the voter's own update than probation_min_own_cosine,
    # whatever its loss does. Without a gain, the evidence for a proposer rejected twice as often as it was
    # accepted is none: sign flips of small updates and early label flips barely move a voter's loss
    # (digits grid: a sign flipper's passing proposals had dL of -0.005 to +0.05 and cosines near 0). None:
    # off (the direction limits alone, gated by a loss rise, as outside probation).
    probation_min_gain: float | None = Field(default=0.0, ge=0)
    # Reference gain (off by default; the LoRA example and preset set 0.25): a proposal is rejected as
    # reference_gain when it wins back less than this fraction of what the voter's own reference update
    # wins on the voter's data, (L_G - L_i) < min_reference_gain * (L_G - L_own), whenever the voter's own
    # gain exceeds 5% of L_G (far from convergence; closer, the gains are noise: MIN_OWN_GAIN_SHARE in
    # scoring.py). It catches a poisoned model that still beats an untrained global model (round 0 against
    # the pioneer: a poisoned LoRA adapter learns token frequencies and gains 0.1-0.2 nats where an honest
    # one gains 1.7) when a round has too few proposals for the outlier check.
    min_reference_gain: float | None = Field(default=None, ge=0, le=1)
    # Aligned regressions: a proposal that raises the voter's loss by more than the regression limit is
    # still accepted when its update points the way the voter's own reference update does, cos(Δ_i, Δ_v)
    # >= aligned_regression_cosine (on probation too). Under label skew a full step of an honest update
    # learnt on a few classes regresses the other participants' data (it overshoots into its own classes)
    # while its direction agrees with theirs (cos 0.1-0.5); a label-flipped or sign-flipped update regresses
    # and points away (cos about 0 or below). 0.1 (digits grid, 3 seeds: a clean run's honest proposals
    # rejected 0.6/8.9/1.1% against 0.6/16.7/3.3% without it, label flips caught alike). None: every
    # regression is rejected (the rule before this field).
    aligned_regression_cosine: float | None = Field(default=0.1, ge=-1, le=1)
    # Against the round: a proposal that raises the voter's loss (judged on test + train) while the median
    # of the round's other proposals lowers it by more than this many nats is rejected as loss_against_round,
    # whatever its direction (not forgiven as above). Early in a task every honest update wins a lot on
    # every voter's data and a label-flipped one does not; its loss rise is far below the regression limit
    # (digits grid, rounds 0-4: +0.04 to +0.38 nats where its honest peers won 0.05-0.47), so nothing else
    # caught it. None: off.
    round_gain_margin: float | None = Field(default=0.05, ge=0)
    # In the aggregate (a trial, off by default): a proposal rejected as loss_regression alone is accepted
    # when it lowers the voter's loss as one more update in the plain mean of the proposals this voter
    # accepts (A, k of them), against a null update in its place:
    # L(G + (ΣΔ_A + Δ_i)/(k+1)) < L(G + ΣΔ_A/(k+1)). Judged by what it adds to the round, not by a full
    # step of it alone: under label skew an honest update learnt on a few classes regresses the others'
    # data on its own and still helps them in the average; a flipped update drags the average the wrong
    # way. A plain mean, not the declared sample counts (one declared sample would weigh an update down to
    # nothing). Needs at least AGGREGATE_MIN_REFERENCE (2) accepted proposals: with one, half a flipped
    # update beside it was sometimes a descent direction early in a task (docs/results.md). False: off.
    judge_in_aggregate: bool = False
    # Aligned losses: a proposal rejected as loss_against_round or loss_outlier is accepted when its update
    # points the way the voter's own does, cos(Δ_i, Δ_v) >= this, and at least half as much as the median
    # of the round's other proposals do (against the untrained pioneer every update shares the first
    # features, so a label flip's cosine of 0.1-0.2 is low next to the honest ones'). Under label skew an
    # honest update raises a voter's loss a little while pointing its way (Fashion-MNIST: cos 0.11-0.18); a
    # label flip after the first rounds points away (digits: cos -0.26 to 0.01). 0.1: Fashion-MNIST seeds
    # 1-2 honest rejections 5.0 -> 1.7% clean, no malicious proposal let through in any grid cell
    # (docs/results.md). None: off (the rule before this field).
    aligned_loss_cosine: float | None = Field(default=0.1, ge=-1, le=1)
    # Offset bias: a proposal is rejected as offset_bias when its difference from the voter's own update,
    # d = Δ_i - Δ_v, leans one way across the coordinates, |Σ d_j| / Σ |d_j| > max_offset_balance (adaptive
    # attacks that add a fixed-sign shift to the benign mean, "a little is enough"; scoring.offset_balance),
    # and the lean is beyond what random signs give (|z| >= scoring.OFFSET_MIN_Z; not on a model of a few
    # weights, which honest updates move together).
    # Two honest updates differ by sign-symmetric noise. None turns the check off.
    max_offset_balance: float | None = Field(default=0.35, gt=0, le=1)


class SeedsSpec(_Strict):
    init: int = Field(default=0, ge=0, lt=2**63)  # the pioneer's initial weights
    train: int = Field(default=0, ge=0, lt=2**63)  # data order and dropout in local training


# ----------------------------------------------------------------------------------------------- runtime
CLASSIFIER_PLUGIN = "classifier"
# An OCI image reference pinned by its manifest digest: ``[registry/]repository@sha256:<64 hex>``.
IMAGE_BY_DIGEST = r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$"


class RuntimeSpec(_Strict):
    """What runs the training logic: the training plugin by name (and optionally its version) and the worker
    image by digest. Both are inside the hashed spec, so a task's on-chain hash pins the code that trains;
    a worker refuses to run when its plugin or image is not the one named here (docs/plugins.md)."""

    plugin: str = Field(default=CLASSIFIER_PLUGIN, pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    plugin_version: str | None = Field(default=None, min_length=1, max_length=64)
    image: str | None = Field(default=None, pattern=IMAGE_BY_DIGEST, max_length=512)


class TrainingLogicSpec(_Strict):
    """The task's whole training logic. ``dataset``, ``model`` and ``training`` are the built-in classifier
    plugin's settings; any other plugin reads ``config`` (a JSON object it validates itself)."""

    version: Literal[1] = SPEC_VERSION
    runtime: RuntimeSpec = RuntimeSpec()
    dataset: DatasetSpec | None = None
    model: ModelSpec | None = None
    training: TrainingSpec | None = None
    config: dict[str, JsonValue] | None = None
    metric: MetricSpec = MetricSpec()
    aggregation: AggregationSpec = FedAvgSpec()
    validation: ValidationSpec = ValidationSpec()
    seeds: SeedsSpec = SeedsSpec()
    max_model_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=4 * 1024**3)

    @model_validator(mode="after")
    def _settings_match_plugin(self) -> TrainingLogicSpec:
        classifier = {"dataset": self.dataset, "model": self.model, "training": self.training}
        if self.runtime.plugin == CLASSIFIER_PLUGIN:
            missing = [name for name, value in classifier.items() if value is None]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required by the {CLASSIFIER_PLUGIN} plugin")
            if self.config is not None:
                raise ValueError(
                    f"config: the {CLASSIFIER_PLUGIN} plugin takes dataset/model/training instead"
                )
            if self.metric.name not in BUILTIN_METRICS:
                raise ValueError(
                    f"metric.name: the {CLASSIFIER_PLUGIN} plugin computes {', '.join(BUILTIN_METRICS)}, "
                    f"not {self.metric.name!r}"
                )
        else:
            given = [name for name, value in classifier.items() if value is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: only the {CLASSIFIER_PLUGIN} plugin reads these; plugin "
                    f"{self.runtime.plugin!r} takes its settings in config"
                )
            if self.config is None:
                raise ValueError(f"config: required by plugin {self.runtime.plugin!r}")
            _check_builtin_config(self.runtime.plugin, self.config, self.metric)
        return self

    def classifier(self) -> tuple[DatasetSpec, ModelSpec, TrainingSpec]:
        """The classifier plugin's settings (present whenever ``runtime.plugin`` is the classifier)."""
        if self.dataset is None or self.model is None or self.training is None:
            raise SpecError(f"plugin {self.runtime.plugin!r} has no dataset/model/training settings")
        return self.dataset, self.model, self.training


def _check_builtin_config(plugin: str, config: dict[str, JsonValue], metric: MetricSpec) -> None:
    """A built-in plugin's settings are checked with the spec (in the operator too, which has no torch), so
    a mistake is named at apply time; an external plugin checks its own in the worker."""
    from flalliance.fl.plugins.lora_config import LORA_PLUGIN, parse_settings

    if plugin == LORA_PLUGIN:
        parse_settings(config, metric.name)


# ----------------------------------------------------------------------------------------------- hashing
class SpecError(ValueError):
    """A spec that cannot be parsed or validated; the message names the offending field."""


class SpecHashMismatch(SpecError):
    """The spec does not hash to the training-logic hash the chain holds: refuse to run it."""

    def __init__(self, expected: bytes, actual: bytes) -> None:
        super().__init__(
            f"training-logic hash mismatch: the chain expects 0x{expected.hex()}, "
            f"the spec hashes to 0x{actual.hex()}; refusing to run a different training logic"
        )
        self.expected = expected
        self.actual = actual


def _check_floats(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{path}: non-finite float {value!r} has no canonical JSON form")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_floats(item, f"{path}[{index}]")


# Top-level fields added after the first release, left out of the canonical form while they hold these
# values, so a task created before they existed keeps its on-chain hash (as protobuf leaves out unset
# fields). Every other field is always written, defaults included.
_OMITTED_AT: dict[str, Any] = {
    "runtime": RuntimeSpec().model_dump(mode="json"),
    "dataset": None,
    "model": None,
    "training": None,
    "config": None,
    "validation.min_reference_gain": None,
    "validation.probation_min_gain": 0.0,
    "validation.round_gain_margin": 0.05,
    "validation.judge_in_aggregate": False,
    "validation.aligned_loss_cosine": 0.1,
}


def _omit_defaults(data: dict[str, Any]) -> None:
    for path, default in _OMITTED_AT.items():
        *parents, key = path.split(".")
        node: Any = data
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and key in node and node[key] == default:
            del node[key]


def canonical_json(spec: TrainingLogicSpec) -> bytes:
    """The spec's canonical bytes: every field (defaults included, so the hash pins resolved values; see
    ``_OMITTED_AT`` for the exceptions), keys sorted, no whitespace, ASCII, floats in Python's shortest
    round-trip form (``0.1``, ``1e-05``)."""
    data = spec.model_dump(mode="json")
    _omit_defaults(data)
    _check_floats(data, "spec")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode("ascii")


def spec_hash(spec: TrainingLogicSpec) -> bytes:
    """sha256 of the canonical JSON: the 32-byte on-chain training-logic hash."""
    return hashlib.sha256(canonical_json(spec)).digest()


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """``field: message``; a whole-spec rule's message already starts with the fields it names."""
    message = message.replace("Value error, ", "")
    return f"{'.'.join(str(p) for p in loc)}: {message}" if loc else message


def parse_spec(data: bytes | str) -> TrainingLogicSpec:
    """Parse a spec from JSON; errors name the field (``model.hidden: ...``)."""
    try:
        return TrainingLogicSpec.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise SpecError(f"invalid training-logic spec: {problems}") from exc


def verify_spec_hash(spec: TrainingLogicSpec, expected: bytes) -> None:
    """Raise :class:`SpecHashMismatch` unless ``spec`` hashes to ``expected`` (the chain's value)."""
    if len(expected) != 32:
        raise SpecError(f"expected hash must be 32 bytes, got {len(expected)}")
    actual = spec_hash(spec)
    if actual != expected:
        raise SpecHashMismatch(expected, actual)


def load_verified_spec(data: bytes, expected: bytes) -> TrainingLogicSpec:
    """Parse spec bytes fetched from the store and check them against the chain's hash.

    The parsed spec must hash to ``expected``; the fetched bytes need not be canonical themselves, but a
    worker only ever runs the canonical form of what it parsed, and that is what the hash pins."""
    spec = parse_spec(data)
    verify_spec_hash(spec, expected)
    return spec
