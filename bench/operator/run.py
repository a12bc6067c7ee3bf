"""Operator overhead per round and Kubernetes API requests per round (issue: the operator benchmark).

A real etcd + kube-apiserver and a real anvil; the operator (`flalliance operator`) in its own process;
"fast Jobs": a kubelet stand-in completes the worker Jobs at once (in parallel, as a kubelet would run
their pods) by sending each Job's chain transaction
itself (a dummy model hash, an always-accept vote sealed for the operator to reveal), so the round's wall
time is almost all operator and chain overhead. For each round it reports:
  overhead      = round wall time - its longest Job (the issue's definition)
  path overhead = round wall time - the Jobs on the critical path (longest pioneer + train + validate)
and the API requests the reconciler made per round.

    .venv/bin/python bench/operator/run.py --participants 10 50 --rounds 4
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from flalliance.chain.arena import ArenaClient
from flalliance.chain.client import ChainClient
from flalliance.chain.commitment import vote_commitment
from flalliance.chain.deploy import deploy_system
from flalliance.chain.devchain import Anvil
from flalliance.chain.harness import ETHER, derived_accounts
from flalliance.chain.keys import dev_account
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient
from flalliance.sealed_vote import VoteOpening, derive_salt, seal
from flalliance.testing.apiserver import LocalApiServer, free_port
from flalliance.testing.job_outcome import record_job, record_pod
from flalliance.testing.manifests import participant_manifest

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION = "flalliance.io", "v1alpha1"
SPEC = {
    "dataset": {"source": "participant", "feature_shape": [64], "num_classes": 10},
    "model": {"kind": "logreg"},
    "training": {"epochs": 1, "batch_size": 16, "optimizer": {"kind": "sgd", "learning_rate": 0.1}},
}


@dataclass
class FastKubelet:
    """Completes each worker Job at once by doing its on-chain step directly (no training)."""

    api: client.ApiClient
    namespace: str
    rpc_url: str
    chain_id: int
    keys: dict[str, bytes]  # Secret name -> private key
    handled: set[str] = field(default_factory=set)
    durations: dict[str, float] = field(default_factory=dict)  # Job name -> seconds
    started: dict[str, float] = field(default_factory=dict)
    clients: dict[bytes, ChainClient] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Each Job starts when it arrives, as a kubelet starts a pod: a pool of one round's Jobs at most
        # (P + V = 48 at the default committees), so no Job waits for an unrelated one to finish.
        self.pool = ThreadPoolExecutor(max_workers=64)
        self.running: list[Future[None]] = []
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.arrived: queue.Queue[Any] = queue.Queue()
        self.stopping = threading.Event()
        # A watch, as the Job controller has: listing every Job of the namespace each step would load the
        # API server (and this process) more with every round, and that load would be charged to the operator.
        self.watcher = threading.Thread(target=self._watch, daemon=True)
        self.watcher.start()

    def _watch(self) -> None:
        # "0": start from the API server's watch cache as it is (every Job it holds comes as ADDED). An empty
        # version asks for a consistent start, which waits for the cache to catch up with etcd: on this
        # API server that wait sometimes never ended (the stand-in then saw no Job; 3 runs in 10 hung).
        resource_version = "0"
        while not self.stopping.is_set():
            w = watch.Watch()
            try:
                for event in w.stream(
                    self.batch.list_namespaced_job,
                    self.namespace,
                    resource_version=resource_version,
                    timeout_seconds=30,
                    # connect, then read: no gap between bytes of a watch exceeds its 30 s, so a connection
                    # that hangs is dropped after 40 s
                    _request_timeout=(5, 40),
                ):
                    job = event["object"]
                    resource_version = job.metadata.resource_version
                    if event["type"] == "ADDED":
                        self.arrived.put(job)
                    if self.stopping.is_set():
                        break
            except (ApiException, urllib3.exceptions.HTTPError):
                # 410 Gone, 504 while the watch cache catches up, or a hung connection timed out: list afresh
                resource_version = "0"  # (the ADDED events of Jobs already seen are skipped in step)
                time.sleep(0.2)
            except Exception:
                if self.stopping.is_set():  # the API server went away at the end of the run
                    return
                raise
            finally:
                w.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def step(self) -> None:
        """Start every new Job at once (a kubelet runs a round's pods in parallel); raise what a finished
        one raised."""
        new = []
        while True:
            try:
                job = self.arrived.get_nowait()
            except queue.Empty:
                break
            if job.metadata.name not in self.handled:
                self.handled.add(job.metadata.name)
                new.append(job)
        for job in new:
            self.running.append(self.pool.submit(self._run_one, job))
        done = [f for f in self.running if f.done()]
        self.running = [f for f in self.running if f not in done]
        for f in done:
            f.result()  # a Job the stand-in could not run fails the benchmark, not silently

    def _run_one(self, job: Any) -> None:
        name = job.metadata.name
        start = time.monotonic()
        self.started[name] = start
        message = self._run(job)
        self._complete(job, message)
        self.durations[name] = time.monotonic() - start

    def _run(self, job: Any) -> str:
        container = job.spec.template.spec.containers[0]
        env = {e.name: e.value for e in container.env}
        kind, round_ = container.args[0], int(container.args[2])
        secret = next(v for v in job.spec.template.spec.volumes if v.name == "wallet").secret.secret_name
        key = self.keys[secret]
        with self.lock:
            if key not in self.clients:
                from eth_account import Account

                self.clients[key] = ChainClient(self.rpc_url, Account.from_key(key), chain_id=self.chain_id)
                # A worker pod is a new process: it reads its wallet's nonce when it starts (the operator
                # reveals with the same wallet in between).
                self.clients[key].nonce_from_chain = True
        task = TaskClient(self.clients[key], env["FLALLIANCE_TASK"])
        model = secrets.token_bytes(32)
        if kind == "pioneer":
            task.submit_pioneer(model)
            return json.dumps({"status": "done"})
        if kind == "train":
            task.propose(model, 100)
            return json.dumps({"status": "done"})
        voter = str(self.clients[key].address)
        count = len(task.proposals(round_))
        salt = derive_salt(key, task.address, round_, voter)
        agg = "0x" + model.hex()
        verdicts = (1 << count) - 1
        task.commit_vote(vote_commitment(task.address, round_, voter, agg, 1, verdicts, salt))
        opening = VoteOpening(
            task=task.address,
            round=round_,
            voter=voter,
            aggregate_hash=agg,
            score=1,
            verdicts=verdicts,
            salt=salt,
            accuracy=0.9,
        )
        return json.dumps({"status": "done", "sealed_vote": seal(opening, key)})

    def _complete(self, job: Any, message: str) -> None:
        record_pod(self.core, self.namespace, job, f"{job.metadata.name}-0", 0, message)
        record_job(self.batch, self.namespace, job, succeeded=True)


class OperatorProcess:
    """The real `flalliance operator` command in its own process, as deployed (minus leader election)."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path) -> None:
        self.kubeconfig, self.namespace, self.log = kubeconfig, namespace, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flalliance.cli",
                    "operator",
                    f"--kubeconfig={self.kubeconfig}",
                    f"--namespace={self.namespace}",
                    "--no-leader-election",
                    f"--metrics-port={self.port}",
                    "--health-port=0",
                    "--log-level=WARNING",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                self.api_requests()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"operator did not start; see {self.log}")

    def metrics(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith(("flalliance_", "process_cpu_seconds_total")) and " " in line:
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def api_requests(self) -> float:
        return sum(self.api_requests_by_kind().values())

    def api_requests_by_kind(self) -> dict[str, float]:
        return request_kinds(self.metrics())

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request_kinds(metrics: dict[str, float]) -> dict[str, float]:
    """The operator's API requests so far by `verb resource` (e.g. `list jobs`), from a scrape."""
    out = {}
    for key, value in metrics.items():
        if key.startswith("flalliance_kube_requests_total{"):
            labels = dict(
                part.split("=", 1) for part in key[key.index("{") + 1 : -1].replace('"', "").split(",")
            )
            out[f"{labels['verb']} {labels['resource']}"] = value
    return out


@contextmanager
def control_plane(apiserver_dir: Path) -> Iterator[tuple[client.ApiClient, Anvil, Path]]:
    """A real etcd + kube-apiserver with the project's CRDs, and an anvil: (API client, node, kubeconfig)."""
    server = LocalApiServer(apiserver_dir)
    server.start()
    try:
        api = config.new_client_from_config(str(server.kubeconfig))
        ext = client.ApiextensionsV1Api(api)
        for path in sorted((REPO / "crds").glob("*.yaml")):
            ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        time.sleep(1.0)
        with Anvil() as node:
            yield api, node, server.kubeconfig
    finally:
        server.stop()


def run_size(n: int, rounds: int, workdir: Path) -> dict[str, Any]:
    with control_plane(workdir / f"apiserver-{n}") as (api, node, kubeconfig):
        return _run(n, rounds, api, node, workdir, kubeconfig)


@dataclass
class Bench:
    """The chain side and the namespace a benchmark runs in: a deployed system with a finished Arena task,
    a funded owner, and the Secrets (whose keys the fast kubelet signs with) and PVCs it made."""

    api: client.ApiClient
    node: Anvil
    owner: ChainClient
    factory: str
    token: TokenClient
    ns: str = "bench"
    keys: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def deploy(cls, api: client.ApiClient, node: Anvil) -> Bench:
        owner = ChainClient(node.rpc_url, dev_account(0), chain_id=node.chain_id)
        system = deploy_system(owner)
        arena = ArenaClient(owner, system.arena)
        arena.register(1, 1_000 * ETHER)
        arena.finish(1, b"\x22" * 32)
        token = TokenClient(owner, system.token)
        assert owner.address is not None
        token.mint(owner.address, 1_000_000 * ETHER)
        bench = cls(api, node, owner, system.factory, token)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": bench.ns}})
        bench.secret("operator-key", bytes(dev_account(0).key))
        return bench

    def secret(self, name: str, key: bytes) -> None:
        self.keys[name] = key
        data = base64.b64encode(("0x" + key.hex()).encode()).decode()
        client.CoreV1Api(self.api).create_namespaced_secret(
            self.ns, {"metadata": {"name": name}, "data": {"privateKey": data}}
        )

    def participants(self, task: str, n: int, rounds: int, store: Path) -> None:
        """An FLTask of `n` participants, each with its funded key in a Secret and a PVC."""
        core, custom = client.CoreV1Api(self.api), client.CustomObjectsApi(self.api)
        for i, account in enumerate(derived_accounts(n, label=f"bench-operator-{task}-{n}")):
            self.owner.set_balance(account.address, 100 * ETHER)
            self.token.mint(account.address, 100 * ETHER)
            self.secret(f"{task}-wallet-{i}", bytes(account.key))
            core.create_namespaced_persistent_volume_claim(
                self.ns,
                {
                    "metadata": {"name": f"{task}-data-{i}"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                },
            )
        custom.create_namespaced_custom_object(
            GROUP, VERSION, self.ns, "fltasks", self._task(task, n, rounds, store)
        )
        for i in range(n):
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                self.ns,
                "participants",
                participant_manifest(f"{task}-p{i}", task, f"{task}-wallet-{i}", f"{task}-data-{i}"),
            )

    def _task(self, name: str, n: int, rounds: int, store: Path) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "FLTask",
            "metadata": {"name": name},
            "spec": {
                "chain": {
                    "rpcUrl": self.node.rpc_url,
                    "chainId": self.node.chain_id,
                    "factoryAddress": self.factory,
                    "operatorKeySecret": {"name": "operator-key"},
                },
                "arenaTaskId": 1,
                "trainingLogic": {"inline": SPEC},
                "rounds": rounds,
                "minParticipants": n,
                "maxParticipants": n,
                "proposerFraction": 0.3,
                "minStake": "10",
                "phaseDurations": {
                    "join": 3600,
                    "pioneer": 600,
                    "propose": 600,
                    "commit": 600,
                    "reveal": 600,
                },
                "maxLifetimeSeconds": 86400,
                "store": {"url": f"file://{store}"},
            },
        }


def _run(
    n: int, rounds: int, api: client.ApiClient, node: Anvil, workdir: Path, kubeconfig: Path
) -> dict[str, Any]:
    bench = Bench.deploy(api, node)
    owner, ns, keys = bench.owner, bench.ns, bench.keys
    custom = client.CustomObjectsApi(api)
    store = workdir / f"store-{n}"
    store.mkdir()
    bench.participants("bench", n, rounds, store)
    kubelet = FastKubelet(api, ns, node.rpc_url, node.chain_id, keys)
    operator = OperatorProcess(kubeconfig, ns, workdir / f"operator-{n}.log")
    requests_at: dict[int, float] = {}
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    t0 = time.monotonic()
    operator.start()
    try:
        task: TaskClient | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            kubelet.step()
            if task is None:
                status = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", "bench").get(
                    "status", {}
                )
                if status.get("contractAddress"):
                    task = TaskClient(owner, status["contractAddress"])
                refused = [c for c in status.get("conditions", []) if c["reason"] == "InvalidSpec"]
                if refused:  # e.g. too few rounds for the participants: say so, do not wait 600 s
                    raise RuntimeError(f"{n} participants: the FLTask was refused: {refused[0]['message']}")
                time.sleep(0.02)
                continue
            state = task.state()
            now = time.monotonic()
            if state.round_started and state.round not in starts:
                starts[state.round] = now
                requests_at[state.round] = operator.api_requests()
            for r in range(state.finalized_rounds):
                if r not in ends and r in starts:
                    ends[r] = now
                    requests_at[-(r + 1)] = operator.api_requests()
            if state.finalized_rounds >= rounds:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{n} participants: task did not finish; rounds done {sorted(ends)}")
        stages = operator.metrics()
    finally:
        operator.stop()
        kubelet.stop()
    total = time.monotonic() - t0
    passes = stages.get('flalliance_reconcile_stage_seconds_count{stage="observe"}', 0.0)
    stage_means = {
        stage: round(
            stages.get(f'flalliance_reconcile_stage_seconds_sum{{stage="{stage}"}}', 0.0) / max(passes, 1), 4
        )
        for stage in ("observe", "act", "status")
    }
    per_round = []
    for r in sorted(ends):
        jobs = {k: v for k, v in kubelet.durations.items() if f"-r{r}-" in k}
        longest = max(jobs.values(), default=0.0)
        path = sum(
            max((v for k, v in jobs.items() if f"-{kind}-" in k), default=0.0)
            for kind in ("pioneer", "train", "validate")
        )
        wall = ends[r] - starts[r]
        per_round.append(
            {
                "round": r,
                "wall_s": round(wall, 3),
                "jobs": len(jobs),
                "longest_job_s": round(longest, 3),
                "overhead_s": round(wall - longest, 3),
                "path_overhead_s": round(wall - path, 3),
                "api_requests": int(requests_at[-(r + 1)] - requests_at[r]),
            }
        )
    return {
        "participants": n,
        "rounds": rounds,
        "total_s": round(total, 2),
        "median_overhead_s": round(statistics.median(x["overhead_s"] for x in per_round), 3),
        "median_path_overhead_s": round(statistics.median(x["path_overhead_s"] for x in per_round), 3),
        "median_api_requests_per_round": statistics.median(x["api_requests"] for x in per_round),
        "reconcile_passes_per_round": round(passes / rounds, 1),
        # the operator process's CPU (user + system) over the whole run, set-up and pioneer round included
        "operator_cpu_s_per_round": round(stages.get("process_cpu_seconds_total", 0.0) / rounds, 3),
        "mean_pass_stage_s": stage_means,
        "per_round": per_round,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=4)  # PerProposal: >= one epoch at 0.3
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "operator.json")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.participants:
            print(f"== {n} participants, {args.rounds} rounds", flush=True)
            res = run_size(n, args.rounds, Path(tmp))
            print(json.dumps({k: v for k, v in res.items() if k != "per_round"}), flush=True)
            results.append(res)
    targets = {10: 2.0, 50: 5.0}
    out = {
        "benchmark": "operator overhead per round",
        "command": "python bench/operator/run.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "targets_s": {str(k): v for k, v in targets.items()},
        "results": results,
    }
    for res in results:
        target = targets.get(res["participants"])
        if target is not None:
            res["target_met"] = res["median_overhead_s"] <= target
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
