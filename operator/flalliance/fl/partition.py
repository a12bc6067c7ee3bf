"""Partitioners for demos and benchmarks: split one dataset across N participants.

- IID: a shuffled equal split;
- Dirichlet(alpha) label skew (Hsu et al. 2019): each class is spread over participants by proportions drawn
  from Dir(alpha); redrawn until every participant has at least ``min_size`` samples;
- shards (McMahan et al. 2017): sort by label, cut into ``N · shards_per_client`` shards, deal them out.

All draws come from ``numpy.random.Generator(PCG64(seed))``; the seed and parameters are written next to the
data (``partition.json``) because with few participants the spread between seeds is large.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from flalliance.fl.dataset import DataError, Dataset

Indices = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PartitionRecord:
    """What was done, recorded beside the partitions."""

    scheme: str
    num_clients: int
    seed: int
    params: dict[str, float | int] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    attempts: int = 1


def iid(labels: npt.NDArray[np.int64], num_clients: int, seed: int) -> list[Indices]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels)).astype(np.int64)
    return [np.sort(part) for part in np.array_split(order, num_clients)]


def dirichlet(
    labels: npt.NDArray[np.int64],
    num_clients: int,
    alpha: float,
    seed: int,
    *,
    min_size: int = 10,
    max_attempts: int = 1000,
) -> tuple[list[Indices], int]:
    """Label-skewed partitions and the number of draws it took to give everyone ``min_size`` samples."""
    if alpha <= 0:
        raise DataError(f"dirichlet partition: alpha must be > 0, got {alpha}")
    if min_size * num_clients > len(labels):
        raise DataError(f"dirichlet partition: {len(labels)} samples cannot give {num_clients} x {min_size}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    for attempt in range(1, max_attempts + 1):
        buckets: list[list[int]] = [[] for _ in range(num_clients)]
        for c in classes:
            members = rng.permutation(np.flatnonzero(labels == c))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(np.int64)
            for client, chunk in enumerate(np.split(members, cuts)):
                buckets[client].extend(int(i) for i in chunk)
        if min(len(b) for b in buckets) >= min_size:
            return [np.sort(np.asarray(b, dtype=np.int64)) for b in buckets], attempt
    raise DataError(
        f"dirichlet partition: no draw gave every client {min_size} samples in {max_attempts} tries"
    )


def shards(
    labels: npt.NDArray[np.int64], num_clients: int, shards_per_client: int, seed: int
) -> list[Indices]:
    rng = np.random.default_rng(seed)
    total = num_clients * shards_per_client
    if total > len(labels):
        raise DataError(f"shard partition: {len(labels)} samples cannot make {total} shards")
    by_label = np.argsort(labels, kind="stable").astype(np.int64)
    pieces = np.array_split(by_label, total)
    dealt = rng.permutation(total)
    return [
        np.sort(
            np.concatenate([pieces[s] for s in dealt[i * shards_per_client : (i + 1) * shards_per_client]])
        )
        for i in range(num_clients)
    ]


def holdout(labels: npt.NDArray[np.int64], fraction: float, seed: int) -> tuple[Indices, Indices]:
    """(rest, held-out) with a stratified ``fraction`` per class held out: the benchmarks' global test set."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        held.extend(int(i) for i in members[: round(fraction * len(members))])
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def _write(path: Path, data: Dataset) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(fh, x=data.x, y=data.y)


def write_partitions(
    data: Dataset,
    parts: Sequence[Indices],
    out_dir: Path,
    record: PartitionRecord,
    *,
    global_test: Dataset | None = None,
) -> list[Path]:
    """One directory per participant (``client-000/data.npz`` …), ``global-test/data.npz`` when given, and
    ``partition.json`` with the seed, parameters and sizes. Returns the participant directories."""
    dirs = []
    for i, idx in enumerate(parts):
        d = out_dir / f"client-{i:03d}"
        _write(d / "data.npz", data.subset(idx))
        dirs.append(d)
    if global_test is not None:
        _write(out_dir / "global-test" / "data.npz", global_test)
    full = PartitionRecord(**{**asdict(record), "sizes": [len(p) for p in parts]})
    (out_dir / "partition.json").write_text(json.dumps(asdict(full), indent=2, sort_keys=True) + "\n")
    return dirs
