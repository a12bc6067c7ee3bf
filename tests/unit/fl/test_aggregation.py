from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from flalliance.fl.aggregation import (
    AggregationError,
    Proposal,
    aggregate,
    fedavg,
    median,
    multi_krum,
    multi_krum_select,
    trimmed_mean,
)
from flalliance.fl.spec import FedAvgSpec, MedianSpec, MultiKrumSpec, TrimmedMeanSpec
from flalliance.fl.weights import encode

pytestmark = pytest.mark.unit


def _p(values: list[float], n: int = 1, tag: str = "") -> Proposal:
    w = np.asarray(values, dtype=np.float32)
    b = np.asarray([sum(values)], dtype=np.float32)
    tensors = {"w": w, "b": b}
    return Proposal(hashlib.sha256(encode(tensors) + tag.encode()).digest(), tensors, n)


def test_fedavg_weights_by_sample_count() -> None:
    out = fedavg([_p([0.0, 0.0], 1), _p([4.0, 8.0], 3)])
    np.testing.assert_array_equal(out["w"], np.asarray([3.0, 6.0], dtype=np.float32))
    plain = fedavg([_p([0.0, 0.0], 1), _p([4.0, 8.0], 3)], weighted=False)
    np.testing.assert_array_equal(plain["w"], np.asarray([2.0, 4.0], dtype=np.float32))
    assert out["w"].dtype == np.float32


def test_median_odd_and_even() -> None:
    odd = median([_p([1.0, 10.0]), _p([2.0, -5.0]), _p([100.0, 0.0])])
    np.testing.assert_array_equal(odd["w"], [2.0, 0.0])
    even = median([_p([1.0]), _p([2.0]), _p([3.0]), _p([1000.0])])
    np.testing.assert_array_equal(even["w"], [2.5])


def test_trimmed_mean_drops_extremes() -> None:
    props = [_p([v]) for v in (1.0, 2.0, 3.0, 4.0, 1000.0)]
    np.testing.assert_allclose(trimmed_mean(props, beta=0.2)["w"], [3.0])
    np.testing.assert_allclose(trimmed_mean(props, beta=0.0)["w"], [202.0])
    with pytest.raises(AggregationError):
        trimmed_mean(props, beta=0.5)


def test_multi_krum_excludes_the_outlier() -> None:
    honest = [_p([1.0 + 0.01 * i, 1.0 - 0.01 * i]) for i in range(5)]
    attacker = _p([50.0, -50.0])
    chosen = multi_krum_select([*honest, attacker], byzantine=1, select=4)
    assert attacker.hash not in {p.hash for p in chosen}
    out = multi_krum([*honest, attacker], byzantine=1)
    assert np.all(np.abs(out["w"] - 1.0) < 0.1)
    with pytest.raises(AggregationError, match="n > f \\+ 2"):
        multi_krum(honest[:3], byzantine=1)


def test_dispatch_and_krum_fallback() -> None:
    props = [_p([float(i)]) for i in range(3)]
    np.testing.assert_array_equal(aggregate(MultiKrumSpec(byzantine=1), props)["w"], [1.0])  # median fallback
    np.testing.assert_array_equal(aggregate(MedianSpec(), props)["w"], [1.0])
    np.testing.assert_array_equal(aggregate(FedAvgSpec(weighted=False), props)["w"], [1.0])
    np.testing.assert_array_equal(aggregate(TrimmedMeanSpec(beta=0.34), props)["w"], [1.0])


@pytest.mark.parametrize(
    "rule",
    [
        FedAvgSpec(),
        FedAvgSpec(weighted=False),
        MedianSpec(),
        TrimmedMeanSpec(beta=0.2),
        MultiKrumSpec(byzantine=1),
    ],
)
def test_order_independent_bytes(rule: object) -> None:
    rng = np.random.default_rng(0)
    props = [
        Proposal(
            bytes([i]) * 32, {"a": rng.standard_normal(50).astype(np.float32)}, int(rng.integers(1, 100))
        )
        for i in range(6)
    ]
    outputs = {encode(aggregate(rule, list(order))) for order in itertools.permutations(props, 6)}  # type: ignore[arg-type]
    assert len(outputs) == 1


def test_duplicates_count_once_and_mismatches_are_errors() -> None:
    a, b = _p([0.0]), _p([2.0])
    np.testing.assert_array_equal(fedavg([a, a, a, b], weighted=False)["w"], [1.0])
    with pytest.raises(AggregationError, match="no proposals"):
        fedavg([])
    odd = Proposal(b"\xff" * 32, {"w": np.zeros(3, dtype=np.float32), "b": np.zeros(1, dtype=np.float32)})
    with pytest.raises(AggregationError, match="different shape"):
        fedavg([a, odd])
    with pytest.raises(AggregationError, match="sample count"):
        fedavg([a, Proposal(b"\x01" * 32, a.tensors, 0)])
