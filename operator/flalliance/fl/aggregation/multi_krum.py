"""Multi-Krum (Blanchard et al. 2017): score each proposal by the summed squared distances to its
``n - f - 2`` nearest neighbours, keep the ``m`` lowest scores, and average those (unweighted).

Distances are float64 sums of element-wise squared differences over the same canonical order in every
process; ties in score are broken by content hash. Krum's guarantee needs n > 2f + 2."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flalliance.fl.aggregation.base import (
    F64,
    AggregationError,
    Proposal,
    canonical_order,
    flatten,
    sequential_sum,
    unflatten,
)
from flalliance.fl.weights import Tensors


def krum_scores(vectors: Sequence[F64], byzantine: int) -> list[float]:
    n = len(vectors)
    neighbours = n - byzantine - 2
    if neighbours < 1:
        raise AggregationError(f"multi_krum: needs n > f + 2 proposals, got n={n}, f={byzantine}")
    dist = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            diff = vectors[i] - vectors[j]
            dist[i, j] = dist[j, i] = float(np.add.reduce(diff * diff))
    scores = []
    for i in range(n):
        others = sorted(float(dist[i, j]) for j in range(n) if j != i)
        scores.append(float(sum(others[:neighbours])))
    return scores


def multi_krum_select(
    proposals: Sequence[Proposal], *, byzantine: int, select: int | None = None
) -> list[Proposal]:
    """The ``m`` proposals Multi-Krum keeps, in canonical order."""
    ordered = canonical_order(proposals)
    n = len(ordered)
    m = n - byzantine if select is None else select
    if not 1 <= m <= n:
        raise AggregationError(f"multi_krum: select must be in [1, {n}], got {m}")
    scores = krum_scores([flatten(p.tensors) for p in ordered], byzantine)
    ranked = sorted(range(n), key=lambda i: (scores[i], ordered[i].hash))
    keep = sorted(ranked[:m])
    return [ordered[i] for i in keep]


def multi_krum(proposals: Sequence[Proposal], *, byzantine: int, select: int | None = None) -> Tensors:
    chosen = multi_krum_select(proposals, byzantine=byzantine, select=select)
    acc = sequential_sum([flatten(p.tensors) for p in chosen])
    return unflatten(acc / float(len(chosen)), chosen[0].tensors)
