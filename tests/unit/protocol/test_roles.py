"""The role permutation: a bijection, inverse of unpermute, stable, proposer counts as specified, and epochs
in which every participant proposes at least once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flalliance.protocol import roles

pytestmark = pytest.mark.unit


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), n=st.integers(1, 300))
def test_permute_is_a_bijection_and_unpermute_inverts_it(seed: int, n: int) -> None:
    positions = [roles.permute(seed, i, n) for i in range(n)]
    assert sorted(positions) == list(range(n))
    assert [roles.unpermute(seed, p, n) for p in positions] == list(range(n))


def test_known_vector_is_stable() -> None:
    """Pinned output: changing the construction must be a deliberate change of contract and mirror."""
    assert [roles.permute(12345, i, 10) for i in range(10)] == [2, 3, 4, 7, 9, 0, 6, 5, 1, 8]
    assert [roles.permute(2**64 - 1, i, 7) for i in range(7)] == [5, 6, 1, 4, 3, 2, 0]
    assert roles.pioneer_index(2**64 - 1, 7, 2, 0) == 6
    # 7 participants, 2 proposers: epochs of 4 rounds; round 1's window starts at position 2 (index 5)
    assert roles.pioneer_index(2**64 - 1, 7, 2, 1) == 5
    assert [roles.slot(2**64 - 1, i, 7, 2, 1) for i in range(7)] == [3, 4, 6, 2, 1, 0, 5]
    # round 3's window wraps: positions 6 and 0, so index 6 (position 0) proposes again (it did in round 0)
    assert [i for i in range(7) if roles.is_proposer(2**64 - 1, i, 7, 2, 3)] == [1, 6]
    assert [i for i in range(7) if roles.is_proposer(2**64 - 1, i, 7, 2, 0)] == [2, 6]


def test_seeds_spread_the_proposer_role() -> None:
    n, proposers = 20, roles.num_proposers(20, 3_000)
    counts = [0] * n
    for seed in range(400):
        for i in range(n):
            counts[i] += roles.is_proposer(seed, i, n, proposers, 0)
    # each participant should be a proposer in ~30% of 400 rounds; allow a wide band
    assert all(80 <= c <= 160 for c in counts), counts


@pytest.mark.parametrize(
    ("n", "bps", "expected"),
    [(2, 3_000, 1), (10, 3_000, 3), (100, 3_000, 30), (4, 9_999, 3), (3, 1, 1), (1_000, 5_000, 256)],
)
def test_num_proposers(n: int, bps: int, expected: int) -> None:
    assert roles.num_proposers(n, bps) == expected


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1), n=st.integers(2, 120), bps=st.integers(1, 9_999), epoch=st.integers(0, 5)
)
def test_every_participant_proposes_at_least_once_per_epoch(seed: int, n: int, bps: int, epoch: int) -> None:
    p = roles.num_proposers(n, bps)
    e = roles.epoch_length(n, p)
    assert (e - 1) * p < n <= e * p
    rounds = range(epoch * e, (epoch + 1) * e)
    assert [roles.epoch_start(r, n, p) for r in rounds] == [True] + [False] * (e - 1)
    turns = [0] * n
    for r in rounds:
        proposers = [i for i in range(n) if roles.is_proposer(seed, i, n, p, r)]
        assert len(proposers) == p  # exactly P proposers every round
        for i in proposers:
            turns[i] += 1
        slots = [roles.slot(seed, i, n, p, r) for i in range(n)]
        assert sorted(slots) == list(range(n))  # a rotation of the epoch's permutation
        pioneer = roles.pioneer_index(seed, n, p, r)
        assert slots[pioneer] == 0 and roles.is_proposer(seed, pioneer, n, p, r)
        assert roles.permute(seed, pioneer, n) == roles.window_start(r, n, p)
    assert min(turns) >= 1 and max(turns) <= 2
    assert sum(t == 2 for t in turns) == e * p - n  # the wrapped window's second turns


def _brute_max_epoch(lo: int, hi: int, bps: int, cap: int = roles.MAX_PROPOSERS) -> int:
    return max(roles.epoch_length(n, roles.num_proposers(n, bps, cap)) for n in range(lo, hi + 1))


@settings(max_examples=300, deadline=None)
@given(lo=st.integers(2, 700), span=st.integers(0, 700), bps=st.integers(1, 9_999))
def test_max_epoch_length_is_the_exact_maximum(lo: int, span: int, bps: int) -> None:
    assert roles.max_epoch_length(lo, lo + span, bps) == _brute_max_epoch(lo, lo + span, bps)


@settings(max_examples=300, deadline=None)
@given(lo=st.integers(2, 700), span=st.integers(0, 700), bps=st.integers(1, 9_999), cap=st.integers(1, 256))
def test_max_epoch_length_is_the_exact_maximum_under_a_committee_cap(
    lo: int, span: int, bps: int, cap: int
) -> None:
    assert roles.max_epoch_length(lo, lo + span, bps, cap) == _brute_max_epoch(lo, lo + span, bps, cap)


@pytest.mark.parametrize(
    ("n", "bps", "cap", "expected"),
    [(1_000, 3_000, 16, 16), (10, 3_000, 16, 3), (10_000, 1, 16, 1), (5, 9_999, 2, 2)],
)
def test_num_proposers_under_a_committee_cap(n: int, bps: int, cap: int, expected: int) -> None:
    assert roles.num_proposers(n, bps, cap) == expected


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    n=st.integers(2, 400),
    bps=st.integers(1, 9_999),
    max_p=st.integers(1, 256),
    max_v=st.integers(1, 500),
    round=st.integers(0, 50),
)
def test_committees_hold_exactly_p_proposers_and_v_voters_and_the_rest_no_role(
    seed: int, n: int, bps: int, max_p: int, max_v: int, round: int
) -> None:
    """A round's committee: P proposers, min(V, n - P) voters, disjoint, the others without a role; the
    voters are the slots right after the proposer window (next round's proposers first)."""
    p = roles.num_proposers(n, bps, max_p)
    v = roles.num_voters(n, p, max_v)
    assert p <= max_p and v == min(max_v, n - p) and v >= 1
    proposers = {i for i in range(n) if roles.is_proposer(seed, i, n, p, round)}
    voters = {i for i in range(n) if roles.is_voter(seed, i, n, p, v, round)}
    assert len(proposers) == p and len(voters) == v and not proposers & voters
    for i in voters:
        assert p <= roles.slot(seed, i, n, p, round) < p + v


def test_num_voters_bounds() -> None:
    assert roles.num_voters(1_000, 16, 32) == 32
    assert roles.num_voters(10, 3, 32) == 7
    with pytest.raises(ValueError, match="max_voters"):
        roles.num_voters(10, 3, 0)
    with pytest.raises(ValueError, match="max_proposers"):
        roles.num_proposers(10, 3_000, 257)


@pytest.mark.parametrize(
    ("lo", "hi", "bps", "expected"),
    [
        (2, 100, 3_000, 6),  # n = 6: one proposer (floor(1.8) = 1), six rounds
        (3, 100, 5_000, 3),  # the FLTask CRD's defaults
        (3, 6, 4_000, 4),  # the contract tests' fast_params: n = 4, one proposer
        (10, 10, 3_000, 4),
        (100, 100, 3_000, 4),
        (2, 65_535, 1, 19_999),  # one proposer up to n = 19,999 (floor(n / 10^4) <= 1)
        (2, 65_535, 9_999, 256),  # the 256-proposer cap: ceil(65,535 / 256)
        (2, 2, 5_000, 2),
    ],
)
def test_max_epoch_length_examples(lo: int, hi: int, bps: int, expected: int) -> None:
    assert roles.max_epoch_length(lo, hi, bps) == expected
    if hi - lo < 5_000:
        assert _brute_max_epoch(lo, hi, bps) == expected


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="index"):
        roles.permute(1, 5, 5)
    with pytest.raises(ValueError, match="at least 2"):
        roles.num_proposers(1, 5_000)
    with pytest.raises(ValueError, match="proposers"):
        roles.epoch_length(5, 5)
    with pytest.raises(ValueError, match="min_n"):
        roles.max_epoch_length(5, 4, 3_000)
