"""FedAvg (McMahan et al. 2017): the mean of proposals weighted by their declared sample counts.

``weighted=False`` is the plain mean FLock uses. One scaled update breaks either form, which is why
voters screen proposals first (see validation.py) and why robust rules exist beside it."""

from __future__ import annotations

from collections.abc import Sequence

from flalliance.fl.aggregation.base import (
    AggregationError,
    Proposal,
    canonical_order,
    flatten,
    sequential_sum,
    unflatten,
)
from flalliance.fl.weights import Tensors


def fedavg(proposals: Sequence[Proposal], *, weighted: bool = True) -> Tensors:
    ordered = canonical_order(proposals)
    if weighted and any(p.num_samples <= 0 for p in ordered):
        raise AggregationError("fedavg: every proposal needs a positive sample count")
    counts = [float(p.num_samples) if weighted else 1.0 for p in ordered]
    total = sum(counts)  # exact: integer-valued floats well below 2**53
    acc = sequential_sum([flatten(p.tensors) for p in ordered], counts)
    return unflatten(acc / total, ordered[0].tensors)
