"""Pure parts of the simulator: behaviour parsing, config checks, the report's summary and payout series."""

from __future__ import annotations

import pytest

from flalliance.sim.config import SimConfig, build_spec, parse_behaviours
from flalliance.sim.report import (
    TOKEN,
    ParticipantOutcome,
    ParticipantRecord,
    PayoutRecord,
    ProposalRecord,
    RoundRecord,
    SimReport,
    cumulative_net,
    summarize,
)

pytestmark = pytest.mark.unit


def test_parse_behaviours() -> None:
    assert parse_behaviours(["3=label_flip", "0=absent"], 10) == {3: "label_flip", 0: "absent"}
    assert parse_behaviours(["gaussian:3"], 10) == {7: "gaussian", 8: "gaussian", 9: "gaussian"}
    for bad in (["12=gaussian"], ["3=teleport"], ["gaussian"], ["x=gaussian"]):
        with pytest.raises(ValueError, match="--malicious"):
            parse_behaviours(bad, 10)


def test_config_rejects_out_of_range_behaviours_and_builds_specs() -> None:
    with pytest.raises(ValueError, match="behaviours"):
        SimConfig(participants=4, behaviours={5: "gaussian"})
    spec = build_spec(SimConfig(preset="fmnist-2nn", aggregation="median", include="screened"))
    assert spec.model.kind == "mcmahan_2nn" and spec.aggregation.rule == "median"
    assert build_spec(SimConfig()).aggregation.include == "accepted"


def _round(r: int, accepted: list[bool], pay: dict[str, tuple[int, int]]) -> RoundRecord:
    proposers = ["p00", "p01"]
    return RoundRecord(
        round=r,
        proposers=proposers,
        voters=["p02"],
        proposals=[
            ProposalRecord(
                index=k,
                proposer=p,
                model_hash="0x" + "11" * 32,
                samples=10,
                accepted=a,
                accept_votes=1,
                reject_votes=0,
            )
            for k, (p, a) in enumerate(zip(proposers, accepted, strict=True))
        ],
        votes=[],
        accepted=True,
        aborted=False,
        global_model="0x" + "22" * 32,
        global_accuracy=0.5 + r / 10,
        reward_per_weight=1,
        payouts={k: PayoutRecord(rewarded=a, slashed=b) for k, (a, b) in pay.items()},
        wall_seconds=1.0,
        bytes_moved=100,
    )


def test_summary_counts_verdicts_and_payouts() -> None:
    participants = [
        ParticipantRecord(
            label=f"p0{i}", address=f"0x{i}", roster_index=i, behaviour=b, malicious=b != "honest"
        )
        for i, b in enumerate(["honest", "gaussian", "honest"])
    ]
    rounds = [
        _round(0, [True, False], {"p00": (5 * TOKEN, 0), "p01": (0, 10 * TOKEN), "p02": (TOKEN, 0)}),
        _round(1, [True, True], {"p00": (5 * TOKEN, 0), "p01": (5 * TOKEN, 0), "p02": (TOKEN, 0)}),
    ]
    outcomes = [
        ParticipantOutcome(
            label=p.label,
            behaviour=p.behaviour,
            malicious=p.malicious,
            rewarded=0,
            slashed=0,
            net=n * TOKEN,
            withdrawn=True,
            exit_code=0,
        )
        for p, n in zip(participants, [10, -5, 2], strict=True)
    ]
    report = SimReport(
        config={},
        spec_hash="0x",
        task="0x",
        chain_id=1,
        partition={},
        participants=participants,
        initial_accuracy=0.1,
        rounds=rounds,
        outcomes=outcomes,
    )
    s = summarize(report)
    assert s["malicious_rejected"] == 0.5 and s["honest_rejected"] == 0.0
    assert s["final_accuracy"] == pytest.approx(0.6) and s["honest_all_net_gain"]
    assert s["malicious_max_net_tokens"] == -5 and s["bytes_per_round"] == 100
    assert cumulative_net(report)["p01"] == [-10.0, -5.0]
