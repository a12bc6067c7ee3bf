"""Per-round summaries for FLTask status, folded from the task contract's events (pure).

The contract's events are the complete record of a round (who proposed, who voted what, the decision,
rewards and slashes), so the summary is a fold over them: recomputable after a restart, never drifting.
The status keeps the last ``STATUS_ROUNDS`` rounds and totals over all of them, so its size (and the
operator's memory) stays bounded however long the task runs; the whole history stays on chain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flalliance.api.base import wei_to_fml
from flalliance.api.fltask import RoundSummary, RoundTotals

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


STATUS_ROUNDS = 10  # rounds kept in FLTask status.rounds; the others are in status.totals and on chain


@dataclass
class RoundFold:
    """The events folded round by round, in bounded memory: the last ``window`` started rounds in full
    (addresses, tallies), every older round only in the running totals.

    A late ``Slashed`` (settlement is lazy: a round's slashes are taken when the participant next acts,
    possibly long after) still counts in the totals after its round left the window.
    """

    window: int = STATUS_ROUNDS
    rounds: dict[int, _Acc] = field(default_factory=dict)
    finalized: int = 0
    accepted: int = 0
    aborted: int = 0
    accepted_proposals: int = 0
    rejected_proposals: int = 0
    rewards: int = 0
    slashes: int = 0

    @classmethod
    def of(cls, events: Iterable[Event], window: int = STATUS_ROUNDS) -> RoundFold:
        """The fold of ``events`` (in chain order)."""
        fold = cls(window=window)
        for ev in events:
            fold.apply(ev)
        return fold

    def apply(self, ev: Event) -> None:
        a = ev.args
        if ev.name == "Slashed":
            self.slashes += int(a["amount"])
            if int(a["round"]) in self.rounds:
                self.rounds[int(a["round"])].slashes += int(a["amount"])
            return
        if ev.name not in ("RoundStarted", "ProposalSubmitted", "VoteRevealed", "RoundFinalized"):
            return
        r = int(a["round"])
        acc = self.rounds.setdefault(r, _Acc(r))
        if ev.name == "RoundStarted":
            for old in [k for k in self.rounds if k <= r - self.window]:
                del self.rounds[old]
        elif ev.name == "ProposalSubmitted":
            acc.proposers.append(str(a["proposer"]))
            acc.proposals += 1
        elif ev.name == "VoteRevealed":
            acc.voters.append(str(a["voter"]))
            acc.score_sum += int(a["score"]) * int(a["weight"])
            acc.weight += int(a["weight"])
        elif acc.accepted is None:  # RoundFinalized, once
            acc.accepted = bool(a["accepted"])
            model = _hex(a["globalModel"])
            acc.global_model = model if model != ZERO else None
            acc.verdicts = int(a["verdicts"])
            acc.rewards = int(a["rewardPerWeight"]) * int(a["rewardedWeight"])
            self.finalized += 1
            self.accepted += acc.accepted
            self.aborted += bool(a["aborted"])
            accepted_props = bin(acc.verdicts).count("1")
            self.accepted_proposals += accepted_props
            self.rejected_proposals += acc.proposals - accepted_props
            self.rewards += acc.rewards

    def copy(self) -> RoundFold:
        return copy.deepcopy(self)

    def totals(self) -> RoundTotals:
        return RoundTotals(
            finalized=self.finalized,
            accepted=self.accepted,
            rejected=self.finalized - self.accepted - self.aborted,
            aborted=self.aborted,
            accepted_proposals=self.accepted_proposals,
            rejected_proposals=self.rejected_proposals,
            rewards=wei_to_fml(self.rewards),
            slashes=wei_to_fml(self.slashes),
        )

    def summaries(
        self,
        accuracies: Mapping[int, Sequence[float]] | None = None,
        previous: Sequence[RoundSummary] = (),
    ) -> list[RoundSummary]:
        """One summary per round in the window, oldest first.

        `accuracies`: the aggregate accuracies this operator's voters reported per round (from their sealed
        votes); rounds without new reports keep the accuracy of `previous`.
        """
        old = {s.round: s for s in previous}
        reported = accuracies or {}
        out = []
        for r in sorted(self.rounds):
            acc = self.rounds[r]
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
