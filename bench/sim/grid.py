"""Benchmark *grid*: every attack x malicious share x dataset x seed, this protocol beside Flower's robust
strategies on the same clients, with every participant's net payout.

One command (``make bench-sim-grid``) writes ``bench/results/sim-grid.json``; ``bench/sim/tables.py``
renders it into docs/results.md. Per cell and system: final accuracy (held-out set), its drop from the
clean run of the same seed, the share of malicious and of honest proposals rejected, and each
participant's net tokens (vested rewards minus slashes; Flower's strategies pay nobody). Targets (issue
11), checked per cell for the protocol and pooled over the seeds: >= 95% of malicious proposals rejected,
<= 3% of honest ones, accuracy >= clean - 2 points, every honest participant net-positive and every
attacker net-negative.

Flower's strategies (``aggregate_fit`` of FedMedian, FedTrimmedAvg, Krum, MultiKrum, Bulyan) need the
bench venv (``make bench-venv``); without ``flwr`` the grid runs the protocol alone and says so. Bulyan
needs at least 4f + 3 clients for f attackers: a round here has 3 proposers, so it runs with f = 0 (the
largest its precondition admits) and the JSON records the f used.

    nice -n 10 .state/bench-venv/bin/python bench/sim/grid.py [--datasets digits fashion_mnist]
        [--seeds 0 1 2] [--shares 0.3 0.5] [--attacks ...] [--rounds N] [--out sim-grid.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUPS, machine, malicious, write
from emulator import RunResult, federation, run, run_flower
from pooling import TARGETS, pooled

from flalliance.fl.attacks import ATTACKS
from flalliance.fl.spec import TrainingLogicSpec, ValidationSpec
from flalliance.sim.config import SimConfig, build_spec

FLOWER = ("fedmedian", "fedtrimmedavg", "krum", "multikrum", "bulyan")
ROUNDS = {"digits": 60, "fashion_mnist": 30}  # Fashion-MNIST: 30 rounds so the grid fits two cores


def _cell(res: RunResult, bad: set[int], clean_accuracy: float) -> dict[str, Any]:
    s = res.summary(bad)
    return {
        "final_accuracy": s["final_accuracy"],
        "drop_points": 100 * (clean_accuracy - s["final_accuracy"]),
        "malicious_proposals": s["malicious_proposals"],
        "malicious_rejected": s["malicious_rejected"],
        "honest_proposals": s["honest_proposals"],
        "honest_rejected": s["honest_rejected"],
        "net_tokens": {str(i): round(v, 4) for i, v in sorted(res.net_tokens.items())},
        "malicious": sorted(bad),
        "reasons": s["reasons"],
    }


def _systems(with_flower: bool) -> list[str]:
    return ["protocol", *(f"flower-{s}" for s in FLOWER if with_flower)]


def _run(
    cfg: SimConfig,
    fed: Any,
    system: str,
    validation: dict[str, Any] | None = None,
    colluding_voters: bool = False,
) -> RunResult:
    if system.startswith("flower-"):
        return run_flower(cfg, fed, system.removeprefix("flower-"))
    return run(cfg, fed, "protocol", spec=trial_spec(cfg, validation), colluding_voters=colluding_voters)


def trial_spec(cfg: SimConfig, validation: dict[str, Any] | None) -> TrainingLogicSpec | None:
    """The run's spec with the trial's validation limits, or None (the emulator builds the default)."""
    if not validation:
        return None
    spec = build_spec(cfg)
    return spec.model_copy(update={"validation": spec.validation.model_copy(update=validation)})


def validation_overrides(items: list[str]) -> dict[str, Any]:
    """``--validation round_gain_margin=0.075`` or ``judge_in_aggregate=true``: a trial of other limits
    than the defaults (recorded)."""
    fields = ValidationSpec.model_fields
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if key not in fields or parsed is None:
            raise SystemExit(
                f"--validation {item!r}: expected FIELD=JSON (0.075, true) with FIELD one of {sorted(fields)}"
            )
        out[key] = parsed
    checked = ValidationSpec(**out)  # the spec's own bounds name a bad value
    return checked.model_dump(include=set(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(SETUPS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS))
    parser.add_argument("--rounds", type=int, default=None, help="override the per-dataset rounds")
    parser.add_argument("--no-flower", action="store_true", help="the protocol only")
    parser.add_argument(
        "--validation",
        nargs="*",
        default=[],
        metavar="FIELD=JSON",
        help="override ValidationSpec fields for the protocol (a trial; recorded in the JSON)",
    )
    parser.add_argument(
        "--colluding-voters",
        action="store_true",
        help="the attackers also vote as a bloc: their proposals accepted, honest ones rejected (recorded)",
    )
    parser.add_argument(
        "--out", default=None, help="default: sim-grid.json, or sim-grid-<dataset>.json for one"
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = "sim-grid.json" if len(args.datasets) > 1 else f"sim-grid-{args.datasets[0]}.json"
    try:
        import flwr

        flwr_version: str | None = flwr.__version__
    except ImportError:
        flwr_version = None
    validation = validation_overrides(args.validation)
    with_flower = flwr_version is not None and not args.no_flower
    if flwr_version is None and not args.no_flower:
        print("flwr is not installed (make bench-venv): running the protocol only", flush=True)
    systems = _systems(with_flower)
    out: dict[str, Any] = {
        "machine": machine(),
        "flwr": flwr_version,
        "targets": TARGETS,
        "systems": systems,
        "seeds": args.seeds,
        "shares": args.shares,
        "attacks": args.attacks,
        "validation_overrides": validation,
        "colluding_voters": args.colluding_voters,
        "datasets": {},
    }
    started = time.perf_counter()
    for name in args.datasets:
        rounds = args.rounds or ROUNDS[name]
        table: dict[str, Any] = {"rounds": rounds, "config": None, "clean": {}, "cells": {}}
        per_seed: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for seed in args.seeds:
            base = SETUPS[name].model_copy(
                update={"partition_seed": seed, "init_seed": seed, "train_seed": seed, "rounds": rounds}
            )
            table["config"] = base.model_dump(
                mode="json", exclude={"partition_seed", "init_seed", "train_seed"}
            )
            fed = federation(base)
            clean: dict[str, float] = {}
            for system in systems:
                res = _run(base, fed, system, validation, args.colluding_voters)
                clean[system] = res.accuracy[-1]
                per_seed.setdefault("clean", {}).setdefault(system, []).append(
                    _cell(res, set(), res.accuracy[-1])
                )
            for share in args.shares:
                for attack in args.attacks:
                    cfg = malicious(base, attack, share)
                    key = f"{attack}@{round(share * 100)}"
                    for system in systems:
                        t0 = time.perf_counter()
                        res = _run(cfg, fed, system, validation, args.colluding_voters)
                        cell = _cell(res, set(cfg.malicious), clean[system])
                        cell["seconds"] = round(time.perf_counter() - t0, 2)
                        per_seed.setdefault(key, {}).setdefault(system, []).append(cell)
                        print(f"{name} seed {seed} {key} {system}: {_line(cell)}", flush=True)
        for key, by_system in per_seed.items():
            target = table["clean"] if key == "clean" else table["cells"].setdefault(key, {})
            for system, cells in by_system.items():
                target[system] = {"pooled": pooled(cells), "runs": cells}
        out["datasets"][name] = table
        out["seconds"] = round(time.perf_counter() - started, 1)
        write(args.out, out)
    print(f"done in {time.perf_counter() - started:.0f} s", flush=True)


def _line(cell: dict[str, Any]) -> str:
    text = (
        f"acc {cell['final_accuracy']:.4f} (drop {cell['drop_points']:+.1f}), malicious rejected "
        f"{_pct(cell['malicious_rejected'])}, honest rejected {_pct(cell['honest_rejected'])}"
    )
    nets = cell["net_tokens"]
    if nets:
        honest = [v for i, v in nets.items() if int(i) not in cell["malicious"]]
        bad = [v for i, v in nets.items() if int(i) in cell["malicious"]]
        text += f", net honest min {min(honest):+.1f}" + (f", attackers max {max(bad):+.1f}" if bad else "")
    return text


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


if __name__ == "__main__":
    main()
