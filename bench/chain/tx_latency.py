"""Latency of ChainClient transactions on a local anvil: ms per locally signed, mined, checked transaction.

Run: .venv/bin/python bench/chain/tx_latency.py [--count 300] [--out bench/results/chain_tx_latency.json]
Three modes: transact() with gas estimation (the default path), transact(gas=...) with an explicit gas
limit (no estimate round trip), and call(). For reference, web3's own fn.transact() on anvil's unlocked
account, which looks up nonce, gas and fees itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_keys.backends import get_default_backend_class

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil
from flalliance.chain.keys import dev_account


def _measure(count: int, op: Callable[[], Any]) -> dict[str, float]:
    for _ in range(10):  # warm-up: connection pool, caches
        op()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        op()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "mean_ms": round(statistics.fmean(samples), 3),
        "median_ms": round(samples[len(samples) // 2], 3),
        "p95_ms": round(samples[int(len(samples) * 0.95)], 3),
        "count": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with Anvil() as node:
        client = ChainClient(node.rpc_url, dev_account(0))
        counter = client.contract(client.deploy("Counter", 10**9), "Counter")
        increment = counter.functions.increment(1)
        results = {
            "transact_estimated_gas": _measure(args.count, lambda: client.transact(increment)),
            "transact_explicit_gas": _measure(args.count, lambda: client.transact(increment, gas=80_000)),
            "call": _measure(args.count, lambda: client.call(counter.functions.value())),
            "web3_fn_transact_unlocked_reference": _measure(
                args.count,
                lambda: client.w3.eth.wait_for_transaction_receipt(
                    increment.transact({"from": dev_account(1).address}), poll_latency=0.001
                ),
            ),
        }
    report = {
        "benchmark": "chain_tx_latency",
        "node": "anvil 1.7.1 (automine), 127.0.0.1",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews the figures
        "signing_backend": str(get_default_backend_class()),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
