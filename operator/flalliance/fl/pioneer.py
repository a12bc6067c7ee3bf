"""The pioneer: the task's deterministic initial model.

Built from the spec and ``spec.seeds.init`` (or an explicit seed) inside a forked RNG, so it is the same
bytes — hence the same hash — in any process on any machine with the pinned torch, and anyone can check the
pioneer's upload by recomputing it.
"""

from __future__ import annotations

import torch

from flalliance.fl.models import build_model, to_tensors
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.weights import Tensors, encode


def initial_tensors(spec: TrainingLogicSpec, seed: int | None = None) -> Tensors:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seeds.init if seed is None else seed)
        model = build_model(spec.model, spec.dataset)
    return to_tensors(model)


def initial_model_bytes(spec: TrainingLogicSpec, seed: int | None = None) -> bytes:
    """The pioneer's safetensors file."""
    return encode(initial_tensors(spec, seed))
