"""What every aggregation rule shares: the proposal type, canonical order and deterministic arithmetic.

Honest voters must produce byte-identical aggregates so that hash-counted votes agree. Hence:
- proposals are processed in canonical order (ascending content hash), never arrival order;
- arithmetic is float64 and element-wise (IEEE-exact per element, no BLAS, no reordering reductions except
  numpy's fixed pairwise sum for distances), and the result is rounded once to float32;
- the result is serialised by :func:`flalliance.fl.weights.encode`, itself deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flalliance.fl.weights import Tensors

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Proposal:
    """A checked proposal: content hash (32 bytes), tensors, and the sample count its proposer declared."""

    hash: bytes
    tensors: Mapping[str, npt.NDArray[np.float32]]
    num_samples: int = 1


class AggregationError(ValueError):
    """The rule cannot be applied to these proposals (none, mismatched names/shapes, too few for the rule)."""


def canonical_order(proposals: Sequence[Proposal]) -> list[Proposal]:
    """Proposals sorted by content hash; duplicates (same hash) are kept once."""
    if not proposals:
        raise AggregationError("no proposals to aggregate")
    unique: dict[bytes, Proposal] = {}
    for p in proposals:
        unique.setdefault(p.hash, p)
    ordered = [unique[h] for h in sorted(unique)]
    names = set(ordered[0].tensors)
    for p in ordered:
        if set(p.tensors) != names:
            raise AggregationError(f"proposal {p.hash.hex()[:12]} has different tensor names")
        for name in names:
            if p.tensors[name].shape != ordered[0].tensors[name].shape:
                raise AggregationError(f"proposal {p.hash.hex()[:12]}: tensor {name!r} has a different shape")
    return ordered


def flatten(tensors: Mapping[str, npt.NDArray[np.float32]]) -> F64:
    """All tensors (sorted by name) as one float64 vector."""
    return np.concatenate([np.asarray(tensors[n], dtype=np.float64).ravel() for n in sorted(tensors)])


def unflatten(vector: F64, like: Mapping[str, npt.NDArray[np.float32]]) -> Tensors:
    """Round the float64 vector once to float32 and cut it back into named tensors."""
    out: Tensors = {}
    offset = 0
    for name in sorted(like):
        shape = like[name].shape
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = vector[offset : offset + size].astype(np.float32).reshape(shape)
        offset += size
    return out


def stack_sorted_columns(proposals: Sequence[Proposal]) -> F64:
    """A (coordinates, proposals) float64 matrix with every row sorted: the input of the order statistics."""
    matrix = np.stack([flatten(p.tensors) for p in proposals], axis=1)
    matrix.sort(axis=1, kind="stable")
    return matrix


def sequential_sum(rows: Sequence[F64], weights: Sequence[float] | None = None) -> F64:
    """Σ w_i · row_i accumulated element-wise in the given order (exact IEEE ops, no reassociation)."""
    acc = np.zeros_like(rows[0])
    for i, row in enumerate(rows):
        if weights is None:
            acc += row
        else:
            acc += weights[i] * row
    return acc
