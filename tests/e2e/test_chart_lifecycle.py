"""`helm install`, `helm upgrade` and `helm uninstall` of the chart on a real cluster: the operator and the
dev chain come up, an upgrade removes what it no longer renders, and uninstall leaves the namespace and the
cluster exactly as they were (CRDs excepted: Helm never deletes them, so no user's FLTask is lost).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes import client

from .release import Release, install, make_tools, namespace_for, wait_deployer

pytestmark = pytest.mark.e2e

# Everything a release or its operator could leave in a namespace (Events excepted: they expire).
NAMESPACED = "deployments,replicasets,pods,services,endpoints,configmaps,secrets,serviceaccounts,"
NAMESPACED += "roles,rolebindings,persistentvolumeclaims,leases,jobs"
CLUSTER = "clusterroles,clusterrolebindings"


def _names(out: str) -> set[str]:
    return {line.strip() for line in out.splitlines() if line.strip()}


def test_helm_install_upgrade_uninstall_leaves_no_orphans(
    api_client: client.ApiClient, kubeconfig: Path
) -> None:
    tools = make_tools(kubeconfig)
    with namespace_for(api_client, "e2e-helm") as ns:
        rel = Release("life", ns, tools)

        def inventory() -> set[str]:
            inside = rel.kubectl("get", NAMESPACED, "-o", "name")
            outside = tools.run(tools.kubectl_bin, "get", CLUSTER, "-o", "name")
            volumes = {
                f"persistentvolume/{pv.metadata.name}"
                for pv in client.CoreV1Api(api_client).list_persistent_volume().items
                if pv.spec.claim_ref is not None and pv.spec.claim_ref.namespace == ns
            }
            return _names(inside) | {n for n in _names(outside) if rel.name in n} | volumes

        pristine = inventory()
        install(rel, "devChain.enabled=true", "store.enabled=true", f"watchNamespaces={{{ns}}}")
        addresses = wait_deployer(api_client, rel)
        installed = inventory()
        for must in (
            f"deployment.apps/{rel.fullname}",
            f"deployment.apps/{rel.devchain}",
            f"configmap/{rel.devchain}-addresses",
            f"lease.coordination.k8s.io/{rel.fullname}",
            f"persistentvolumeclaim/{rel.store_claim}",
        ):
            assert must in installed, f"{must} missing after install: {sorted(installed)}"
        # The operator took the chart's Lease (leader election works under the least-privilege Role).
        lease = client.CoordinationV1Api(api_client).read_namespaced_lease(rel.fullname, ns)
        assert lease.spec.holder_identity, "no operator replica holds the Lease"

        # Upgrade: two operator replicas, no dev chain, no store. What is no longer rendered goes away.
        install(
            rel, "devChain.enabled=false", "store.enabled=false", "replicas=2", f"watchNamespaces={{{ns}}}"
        )
        upgraded = inventory()
        for gone in (f"deployment.apps/{rel.devchain}", f"configmap/{rel.devchain}-addresses"):
            assert gone not in upgraded, f"{gone} survived the upgrade"
        dep = client.AppsV1Api(api_client).read_namespaced_deployment(rel.fullname, ns)
        assert dep.status.ready_replicas == 2, dep.status
        assert addresses.get("factory"), addresses

        rel.helm("uninstall", rel.name, "--wait", "--timeout", "3m")
        deadline = time.monotonic() + 120
        left = inventory() - pristine
        while (
            left and time.monotonic() < deadline
        ):  # pods of deleted Jobs/ReplicaSets terminate in the background
            time.sleep(2)
            left = inventory() - pristine
        assert not left, f"left behind by helm uninstall: {sorted(left)}"
