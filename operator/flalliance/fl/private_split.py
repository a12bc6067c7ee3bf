"""Each participant's private train/test split.

Random but deterministic from the participant's *own secret seed* and the task (hash of both), so it is the
same in every round, after a restart and in any pod, without ever being written anywhere: it is recomputed
from the secret on each run. Peers cannot reconstruct it (they lack the secret) and the participant cannot
re-draw it per round to game validation (the task is fixed).

The permutation sorts samples by ``sha256(seed ‖ index)`` rather than using a numpy RNG stream, so it does not
change with a numpy upgrade either. The test set takes ``ceil(test_fraction · n)`` samples, at least one, and
leaves at least one for training.
"""

from __future__ import annotations

import hashlib
import math
from typing import TypeVar, cast

import numpy as np
import numpy.typing as npt

from flalliance.fl.dataset import DataError
from flalliance.fl.plugin import Samples

S = TypeVar("S", bound=Samples)

_DOMAIN = b"flalliance/private-split/v1"


def split_seed(secret: bytes, task: bytes) -> bytes:
    """32 bytes binding the split to this participant's secret and this task (e.g. the task address)."""
    if len(secret) < 16:
        raise DataError("private split: the participant secret must be at least 16 bytes")
    h = hashlib.sha256()
    for part in (_DOMAIN, secret, task):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def split_permutation(n: int, seed: bytes) -> npt.NDArray[np.int64]:
    keys = [hashlib.sha256(seed + i.to_bytes(8, "big")).digest()[:16] for i in range(n)]
    return np.asarray(sorted(range(n), key=keys.__getitem__), dtype=np.int64)


def private_split(data: S, *, secret: bytes, task: bytes, test_fraction: float) -> tuple[S, S]:
    """(train, test) of the participant's data (any plugin's samples)."""
    n = len(data)
    if n < 2:
        raise DataError(f"private split: need at least 2 samples, got {n}")
    if not 0 < test_fraction < 1:
        raise DataError(f"private split: test_fraction must be in (0, 1), got {test_fraction}")
    order = split_permutation(n, split_seed(secret, task))
    n_test = min(max(1, math.ceil(test_fraction * n)), n - 1)
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    return cast(S, data.subset(train_idx)), cast(S, data.subset(test_idx))
