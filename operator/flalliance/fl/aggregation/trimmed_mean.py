"""Coordinate-wise trimmed mean (Yin et al. 2018): drop the ``floor(beta·n)`` lowest and highest values of
each coordinate, average the rest (summed in ascending order, so the result is order-independent)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from flalliance.fl.aggregation.base import (
    AggregationError,
    Proposal,
    canonical_order,
    stack_sorted_columns,
    unflatten,
)
from flalliance.fl.weights import Tensors


def trimmed_mean(proposals: Sequence[Proposal], *, beta: float = 0.1) -> Tensors:
    if not 0 <= beta < 0.5:
        raise AggregationError(f"trimmed_mean: beta must be in [0, 0.5), got {beta}")
    ordered = canonical_order(proposals)
    columns = stack_sorted_columns(ordered)
    n = columns.shape[1]
    k = math.floor(beta * n)
    kept = n - 2 * k
    acc = columns[:, k].copy()
    for j in range(k + 1, n - k):
        acc += columns[:, j]
    return unflatten(acc / float(kept), ordered[0].tensors)
