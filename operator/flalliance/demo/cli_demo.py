"""`flalliance demo watch`: follow an FLTask on a cluster to its end, then summarize it from the chain.

Prints a progress line (round, phase, participants, Jobs, accuracy) whenever it changes and any condition
that turns False; when the task ends, reaches the dev chain through `kubectl port-forward`, reads every
participant's stake, rewards, slashes and balance and audits the escrow, then writes outcome.json and
demo.png. Exit code 0 only when the task Completed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

GROUP, VERSION = "flalliance.io", "v1alpha1"


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the on-cluster demo's helpers").add_subparsers(
        dest="demo", required=True
    )
    w = demo.add_parser(
        "watch", help="follow an FLTask to its end, then print its outcome read from the chain"
    )
    w.add_argument("--namespace", "-n", required=True)
    w.add_argument("--task", required=True, help="FLTask name")
    w.add_argument("--kubeconfig", default=None, help="default: $KUBECONFIG or ~/.kube/config")
    w.add_argument("--kubectl", default="kubectl", help="kubectl binary (for port-forward)")
    w.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the end")
    w.add_argument(
        "--chain-service", default="flalliance-devchain", help="the chain's Service in --namespace"
    )
    w.add_argument("--chain-port", type=int, default=8545)
    w.add_argument(
        "--addresses-configmap",
        default="flalliance-devchain-addresses",
        help="the dev chain's ConfigMap; its funded amounts are the balances before the task",
    )
    w.add_argument("--out", type=Path, default=Path(".state/demo"), help="outcome.json and demo.png go here")
    w.set_defaults(func=_watch)


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _snapshot(api: Any, ns: str, task: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[Any]]:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    co = client.CustomObjectsApi(api)
    try:
        obj: dict[str, Any] | None = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", task)
    except ApiException as exc:
        if exc.status != 404:
            raise
        obj = None
    parts = [
        p
        for p in co.list_namespaced_custom_object(GROUP, VERSION, ns, "participants")["items"]
        if (p.get("spec") or {}).get("taskRef", {}).get("name") == task
    ]
    jobs = client.BatchV1Api(api).list_namespaced_job(ns, label_selector=f"flalliance.io/task={task}").items
    return obj, parts, [api.sanitize_for_serialization(j) for j in jobs]


def follow(
    api: Any, ns: str, task: str, timeout: float
) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """Print progress until the task ends; returns its last state and the seconds it took."""
    from flalliance.demo.progress import TERMINAL_PHASES, problems, progress_line

    start = time.monotonic()
    last_line, last_problems = "", [""]
    while True:
        obj, parts, jobs = _snapshot(api, ns, task)
        line = f"waiting for FLTask {ns}/{task}" if obj is None else progress_line(obj, parts, jobs)
        if line != last_line:
            _say(line)
            last_line = line
        found = [] if obj is None else problems(obj)
        if found != last_problems and found:
            for p in found:
                _say(f"  condition {p}")
        last_problems = found
        if obj is not None and (obj.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return obj, parts, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"FLTask {ns}/{task} did not end within {timeout:.0f} s; last: {line}")
        time.sleep(2)


def _baseline(api: Any, ns: str, name: str) -> dict[str, int] | None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        cm = client.CoreV1Api(api).read_namespaced_config_map(name, ns)
    except ApiException:
        return None
    deployment = json.loads((cm.data or {}).get("deployment.json", "{}"))
    return {f["address"]: int(f["fml"]) for f in deployment.get("funded", [])} or None


def _watch(args: argparse.Namespace) -> int:
    from kubernetes import config

    from flalliance.chain.client import ChainClient
    from flalliance.demo.outcome import read_outcome, summary_text
    from flalliance.demo.plot import outcome_plot
    from flalliance.demo.port_forward import port_forward

    api = config.new_client_from_config(config_file=args.kubeconfig)
    try:
        obj, parts, elapsed = follow(api, args.namespace, args.task, args.timeout)
    except TimeoutError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    baseline = _baseline(api, args.namespace, args.addresses_configmap)
    with port_forward(
        args.namespace, args.chain_service, args.chain_port, kubectl=args.kubectl, kubeconfig=args.kubeconfig
    ) as port:
        outcome = read_outcome(ChainClient(f"http://127.0.0.1:{port}"), obj, parts, baseline)
    print()
    print(summary_text(outcome, elapsed))
    args.out.mkdir(parents=True, exist_ok=True)
    record = outcome.model_dump(mode="json") | {"elapsed_seconds": round(elapsed, 1)}
    (args.out / "outcome.json").write_text(json.dumps(record, indent=2) + "\n")
    png = outcome_plot(outcome, args.out / "demo.png")
    print(f"outcome: {args.out / 'outcome.json'}; plot: {png}")
    return 0 if outcome.phase == "Completed" else 1
