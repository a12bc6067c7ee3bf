"""Round decisions from stake-weighted tallies: acceptance, per-proposal verdicts, leader, rewarded weight."""

from __future__ import annotations

import pytest

from flalliance.protocol.decision import Policy, RevealedVote, decide, leading_aggregate

pytestmark = pytest.mark.unit

A, B = b"a" * 32, b"b" * 32


def vote(weight: int, score: int, aggregate: bytes = A, verdicts: int = 0b11) -> RevealedVote:
    return RevealedVote(weight=weight, score=score, aggregate=aggregate, verdicts=verdicts)


def test_stake_weighted_majority_accepts_and_ties_accept() -> None:
    d = decide([vote(3, 1), vote(2, -5)], [10, 10], Policy.PER_PROPOSAL)
    assert d.accepted and d.positive_weight == 3 and d.negative_weight == 2
    tie = decide([vote(2, 0), vote(2, -1)], [10], Policy.PER_PROPOSAL)
    assert tie.accepted  # >= 0, FLock's rule; a score of 0 counts as accepting
    assert not decide([vote(2, 1), vote(3, -1)], [10], Policy.PER_PROPOSAL).accepted


def test_heavy_stake_outvotes_many_light_ones() -> None:
    votes = [vote(1, 1), vote(1, 1), vote(1, 1), vote(10, -1)]
    assert not decide(votes, [5], Policy.PER_PROPOSAL).accepted


def test_per_proposal_verdicts_and_rewarded_weight() -> None:
    votes = [vote(3, 1, verdicts=0b01), vote(2, 1, verdicts=0b11), vote(1, -1, verdicts=0b10)]
    d = decide(votes, [7, 11], Policy.PER_PROPOSAL)
    # proposal 0: accept 5 vs reject 1; proposal 1: accept 3 vs reject 3 -> tie accepts
    assert d.verdicts == 0b11
    assert d.rewarded_weight == 5 + 7 + 11
    d2 = decide([vote(3, 1, verdicts=0b01), vote(4, 1, verdicts=0b00)], [7, 11], Policy.PER_PROPOSAL)
    assert d2.verdicts == 0b00 and d2.rewarded_weight == 7  # only the voters


def test_collective_policy_pays_all_proposers_or_none() -> None:
    accepted = decide([vote(5, 1, verdicts=0b01)], [7, 11], Policy.COLLECTIVE)
    assert accepted.rewarded_weight == 5 + 18
    rejected = decide([vote(5, -1, verdicts=0b11)], [7, 11], Policy.COLLECTIVE)
    assert not rejected.accepted and rejected.rewarded_weight == 5  # the negative voters only


def test_leader_is_the_heaviest_accepting_aggregate_first_to_lead_keeps_ties() -> None:
    votes = [vote(2, 1, A), vote(2, 1, B), vote(5, -1, B), vote(1, 1, B)]
    assert leading_aggregate(votes) == (B, 3)
    assert leading_aggregate([vote(2, 1, A), vote(2, 1, B)]) == (A, 2)
    assert decide([vote(2, 1, A), vote(2, 1, B)], [1], Policy.PER_PROPOSAL).leading_aggregate == A


def test_zero_weight_only_is_not_accepted() -> None:
    d = decide([], [4], Policy.PER_PROPOSAL)
    assert not d.accepted and d.verdicts == 0b1 and d.rewarded_weight == 4
