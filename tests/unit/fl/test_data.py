from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flalliance.fl.data_files import load_directory
from flalliance.fl.dataset import DataError, Dataset
from flalliance.fl.datasets import conform, load_builtin
from flalliance.fl.partition import PartitionRecord, dirichlet, holdout, iid, shards, write_partitions
from flalliance.fl.private_split import private_split, split_seed
from flalliance.fl.spec import CsvLayout, DatasetSpec, NpzLayout

pytestmark = pytest.mark.unit

SECRET = b"0123456789abcdef-participant-secret"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_builtin("digits").train


def test_builtin_tabular_and_digits(digits: Dataset) -> None:
    assert digits.x.shape == (1797, 64) and digits.x.dtype == np.float32
    assert digits.x.min() >= 0.0 and digits.x.max() <= 1.0
    wine = load_builtin("wine").train
    assert wine.x.shape == (178, 13) and set(np.unique(wine.y)) == {0, 1, 2}
    np.testing.assert_allclose(wine.x.mean(axis=0), 0.0, atol=1e-5)
    assert load_builtin("breast_cancer").train.x.shape == (569, 30)


def test_conform_reshapes_and_checks_labels(digits: Dataset) -> None:
    spec = DatasetSpec(source="digits", feature_shape=(1, 8, 8), num_classes=10)
    assert conform(digits, spec, "digits").x.shape == (1797, 1, 8, 8)
    with pytest.raises(DataError, match="needs 63"):
        conform(digits, DatasetSpec(source="digits", feature_shape=(63,), num_classes=10), "digits")
    with pytest.raises(DataError, match=r"labels must be in \[0, 5\)"):
        conform(digits, DatasetSpec(source="digits", feature_shape=(64,), num_classes=5), "digits")


def _npz(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def test_npz_directory(tmp_path: Path) -> None:
    spec = DatasetSpec(source="participant", feature_shape=(2, 2), num_classes=3, feature_scale=0.5)
    _npz(tmp_path / "b.npz", x=np.ones((3, 4)), y=np.array([0, 1, 2]))
    _npz(tmp_path / "a.npz", x=np.zeros((2, 2, 2)), y=np.array([2.0, 1.0]))
    data = load_directory(tmp_path, spec)
    assert data.x.shape == (5, 2, 2)
    assert data.y.tolist() == [2, 1, 0, 1, 2]  # sorted file order
    assert data.x[2:].max() == 0.5  # feature_scale applied


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.ones((2, 4))}, "missing array 'y'"),
        ({"x": np.ones((2, 4)), "y": np.array([0.5, 1.0])}, "integer class labels"),
        ({"x": np.ones((2, 4)), "y": np.array([0, 7])}, r"labels must be in \[0, 3\)"),
        ({"x": np.ones((2, 5)), "y": np.array([0, 1])}, "5 features"),
        ({"x": np.array([[np.nan] * 4, [1] * 4]), "y": np.array([0, 1])}, "NaN or Inf"),
        ({"x": np.ones((3, 4)), "y": np.array([0, 1])}, "3 samples"),
        ({"x": np.array(["a", "b"]), "y": np.array([0, 1])}, "must be numeric"),
    ],
)
def test_npz_errors_name_file_and_field(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    spec = DatasetSpec(source="participant", feature_shape=(4,), num_classes=3)
    _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_directory(tmp_path, spec)
    assert "bad.npz" in str(info.value)


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    spec = DatasetSpec(source="participant", feature_shape=(1,), num_classes=2)
    obj = np.empty(2, dtype=object)
    obj[:] = [1, 2]
    _npz(tmp_path / "evil.npz", x=obj, y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"evil\.npz"):
        load_directory(tmp_path, spec)


def test_csv_directory_and_errors(tmp_path: Path) -> None:
    spec = DatasetSpec(source="participant", feature_shape=(2,), num_classes=2, layout=CsvLayout())
    (tmp_path / "a.csv").write_text("f1,label,f2\n1.5,0,2\n3,1,4\n")
    data = load_directory(tmp_path, spec)
    assert data.x.tolist() == [[1.5, 2.0], [3.0, 4.0]] and data.y.tolist() == [0, 1]
    (tmp_path / "b.csv").write_text("f1,label,f2\n1,0,oops\n")
    with pytest.raises(DataError, match=r"b\.csv:2: column 'f2': 'oops' is not a number"):
        load_directory(tmp_path, spec)
    (tmp_path / "b.csv").write_text("f1,f2\n1,2\n")
    with pytest.raises(DataError, match="no label column 'label'"):
        load_directory(tmp_path, spec)
    (tmp_path / "b.csv").write_text("f1,label,f2\n1,0.5,2\n")
    with pytest.raises(DataError, match="not an integer class"):
        load_directory(tmp_path, spec)


def test_directory_errors(tmp_path: Path) -> None:
    spec = DatasetSpec(source="participant", feature_shape=(2,), num_classes=2, layout=NpzLayout())
    with pytest.raises(DataError, match="does not exist"):
        load_directory(tmp_path / "nope", spec)
    with pytest.raises(DataError, match=r"no \.npz files"):
        load_directory(tmp_path, spec)


def test_private_split_is_deterministic_disjoint_and_secret_bound(digits: Dataset) -> None:
    train, test = private_split(digits, secret=SECRET, task=b"task-1", test_fraction=0.2)
    again_train, again_test = private_split(digits, secret=SECRET, task=b"task-1", test_fraction=0.2)
    assert np.array_equal(test.x, again_test.x) and np.array_equal(train.y, again_train.y)
    assert len(test) == 360 and len(train) + len(test) == len(digits)
    tagged = Dataset(np.arange(len(digits), dtype=np.float32).reshape(-1, 1), digits.y)
    tag_train, tag_test = private_split(tagged, secret=SECRET, task=b"task-1", test_fraction=0.2)
    ids_train, ids_test = set(tag_train.x.ravel().tolist()), set(tag_test.x.ravel().tolist())
    assert not ids_train & ids_test and len(ids_train | ids_test) == len(digits)
    assert np.array_equal(digits.x[sorted(int(i) for i in ids_test)], test.x)
    _, other_task = private_split(digits, secret=SECRET, task=b"task-2", test_fraction=0.2)
    _, other_secret = private_split(digits, secret=SECRET + b"!", task=b"task-1", test_fraction=0.2)
    assert not np.array_equal(test.x, other_task.x)
    assert not np.array_equal(test.x, other_secret.x)
    with pytest.raises(DataError, match="at least 16 bytes"):
        split_seed(b"short", b"t")


def test_private_split_pinned_permutation() -> None:
    # The split must not change with library upgrades: it depends on sha256 only.
    data = Dataset(np.arange(10, dtype=np.float32).reshape(10, 1), np.zeros(10, dtype=np.int64))
    _, test = private_split(data, secret=SECRET, task=b"t", test_fraction=0.3)
    assert test.x.ravel().tolist() == sorted(test.x.ravel().tolist())
    assert len(test) == 3
    assert test.x.ravel().tolist() == _expected_pinned_test()


def _expected_pinned_test() -> list[float]:
    import hashlib

    seed = split_seed(SECRET, b"t")
    order = sorted(range(10), key=lambda i: hashlib.sha256(seed + i.to_bytes(8, "big")).digest()[:16])
    return sorted(float(i) for i in order[:3])


def test_partitions(digits: Dataset, tmp_path: Path) -> None:
    parts = iid(digits.y, 10, seed=1)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(digits)))
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1

    skewed, attempts = dirichlet(digits.y, 10, 0.1, seed=3, min_size=20)
    assert min(len(p) for p in skewed) >= 20 and attempts >= 1
    assert sorted(np.concatenate(skewed).tolist()) == list(range(len(digits)))
    again, _ = dirichlet(digits.y, 10, 0.1, seed=3, min_size=20)
    assert all(np.array_equal(a, b) for a, b in zip(skewed, again, strict=True))
    # label skew: most participants are dominated by a few classes
    dominant = [np.bincount(digits.y[p], minlength=10).max() / len(p) for p in skewed]
    assert np.median(dominant) > 0.4

    dealt = shards(digits.y, 10, 2, seed=0)
    assert all(len(np.unique(digits.y[p])) <= 4 for p in dealt)

    rest, held = holdout(digits.y, 0.2, seed=0)
    assert len(np.intersect1d(rest, held)) == 0 and abs(len(held) - 359) <= 10

    dirs = write_partitions(
        digits, dealt, tmp_path, PartitionRecord("shards", 10, 0, {"shards_per_client": 2}),
        global_test=digits.subset(held),
    )  # fmt: skip
    record = json.loads((tmp_path / "partition.json").read_text())
    assert record["seed"] == 0 and record["sizes"] == [len(p) for p in dealt]
    spec = DatasetSpec(source="participant", feature_shape=(64,), num_classes=10)
    assert len(load_directory(dirs[0], spec)) == len(dealt[0])
    assert len(load_directory(tmp_path / "global-test", spec)) == len(held)
