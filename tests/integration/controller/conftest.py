"""A real etcd + kube-apiserver (no kubelet) with the project's CRDs installed, once per session, and the
stand-in for the kubelet and the Job controller, played openly by the tests (no pods run here): for every
new worker Job it runs the real `flalliance-worker` with the Job's own arguments and environment, mapping
the Job's volumes to local paths (wallet Secret → key file, dataset PVC → the participant's partition,
any other PVC → its directory, ConfigMap or other Secret → a directory with its keys as files (read as
the Job's namespace's kubelet would); environment values that
name a mount path are rewritten to the local path, as the mount would make them true), then records the
outcome as they would: a Pod with the termination message and exit code, and the Job's status (Complete,
or Failed once its retries are used up)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from flalliance.chain.arena import ArenaClient
from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.harness import ETHER, derived_accounts
from flalliance.chain.token import TokenClient
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import PartitionRecord, dirichlet, write_partitions
from flalliance.testing.apiserver import LocalApiServer
from flalliance.testing.job_outcome import record_job, record_pod

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiServer]:
    server = LocalApiServer(tmp_path_factory.mktemp("apiserver"))
    server.start()
    try:
        api = config.new_client_from_config(str(server.kubeconfig))
        ext = client.ApiextensionsV1Api(api)
        for path in sorted((REPO / "crds").glob("*.yaml")):
            ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        deadline = time.monotonic() + 60
        for path in sorted((REPO / "crds").glob("*.yaml")):
            name = yaml.safe_load(path.read_text())["metadata"]["name"]
            while True:
                crd = ext.read_custom_resource_definition(name)
                conds = {c.type: c.status for c in (crd.status.conditions or [])}
                if conds.get("Established") == "True":
                    break
                assert time.monotonic() < deadline, f"CRD {name} not established"
                time.sleep(0.2)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube_api(apiserver: LocalApiServer) -> client.ApiClient:
    return config.new_client_from_config(str(apiserver.kubeconfig))


class Kubectl:
    """kubectl (built with the API server) against the test API server, as a user would run it."""

    def __init__(self, server: LocalApiServer) -> None:
        self.base = [str(server.kube_apiserver.parent / "kubectl"), "--kubeconfig", str(server.kubeconfig)]

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )


@pytest.fixture(scope="session")
def kubectl(apiserver: LocalApiServer) -> Kubectl:
    return Kubectl(apiserver)


@dataclass
class KubeletStandIn:
    api: client.ApiClient
    namespace: str
    data_dirs: dict[str, Path]  # PVC name -> directory (datasets, and e.g. a file:// store's volume)
    workdir: Path
    handled: set[str] = field(default_factory=set)
    runs: list[dict[str, Any]] = field(default_factory=list)
    fail_next: set[str] = field(default_factory=set)  # Job names whose first run is killed

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)

    def _mounted_paths(self, pod_spec: Any, container: Any, into: Path) -> dict[str, Path] | None:
        """Mount path -> local path for the ConfigMap and Secret volumes (but the wallet) and the non-dataset
        PVCs; None while one is missing (a kubelet keeps such a pod waiting in ContainerCreating)."""
        volumes = {v.name: v for v in pod_spec.volumes}
        paths: dict[str, Path] = {}
        for mount in container.volume_mounts:
            volume = volumes[mount.name]
            if volume.persistent_volume_claim is not None:
                if mount.name != "data":  # the dataset is mapped by _run (its subPath)
                    paths[mount.mount_path] = self.data_dirs[volume.persistent_volume_claim.claim_name]
                continue
            files: dict[str, bytes] | None = None
            if volume.config_map is not None:
                cm = self._read_or_none(self.core.read_namespaced_config_map, volume.config_map.name)
                if cm is None:
                    return None
                items = volume.config_map.items or [client.V1KeyToPath(key=k, path=k) for k in cm.data]
                files = {item.path: cm.data[item.key].encode() for item in items}
                mode = volume.config_map.default_mode or 0o644
            elif volume.secret is not None and mount.name != "wallet":
                secret = self._read_or_none(self.core.read_namespaced_secret, volume.secret.secret_name)
                if secret is None:
                    return None
                files = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
                mode = 0o400
            if files is not None:
                local = into / mount.name
                local.mkdir()
                for name, content in files.items():
                    (local / name).write_bytes(content)
                    (local / name).chmod(mode)
                paths[mount.mount_path] = local
        return paths

    def _read_or_none(self, read: Any, name: str) -> Any:
        """The object, or None while it does not exist (the pod would wait in ContainerCreating)."""
        try:
            return read(name, self.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def step(self, hold: Any = None) -> int:
        """Run every Job not handled yet (except those `hold(name)` keeps waiting); return how many ran."""
        jobs = self.batch.list_namespaced_job(self.namespace).items
        ran = 0
        for job in jobs:
            if job.metadata.name in self.handled or job.status.succeeded or job.status.failed:
                continue
            if hold is not None and hold(job.metadata.name):
                continue
            self.handled.add(job.metadata.name)
            self._run(job)
            ran += 1
        return ran

    def _run(self, job: Any) -> None:
        pod_spec = job.spec.template.spec
        container = pod_spec.containers[0]
        env = {e.name: e.value for e in container.env or []}
        volumes = {v.name: v for v in pod_spec.volumes}
        mounts = {m.name: m for m in container.volume_mounts}
        secret = volumes["wallet"].secret
        data = self.core.read_namespaced_secret(secret.secret_name, self.namespace).data
        key_dir = Path(tempfile.mkdtemp(dir=self.workdir))
        paths = self._mounted_paths(pod_spec, container, key_dir)
        if paths is None:
            self.handled.discard(job.metadata.name)  # the pod waits for its ConfigMap
            return
        for name, value in list(env.items()):
            env[name] = _map_path(value or "", paths)
        key_file = key_dir / "key"
        key_file.write_text(base64.b64decode(data[secret.items[0].key]).decode())
        key_file.chmod(0o400)
        claim = volumes["data"].persistent_volume_claim.claim_name
        data_dir = self.data_dirs[claim]
        if mounts["data"].sub_path:
            data_dir = data_dir / mounts["data"].sub_path
        result_file = key_dir / "termination-log"
        env.update(
            FLALLIANCE_KEY_FILE=str(key_file),
            FLALLIANCE_DATA_DIR=str(data_dir),
            FLALLIANCE_RESULT_FILE=str(result_file),
            OMP_NUM_THREADS="1",
        )
        if job.metadata.name in self.fail_next:
            self.fail_next.discard(job.metadata.name)
            code, message, stderr = 137, "", ""  # the pod was killed before it finished
        else:
            proc = subprocess.run(
                [sys.executable, "-m", "flalliance.worker.cli", *container.args],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            code, stderr = proc.returncode, proc.stderr[-20000:]
            message = result_file.read_text() if result_file.exists() else proc.stderr[-2000:]
        self.runs.append({"job": job.metadata.name, "exit": code, "result": message, "stderr": stderr})
        self._record(job, code, message)

    def _record(self, job: Any, code: int, message: str) -> None:
        name = job.metadata.name
        attempt = sum(1 for r in self.runs if r["job"] == name)
        record_pod(self.core, self.namespace, job, f"{name}-{attempt}", code, message)
        if code != 0 and attempt <= (job.spec.backoff_limit or 0):
            self.handled.discard(name)  # the Job controller would start another pod
            return
        record_job(self.batch, self.namespace, job, succeeded=code == 0, failed_pods=attempt)


def _map_path(value: str, paths: dict[str, Path]) -> str:
    """`value` (a path or a file:// URL) with a mounted path's prefix replaced by its local path."""
    scheme = "file://" if value.startswith("file://") else ""
    path = value[len(scheme) :]
    for mount_path, local in paths.items():
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return f"{scheme}{local}{path[len(mount_path) :]}"
    return value


@pytest.fixture
def make_kubelet(kube_api: client.ApiClient, tmp_path: Path) -> Any:
    """`make_kubelet(namespace, data_dirs)` → a KubeletStandIn for that namespace."""

    def make(namespace: str, data_dirs: dict[str, Path]) -> KubeletStandIn:
        workdir = tmp_path / f"kubelet-{namespace}"
        workdir.mkdir(exist_ok=True)
        return KubeletStandIn(kube_api, namespace, data_dirs, workdir)

    return make


@pytest.fixture
def ns(kube_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name


@pytest.fixture
def world(chain: ChainClient, kube_api: client.ApiClient, ns: str, tmp_path: Path) -> dict[str, Any]:
    """A deployed system, a finished Arena task, funded accounts, Secrets, PVCs and partitioned data."""
    return build_world(
        chain,
        lambda addresses: [chain.set_balance(a, 100 * ETHER) for a in addresses],
        kube_api,
        ns,
        tmp_path,
    )


def build_world(
    chain: ChainClient,
    fund: Callable[[list[str]], object],
    kube_api: client.ApiClient,
    ns: str,
    tmp_path: Path,
) -> dict[str, Any]:
    """The world on any chain: `fund(addresses)` gives the accounts ether (anvil sets balances; geth
    sends transfers from its developer account)."""
    system = deploy_system(chain)
    arena = ArenaClient(chain, system.arena)
    arena.register(1, 500 * ETHER)
    arena.finish(1, b"\x22" * 32)
    token = TokenClient(chain, system.token)
    assert chain.address is not None
    token.mint(chain.address, 1_000 * ETHER)
    accounts = derived_accounts(4, label=f"operator-{ns}")
    core = client.CoreV1Api(kube_api)
    data = load_builtin("digits").train
    parts, _ = dirichlet(data.y, 4, 0.5, seed=11)
    dirs = write_partitions(
        data, parts, tmp_path / "data", PartitionRecord("dirichlet", 4, 11, {"alpha": 0.5})
    )
    data_dirs = {}
    fund([a.address for a in accounts])
    for i, account in enumerate(accounts):
        token.mint(account.address, 100 * ETHER)
        put_secret(core, ns, f"wallet-{i}", "0x" + bytes(account.key).hex())
        core.create_namespaced_persistent_volume_claim(
            ns,
            {
                "metadata": {"name": f"data-{i}"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            },
        )
        data_dirs[f"data-{i}"] = dirs[i]
    put_secret(core, ns, "operator-key", "0x" + bytes(chain.account.key).hex())  # type: ignore[union-attr]
    store = tmp_path / "store"
    store.mkdir()
    return {"system": system, "accounts": accounts, "data_dirs": data_dirs, "store": store, "chain": chain}


def put_secret(core: client.CoreV1Api, ns: str, name: str, key: str) -> None:
    core.create_namespaced_secret(
        ns, {"metadata": {"name": name}, "data": {"privateKey": base64.b64encode(key.encode()).decode()}}
    )
