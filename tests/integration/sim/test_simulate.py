"""`flalliance simulate` end to end: anvil, the contracts, participant processes, the report and plots.

Short on purpose (5 participants, 6 rounds = two epochs of 2 proposers): one participant proposes Gaussian
noise, one is absent (so the coordinator must move the clock past phases that wait on it), and the report must
show what the chain did. Two epochs, not one: when the absentee is round 0's pioneer that round aborts and the
other proposer's turn is lost with it; the second epoch (a model exists by then) gives every participant a
judged proposer turn, so the checks on the noise proposer's payout never pass vacuously.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_simulate_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flalliance.cli",
            "simulate",
            "--participants",
            "5",
            "--rounds",
            "6",
            "--proposer-fraction-bps",
            "4000",
            "--malicious",
            "4=gaussian",
            "3=absent",
            "--launch",
            "exec",  # fresh `flalliance-worker participate` processes, not forked
            "--out",
            str(out),
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    # progress lines while it runs
    assert "all 5 participants joined" in proc.stdout
    assert proc.stdout.count("round ") >= 6 and "task COMPLETED" in proc.stdout

    report = json.loads((out / "report.json").read_text())
    assert len(report["rounds"]) == 6
    labels = {p["label"]: p for p in report["participants"]}
    assert labels["p04"]["malicious"] and labels["p04"]["behaviour"] == "gaussian"
    assert labels["p03"]["behaviour"] == "absent" and not labels["p00"]["malicious"]
    for r in report["rounds"]:
        assert len(r["proposers"]) == 2 and len(r["voters"]) == 3
        assert set(r["payouts"]) == set(labels)
        if "p03" in r["proposers"] + r["voters"] + ([r["pioneer"]] if r["pioneer"] else []):
            # the absentee held a role: it was slashed for absence and the clock had to be moved
            assert r["payouts"]["p03"]["slash_reason"] == "absent"
            assert r["clock_advances"] >= 1
        for p in r["proposals"]:
            if p["proposer"] == "p04":
                # Gaussian noise on the global model: rejected by the verdict majority and slashed
                assert not p["accepted"]
                assert r["payouts"]["p04"]["slash_reason"] == "proposal_rejected"
        if not r["aborted"]:
            assert r["global_accuracy"] is not None and 0.0 <= r["global_accuracy"] <= 1.0
    votes = [v for r in report["rounds"] for v in r["votes"]]
    assert votes and all(v["voter"] != "p03" for v in votes)
    outcomes = {o["label"]: o for o in report["outcomes"]}
    assert all(o["withdrawn"] and o["exit_code"] == 0 for o in outcomes.values()), outcomes
    assert outcomes["p03"]["slashed"] > 0 or all(
        "p03" not in r["proposers"] + r["voters"] for r in report["rounds"]
    )
    # the wallet and the books agree: net = vested rewards - slashes, and PerProposal rewards vest by
    # contribution: between none (no accepted proposal) and all of them (every proposal accepted)
    for o in outcomes.values():
        assert -o["slashed"] <= o["net"] <= o["rewarded"] - o["slashed"], o
    # the second epoch gave the noise proposer a turn in a round with a model: at least one of its proposals
    # was judged (and, above, rejected)
    judged = [
        p for r in report["rounds"] if not r["aborted"] for p in r["proposals"] if p["proposer"] == "p04"
    ]
    assert judged, [(r["round"], r["proposers"], r["aborted"]) for r in report["rounds"]]
    # its proposals were rejected every time, so whatever it was paid as a voter in its other rounds (nothing
    # when an epoch's wrap gave it two proposer turns, or it voted with the minority) never vests: it ends at
    # minus its slashes; so does the absentee
    assert outcomes["p04"]["net"] == -outcomes["p04"]["slashed"] < 0
    assert outcomes["p03"]["net"] == -outcomes["p03"]["slashed"] < 0
    summary = report["summary"]
    assert summary["rounds"] == 6 and summary["honest_proposals"] >= 1

    for name in ("accuracy.png", "payouts.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
