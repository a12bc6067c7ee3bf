"""The in-memory dataset type shared by loaders, the private split, partitioners and training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class DataError(ValueError):
    """Data that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Dataset:
    """Features ``x`` (float32, shape ``(n, *feature_shape)``) and integer labels ``y`` (int64, ``(n,)``)."""

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise DataError(f"{self.x.shape[0]} samples of features but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, indices: npt.NDArray[np.int64]) -> Dataset:
        return Dataset(self.x[indices], self.y[indices])
