"""Fixtures for end-to-end tests: a real cluster, reached through a kubeconfig.

Which cluster: `--kubeconfig PATH`, else the environment variable FLALLIANCE_KUBECONFIG, else the local
cluster's `.state/cluster/kubeconfig` (`make cluster`). A kind cluster (`make kind-up`) or any existing
cluster works the same; the project's images must be loaded into it (`make cluster-load` / `make
kind-load`). Without a reachable cluster the e2e tests are skipped with the reason, unless
FLALLIANCE_E2E_REQUIRED=1 (set by `make test-e2e`), which turns that into a failure.

Every test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from .e2e_kube import ClusterFacts, Kube, exists, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_STATE = REPO_ROOT / ".state" / "cluster"


# The options --kubeconfig and --image-pull-policy are registered in tests/conftest.py (pytest reads
# options only from the top-level conftest when run from the repository root).


def _kubeconfig_path(cfg: pytest.Config) -> Path:
    explicit = cfg.getoption("--kubeconfig") or os.environ.get("FLALLIANCE_KUBECONFIG")
    return Path(explicit) if explicit else LOCAL_STATE / "kubeconfig"


def _unavailable(reason: str) -> None:
    if os.environ.get("FLALLIANCE_E2E_REQUIRED") == "1":
        pytest.fail(f"e2e cluster required but unavailable: {reason}", pytrace=False)
    pytest.skip(f"no e2e cluster: {reason}")


@pytest.fixture(scope="session")
def kubeconfig(pytestconfig: pytest.Config) -> Path:
    """Path of the kubeconfig the e2e tests use."""
    path = _kubeconfig_path(pytestconfig)
    if not path.is_file():
        _unavailable(f"kubeconfig {path} not found (run `make cluster`, or pass --kubeconfig)")
    return path


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        client.VersionApi(api).get_code(_request_timeout=10)
    except Exception as exc:  # any transport error means: no cluster there
        _unavailable(f"API server in {kubeconfig} not reachable: {exc}")
    yield api
    api.close()


@pytest.fixture(scope="session")
def cluster_facts(pytestconfig: pytest.Config, kubeconfig: Path) -> ClusterFacts:
    env: dict[str, str] = {}
    local = kubeconfig.resolve() == (LOCAL_STATE / "kubeconfig").resolve()
    env_file = LOCAL_STATE / "env"
    if local and env_file.is_file():
        for line in env_file.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
    host_ip = os.environ.get("FLALLIANCE_HOST_IP") or env.get("FLALLIANCE_HOST_IP")
    return ClusterFacts(
        local=local,
        host_ip=host_ip,
        image_pull_policy=pytestconfig.getoption("--image-pull-policy")
        or os.environ.get("FLALLIANCE_IMAGE_PULL_POLICY", "Never"),
        extra=env,
    )


@pytest.fixture
def namespace(api_client: client.ApiClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted (with everything in it) afterwards."""
    core = client.CoreV1Api(api_client)
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # The ServiceAccount controller creates "default" asynchronously; pods are rejected until it exists.
    wait_until(
        lambda: exists(lambda: core.read_namespaced_service_account("default", name)), 60, "SA default"
    )
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def kube(api_client: client.ApiClient, namespace: str, cluster_facts: ClusterFacts) -> Kube:
    return Kube(api_client, namespace, cluster_facts)
