"""A real etcd + kube-apiserver (no kubelet) with the project's CRDs installed, once per session."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from flalliance.testing.apiserver import LocalApiServer

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
