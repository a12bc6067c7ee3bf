"""A participant's own data: a directory of ``.npz`` or CSV files with the schema the spec declares.

Every file is validated on load and any problem is a :class:`DataError` naming the file and the field
(missing array/column, wrong feature count, non-numeric or non-finite value, non-integer or out-of-range
label). Files are read in sorted name order so the loaded dataset is the same on every load.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from flalliance.fl.dataset import DataError, Dataset
from flalliance.fl.datasets import conform
from flalliance.fl.spec import CsvLayout, DatasetSpec, NpzLayout


def _labels(raw: np.ndarray, origin: str, field: str) -> np.ndarray:
    if raw.ndim != 1:
        raise DataError(f"{origin}: field {field!r} must be one label per sample, got shape {raw.shape}")
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64)
    if raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all():
        return raw.astype(np.int64)
    raise DataError(f"{origin}: field {field!r} must hold integer class labels, got {raw.dtype}")


def _features(raw: np.ndarray, origin: str, field: str) -> np.ndarray:
    if raw.dtype.kind not in "iuf":
        raise DataError(f"{origin}: field {field!r} must be numeric, got dtype {raw.dtype}")
    x = raw.astype(np.float32)
    if x.ndim < 1:
        raise DataError(f"{origin}: field {field!r} must have a sample axis")
    if not np.isfinite(x).all():
        raise DataError(f"{origin}: field {field!r} holds NaN or Inf")
    return x.reshape(x.shape[0], -1)


def _load_npz(path: Path, layout: NpzLayout) -> Dataset:
    try:
        # allow_pickle=False: an object array in a participant's file must never run code.
        with np.load(path, allow_pickle=False) as archive:
            for key in (layout.features_key, layout.labels_key):
                if key not in archive.files:
                    raise DataError(f"{path}: missing array {key!r} (has {sorted(archive.files)})")
            raw_x, raw_y = archive[layout.features_key], archive[layout.labels_key]
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file without pickled objects: {exc}") from None
    x = _features(raw_x, str(path), layout.features_key)
    y = _labels(raw_y, str(path), layout.labels_key)
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{path}: {x.shape[0]} samples in {layout.features_key!r}, {y.shape[0]} labels")
    return Dataset(x, y)


def _load_csv(path: Path, layout: CsvLayout) -> Dataset:
    with path.open(newline="") as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file, expected a header row")
        if layout.label_column not in header:
            raise DataError(f"{path}: no label column {layout.label_column!r} in the header")
        label_at = header.index(layout.label_column)
        rows_x: list[list[float]] = []
        labels: list[int] = []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(f"{path}:{line_no}: {len(row)} fields, header has {len(header)}")
            try:
                label = float(row[label_at])
            except ValueError:
                raise DataError(f"{path}:{line_no}: label {row[label_at]!r} is not a number") from None
            if label != int(label):
                raise DataError(f"{path}:{line_no}: label {row[label_at]!r} is not an integer class")
            features: list[float] = []
            for col, value in enumerate(row):
                if col == label_at:
                    continue
                try:
                    features.append(float(value))
                except ValueError:
                    raise DataError(
                        f"{path}:{line_no}: column {header[col]!r}: {value!r} is not a number"
                    ) from None
            labels.append(int(label))
            rows_x.append(features)
    x = np.asarray(rows_x, dtype=np.float32).reshape(len(rows_x), len(header) - 1)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: features hold NaN or Inf")
    return Dataset(x, np.asarray(labels, dtype=np.int64))


def load_directory(directory: Path, spec: DatasetSpec) -> Dataset:
    """All ``*.npz`` (or ``*.csv``) files of ``directory``, validated against ``spec`` and concatenated."""
    layout = spec.layout
    suffix = ".npz" if isinstance(layout, NpzLayout) else ".csv"
    if not directory.is_dir():
        raise DataError(f"{directory}: dataset directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix == suffix and p.is_file())
    if not files:
        raise DataError(f"{directory}: no {suffix} files (dataset.layout.format is {layout.format!r})")
    parts = []
    for path in files:
        raw = _load_npz(path, layout) if isinstance(layout, NpzLayout) else _load_csv(path, layout)
        parts.append(conform(raw, spec, str(path)))
    data = Dataset(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))
    if len(data) == 0:
        raise DataError(f"{directory}: the files hold no samples")
    return data
