"""geth --dev with a real block period beside anvil: confirmation latency per transaction, and round time.

Run: ``make bench-geth`` (or ``.venv/bin/python bench/chain/geth.py``). Writes bench/results/geth.json.

1. Confirmation latency: seconds from sending a transaction (``ChainClient.transact``, locally signed) to
   its receipt being returned at 0, 1 and 2 confirmations, on geth sealing a block every 2 s. The receipt
   lands with the next block (on average half a period away, plus up to a period when the transaction
   misses the block being built); each confirmation adds one period.
2. Round time: the same whole task (`flalliance simulate`: 4 participants, 4 rounds, digits-mlp, 12 s
   phases) on anvil (automine; the keeper moves the clock past a phase once every participant acted)
   and on geth (blocks every 2 s; a phase ends when everyone acted or its deadline passes in real time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from flalliance.chain.client import ChainClient
from flalliance.chain.geth import Geth
from flalliance.chain.harness import ETHER, derived_accounts
from flalliance.sim.config import SimConfig
from flalliance.sim.runner import Simulation

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "geth.json"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_s": round(statistics.fmean(ordered), 3),
        "median_s": round(ordered[len(ordered) // 2], 3),
        "max_s": round(ordered[-1], 3),
        "count": len(ordered),
    }


def confirmation_latency(period: int, count: int) -> dict[str, Any]:
    from flalliance.chain import artifacts

    artifacts.add_directory(ROOT / "tests" / "contracts" / "artifacts")  # the Counter test contract
    out: dict[str, Any] = {}
    with Geth(period=period) as geth:
        account = derived_accounts(1, label="bench-geth")[0]
        geth.fund([account.address], 10 * ETHER)
        for confirmations in (0, 1, 2):
            client = ChainClient(
                geth.rpc_url, account, chain_id=geth.chain_id, confirmations=confirmations, timeout=120
            )
            counter = client.contract(client.deploy("Counter", 10**9), "Counter")
            samples = []
            for _ in range(count):
                start = time.monotonic()
                client.transact(counter.functions.increment(1))
                samples.append(time.monotonic() - start)
            figures = out[f"confirmations_{confirmations}"] = _stats(samples)
            print(f"geth, {period} s blocks, {confirmations} confirmations: {figures}", flush=True)
    return out


def round_time(chain: str, out: Path) -> dict[str, Any]:
    cfg = SimConfig(participants=4, rounds=4, phase_seconds=12, chain=chain)  # type: ignore[arg-type]
    started = time.monotonic()
    report = Simulation(cfg, out, progress=lambda line: print(f"[{chain}] {line}", flush=True)).run()
    rounds = [r.wall_seconds for r in report.rounds]
    return {
        "rounds": len(rounds),
        "round_seconds": _stats(rounds),
        "setup_seconds": report.setup_seconds,
        "wall_seconds": round(time.monotonic() - started, 1),
        "final_accuracy": report.rounds[-1].global_accuracy if report.rounds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--period", type=int, default=2)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = ROOT / ".state" / "bench-geth"
    results = {
        "confirmation_latency": confirmation_latency(args.period, args.count),
        "round_time": {
            "anvil": round_time("anvil", work / "anvil"),
            "geth": round_time("geth", work / "geth"),
        },
    }
    report = {
        "benchmark": "geth",
        "node": f"geth v1.17.10 --dev, block period {args.period} s; anvil 1.7.1 automine; 127.0.0.1",
        "task": "simulate: 4 participants, 4 rounds, digits-mlp, 12 s phases, per_proposal",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
