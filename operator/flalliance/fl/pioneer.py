"""The pioneer: the task's deterministic initial model.

Built by the task's plugin from ``spec.seeds.init`` (or an explicit seed), so it is the same bytes — hence
the same hash — in any process on any machine with the pinned libraries, and anyone can check the pioneer's
upload by recomputing it.
"""

from __future__ import annotations

from flalliance.fl.plugins import plugin_for
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.weights import Tensors, encode


def initial_tensors(spec: TrainingLogicSpec, seed: int | None = None) -> Tensors:
    return plugin_for(spec).initial_tensors(spec, spec.seeds.init if seed is None else seed)


def initial_model_bytes(spec: TrainingLogicSpec, seed: int | None = None) -> bytes:
    """The pioneer's safetensors file."""
    return encode(initial_tensors(spec, seed))
