"""The simulation report: what happened in every round, read from the chain, and the figures derived from it.

The models are filled by the runner from the contract's views and events (roles, proposals, reveals,
decisions, settlements) plus the held-out accuracy of each round's global model; :func:`summarize` is pure
and turns the rounds into the figures the benchmarks check (detection rates, final accuracy, net payouts).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TOKEN = 10**18


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantRecord(_Model):
    label: str  # p00, p01, ... (account index in the simulation, not the roster index)
    address: str
    roster_index: int
    behaviour: str
    malicious: bool


class ProposalRecord(_Model):
    index: int
    proposer: str  # label
    model_hash: str
    samples: int
    accepted: bool  # the on-chain verdict (stake-weighted majority of the revealed verdicts)
    accept_votes: int  # revealed voters accepting it
    reject_votes: int


class VoteRecord(_Model):
    voter: str
    score: int
    aggregate_hash: str
    verdicts: int


class PayoutRecord(_Model):
    rewarded: int = 0  # wei credited for this round
    slashed: int = 0  # wei taken from the stake for this round
    slash_reason: str | None = None


class RoundRecord(_Model):
    round: int
    pioneer: str | None = None
    pioneer_model: str | None = None
    proposers: list[str]
    voters: list[str]
    proposals: list[ProposalRecord]
    votes: list[VoteRecord]
    accepted: bool
    aborted: bool
    global_model: str
    global_accuracy: float | None
    reward_per_weight: int
    payouts: dict[str, PayoutRecord]  # by participant label
    clock_advances: int = 0  # times the coordinator moved the chain clock (phases stuck on absentees)
    wall_seconds: float
    bytes_moved: int = 0


class ParticipantOutcome(_Model):
    label: str
    behaviour: str
    malicious: bool
    rewarded: int
    slashed: int
    net: int  # token balance at the end minus at the start (rewards claimed - stake lost), wei
    withdrawn: bool
    exit_code: int | None


class SimReport(_Model):
    config: dict[str, Any]
    spec_hash: str
    metric: str = "accuracy"  # what global_accuracy holds: the spec's metric
    minimize: bool = False  # the metric's direction (a loss, an error: lower is better)
    task: str
    chain_id: int
    partition: dict[str, Any]
    participants: list[ParticipantRecord]
    initial_accuracy: float | None
    centralized_accuracy: float | None = None
    rounds: list[RoundRecord]
    outcomes: list[ParticipantOutcome] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    wall_seconds: float = 0.0
    setup_seconds: float = 0.0
    model_bytes: int = 0


def summarize(report: SimReport) -> dict[str, Any]:
    """Detection rates over proposals (by the on-chain verdict), acceptance, accuracy, payouts."""
    malicious = {p.label for p in report.participants if p.malicious}
    counts = {"malicious": [0, 0], "honest": [0, 0]}  # [rejected, total]
    for r in report.rounds:
        for p in r.proposals:
            kind = "malicious" if p.proposer in malicious else "honest"
            counts[kind][1] += 1
            counts[kind][0] += 0 if p.accepted else 1
    accs = [r.global_accuracy for r in report.rounds if r.global_accuracy is not None]
    honest_net = [o.net for o in report.outcomes if not o.malicious]
    return {
        "rounds": len(report.rounds),
        "rounds_accepted": sum(1 for r in report.rounds if r.accepted),
        "final_accuracy": accs[-1] if accs else None,
        "best_accuracy": (min(accs) if report.minimize else max(accs)) if accs else None,
        "metric": report.metric,
        "malicious_proposals": counts["malicious"][1],
        "malicious_rejected": counts["malicious"][0] / counts["malicious"][1]
        if counts["malicious"][1]
        else None,
        "honest_proposals": counts["honest"][1],
        "honest_rejected": counts["honest"][0] / counts["honest"][1] if counts["honest"][1] else None,
        "honest_all_net_gain": bool(honest_net) and all(n > 0 for n in honest_net),
        "honest_min_net_tokens": min(honest_net) / TOKEN if honest_net else None,
        "malicious_max_net_tokens": max(
            (o.net / TOKEN for o in report.outcomes if o.malicious), default=None
        ),
        "clock_advances": sum(r.clock_advances for r in report.rounds),
        "bytes_per_round": (sum(r.bytes_moved for r in report.rounds) / len(report.rounds))
        if report.rounds
        else 0,
    }


def cumulative_net(report: SimReport) -> dict[str, list[float]]:
    """Per participant label: cumulative (rewards - slashes) in tokens after each round."""
    out: dict[str, list[float]] = {p.label: [] for p in report.participants}
    totals = {p.label: 0 for p in report.participants}
    for r in report.rounds:
        for label in totals:
            pay = r.payouts.get(label)
            if pay is not None:
                totals[label] += pay.rewarded - pay.slashed
            out[label].append(totals[label] / TOKEN)
    return out
