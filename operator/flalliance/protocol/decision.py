"""Deciding a round from its stake-weighted tallies (mirror of FLTask._decide / _verdicts).

Weights are whole units of stake (stake // weight_unit). The round is accepted when some accepting weight
exists and positive weight >= negative weight (FLock's ">= 0" rule, stake-weighted). Each proposal is
accepted when its accept weight >= its reject weight among the revealed voters (ties accept). The new
global model is the aggregate hash with the most accepting weight (the first to reach the lead keeps it
on ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from pydantic import BaseModel, ConfigDict


class Policy(IntEnum):
    """How proposers are paid (values match the contract's enum)."""

    PER_PROPOSAL = 0  # on their own proposal's verdict
    COLLECTIVE = 1  # FLock's rule: all proposers rewarded iff the round is accepted


class RevealedVote(BaseModel):
    model_config = ConfigDict(frozen=True)

    weight: int
    score: int
    aggregate: bytes
    verdicts: int  # bit k = accept proposal k


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    accepted: bool
    verdicts: int
    leading_aggregate: bytes | None
    positive_weight: int
    negative_weight: int
    rewarded_weight: int


def leading_aggregate(votes: Sequence[RevealedVote]) -> tuple[bytes | None, int]:
    """The aggregate with the most accepting weight, tracked in reveal order like the contract."""
    weights: dict[bytes, int] = {}
    leader: bytes | None = None
    lead = 0
    for v in votes:
        if v.score < 0 or v.weight == 0:
            continue
        weights[v.aggregate] = weights.get(v.aggregate, 0) + v.weight
        if weights[v.aggregate] > lead:
            lead = weights[v.aggregate]
            leader = v.aggregate
    return leader, lead


def decide(votes: Sequence[RevealedVote], proposal_weights: Sequence[int], policy: Policy) -> Decision:
    """Decide a round that had at least one reveal; ``votes`` in reveal order."""
    positive = sum(v.weight for v in votes if v.score >= 0)
    negative = sum(v.weight for v in votes if v.score < 0)
    leader, lead = leading_aggregate(votes)
    accepted = lead > 0 and positive >= negative
    revealed = positive + negative
    verdicts = 0
    accepted_proposer_weight = 0
    for k, w in enumerate(proposal_weights):
        reject = sum(v.weight for v in votes if not (v.verdicts >> k) & 1)
        if revealed - reject >= reject:
            verdicts |= 1 << k
            accepted_proposer_weight += w
    rewarded = positive if accepted else negative
    if policy == Policy.PER_PROPOSAL:
        rewarded += accepted_proposer_weight
    elif accepted:
        rewarded += sum(proposal_weights)
    return Decision(
        accepted=accepted,
        verdicts=verdicts,
        leading_aggregate=leader if accepted else None,
        positive_weight=positive,
        negative_weight=negative,
        rewarded_weight=rewarded,
    )
