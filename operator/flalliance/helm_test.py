"""`helm test` for the chart: the operator serves metrics and the dev chain (if any) answers with its id."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Sequence


def check_metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - in-cluster URL from the chart
        body = resp.read().decode()
    if "flalliance_reconciles_total" not in body:
        raise RuntimeError(f"{url} answered but serves no flalliance metrics")
    return f"metrics OK at {url}"


def check_rpc(url: str, chain_id: int) -> str:
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, payload, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        got = int(json.loads(resp.read())["result"], 16)
    if got != chain_id:
        raise RuntimeError(f"dev chain at {url} reports chain id {got}, expected {chain_id}")
    return f"dev chain OK at {url} (chain id {got})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flalliance-helm-test")
    parser.add_argument("--metrics-url")
    parser.add_argument("--rpc-url")
    parser.add_argument("--chain-id", type=int, default=31337)
    args = parser.parse_args(argv)
    try:
        if args.metrics_url:
            print(check_metrics(args.metrics_url))
        if args.rpc_url:
            print(check_rpc(args.rpc_url, args.chain_id))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
