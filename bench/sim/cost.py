"""Benchmark *cost*: wall time of a real 10-participant, 10-round digits simulation, and bytes per round.

This is `flalliance simulate` itself — anvil, the contracts, 10 `flalliance-worker participate`
processes, the coordinator — not the in-process emulator. Target (issue 6): <= 60 s on the 2-core
machines. Bytes moved per round = model-file uploads and downloads implied by the actions on chain (every
proposer fetches the global model and uploads its proposal, every revealing voter fetches the global
model and all proposals and uploads its aggregate) x the model file size.

    nice -n 10 .venv/bin/python bench/sim/cost.py [--malicious label_flip:3] [--out .state/bench-cost]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write

from flalliance.sim.config import SimConfig, parse_behaviours
from flalliance.sim.runner import Simulation

TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--malicious", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path(".state/bench-cost"))
    parser.add_argument("--launch", choices=["fork", "exec"], default="fork")
    parser.add_argument("--plots", type=Path, default=None, help="copy the PNG plots into this directory")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    cfg = SimConfig(
        rounds=10, participants=10, behaviours=parse_behaviours(args.malicious, 10), launch=args.launch
    )
    info = machine()
    report = Simulation(cfg, args.out).run()
    rounds = [r.wall_seconds for r in report.rounds]
    out: dict[str, Any] = {
        "machine": info,
        "config": cfg.model_dump(mode="json"),
        "wall_seconds": report.wall_seconds,
        "setup_seconds": report.setup_seconds,
        "round_seconds": rounds,
        "model_bytes": report.model_bytes,
        "bytes_per_round": report.summary["bytes_per_round"],
        "summary": report.summary,
        "target_seconds": TARGET_SECONDS,
        "target_met": report.wall_seconds <= TARGET_SECONDS,
    }
    print(
        f"wall {report.wall_seconds:.1f} s (setup {report.setup_seconds:.1f} s, rounds "
        f"{sum(rounds):.1f} s), {report.summary['bytes_per_round'] / 1024:.0f} KiB moved per round"
    )
    if args.plots is not None:
        args.plots.mkdir(parents=True, exist_ok=True)
        for name in ("accuracy.png", "payouts.png"):
            shutil.copy(args.out / name, args.plots / f"cost-{name}")
    parts = [m.replace(":", "").replace("=", "") for m in args.malicious]
    if args.launch == "exec":
        parts.append("exec")
    suffix = "".join("-" + p for p in parts)
    print(write(f"sim-cost{suffix}.json", out))


if __name__ == "__main__":
    main()
