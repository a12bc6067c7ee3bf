"""Benchmark *peer*: Flower's own FedAvg, FedMedian and Krum on the same partitions, model and budget.

Same data, same model and local training code, same clients per round (the proposers our protocol draws
from the same seed), so only the aggregation differs: Flower's strategies (`aggregate_fit`) vs this
protocol (verdicts + plurality aggregate), run side by side in one process. Also every attack at 30%
malicious, for the robustness table. Target (issue 6): clean accuracy within 1 point of Flower's FedAvg.

Flower lives in its own venv so that its dependency pins never touch .venv:

    make bench-venv        # .state/bench-venv: flwr pinned, the project --no-deps, torch shared from .venv
    nice -n 10 .state/bench-venv/bin/python bench/sim/peer.py [--datasets digits fashion_mnist] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUPS, machine, malicious, write
from emulator import federation, run, run_flower

from flalliance.fl.attacks import ATTACKS

STRATEGIES = ("fedavg", "fedmedian", "krum")


def main() -> None:
    import flwr

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(SETUPS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS))
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": machine(), "flwr": flwr.__version__, "seed": args.seed, "datasets": {}}
    for name in args.datasets:
        base = SETUPS[name].model_copy(
            update={"partition_seed": args.seed, "init_seed": args.seed, "train_seed": args.seed}
        )
        if args.rounds:
            base = base.model_copy(update={"rounds": args.rounds})
        fed = federation(base)
        table: dict[str, Any] = {"config": base.model_dump(mode="json"), "clean": {}, "attacks": {}}
        ours = run(base, fed, "protocol")
        table["clean"]["protocol"] = ours.accuracy[-1]
        for strategy in STRATEGIES:
            res = run_flower(base, fed, strategy)
            table["clean"][f"flower_{strategy}"] = res.accuracy[-1]
        gap = table["clean"]["flower_fedavg"] - table["clean"]["protocol"]
        table["clean_gap_to_flower_fedavg_points"] = 100 * gap
        table["target_met"] = gap <= 0.01
        print(f"{name} clean: {table['clean']} (gap to Flower FedAvg {100 * gap:.2f} points)", flush=True)
        for attack in args.attacks:
            cfg = malicious(base, attack, args.share)
            row = {}
            for strategy in STRATEGIES:
                row[f"flower_{strategy}"] = run_flower(cfg, fed, strategy).accuracy[-1]
            table["attacks"][f"{attack}@{int(args.share * 100)}"] = row
            print(f"{name} {attack}: {row}", flush=True)
        out["datasets"][name] = table
        suffix = "" if set(args.datasets) == set(SETUPS) else "-" + "-".join(args.datasets)
        write(f"sim-peer{suffix}.json", out)
    print("done")


if __name__ == "__main__":
    main()
