"""The training-plugin interface: what a task trains, behind one small typed protocol.

Everything the protocol itself decides — the private split, the safetensors exchange and its checks, the
robust aggregation rules, screening, the voter's verdicts, the vote — works on a named map of float32
tensors and on two numbers per model (the task's metric and a loss). A plugin supplies the rest: which
tensors are exchanged and how they start, how a participant's files become samples, how a model trains from
the global tensors, and how a model scores on a split. The built-in classifiers are the first plugin
(:mod:`flalliance.fl.plugins.classifier`), LoRA fine-tuning of a causal language model the second
(:mod:`flalliance.fl.plugins.lora`); a user's own plugin is a Python package that registers an object of
this shape under the ``flalliance.plugins`` entry-point group (docs/plugins.md).

A plugin must be deterministic for a given seed on one machine. Only aggregation has to be bit-identical
across machines, and that is the protocol's code, not the plugin's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from flalliance.fl.spec import TrainingLogicSpec
    from flalliance.fl.weights import Architecture, TensorMap, Tensors


Fetch = Callable[[bytes, int], bytes]  # an object from the artifact store: (sha256, max bytes) -> bytes


class PluginError(ValueError):
    """A plugin that is not installed, not the version the spec names, or refuses the spec's settings."""


@runtime_checkable
class Samples(Protocol):
    """A participant's data as a plugin holds it: countable and indexable by sample, so the protocol can
    split it privately (train/test) and shard it, whatever one sample is (a feature vector, a token
    sequence)."""

    def __len__(self) -> int: ...

    def subset(self, indices: npt.NDArray[np.int64]) -> Samples: ...


@dataclass(frozen=True)
class TrainResult:
    tensors: Tensors
    num_samples: int
    final_loss: float
    device: str = "cpu"  # where it trained ("cpu", "cuda:0"), reported in the worker's result


@dataclass(frozen=True)
class Score:
    """A model on a voter's data: the task's metric on the test split and the mean loss on the samples the
    voter judges with (its test split, with its train split appended when ``judge_on_train``)."""

    metric: float
    loss: float


@runtime_checkable
class TrainingPlugin(Protocol):
    """What a task trains. ``name`` is what ``runtime.plugin`` says; ``version`` what
    ``runtime.plugin_version`` may pin. Methods take the verified spec first; they raise
    :class:`PluginError` (or ``DataError`` for bad files) with a message naming the field or file."""

    name: str
    version: str

    def check(self, spec: TrainingLogicSpec) -> None:
        """Refuse settings this plugin cannot run (its ``config``, the metric), naming the field."""

    def prepare(
        self, spec: TrainingLogicSpec, fetch: Fetch | None, data_dir: Path | None, work_dir: Path
    ) -> None:
        """Make what the task needs besides the exchanged tensors available (a pinned base model, from the
        participant's volume or from the artifact store through ``fetch``), checked against the spec."""

    def architecture(self, spec: TrainingLogicSpec) -> Architecture:
        """Names, shapes and dtypes of the exchanged tensors: every peer's file is checked against these."""

    def initial_tensors(self, spec: TrainingLogicSpec, seed: int) -> Tensors:
        """The pioneer's model: the same bytes for the same seed in any process (its hash is recomputable)."""

    def load_data(self, spec: TrainingLogicSpec, directory: Path) -> Samples:
        """A participant's files, validated and in a fixed order."""

    def join(self, parts: Sequence[Samples]) -> Samples:
        """Samples of several splits as one (the judge set, pooled centralized baselines)."""

    def train(self, spec: TrainingLogicSpec, start: TensorMap, data: Samples, *, seed: int) -> TrainResult:
        """Local training from the global tensors ``start``."""

    def evaluate(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        """The task's metric (``spec.metric``) of a model on ``data``."""

    def loss(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        """The mean training loss of a model on ``data`` (continuous: the voter's checks compare it)."""

    def score(self, spec: TrainingLogicSpec, tensors: TensorMap, test: Samples, judge: Samples) -> Score:
        """Metric on ``test`` and loss on ``judge`` (one pass where the plugin can share the work)."""

    def poison(self, spec: TrainingLogicSpec, data: Samples, seed: int) -> Samples:
        """The data-poisoning attack on this kind of data (label flipping for classifiers): benchmarks and
        the test mode's attackers train on it; the voters must reject what it yields."""
