"""`flalliance simulate` on a user's own task: their training-logic file and their data, not a preset.

Two shapes a user has before deploying: a classifier spec (YAML, as in an FLTask) with one CSV dataset file
that the simulator splits across participants; and a LoRA spec with one data directory per participant and
a base model they wrote themselves (found through a path relative to each data directory). Plus the
errors a user meets first: a bad field and a bad data line, named, before any chain starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_digits

from flalliance.fl.plugins.lora_base import write_base_model
from flalliance.fl.plugins.lora_text import corpus, write_partitions

pytestmark = pytest.mark.integration


def _simulate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flalliance.cli", "simulate", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_own_classifier_logic_and_csv_file(tmp_path: Path) -> None:
    digits = load_digits()
    header = ",".join(f"px{i}" for i in range(64)) + ",digit"
    rows = [header] + [
        ",".join(str(int(v)) for v in x) + f",{int(y)}"
        for x, y in zip(digits.data, digits.target, strict=True)
    ]
    (tmp_path / "digits.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "logic.yaml").write_text(
        "dataset: {source: participant, feature_shape: [64], num_classes: 10, feature_scale: 0.0625,\n"
        "          layout: {format: csv, label_column: digit}}\n"
        "model: {kind: logreg}\n"
        "training: {epochs: 2, batch_size: 32, optimizer: {kind: sgd, learning_rate: 0.2}}\n"
        "aggregation: {rule: fedavg, include: accepted}\n"
    )
    out = tmp_path / "sim"
    proc = _simulate(
        "--training-logic", str(tmp_path / "logic.yaml"), "--dataset-file", str(tmp_path / "digits.csv"),
        "--partition", "iid", "--participants", "3", "--rounds", "3", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["metric"] == "accuracy" and report["partition"]["scheme"] == "iid"
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "client-000", "client-001", "client-002", "global-test",
    ]  # fmt: skip
    assert (out / "data" / "client-000" / "data.csv").is_file()  # written in the spec's own layout
    assert report["summary"]["final_accuracy"] > 0.8, report["summary"]


def test_own_lora_logic_and_participant_directories(tmp_path: Path) -> None:
    data = tmp_path / "parts"
    write_partitions(data, 3, 120, alpha=1.0, seed=2, test=100)
    for i in range(3):  # each participant has its own copy of the base model beside its data
        digest = write_base_model(
            data / f"client-{i}" / "base", corpus(n=800), vocab_size=400, hidden_size=48, layers=1, heads=2,
            intermediate_size=96,
        )  # fmt: skip
    logic = {
        "runtime": {"plugin": "lora_causal_lm"},
        "metric": {"name": "cross_entropy", "direction": "minimize"},
        "aggregation": {"rule": "fedavg", "include": "accepted"},
        "validation": {"vote_margin": 0.05},
        "config": {
            "base_model": {"sha256": digest, "path": "base"},
            "lora": {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
            "sequence_length": 32,
            "training": {"steps": 10, "batch_size": 16, "optimizer": {"learning_rate": 0.005}},
        },
    }
    (tmp_path / "logic.json").write_text(json.dumps(logic))
    out = tmp_path / "sim"
    dirs = [a for i in range(3) for a in ("--data-dir", str(data / f"client-{i}"))]
    proc = _simulate(
        "--training-logic", str(tmp_path / "logic.json"), *dirs, "--test-dir", str(data / "global-test"),
        "--rounds", "3", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "global cross_entropy" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["metric"] == "cross_entropy" and len(report["participants"]) == 3
    losses = [r["global_accuracy"] for r in report["rounds"] if r["global_accuracy"] is not None]
    assert report["initial_accuracy"] is not None and losses and losses[-1] < report["initial_accuracy"]


def test_a_bad_field_or_line_is_named_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "logic.json").write_text('{"dataset": {"source": "participant"}, "model": {"kind": "cnn"}}')
    proc = _simulate("--training-logic", str(tmp_path / "logic.json"), "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "dataset.feature_shape" in proc.stderr and "model" in proc.stderr
    d = tmp_path / "p0"
    d.mkdir()
    (d / "x.jsonl").write_text('{"prompt": "hi"}\n')
    logic = {
        "runtime": {"plugin": "lora_causal_lm"},
        "metric": {"name": "cross_entropy", "direction": "minimize"},
        "config": {
            "base_model": {"sha256": "ab" * 32, "path": str(tmp_path / "nope")},
            "training": {"steps": 1},
        },
    }
    (tmp_path / "lora.json").write_text(json.dumps(logic))
    proc = _simulate(
        "--training-logic", str(tmp_path / "lora.json"), "--data-dir", str(d), "--data-dir", str(d),
        "--out", str(tmp_path / "b"), "--rounds", "2",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "config.base_model" in proc.stderr
    assert not (tmp_path / "b" / "report.json").exists()


def test_a_plugin_outside_flalliance_runs_through_its_entry_point(tmp_path: Path) -> None:
    """examples/plugin-ridge, installed as its own distribution (make setup), found as runtime.plugin
    "ridge" and pinned to its version: its own metric (mse), data format (CSV with a target) and math."""
    from flalliance_ridge.data import write

    write(tmp_path / "data", 3, seed=0)
    logic = Path(__file__).resolve().parents[3] / "examples" / "plugin-ridge" / "training-logic.yaml"
    dirs = [a for i in range(3) for a in ("--data-dir", str(tmp_path / "data" / f"client-{i}"))]
    out = tmp_path / "sim"
    proc = _simulate(
        "--training-logic", str(logic), *dirs, "--test-dir", str(tmp_path / "data" / "global-test"),
        "--rounds", "3", "--malicious", "2=label_flip", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["metric"] == "mse" and report["minimize"]
    losses = [r["global_accuracy"] for r in report["rounds"] if r["global_accuracy"] is not None]
    assert losses[-1] < report["initial_accuracy"] * 0.8, (report["initial_accuracy"], losses)
    rejected = report["summary"]["malicious_rejected"]
    assert rejected == 1.0, report["summary"]  # target sign flipped: the voters reject every such proposal
    # and accept the honest ones: an 11-weight model moves every weight together, which is no offset bias
    assert report["summary"]["honest_rejected"] == 0.0, report["summary"]
