"""Aggregation rules, one per module (after Flower's ``strategy/`` folder), over plain float arrays.

:func:`aggregate` dispatches on the spec's rule. All rules are deterministic: same proposals (in any order)
→ byte-identical float32 output → same safetensors bytes → same hash on every honest voter.
"""

from __future__ import annotations

from collections.abc import Sequence

from flalliance.fl.aggregation.base import AggregationError, Proposal, canonical_order
from flalliance.fl.aggregation.fedavg import fedavg
from flalliance.fl.aggregation.median import median
from flalliance.fl.aggregation.multi_krum import multi_krum, multi_krum_select
from flalliance.fl.aggregation.trimmed_mean import trimmed_mean
from flalliance.fl.spec import AggregationSpec, FedAvgSpec, MedianSpec, MultiKrumSpec, TrimmedMeanSpec
from flalliance.fl.weights import Tensors

__all__ = [
    "AggregationError",
    "Proposal",
    "aggregate",
    "canonical_order",
    "fedavg",
    "median",
    "multi_krum",
    "multi_krum_select",
    "trimmed_mean",
]


def aggregate(rule: AggregationSpec, proposals: Sequence[Proposal]) -> Tensors:
    """Apply the spec's aggregation rule. Multi-Krum with fewer proposals than it needs (n ≤ f + 2) falls
    back to the coordinate-wise median, so a round with few accepted proposals still aggregates."""
    if isinstance(rule, FedAvgSpec):
        return fedavg(proposals, weighted=rule.weighted)
    if isinstance(rule, MedianSpec):
        return median(proposals)
    if isinstance(rule, TrimmedMeanSpec):
        return trimmed_mean(proposals, beta=rule.beta)
    if isinstance(rule, MultiKrumSpec):
        n = len(canonical_order(proposals))
        if n <= rule.byzantine + 2:
            return median(proposals)
        select = None if rule.select is None else min(rule.select, n)
        return multi_krum(proposals, byzantine=rule.byzantine, select=select)
    raise TypeError(f"unknown aggregation rule {rule!r}")  # pragma: no cover - the union is closed
