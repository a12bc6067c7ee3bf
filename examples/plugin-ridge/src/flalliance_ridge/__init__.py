"""An example training plugin: ridge regression trained by gradient descent, in plain numpy.

It lives outside the flalliance package, as a user's plugin would: its own distribution registers
``PLUGIN`` under the ``flalliance.plugins`` entry-point group (pyproject.toml), an image ``FROM`` the
worker image installs it (Dockerfile), and a training logic selects it with ``runtime.plugin: ridge``
and pins that image by digest. Its settings are the spec's ``config``:

    {"features": 10, "target_column": "target", "steps": 50, "learning_rate": 0.1, "l2": 0.001}

Data: each participant's ``*.csv`` files, a header row, one numeric target column, every other column a
feature. The metric is the mean squared error (``metric: {name: mse, direction: minimize}``); the loss the
voters' checks compare is the same MSE. Nothing here imports torch: a plugin uses whatever it needs.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flalliance.fl.dataset import DataError
from flalliance.fl.plugin import Fetch, PluginError, Samples, Score, TrainResult
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.weights import Architecture, TensorMap, Tensors, TensorSpec

__version__ = "0.1.0"


class RidgeConfig(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    features: int = Field(ge=1, le=100_000)
    target_column: str = "target"
    steps: int = Field(default=50, ge=1, le=100_000)
    learning_rate: float = Field(default=0.1, gt=0, le=10)
    l2: float = Field(default=1e-3, ge=0)


@dataclass(frozen=True)
class Table:
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, indices: npt.NDArray[np.int64]) -> Table:
        return Table(self.x[indices], self.y[indices])


def _config(spec: TrainingLogicSpec) -> RidgeConfig:
    try:
        return RidgeConfig.model_validate(spec.config or {})
    except ValidationError as exc:
        problems = "; ".join(f"config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PluginError(f"invalid ridge settings: {problems}") from None


def _table(data: Samples) -> Table:
    if not isinstance(data, Table):
        raise PluginError(f"the ridge plugin needs tables, got {type(data).__name__}")
    return data


def _predict(tensors: TensorMap, t: Table) -> npt.NDArray[np.float64]:
    return t.x @ tensors["weight"].astype(np.float64) + float(tensors["bias"][0])


def _mse(tensors: TensorMap, t: Table) -> float:
    return float(np.mean((_predict(tensors, t) - t.y) ** 2))


class RidgePlugin:
    name = "ridge"
    version = __version__

    def check(self, spec: TrainingLogicSpec) -> None:
        _config(spec)
        if spec.metric.name != "mse" or spec.metric.direction != "minimize":
            raise PluginError("metric: the ridge plugin reports mse, minimized")

    def prepare(
        self, spec: TrainingLogicSpec, fetch: Fetch | None, data_dir: Path | None, work_dir: Path
    ) -> None:
        """Nothing to fetch: the model is two tensors."""

    def architecture(self, spec: TrainingLogicSpec) -> Architecture:
        return {"bias": TensorSpec((1,), "F32"), "weight": TensorSpec((_config(spec).features,), "F32")}

    def initial_tensors(self, spec: TrainingLogicSpec, seed: int) -> Tensors:
        return {n: np.zeros(t.shape, dtype=np.float32) for n, t in self.architecture(spec).items()}

    def load_data(self, spec: TrainingLogicSpec, directory: Path) -> Samples:
        cfg = _config(spec)
        files = sorted(directory.glob("*.csv")) if directory.is_dir() else []
        if not files:
            raise DataError(f"{directory}: no .csv files")
        xs: list[list[float]] = []
        ys: list[float] = []
        for path in files:
            with path.open(newline="") as fh:
                rows = csv.reader(fh)
                header = next(rows, None) or []
                if cfg.target_column not in header:
                    raise DataError(f"{path}: no target column {cfg.target_column!r} in the header")
                if len(header) - 1 != cfg.features:
                    raise DataError(
                        f"{path}: {len(header) - 1} feature columns, config.features is {cfg.features}"
                    )
                at = header.index(cfg.target_column)
                for line, row in enumerate(rows, start=2):
                    try:
                        values = [float(v) for v in row]
                    except ValueError:
                        raise DataError(f"{path}:{line}: a value is not a number") from None
                    if len(values) != len(header) or not np.isfinite(values).all():
                        raise DataError(f"{path}:{line}: expected {len(header)} finite numbers")
                    ys.append(values.pop(at))
                    xs.append(values)
        return Table(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))

    def join(self, parts: Sequence[Samples]) -> Samples:
        tables = [_table(p) for p in parts]
        return Table(np.concatenate([t.x for t in tables]), np.concatenate([t.y for t in tables]))

    def train(self, spec: TrainingLogicSpec, start: TensorMap, data: Samples, *, seed: int) -> TrainResult:
        cfg, t = _config(spec), _table(data)
        w, b = start["weight"].astype(np.float64).copy(), float(start["bias"][0])
        for _ in range(cfg.steps):  # full-batch gradient descent on MSE + l2 * |w|^2
            err = t.x @ w + b - t.y
            w -= cfg.learning_rate * (2 * t.x.T @ err / len(t) + 2 * cfg.l2 * w)
            b -= cfg.learning_rate * 2 * float(err.mean())
        out: Tensors = {"bias": np.asarray([b], dtype=np.float32), "weight": w.astype(np.float32)}
        return TrainResult(out, len(t), _mse(out, t))

    def evaluate(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        return _mse(tensors, _table(data))

    def loss(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        return _mse(tensors, _table(data))

    def score(self, spec: TrainingLogicSpec, tensors: TensorMap, test: Samples, judge: Samples) -> Score:
        return Score(_mse(tensors, _table(test)), _mse(tensors, _table(judge)))

    def poison(self, spec: TrainingLogicSpec, data: Samples, seed: int) -> Samples:
        t = _table(data)
        return Table(t.x, -t.y)  # learn the opposite relation


PLUGIN: Any = RidgePlugin()
