"""Per-round summaries for FLTask status, folded from the task contract's events (pure).

The contract's events are the complete record of a round (who proposed, who voted what, the decision,
rewards and slashes), so the summary is a fold over them: recomputable after a restart, never drifting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flalliance.api.base import wei_to_fml
from flalliance.api.fltask import RoundSummary

ZERO = "0x" + "00" * 32


@dataclass
class _Acc:
    round: int
    proposers: list[str] = field(default_factory=list)
    voters: list[str] = field(default_factory=list)
    proposals: int = 0
    accepted: bool | None = None
    global_model: str | None = None
    verdicts: int = 0
    score_sum: int = 0
    weight: int = 0
    rewards: int = 0
    slashes: int = 0


@dataclass(frozen=True)
class Event:
    """The two fields of a decoded event the fold needs (chain.events.DecodedEvent has them)."""

    name: str
    args: Mapping[str, Any]


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def summarize(
    events: Iterable[Event],
    accuracies: Mapping[int, Sequence[float]] | None = None,
    previous: Sequence[RoundSummary] = (),
) -> list[RoundSummary]:
    """Fold events (in chain order) into one summary per started round.

    `accuracies`: the aggregate accuracies this operator's voters reported per round (from their sealed
    votes); rounds without new reports keep the accuracy of `previous`.
    """
    rounds: dict[int, _Acc] = {}

    def at(r: int) -> _Acc:
        return rounds.setdefault(r, _Acc(r))

    for ev in events:
        a = ev.args
        if ev.name == "RoundStarted":
            at(int(a["round"]))
        elif ev.name == "ProposalSubmitted":
            acc = at(int(a["round"]))
            acc.proposers.append(str(a["proposer"]))
            acc.proposals += 1
        elif ev.name == "VoteRevealed":
            acc = at(int(a["round"]))
            acc.voters.append(str(a["voter"]))
            acc.score_sum += int(a["score"]) * int(a["weight"])
            acc.weight += int(a["weight"])
        elif ev.name == "RoundFinalized":
            acc = at(int(a["round"]))
            acc.accepted = bool(a["accepted"])
            model = _hex(a["globalModel"])
            acc.global_model = model if model != ZERO else None
            acc.verdicts = int(a["verdicts"])
            acc.rewards = int(a["rewardPerWeight"]) * int(a["rewardedWeight"])
        elif ev.name == "Slashed":
            at(int(a["round"])).slashes += int(a["amount"])
    old = {s.round: s for s in previous}
    reported = accuracies or {}
    out = []
    for r in sorted(rounds):
        acc = rounds[r]
        accepted_props = bin(acc.verdicts).count("1") if acc.accepted is not None else 0
        values = list(reported.get(r, ()))
        accuracy = sum(values) / len(values) if values else (old[r].accuracy if r in old else None)
        out.append(
            RoundSummary(
                round=r,
                proposers=acc.proposers,
                voters=acc.voters,
                accepted=acc.accepted,
                global_model_hash=acc.global_model,
                aggregate_score=(acc.score_sum / acc.weight) if acc.weight else None,
                accepted_proposals=accepted_props,
                rejected_proposals=(acc.proposals - accepted_props) if acc.accepted is not None else 0,
                rewards=wei_to_fml(acc.rewards),
                slashes=wei_to_fml(acc.slashes),
                accuracy=accuracy,
            )
        )
    return out
