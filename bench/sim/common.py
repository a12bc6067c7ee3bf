"""Shared by the simulation benchmarks: the two benchmark setups, result files, the machine's description."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from flalliance.sim.config import SimConfig

RESULTS = Path(__file__).resolve().parents[1] / "results"

# The benchmark setups (docs/results.md): 10 participants, Dirichlet 0.5, 30% proposers per round.
DIGITS = SimConfig(preset="digits-mlp", rounds=100)
# Fashion-MNIST subsampled (stratified) to 12,000 training and 2,000 held-out images so that the whole
# grid finishes on two shared cores; E=2 local epochs.
FMNIST = SimConfig(preset="fmnist-2nn", rounds=60, epochs=2, subsample=12_000, test_subsample=2_000)
SETUPS = {"digits": DIGITS, "fashion_mnist": FMNIST}
CENTRALIZED_EPOCHS = {"digits": 200, "fashion_mnist": 30}


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit,
        "load_average_at_start": os.getloadavg()[0],
    }


def write(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def malicious(cfg: SimConfig, attack: str, share: float) -> SimConfig:
    """The last ``share`` of the participants run ``attack``."""
    count = round(cfg.participants * share)
    behaviours = {i: attack for i in range(cfg.participants - count, cfg.participants)}
    return cfg.model_copy(update={"behaviours": behaviours})
