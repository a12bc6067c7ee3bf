"""The project installed for real: the Helm chart (with its dev chain and PVC store) in a namespace of its
own, the kubectl and helm binaries, and examples/digits adapted to a release name.

Used by the e2e tests of the operator, the chart's lifecycle and manifest validation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_BIN = REPO_ROOT / ".state" / "cluster" / "bin"
CHART = REPO_ROOT / "charts" / "flalliance"
EXAMPLES = REPO_ROOT / "examples" / "digits"


def tool(name: str) -> str:
    """kubectl/helm: $FLALLIANCE_<NAME>, else the local cluster's copy, else PATH."""
    explicit = os.environ.get(f"FLALLIANCE_{name.upper()}")
    if explicit:
        return explicit
    local = LOCAL_BIN / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found (set FLALLIANCE_{name.upper()})", pytrace=False)
    return found


@dataclass
class Tools:
    kubeconfig: Path
    kubectl_bin: str
    helm_bin: str

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 300) -> str:
        """Run kubectl/helm against the e2e cluster; a failure shows the command and its output."""
        env = os.environ | {"KUBECONFIG": str(self.kubeconfig)}
        proc = subprocess.run(
            list(args), input=stdin, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr


def make_tools(kubeconfig: Path) -> Tools:
    return Tools(kubeconfig=kubeconfig, kubectl_bin=tool("kubectl"), helm_bin=tool("helm"))


@dataclass
class Release:
    name: str
    namespace: str
    tools: Tools

    @property
    def fullname(self) -> str:
        return self.name if "flalliance" in self.name else f"{self.name}-flalliance"

    @property
    def devchain(self) -> str:
        return f"{self.fullname}-devchain"

    @property
    def store_claim(self) -> str:
        return f"{self.fullname}-store"

    def helm(self, *args: str, **kw: Any) -> str:
        return self.tools.run(self.tools.helm_bin, *args, "-n", self.namespace, **kw)

    def kubectl(self, *args: str, **kw: Any) -> str:
        return self.tools.run(self.tools.kubectl_bin, "-n", self.namespace, *args, **kw)


def install(release: Release, *values: str) -> str:
    # --force-conflicts: this checkout's CRDs win over a copy applied earlier by kubectl or an older chart.
    args = [
        "upgrade",
        "--install",
        "--force-conflicts",
        release.name,
        str(CHART),
        "--create-namespace",
        "--wait",
        "--timeout",
        "5m",
    ]
    for v in values:
        args += ["--set", v]
    return release.helm(*args)


def wait_deployer(api: client.ApiClient, release: Release, timeout: float = 300) -> dict[str, str]:
    """Wait for the dev chain's deployer Job; return the addresses ConfigMap's data."""
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = batch.list_namespaced_job(
            release.namespace, label_selector="app.kubernetes.io/component=devchain-deployer"
        ).items
        if any(c.type == "Complete" and c.status == "True" for j in jobs for c in j.status.conditions or []):
            data = core.read_namespaced_config_map(f"{release.devchain}-addresses", release.namespace).data
            return dict(data or {})
        time.sleep(1)
    logs = release.kubectl(
        "logs", "-l", "app.kubernetes.io/component=devchain-deployer", "--tail=30", check=False
    )
    pytest.fail(f"dev chain deployer did not complete in {timeout:.0f}s:\n{logs}")


def example_docs(release: Release, name: str, example: str = "digits") -> list[dict[str, Any]]:
    """examples/<example>/<name>.yaml pointed at this release's dev chain and store."""
    path = EXAMPLES.parent / example / f"{name}.yaml"
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for d in docs:
        if d["kind"] == "FLTask":
            d["spec"]["chain"]["rpcUrl"] = f"http://{release.devchain}:8545"
            d["spec"]["store"]["persistentVolumeClaim"] = release.store_claim
        if d["kind"] == "Job":  # a data Job that writes into the chart's store (the LoRA base model)
            for v in d["spec"]["template"]["spec"].get("volumes", []):
                claim = v.get("persistentVolumeClaim")
                if claim and claim["claimName"] == "flalliance-store":
                    claim["claimName"] = release.store_claim
    return docs


def apply(release: Release, docs: list[dict[str, Any]]) -> str:
    return release.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


@contextmanager
def namespace_for(api: client.ApiClient, prefix: str) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                raise
