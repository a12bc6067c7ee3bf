"""The built-in plugin: the classifier zoo (logistic regression, MLP, McMahan's 2NN and CNN) trained with
cross-entropy on feature vectors or images (``.npz``/CSV files, or a built-in offline dataset).

Its settings are the spec's ``dataset``, ``model`` and ``training``. The training loop, the metrics and the
initialisation are the ones every figure in docs/results.md was measured with: moving them behind the
plugin interface changed no number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from flalliance.fl.dataset import Dataset
from flalliance.fl.models import architecture, build_model, from_tensors, to_tensors
from flalliance.fl.plugin import Fetch, PluginError, Samples, Score, TrainResult
from flalliance.fl.spec import CLASSIFIER_PLUGIN, MetricSpec, TrainingLogicSpec
from flalliance.fl.weights import Architecture, TensorMap, Tensors

_LOSS = MetricSpec(name="cross_entropy", direction="minimize")


def _dataset(data: Samples) -> Dataset:
    if not isinstance(data, Dataset):
        raise PluginError(
            f"the {CLASSIFIER_PLUGIN} plugin needs feature/label samples, got {type(data).__name__}"
        )
    return data


def _optimizer(spec: TrainingLogicSpec, model: nn.Module) -> torch.optim.Optimizer:
    o = spec.classifier()[2].optimizer
    if o.kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=o.learning_rate, weight_decay=o.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=o.learning_rate, momentum=o.momentum, weight_decay=o.weight_decay
    )


def label_prior_log(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """``log π_c`` of the local label mix (add-one smoothed), added to the logits in training by the
    ``balanced_cross_entropy`` loss (logit adjustment, Menon et al. ICLR 2021; balanced softmax, Ren et al.
    NeurIPS 2020; FedLC, Zhang et al. ICML 2022 for label-skewed federations). The model then learns
    p(y | x) up to the local prior instead of the prior itself: a participant holding mostly three classes
    no longer pushes the other classes' logits down everywhere, which is what made an honest skewed update
    damage the data of voters holding other classes (docs/fl.md). Prediction uses the plain logits."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)[:num_classes]
    prior = (counts + 1.0) / (counts.sum() + num_classes)
    return torch.from_numpy(np.log(prior).astype(np.float32))


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


class ClassifierPlugin:
    name = CLASSIFIER_PLUGIN
    version = "1"

    def check(self, spec: TrainingLogicSpec) -> None:
        spec.classifier()  # the spec's own validation already requires the three settings

    def prepare(
        self, spec: TrainingLogicSpec, fetch: Fetch | None, data_dir: Path | None, work_dir: Path
    ) -> None:
        """Nothing beyond the exchanged tensors: the model is built from the spec."""

    def architecture(self, spec: TrainingLogicSpec) -> Architecture:
        return architecture(spec)

    def initial_tensors(self, spec: TrainingLogicSpec, seed: int) -> Tensors:
        dataset, model_spec, _ = spec.classifier()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(model_spec, dataset)
        return to_tensors(model)

    def load_data(self, spec: TrainingLogicSpec, directory: Path) -> Samples:
        from flalliance.fl.data_files import load_directory

        return load_directory(directory, spec.classifier()[0])

    def join(self, parts: Sequence[Samples]) -> Samples:
        sets = [_dataset(p) for p in parts]
        return Dataset(np.concatenate([d.x for d in sets]), np.concatenate([d.y for d in sets]))

    def train(self, spec: TrainingLogicSpec, start: TensorMap, data: Samples, *, seed: int) -> TrainResult:
        """``training.epochs`` epochs of mini-batch training from ``start`` on ``data``."""
        d = _dataset(data)
        dataset, _, training = spec.classifier()
        model = from_tensors(spec, start)
        model.train()
        optimizer = _optimizer(spec, model)
        loss_fn = nn.CrossEntropyLoss()
        adjust = (
            label_prior_log(d.y, dataset.num_classes) if training.loss == "balanced_cross_entropy" else None
        )
        x = torch.from_numpy(np.ascontiguousarray(d.x))
        y = torch.from_numpy(np.ascontiguousarray(d.y))
        generator = torch.Generator().manual_seed(seed)
        n, batch = len(d), training.batch_size
        last = float("nan")
        for _ in range(training.epochs):
            order = torch.randperm(n, generator=generator)
            for start_at in range(0, n, batch):
                idx = order[start_at : start_at + batch]
                optimizer.zero_grad(set_to_none=True)
                logits = model(x[idx])
                loss = loss_fn(logits if adjust is None else logits + adjust, y[idx])
                loss.backward()
                optimizer.step()
                last = float(loss.detach())
        return TrainResult(to_tensors(model), n, last)

    def evaluate(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        d = _dataset(data)
        return metric_value(spec.metric, predict_logits(spec, tensors, d), d.y)

    def loss(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        d = _dataset(data)
        return metric_value(_LOSS, predict_logits(spec, tensors, d), d.y)

    def score(self, spec: TrainingLogicSpec, tensors: TensorMap, test: Samples, judge: Samples) -> Score:
        t, j = _dataset(test), _dataset(judge)
        if j is t:
            logits = predict_logits(spec, tensors, t)
            return Score(metric_value(spec.metric, logits, t.y), metric_value(_LOSS, logits, t.y))
        # the judge set starts with the test split (validation builds it so): one forward pass serves both
        logits = predict_logits(spec, tensors, j)
        return Score(metric_value(spec.metric, logits[: len(t)], t.y), metric_value(_LOSS, logits, j.y))

    def poison(self, spec: TrainingLogicSpec, data: Samples, seed: int) -> Samples:
        d = _dataset(data)
        return Dataset(d.x, (spec.classifier()[0].num_classes - 1 - d.y).astype(np.int64))


PLUGIN = ClassifierPlugin()
