"""Reward and slash arithmetic (mirror of FLTask's finalize, settlement and vesting).

All integer wei, rounding down like the EVM. Per-round reward = pool // rounds left; it is paid at a whole
number of wei per weight unit, so what a round allocates is exactly what its rewarded participants are
paid, and the rounding remainder stays in the pool.

Under ``PerProposal`` the rewards settlement credits vest by contribution once the task has ended:
``unvested * (accepted - rejected) // (accepted + rejected)`` of them become claimable (nothing unless
accepted > rejected) and the rest returns to the pool.
"""

from __future__ import annotations

from enum import IntEnum

BPS = 10_000
FINALIZER_FEE_BPS = 1_000  # 10% of a slash to the round's finalizer, 90% back to the pool
DEFAULT_SLASH_BPS = 1_000  # 10% of the current stake per slash (the documented default)


class Outcome(IntEnum):
    NONE = 0
    REWARD = 1
    SLASH_ABSENT = 2
    SLASH_REJECTED = 3
    SLASH_MINORITY = 4

    @property
    def slashed(self) -> bool:
        return self in (Outcome.SLASH_ABSENT, Outcome.SLASH_REJECTED, Outcome.SLASH_MINORITY)


class Contribution(IntEnum):
    """What a settled round adds to a participant's decided proposals."""

    NONE = 0
    ACCEPTED = 1  # its proposal's verdict bit set, in a round with reveals
    REJECTED = 2  # verdict bit clear in a round with reveals, or a proposer turn it missed (absent)


def round_reward(pool: int, total_rounds: int, round: int) -> int:
    """The reward budget of ``round``: the remaining pool shared evenly over the rounds left."""
    rounds_left = total_rounds - round
    if rounds_left <= 0:
        raise ValueError(f"round {round} is past the last round ({total_rounds} rounds)")
    return pool // rounds_left


def reward_per_weight(pool: int, total_rounds: int, round: int, rewarded_weight: int) -> int:
    """Wei paid per weight unit to each rewarded participant of ``round`` (0 when nobody is rewarded)."""
    if rewarded_weight <= 0:
        return 0
    return round_reward(pool, total_rounds, round) // rewarded_weight


def weight(stake: int, weight_unit: int) -> int:
    return stake // weight_unit


def slash(stake: int, slash_bps: int) -> tuple[int, int, int]:
    """(amount taken, of which back to the pool, of which the finalizer's fee)."""
    amount = stake * slash_bps // BPS
    fee = amount * FINALIZER_FEE_BPS // BPS
    return amount, amount - fee, fee


def outcome(
    *,
    aborted: bool,
    accepted: bool,
    is_proposer: bool,
    is_pioneer: bool,
    proposed_index: int | None,
    revealed_for: bool | None,
    reveal_count: int,
    proposal_count: int,
    verdicts: int,
    per_proposal: bool,
) -> Outcome:
    """What one participant gets from one finalized round.

    ``proposed_index`` is the proposal index if it proposed; ``revealed_for`` is None without a reveal,
    else whether its score was >= 0.
    """
    if aborted:
        return Outcome.SLASH_ABSENT if is_pioneer else Outcome.NONE
    if is_proposer:
        if proposed_index is None:
            return Outcome.SLASH_ABSENT
        if reveal_count == 0:
            return Outcome.NONE
        ok = bool((verdicts >> proposed_index) & 1) if per_proposal else accepted
        return Outcome.REWARD if ok else Outcome.SLASH_REJECTED
    if proposal_count == 0:
        return Outcome.NONE
    if revealed_for is None:
        return Outcome.SLASH_ABSENT
    return Outcome.REWARD if revealed_for == accepted else Outcome.SLASH_MINORITY


def contribution(
    *,
    aborted: bool,
    is_proposer: bool,
    proposed_index: int | None,
    reveal_count: int,
    verdicts: int,
) -> Contribution:
    """How one finalized round counts toward a participant's decided proposals (either policy).

    A proposal in a round without reveals is not decided; an absent proposer counts as rejected; nobody
    proposes in an aborted round.
    """
    if aborted or not is_proposer:
        return Contribution.NONE
    if proposed_index is None:
        return Contribution.REJECTED
    if reveal_count == 0:
        return Contribution.NONE
    return Contribution.ACCEPTED if (verdicts >> proposed_index) & 1 else Contribution.REJECTED


def vest(unvested: int, accepted: int, rejected: int) -> tuple[int, int]:
    """(vested, forfeited) of ``unvested`` rewards: ``unvested * (accepted - rejected) / (accepted +
    rejected)``, rounded down, and nothing when ``accepted <= rejected``. Each rejected proposal cancels an
    accepted one, so a participant more than half of whose proposals are rejected keeps no reward at all:
    attacking loses whenever the voters catch more than half of the attacks, whatever the stake and the
    reward (an honest participant with 1 false rejection in 20 proposals keeps 90%)."""
    if unvested < 0 or accepted < 0 or rejected < 0:
        raise ValueError("unvested rewards and proposal counts are never negative")
    vested = 0 if accepted <= rejected else unvested * (accepted - rejected) // (accepted + rejected)
    return vested, unvested - vested
