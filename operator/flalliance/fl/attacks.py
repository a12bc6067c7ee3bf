"""Malicious proposers for benchmarks and simulations: what the validation rule must reject.

Each attack returns the tensors a dishonest participant would propose, given the current global model, its
own data and (for update-based attacks) the honest update it would otherwise have sent.

Two attacks are built to evade defences by staying close to the honest updates:

- ``alie`` ("A little is enough", Baruch et al., NeurIPS 2019): per coordinate, the mean of the benign
  updates minus ``z`` standard deviations (``z = ALIE_Z``), small enough to hide inside the spread that
  median- and distance-based rules tolerate, consistently biased so that it accumulates.
- ``ipm`` (inner-product manipulation, Xie et al., UAI 2019): ``-ε`` times the mean benign update
  (``ε = IPM_EPSILON``), so that the aggregate's inner product with the true gradient turns negative while
  the attacker's norm stays below the honest ones.

Both estimate the benign updates from ``peers`` when given — the honest proposals of the round, which an
attacker proposing late in the phase can read from the store (the strongest, omniscient case the
simulation benchmarks use) — and otherwise from models trained on ``ALIE_SHARDS`` disjoint shards of its
own data (what a lone attacker without access to other proposals can do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.plugin import Samples
from flalliance.fl.plugins import plugin_for
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.training import train
from flalliance.fl.weights import TensorMap, Tensors

Attack = Literal["label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random", "alie", "ipm"]
ATTACKS: tuple[Attack, ...] = (
    "label_flip",
    "gaussian",
    "scaled",
    "sign_flip",
    "free_rider",
    "random",
    "alie",
    "ipm",
)
ADAPTIVE: frozenset[Attack] = frozenset({"alie", "ipm"})
ALIE_Z = 1.0
IPM_EPSILON = 0.5
ALIE_SHARDS = 4


def _combine(global_t: TensorMap, update: TensorMap, factor: float) -> Tensors:
    return {
        n: (global_t[n] + np.float32(factor) * (update[n] - global_t[n])).astype(np.float32) for n in global_t
    }


def _benign_models(
    spec: TrainingLogicSpec, global_t: TensorMap, data: Samples, seed: int, peers: Sequence[TensorMap] | None
) -> list[TensorMap]:
    own = train(spec, global_t, data, seed=seed).tensors
    if peers:
        return [*peers, own]  # the attacker's own benign update counts too, as the colluders' do in ALIE
    order = np.random.default_rng(seed).permutation(len(data))
    shards = [s for s in np.array_split(order, min(ALIE_SHARDS, max(1, len(data)))) if len(s)]
    return [
        own,
        *(train(spec, global_t, data.subset(s), seed=seed + k).tensors for k, s in enumerate(shards)),
    ]


def _moments(global_t: TensorMap, models: Sequence[TensorMap]) -> tuple[Tensors, Tensors]:
    """Per-coordinate mean and standard deviation of the benign updates."""
    mean: Tensors = {}
    std: Tensors = {}
    for n, g in global_t.items():
        stacked = np.stack([m[n].astype(np.float64) - g for m in models])
        mean[n] = stacked.mean(axis=0).astype(np.float32)
        std[n] = stacked.std(axis=0).astype(np.float32)
    return mean, std


def malicious_proposal(
    attack: Attack,
    spec: TrainingLogicSpec,
    global_t: TensorMap,
    data: Samples,
    *,
    seed: int,
    peers: Sequence[TensorMap] | None = None,
) -> Tensors:
    """``label_flip``: trained on the plugin's poisoned data (labels ``C-1-y`` for classifiers);
    ``gaussian``: global + N(0, 1); ``scaled``: global - 10 x
    own update; ``sign_flip``: global - own update; ``free_rider``: the global model resubmitted;
    ``random``: freshly initialised weights; ``alie`` and ``ipm``: see the module docstring (``peers``: the
    benign proposals the attacker can see, if any)."""
    rng = np.random.default_rng(seed)
    if attack == "label_flip":
        return train(spec, global_t, plugin_for(spec).poison(spec, data, seed), seed=seed).tensors
    if attack == "gaussian":
        return {n: (t + rng.standard_normal(t.shape)).astype(np.float32) for n, t in global_t.items()}
    if attack in ("scaled", "sign_flip"):
        honest = train(spec, global_t, data, seed=seed).tensors
        return _combine(global_t, honest, -10.0 if attack == "scaled" else -1.0)
    if attack == "free_rider":
        return {n: t.copy() for n, t in global_t.items()}
    if attack in ADAPTIVE:
        mean, std = _moments(global_t, _benign_models(spec, global_t, data, seed, peers))
        if attack == "alie":
            return {
                n: (g + mean[n] - np.float32(ALIE_Z) * std[n]).astype(np.float32) for n, g in global_t.items()
            }
        return {n: (g - np.float32(IPM_EPSILON) * mean[n]).astype(np.float32) for n, g in global_t.items()}
    return initial_tensors(spec, seed=int(rng.integers(2**62)))
