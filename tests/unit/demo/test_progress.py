"""The demo's progress line and summary: pure functions over the custom resources and the outcome."""

from __future__ import annotations

from typing import Any

import pytest

from flalliance.demo.outcome import EscrowAudit, ParticipantOutcome, RoundOutcome, TaskOutcome, summary_text
from flalliance.demo.progress import job_counts, problems, progress_line

pytestmark = pytest.mark.unit


def _job(active: int = 0, cond: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"active": active}
    if cond:
        status["conditions"] = [{"type": cond, "status": "True"}]
    return {"status": status}


def test_job_counts_by_state() -> None:
    jobs = [_job(1), _job(cond="Complete"), _job(cond="Complete"), _job(cond="Failed"), _job()]
    assert job_counts(jobs) == {"running": 1, "done": 2, "failed": 1, "waiting": 1}


def test_progress_line_shows_round_phase_jobs_and_accuracy() -> None:
    task = {
        "metadata": {"name": "digits"},
        "spec": {"rounds": 10},
        "status": {
            "phase": "Running",
            "round": 2,
            "roundPhase": "Committing",
            "accuracy": 0.8123,
            "rounds": [{"accepted": True}, {"accepted": False}, {"accepted": None}],
        },
    }
    parts = [{"status": {"phase": "Joined"}}, {"status": {"phase": "Joining"}}]
    line = progress_line(task, parts, [_job(1), _job(cond="Complete")])
    assert line == (
        "digits: Running | round 3/10 Committing | participants 1/2 joined | "
        "jobs 1 running, 0 waiting, 1 done, 0 failed | accepted 1/2 rounds | accuracy 81.2%"
    )


def test_progress_line_before_any_status() -> None:
    assert progress_line({"metadata": {"name": "t"}}, [], []).startswith("t: Pending | participants 0/0")


def test_problems_lists_false_conditions_only() -> None:
    task = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "SecretMissing", "message": "wallet-p1"},
                {"type": "ChainReachable", "status": "True", "reason": "Ok", "message": ""},
            ]
        }
    }
    assert problems(task) == ["Ready=False SecretMissing: wallet-p1"]


def _participant(name: str, behaviour: str, rewarded: int, slashed: int) -> ParticipantOutcome:
    return ParticipantOutcome(
        name=name, address="0x" + "1" * 40, behaviour=behaviour, stake_wei=20 * 10**18,
        remaining_stake_wei=0, rewarded_wei=rewarded, slashed_wei=slashed, fees_wei=0, claimable_wei=0,
        withdrawn=True, balance_wei=0, balance_change_wei=None,
    )  # fmt: skip


def test_escrow_audit_balanced_and_solvent() -> None:
    ok = EscrowAudit(received_wei=100, paid_out_wei=60, balance_wei=40, owed_wei=40)
    assert ok.balanced and ok.solvent
    leak = EscrowAudit(received_wei=100, paid_out_wei=60, balance_wei=39, owed_wei=40)
    assert not leak.balanced and not leak.solvent


def test_summary_names_every_participant_with_net() -> None:
    r0 = RoundOutcome(round=0, accepted=True, accuracy=0.5, accepted_proposals=2, rejected_proposals=0)
    r1 = RoundOutcome(round=1, accepted=False, accuracy=None, accepted_proposals=0, rejected_proposals=2)
    p1 = _participant("p1", "honest", 3 * 10**18, 0)
    p4 = _participant("p4", "label_flip", 0, 2 * 10**18)
    outcome = TaskOutcome(
        task="digits", phase="Completed", contract="0x" + "2" * 40, chain_id=31337, rounds_total=2,
        rounds_accepted=1, final_accuracy=0.9, rounds=[r0, r1], participants=[p1, p4],
        escrow=EscrowAudit(received_wei=10, paid_out_wei=10, balance_wei=0, owed_wei=0), total_supply_wei=1,
    )  # fmt: skip
    text = summary_text(outcome, elapsed_seconds=12.4)
    assert "rounds accepted: 1/2" in text and "90.0%" in text and "time to completion 12 s" in text
    p4_line = next(line for line in text.splitlines() if line.startswith("p4"))
    assert p4_line.split()[-1] == "-2.0000"
    assert "balanced, solvent" in text


def test_summary_counts_only_vested_rewards_in_the_net() -> None:
    """PerProposal: an attacker credited voter rewards forfeits them all at vesting; its net is the slashes.
    Rewards not vested yet are listed apart and count for nothing."""
    attacker = _participant("p4", "gaussian", 5 * 10**18, 2 * 10**18).model_copy(
        update={"forfeited_wei": 5 * 10**18, "accepted_proposals": 0, "rejected_proposals": 3}
    )
    honest = _participant("p1", "honest", 4 * 10**18, 0).model_copy(
        update={
            "vested_wei": 3 * 10**18,
            "forfeited_wei": 10**18,
            "accepted_proposals": 3,
            "rejected_proposals": 1,
        }
    )
    pending = _participant("p2", "honest", 2 * 10**18, 0).model_copy(update={"unvested_wei": 2 * 10**18})
    assert (attacker.net_wei, honest.net_wei, pending.net_wei) == (-2 * 10**18, 3 * 10**18, 0)
    outcome = TaskOutcome(
        task="digits", phase="Completed", contract="0x" + "2" * 40, chain_id=31337, rounds_total=1,
        rounds_accepted=1, final_accuracy=None, rounds=[], participants=[honest, pending, attacker],
        escrow=EscrowAudit(received_wei=10, paid_out_wei=10, balance_wei=0, owed_wei=0), total_supply_wei=1,
    )  # fmt: skip
    text = summary_text(outcome)
    p4 = next(line for line in text.splitlines() if line.startswith("p4")).split()
    assert p4[3:] == ["0/3", "5.0000", "5.0000", "2.0000", "-2.0000"]
    assert "not vested yet" in text and "p2 2.0000" in text
