"""Malicious proposers for benchmarks and simulations: what the validation rule must reject.

Each attack returns the tensors a dishonest participant would propose, given the current global model, its
own data and (for update-based attacks) the honest update it would otherwise have sent.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from flalliance.fl.dataset import Dataset
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.training import train
from flalliance.fl.weights import TensorMap, Tensors

Attack = Literal["label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random"]
ATTACKS: tuple[Attack, ...] = ("label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random")


def _combine(global_t: TensorMap, update: TensorMap, factor: float) -> Tensors:
    return {
        n: (global_t[n] + np.float32(factor) * (update[n] - global_t[n])).astype(np.float32) for n in global_t
    }


def malicious_proposal(
    attack: Attack, spec: TrainingLogicSpec, global_t: TensorMap, data: Dataset, *, seed: int
) -> Tensors:
    """``label_flip``: trained on labels ``C-1-y``; ``gaussian``: global + N(0, 1); ``scaled``: global - 10 x
    own update; ``sign_flip``: global - own update; ``free_rider``: the global model resubmitted;
    ``random``: freshly initialised weights."""
    rng = np.random.default_rng(seed)
    if attack == "label_flip":
        flipped = Dataset(data.x, (spec.dataset.num_classes - 1 - data.y).astype(np.int64))
        return train(spec, global_t, flipped, seed=seed).tensors
    if attack == "gaussian":
        return {n: (t + rng.standard_normal(t.shape)).astype(np.float32) for n, t in global_t.items()}
    if attack in ("scaled", "sign_flip"):
        honest = train(spec, global_t, data, seed=seed).tensors
        return _combine(global_t, honest, -10.0 if attack == "scaled" else -1.0)
    if attack == "free_rider":
        return {n: t.copy() for n, t in global_t.items()}
    return initial_tensors(spec, seed=int(rng.integers(2**62)))
