"""Figures for the local cluster (`make bench-cluster`), written to bench/results/cluster.json.

1. cold `make cluster`: empty Go build cache, module cache and binary cache (separate throw-away
   directories, so other engineers' caches stay intact), empty cluster state: build included.
2. warm `make cluster` (binaries cached): a fresh start (CLEAN=1 state) and a restart (state kept).
3. Job created -> pod Running, over 20 Jobs run one after another (client clock, watch events).
4. Control-plane memory: RSS of every process the cluster runs (PID files; CoreDNS through the CRI).

Needs root (it starts the cluster) and the smoke image (`make images`). `--no-cold` skips step 1 and keeps
the cold figure of the previous result file. Prints every figure as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".state" / "cluster"
RESULT = ROOT / "bench" / "results" / "cluster.json"
# Root-only scratch for the cold build (removed afterwards); not a shared temp file.
SCRATCH = Path("/var/tmp/flalliance-bench-cold")  # noqa: S108
COMPONENTS = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "containerd",
    "hostpath-provisioner",
]


def sh(*cmd: str, env: dict[str, str] | None = None) -> float:
    """Run a command (output streamed), fail loudly, return wall seconds."""
    start = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, **(env or {})})
    return time.monotonic() - start


def timed_cluster(label: str, env: dict[str, str] | None = None) -> float:
    secs = sh("make", "--no-print-directory", "cluster", env=env)
    print(f"== {label}: make cluster took {secs:.1f} s", flush=True)
    return round(secs, 1)


def cold_start() -> float:
    sh("hack/cluster-down.sh", env={"CLEAN": "1"})
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    env = {
        "GOCACHE": str(SCRATCH / "go-build"),
        "GOMODCACHE": str(SCRATCH / "go-mod"),
        "FLALLIANCE_CACHE": str(SCRATCH / "cache"),
    }
    try:
        return timed_cluster("cold (empty Go caches, build included)", env)
    finally:
        # The cluster keeps running from the scratch binaries; stop it before removing them.
        sh("hack/cluster-down.sh", env={"CLEAN": "1"})
        subprocess.run(["chmod", "-R", "u+w", str(SCRATCH)], check=False)
        shutil.rmtree(SCRATCH, ignore_errors=True)


def job_to_running(api: client.ApiClient, n: int) -> list[float]:
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    ns = f"bench-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    deadline = time.monotonic() + 60
    while True:
        try:
            core.read_namespaced_service_account("default", ns)
            break
        except client.ApiException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    samples = []
    try:
        for i in range(n):
            name = f"j{i}"
            job = client.V1Job(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1JobSpec(
                    backoff_limit=0,
                    template=client.V1PodTemplateSpec(
                        spec=client.V1PodSpec(
                            restart_policy="Never",
                            termination_grace_period_seconds=0,
                            containers=[
                                client.V1Container(
                                    name="main",
                                    image="flalliance/smoke:dev",
                                    image_pull_policy="Never",
                                    args=["serve", "8080"],
                                )
                            ],
                        )
                    ),
                ),
            )
            w = watch.Watch()
            start = time.monotonic()
            batch.create_namespaced_job(ns, job)
            elapsed = None
            for ev in w.stream(
                core.list_namespaced_pod, ns, label_selector=f"job-name={name}", timeout_seconds=120
            ):
                if ev["object"].status.phase == "Running":
                    elapsed = time.monotonic() - start
                    w.stop()
            if elapsed is None:
                raise RuntimeError(f"job {name}: pod not Running within 120 s")
            samples.append(round(elapsed, 3))
            print(f"   job {i + 1}/{n}: created -> pod Running in {elapsed:.2f} s", flush=True)
            batch.delete_namespaced_job(name, ns, propagation_policy="Background", grace_period_seconds=0)
    finally:
        core.delete_namespace(ns, propagation_policy="Background")
    return samples


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def memory() -> dict[str, float]:
    out = {}
    for c in COMPONENTS:
        pid = int((STATE / "pids" / f"{c}.pid").read_text())
        out[c] = rss_mib(pid)
    crictl = [
        str(STATE / "bin" / "crictl"),
        "--runtime-endpoint",
        "unix:///run/flalliance/containerd/containerd.sock",
    ]
    cid = subprocess.run(
        [*crictl, "ps", "--name", "coredns", "-q"], capture_output=True, text=True, check=True
    )
    ids = cid.stdout.split()
    if ids:
        info = json.loads(
            subprocess.run([*crictl, "inspect", ids[0]], capture_output=True, text=True, check=True).stdout
        )
        out["coredns"] = rss_mib(int(info["info"]["pid"]))
    out["total"] = round(sum(v for k, v in out.items()), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--no-cold", action="store_true", help="skip the cold build (keep the previous cold figure)"
    )
    ap.add_argument("--jobs", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-cluster needs root (it starts the cluster)")
    previous: dict[str, Any] = json.loads(RESULT.read_text()) if RESULT.is_file() else {}

    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "command": "make bench-cluster",
    }
    if args.no_cold:
        result["cold_make_cluster_s"] = previous.get("cold_make_cluster_s")
        result["cold_note"] = "kept from an earlier run (--no-cold)"
    else:
        result["cold_make_cluster_s"] = cold_start()

    sh("hack/build-tools.sh", "kubernetes", "crictl", "coredns", "hostpath-provisioner", "helm")
    sh("hack/cluster-down.sh", env={"CLEAN": "1"})
    result["warm_fresh_make_cluster_s"] = timed_cluster("warm, fresh state (CLEAN=1, binaries cached)")
    sh("hack/cluster-down.sh")
    result["warm_restart_make_cluster_s"] = timed_cluster("warm restart (state kept)")
    result["idempotent_rerun_s"] = timed_cluster("second make cluster on a running cluster")

    sh("hack/images.sh", "smoke")
    sh("hack/cluster-load.sh", "smoke")
    api = config.new_client_from_config(config_file=str(STATE / "kubeconfig"))
    samples = job_to_running(api, args.jobs)
    result["job_to_running_s"] = {
        "n": len(samples),
        "median": round(statistics.median(samples), 3),
        "p90": round(sorted(samples)[int(0.9 * (len(samples) - 1))], 3),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }
    time.sleep(10)  # let the control plane settle after the Jobs
    result["rss_mib"] = memory()
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
