"""Training and evaluation as the task's plugin does them (the spec's ``runtime.plugin``).

The protocol's callers — the worker's steps, the voter's round, the simulator, the attacks, the benchmarks —
go through these functions, so none of them knows what a model is. Deterministic for a given seed on one
machine; training results are *not* required to be bit-identical across machines — only aggregation is,
because only aggregate hashes are compared between voters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flalliance.fl.plugin import Samples, Score, TrainResult
from flalliance.fl.plugins import plugin_for
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.weights import Architecture, TensorMap

__all__ = ["Score", "TrainResult", "architecture", "evaluate", "join", "load_data", "loss", "score", "train"]


def train(
    spec: TrainingLogicSpec, start: TensorMap, data: Samples, *, seed: int | None = None
) -> TrainResult:
    """Local training from ``start`` on ``data`` (seed: ``spec.seeds.train`` unless given)."""
    return plugin_for(spec).train(spec, start, data, seed=spec.seeds.train if seed is None else seed)


def evaluate(spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
    """The task's metric of a model on ``data``."""
    return plugin_for(spec).evaluate(spec, tensors, data)


def loss(spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
    return plugin_for(spec).loss(spec, tensors, data)


def score(spec: TrainingLogicSpec, tensors: TensorMap, test: Samples, judge: Samples) -> Score:
    return plugin_for(spec).score(spec, tensors, test, judge)


def architecture(spec: TrainingLogicSpec) -> Architecture:
    """The exchanged tensors' names and shapes: every model file is checked against these."""
    return plugin_for(spec).architecture(spec)


def load_data(spec: TrainingLogicSpec, directory: Path) -> Samples:
    return plugin_for(spec).load_data(spec, directory)


def join(spec: TrainingLogicSpec, parts: Sequence[Samples]) -> Samples:
    return plugin_for(spec).join(parts)
