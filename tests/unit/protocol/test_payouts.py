"""Reward and slash arithmetic, the per-participant outcome rule, decided proposals and vesting."""

from __future__ import annotations

import pytest

from flalliance.protocol.payouts import (
    Contribution,
    Outcome,
    contribution,
    outcome,
    reward_per_weight,
    round_reward,
    slash,
    vest,
    weight,
)

pytestmark = pytest.mark.unit


def test_round_reward_spreads_the_pool_over_rounds_left() -> None:
    assert round_reward(1_000, 4, 0) == 250
    assert round_reward(1_000, 4, 3) == 1_000  # last round takes everything left
    with pytest.raises(ValueError, match="past the last round"):
        round_reward(1_000, 4, 4)


def test_reward_per_weight_rounds_down_and_never_overpays() -> None:
    rpw = reward_per_weight(1_000, 3, 0, 7)
    assert rpw == 333 // 7 == 47 and rpw * 7 <= 333
    assert reward_per_weight(1_000, 3, 0, 0) == 0


def test_slash_split_90_10() -> None:
    assert slash(100 * 10**18, 1_000) == (10 * 10**18, 9 * 10**18, 10**18)
    assert slash(99, 1_000) == (9, 9, 0)  # the fee rounds down, the pool keeps the rest
    assert slash(5, 0) == (0, 0, 0)


def test_weight_units() -> None:
    assert weight(10**18 + 10**12 - 1, 10**12) == 10**6


BASE = dict(
    aborted=False,
    accepted=True,
    is_proposer=False,
    is_pioneer=False,
    proposed_index=None,
    revealed_for=None,
    reveal_count=3,
    proposal_count=2,
    verdicts=0b01,
    per_proposal=True,
)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"aborted": True, "is_pioneer": True}, Outcome.SLASH_ABSENT),
        ({"aborted": True, "is_proposer": True}, Outcome.NONE),
        ({"is_proposer": True}, Outcome.SLASH_ABSENT),
        ({"is_proposer": True, "proposed_index": 0}, Outcome.REWARD),
        ({"is_proposer": True, "proposed_index": 1}, Outcome.SLASH_REJECTED),
        ({"is_proposer": True, "proposed_index": 1, "per_proposal": False}, Outcome.REWARD),
        (
            {"is_proposer": True, "proposed_index": 0, "per_proposal": False, "accepted": False},
            Outcome.SLASH_REJECTED,
        ),
        ({"is_proposer": True, "proposed_index": 1, "reveal_count": 0}, Outcome.NONE),
        ({}, Outcome.SLASH_ABSENT),
        ({"proposal_count": 0}, Outcome.NONE),
        ({"revealed_for": True}, Outcome.REWARD),
        ({"revealed_for": False}, Outcome.SLASH_MINORITY),
        ({"revealed_for": False, "accepted": False}, Outcome.REWARD),
        ({"revealed_for": True, "accepted": False}, Outcome.SLASH_MINORITY),
    ],
)
def test_outcome(overrides: dict[str, object], expected: Outcome) -> None:
    assert outcome(**{**BASE, **overrides}) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ({}, Contribution.NONE),  # a voter
        ({"is_proposer": True}, Contribution.REJECTED),  # an absent proposer counts as rejected
        ({"is_proposer": True, "proposed_index": 0}, Contribution.ACCEPTED),  # verdict bit 0 set
        ({"is_proposer": True, "proposed_index": 1}, Contribution.REJECTED),  # verdict bit 1 clear
        ({"is_proposer": True, "proposed_index": 0, "reveal_count": 0}, Contribution.NONE),  # undecided
        ({"is_proposer": True, "reveal_count": 0}, Contribution.REJECTED),  # absent even without reveals
        ({"is_proposer": True, "aborted": True}, Contribution.NONE),  # nobody proposes in an aborted round
    ],
)
def test_contribution(case: dict[str, object], expected: Contribution) -> None:
    args: dict[str, object] = {
        "aborted": False,
        "is_proposer": False,
        "proposed_index": None,
        "reveal_count": 3,
        "verdicts": 0b01,
    }
    args.update(case)
    assert contribution(**args) == expected  # type: ignore[arg-type]


def test_each_rejected_proposal_cancels_an_accepted_one() -> None:
    assert vest(1_000, 3, 1) == (500, 500)  # (3 - 1) / 4
    assert vest(1_000, 2, 1) == (333, 667)  # the rounding remainder is forfeited too
    assert vest(1_000, 19, 1) == (900, 100)  # an honest participant with one false rejection in 20
    assert vest(1_000, 2, 0) == (1_000, 0)
    assert vest(1_000, 1, 1) == (0, 1_000)  # half caught: nothing
    assert vest(1_000, 1, 2) == (0, 1_000)
    assert vest(1_000, 0, 3) == (0, 1_000)
    assert vest(1_000, 0, 0) == (0, 1_000)  # no decided proposal: no accepted contribution either
    assert vest(0, 0, 0) == (0, 0)
    with pytest.raises(ValueError, match="negative"):
        vest(-1, 1, 0)
