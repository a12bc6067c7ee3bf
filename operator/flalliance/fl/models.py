"""The model zoo: logistic regression, MLP, McMahan et al. 2017's 2NN and CNN, built from the spec.

Models take a batch of samples shaped ``(batch, *feature_shape)`` and return logits. Every parameter is
float32 and appears in ``state_dict`` under a stable name, which is the model's exchange architecture.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from flalliance.fl.spec import (
    DatasetSpec,
    LogRegSpec,
    McMahan2NNSpec,
    McMahanCNNSpec,
    MLPSpec,
    ModelSpec,
    TrainingLogicSpec,
)
from flalliance.fl.weights import Architecture, TensorMap, Tensors, TensorSpec


class _Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


def _image_shape(dataset: DatasetSpec) -> tuple[int, int, int]:
    """(channels, height, width) for the CNN: (H, W) gets one channel; a flat vector must be a square."""
    shape = dataset.feature_shape
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    side = math.isqrt(shape[0])
    if side * side != shape[0]:
        raise ValueError(f"model mcmahan_cnn: feature_shape {shape} is not an image (C,H,W), (H,W) or square")
    return 1, side, side


class _Reshape(nn.Module):
    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def build_model(model: ModelSpec, dataset: DatasetSpec) -> nn.Module:
    """An initialised (with torch's global RNG) model for the spec's dataset shape."""
    d_in, d_out = dataset.num_features, dataset.num_classes
    if isinstance(model, LogRegSpec):
        return nn.Sequential(_Flatten(), nn.Linear(d_in, d_out))
    if isinstance(model, MLPSpec):
        act: type[nn.Module] = nn.ReLU if model.activation == "relu" else nn.Tanh
        layers: list[nn.Module] = [_Flatten()]
        width = d_in
        for hidden in model.hidden:
            layers += [nn.Linear(width, hidden), act()]
            width = hidden
        layers.append(nn.Linear(width, d_out))
        return nn.Sequential(*layers)
    if isinstance(model, McMahan2NNSpec):
        h = model.hidden
        return nn.Sequential(
            _Flatten(), nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d_out)
        )
    if isinstance(model, McMahanCNNSpec):
        c, height, width = _image_shape(dataset)
        # "same" padding keeps the paper's 28x28 → 14 → 7 geometry (1,663,370 parameters on MNIST).
        h2, w2 = height // 2 // 2, width // 2 // 2
        if h2 < 1 or w2 < 1:
            raise ValueError(f"model mcmahan_cnn: images of {height}x{width} are too small for two 2x2 pools")
        return nn.Sequential(
            _Reshape((c, height, width)),
            nn.Conv2d(c, model.conv1, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(model.conv1, model.conv2, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            _Flatten(),
            nn.Linear(model.conv2 * h2 * w2, model.hidden),
            nn.ReLU(),
            nn.Linear(model.hidden, d_out),
        )
    raise TypeError(f"unknown model spec {model!r}")  # pragma: no cover - the union is closed


def architecture(spec: TrainingLogicSpec) -> dict[str, TensorSpec]:
    """Tensor names and shapes of the spec's model (built on the meta device: no memory, no RNG)."""
    dataset, model_spec, _ = spec.classifier()
    with torch.device("meta"):
        model = build_model(model_spec, dataset)
    return {name: TensorSpec(tuple(t.shape), "F32") for name, t in model.state_dict().items()}


def model_bytes(arch: Architecture) -> int:
    """Bytes of the tensor data (the safetensors file adds a small header)."""
    return sum(4 * math.prod(t.shape) for t in arch.values())


def to_tensors(model: nn.Module) -> Tensors:
    """A model's weights as float32 numpy arrays (copies, detached from the model)."""
    return {
        name: t.detach().cpu().numpy().astype(np.float32, copy=True) for name, t in model.state_dict().items()
    }


def from_tensors(spec: TrainingLogicSpec, tensors: TensorMap) -> nn.Module:
    """A model of the spec's architecture holding ``tensors`` (already checked by ``weights.decode``)."""
    dataset, model_spec, _ = spec.classifier()
    with torch.random.fork_rng(devices=[]):
        model = build_model(model_spec, dataset)
    model.load_state_dict({name: torch.from_numpy(np.array(a, copy=True)) for name, a in tensors.items()})
    return model
