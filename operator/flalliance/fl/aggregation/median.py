"""Coordinate-wise median (Yin et al. 2018): robust to a minority of arbitrary proposals per coordinate.

For an even count the median is the midpoint of the two middle values, computed as (a + b) / 2 in float64."""

from __future__ import annotations

from collections.abc import Sequence

from flalliance.fl.aggregation.base import Proposal, canonical_order, stack_sorted_columns, unflatten
from flalliance.fl.weights import Tensors


def median(proposals: Sequence[Proposal]) -> Tensors:
    ordered = canonical_order(proposals)
    columns = stack_sorted_columns(ordered)
    n = columns.shape[1]
    middle = columns[:, n // 2]
    result = middle.copy() if n % 2 else (columns[:, n // 2 - 1] + middle) / 2.0
    return unflatten(result, ordered[0].tensors)
