"""Local training and evaluation with the spec's optimiser, loss and metric.

Deterministic for a given seed on one machine (data order and initialisation come from explicit torch
generators). Training results are *not* required to be bit-identical across machines — only aggregation is,
because only aggregate hashes are compared between voters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from flalliance.fl.dataset import Dataset
from flalliance.fl.models import from_tensors, to_tensors
from flalliance.fl.spec import MetricSpec, TrainingLogicSpec
from flalliance.fl.weights import TensorMap, Tensors


@dataclass(frozen=True)
class TrainResult:
    tensors: Tensors
    num_samples: int
    final_loss: float


def _optimizer(spec: TrainingLogicSpec, model: nn.Module) -> torch.optim.Optimizer:
    o = spec.training.optimizer
    if o.kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=o.learning_rate, weight_decay=o.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=o.learning_rate, momentum=o.momentum, weight_decay=o.weight_decay
    )


def train(
    spec: TrainingLogicSpec, start: TensorMap, data: Dataset, *, seed: int | None = None
) -> TrainResult:
    """``spec.training.epochs`` epochs of mini-batch training from ``start`` on ``data``."""
    model = from_tensors(spec, start)
    model.train()
    optimizer = _optimizer(spec, model)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    y = torch.from_numpy(np.ascontiguousarray(data.y))
    generator = torch.Generator().manual_seed(spec.seeds.train if seed is None else seed)
    n, batch = len(data), spec.training.batch_size
    last = float("nan")
    for _ in range(spec.training.epochs):
        order = torch.randperm(n, generator=generator)
        for start_at in range(0, n, batch):
            idx = order[start_at : start_at + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            last = float(loss.detach())
    return TrainResult(to_tensors(model), n, last)


def predict_logits(
    spec: TrainingLogicSpec, tensors: TensorMap, data: Dataset, *, batch: int = 2048
) -> torch.Tensor:
    model = from_tensors(spec, tensors)
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch]) for i in range(0, len(data), batch)])


def metric_value(metric: MetricSpec, logits: torch.Tensor, labels: np.ndarray) -> float:
    """The spec's metric from logits; higher is better for accuracies, lower for cross-entropy."""
    y = torch.from_numpy(np.ascontiguousarray(labels))
    if metric.name == "cross_entropy":
        return float(nn.functional.cross_entropy(logits, y))
    pred = logits.argmax(dim=1)
    if metric.name == "accuracy":
        return float((pred == y).double().mean())
    recalls = [float((pred[y == c] == c).double().mean()) for c in torch.unique(y).tolist()]
    return float(np.mean(recalls))


def evaluate(spec: TrainingLogicSpec, tensors: TensorMap, data: Dataset) -> float:
    return metric_value(spec.metric, predict_logits(spec, tensors, data), data.y)
