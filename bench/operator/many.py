"""One operator, many tasks: CPU, resident memory and API requests with T concurrent FLTasks (issue 13).

The same harness as `run.py` (a real etcd + kube-apiserver, a real anvil, the real `flalliance operator`
in its own process, the fast kubelet doing each Job's chain step at once), with T FLTasks of N local
participants each in one namespace. The operator's process is sampled from /proc every second:

  cpu_cores      = operator CPU seconds / wall seconds, over the steady window (every task past its
                   pioneer round, until the last task finishes) and over each 10 s slice of it
  rss_mib        = resident memory, the largest sample
  requests/round = Kubernetes API requests per finalized task-round, in the first and the second half
                   of the steady window (constant when the operator's cost does not grow with the tasks'
                   age)

    .venv/bin/python bench/operator/many.py --tasks 100 --participants 10 --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    GROUP,
    REPO,
    VERSION,
    Bench,
    FastKubelet,
    OperatorProcess,
    control_plane,
    request_kinds,
)

from flalliance.chain.devchain import Anvil
from flalliance.chain.task import TaskClient

TICK = os.sysconf("SC_CLK_TCK")
TARGETS = {"cpu_cores": 1.0, "rss_mib": 500.0}


@dataclass
class Sample:
    t: float
    cpu_s: float
    rss_mib: float
    requests: float
    finalized: int  # task-rounds finalized so far, over every task
    by_kind: dict[str, float]  # the requests by `verb resource`
    passes: float  # reconcile passes so far, over every task


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime of every thread


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(tasks: int, n: int, rounds: int, workdir: Path) -> dict[str, Any]:
    with control_plane(workdir / "apiserver") as (api, node, kubeconfig):
        return _run(tasks, n, rounds, api, node, workdir, kubeconfig)


def _run(
    tasks: int, n: int, rounds: int, api: client.ApiClient, node: Anvil, workdir: Path, kubeconfig: Path
) -> dict[str, Any]:
    bench = Bench.deploy(api, node)
    names = [f"t{k:03d}" for k in range(tasks)]
    store = workdir / "store"
    store.mkdir()
    t_setup = time.monotonic()
    for name in names:
        bench.participants(name, n, rounds, store)
    setup_s = time.monotonic() - t_setup
    custom = client.CustomObjectsApi(api)
    kubelet = FastKubelet(api, bench.ns, node.rpc_url, node.chain_id, bench.keys)
    operator = OperatorProcess(kubeconfig, bench.ns, workdir / "operator.log")
    samples: list[Sample] = []
    clients: dict[str, TaskClient] = {}
    finalized: dict[str, int] = {}
    steady_from: float | None = None
    t0 = time.monotonic()
    operator.start()
    assert operator.proc is not None
    pid = operator.proc.pid
    try:
        deadline = time.monotonic() + 3600
        next_sample = time.monotonic()
        while time.monotonic() < deadline:
            kubelet.step()
            if time.monotonic() < next_sample:
                time.sleep(0.05)
                continue
            next_sample += 1.0
            for name in names:
                if name not in clients:
                    status = custom.get_namespaced_custom_object(
                        GROUP, VERSION, bench.ns, "fltasks", name
                    ).get("status", {})
                    if status.get("contractAddress"):
                        clients[name] = TaskClient(bench.owner, status["contractAddress"])
                    continue
                if finalized.get(name, 0) < rounds:
                    finalized[name] = clients[name].state().finalized_rounds
            now = time.monotonic()
            scraped = operator.metrics()
            by_kind = request_kinds(scraped)
            passes = sum(v for k, v in scraped.items() if k.startswith("flalliance_reconciles_total{"))
            samples.append(
                Sample(
                    now,
                    _cpu_s(pid),
                    _rss_mib(pid),
                    sum(by_kind.values()),
                    sum(finalized.values()),
                    by_kind,
                    passes,
                )
            )
            if steady_from is None and len(finalized) == tasks and min(finalized.values()) >= 1:
                steady_from = now  # every task past its pioneer round: the operator's steady state
            if len(finalized) == tasks and min(finalized.values()) >= rounds:
                break
        else:
            raise RuntimeError(f"{tasks} tasks did not finish: finalized rounds {finalized}")
    finally:
        operator.stop()
        kubelet.stop()
    assert steady_from is not None
    steady = [s for s in samples if s.t >= steady_from]
    first, last = steady[0], steady[-1]
    middle = min(steady, key=lambda s: abs(s.finalized - (first.finalized + last.finalized) / 2))

    def per_round(a: Sample, b: Sample, what: str = "requests") -> float | None:
        """Requests (or passes) per task-round between two samples."""
        done = b.finalized - a.finalized
        return round((getattr(b, what) - getattr(a, what)) / done, 1) if done > 0 else None

    def kinds_per_round(a: Sample, b: Sample) -> dict[str, float]:
        """Each kind's requests per task-round between two samples: which of them grow."""
        rounds_between = max(1, b.finalized - a.finalized)
        return {
            k: round((b.by_kind.get(k, 0.0) - a.by_kind.get(k, 0.0)) / rounds_between, 1)
            for k in sorted(b.by_kind)
        }

    slices = []
    for a in steady:
        b = next((s for s in steady if s.t >= a.t + 10), None)
        if b is None:
            break
        slices.append((b.cpu_s - a.cpu_s) / (b.t - a.t))
    return {
        "tasks": tasks,
        "participants_per_task": n,
        "rounds": rounds,
        "setup_s": round(setup_s, 1),
        "total_s": round(time.monotonic() - t0, 1),
        "steady_s": round(last.t - first.t, 1),
        "task_rounds_in_steady_window": last.finalized - first.finalized,
        "cpu_cores_mean": round((last.cpu_s - first.cpu_s) / (last.t - first.t), 3),
        "cpu_cores_max_10s": round(max(slices, default=0.0), 3),
        "cpu_cores_median_10s": round(statistics.median(slices), 3) if slices else None,
        "rss_mib_max": round(max(s.rss_mib for s in samples), 1),
        "rss_mib_end": round(samples[-1].rss_mib, 1),
        "api_requests_per_task_round_first_half": per_round(first, middle),
        "api_requests_per_task_round_second_half": per_round(middle, last),
        "api_requests_per_task_round_whole_run": per_round(samples[0], last),
        "api_requests_per_task_round_by_kind_first_half": kinds_per_round(first, middle),
        "api_requests_per_task_round_by_kind_second_half": kinds_per_round(middle, last),
        "passes_per_task_round_first_half": per_round(first, middle, "passes"),
        "passes_per_task_round_second_half": per_round(middle, last, "passes"),
        # The rate, not the count per round: on a saturated machine rounds last longer and the idle
        # safety-net passes of a waiting task add to a round's count without adding work.
        "api_requests_per_task_minute_steady": round(
            (last.requests - first.requests) / tasks / (last.t - first.t) * 60, 1
        ),
        "task_rounds_per_s_steady": round((last.finalized - first.finalized) / (last.t - first.t), 3),
        "samples": [
            {
                "t": round(s.t - t0, 1),
                "cpu_s": round(s.cpu_s, 2),
                "rss_mib": round(s.rss_mib, 1),
                "requests": int(s.requests),
                "finalized": s.finalized,
            }
            for s in samples[:: max(1, len(samples) // 200)]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)  # PerProposal: >= one epoch at 0.3
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "operator-tasks.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(args.tasks, args.participants, args.rounds, Path(tmp))
    print(json.dumps({k: v for k, v in res.items() if k != "samples"}), flush=True)
    res["target_met"] = {
        "cpu_cores": res["cpu_cores_mean"] <= TARGETS["cpu_cores"],
        "rss_mib": res["rss_mib_max"] <= TARGETS["rss_mib"],
    }
    out = {
        "benchmark": "one operator, many concurrent tasks",
        "command": "python bench/operator/many.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "targets": TARGETS,
        "result": res,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
