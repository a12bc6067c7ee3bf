"""The Helm chart: lint, render and check what it grants (`helm lint` / `helm template`, no cluster)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "flalliance"


def render(helm: str, *sets: str, ok: bool = True) -> list[dict[str, Any]] | str:
    args = [helm, "template", "rel", str(CHART), "--namespace", "flalliance-system"]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    if not ok:
        assert out.returncode != 0, out.stdout[:500]
        return out.stderr
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


ALL_ON = ("devChain.enabled=true", "store.enabled=true", "replicas=2")


@pytest.mark.parametrize(
    "sets", [(), ALL_ON, ("watchNamespaces={team-a,team-b}",)], ids=["default", "all", "ns"]
)
def test_helm_lint(helm: str, sets: tuple[str, ...]) -> None:
    args = [helm, "lint", str(CHART), "--strict"]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_operator_pod_is_locked_down(helm: str) -> None:
    docs = render(helm, *ALL_ON)
    assert isinstance(docs, list)
    [deploy] = [d for d in kinds(docs, "Deployment") if d["metadata"]["name"] == "rel-flalliance"]
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    sc = container["securityContext"]
    assert (
        sc["readOnlyRootFilesystem"]
        and not sc["allowPrivilegeEscalation"]
        and sc["capabilities"]["drop"] == ["ALL"]
    )
    assert deploy["spec"]["replicas"] == 2
    assert "--lease-name=rel-flalliance" in container["args"]
    assert {"name": "store", "mountPath": "/artifacts"} in container["volumeMounts"]
    for d in kinds(docs, "Deployment") + kinds(docs, "Job"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"], d["metadata"]["name"]


def _rules(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for d in kinds(docs, kind) for r in d["rules"]]


def test_rbac_is_least_privilege(helm: str) -> None:
    docs = render(helm)
    assert isinstance(docs, list)
    for rule in _rules(docs, "ClusterRole") + _rules(docs, "Role"):
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
        if "secrets" in rule["resources"]:
            assert rule["verbs"] == ["get"], rule
    leases = [r for r in _rules(docs, "Role") if "leases" in r["resources"]]
    assert leases and all(d["metadata"]["namespace"] == "flalliance-system" for d in kinds(docs, "Role"))
    # The operator may only get/update the Lease the chart itself creates (so uninstall removes it).
    (lease,) = kinds(docs, "Lease")
    assert all(r["resourceNames"] == [lease["metadata"]["name"]] for r in leases), leases
    assert all(set(r["verbs"]) == {"get", "update"} for r in leases), leases


def test_secrets_are_read_only_in_managed_namespaces(helm: str) -> None:
    docs = render(helm, "watchNamespaces={team-a,team-b}")
    assert isinstance(docs, list)
    assert not any("secrets" in r["resources"] for r in _rules(docs, "ClusterRole"))
    secret_roles = [d for d in kinds(docs, "Role") if any("secrets" in r["resources"] for r in d["rules"])]
    assert sorted(d["metadata"]["namespace"] for d in secret_roles) == ["team-a", "team-b"]
    [deploy] = kinds(docs, "Deployment")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args


def test_an_organisations_release_grants_its_own_resources_only_in_its_namespaces(helm: str) -> None:
    """With watchNamespaces, FLTasks and Participants are granted per namespace, not cluster-wide."""
    docs = render(helm, "watchNamespaces={org-a}")
    assert isinstance(docs, list)
    cluster = [r for r in _rules(docs, "ClusterRole") if "flalliance.io" in r["apiGroups"]]
    assert cluster == []
    [role] = [d for d in kinds(docs, "Role") if d["metadata"].get("namespace") == "org-a"]
    granted = {res for r in role["rules"] if "flalliance.io" in r["apiGroups"] for res in r["resources"]}
    assert {"fltasks", "participants", "fltasks/status", "participants/finalizers"} <= granted
    default = render(helm)
    assert isinstance(default, list)
    assert any("fltasks" in r["resources"] for r in _rules(default, "ClusterRole"))


def test_training_logic_configmaps_are_written_only_in_managed_namespaces(helm: str) -> None:
    """The operator publishes inline training logic as a ConfigMap: get/create/update, nothing more."""
    for sets, where in ((("watchNamespaces={team-a,team-b}",), "Role"), ((), "ClusterRole")):
        docs = render(helm, *sets)
        assert isinstance(docs, list)
        operator_roles = [
            d for d in kinds(docs, where) if not d["metadata"]["name"].endswith(("-deployer", "-election"))
        ]
        rules = [r for d in operator_roles for r in d["rules"] if "configmaps" in r["resources"]]
        assert rules and all(r["verbs"] == ["get", "create", "update"] for r in rules), rules
        if where == "Role":
            namespaces = [
                d["metadata"]["namespace"]
                for d in operator_roles
                if any("configmaps" in r["resources"] for r in d["rules"])
            ]
            assert sorted(namespaces) == ["team-a", "team-b"]
            assert not any("configmaps" in r["resources"] for r in _rules(docs, "ClusterRole"))


def test_dev_chain_deployer_can_only_patch_its_configmap(helm: str) -> None:
    docs = render(helm, "devChain.enabled=true")
    assert isinstance(docs, list)
    [job] = kinds(docs, "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert (
        args[:2] == ["chain", "deploy"]
        and "--configmap=flalliance-system/rel-flalliance-devchain-addresses" in args
    )
    deployer = [d for d in kinds(docs, "Role") if d["metadata"]["name"].endswith("-deployer")]
    assert deployer[0]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["rel-flalliance-devchain-addresses"],
            "verbs": ["get", "patch"],
        }
    ]
    assert kinds(docs, "ConfigMap")[0]["metadata"]["name"] == "rel-flalliance-devchain-addresses"


def test_the_dev_chain_can_be_geth_with_a_real_block_period(helm: str) -> None:
    """devChain.client=geth: geth --dev sealing every blockTime seconds, locked down like anvil, its data in
    an emptyDir; the deployer and the chart's test hook expect geth's chain id."""
    docs = render(helm, "devChain.enabled=true", "devChain.client=geth", "devChain.blockTime=2")
    assert isinstance(docs, list)
    [chain] = [d for d in kinds(docs, "Deployment") if d["metadata"]["name"].endswith("-devchain")]
    pod = chain["spec"]["template"]["spec"]
    [node] = pod["containers"]
    assert node["command"] == ["geth"] and "--dev" in node["args"] and "--dev.period=2" in node["args"]
    assert "--http.addr=0.0.0.0" in node["args"] and "--ipcdisable" in node["args"]
    assert node["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    [job] = kinds(docs, "Job")
    assert "--chain-id=1337" in job["spec"]["template"]["spec"]["containers"][0]["args"]
    anvil = render(helm, "devChain.enabled=true")
    assert isinstance(anvil, list)
    [job] = kinds(anvil, "Job")
    assert "--chain-id=31337" in job["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (("replicas=0",), "/replicas"),
        (("replcas=2",), "replcas"),
        (("metrics.port=70000",), "/metrics/port"),
        (("logLevel=LOUD",), "/logLevel"),
        (("store.size=lots",), "/store/size"),
        (("devChain.client=besu",), "/devChain/client"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(helm: str, sets: tuple[str, ...], field: str) -> None:
    err = render(helm, *sets, ok=False)
    assert isinstance(err, str) and field in err, err


def test_crds_ship_with_the_chart_and_match_the_generated_ones() -> None:
    for path in (REPO / "crds").glob("*.yaml"):
        assert (CHART / "crds" / path.name).read_text() == path.read_text()


def test_helm_test_hook_checks_metrics_and_chain(helm: str) -> None:
    docs = render(helm, "devChain.enabled=true")
    assert isinstance(docs, list)
    [test_pod] = [d for d in kinds(docs, "Pod") if d["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    args = test_pod["spec"]["containers"][0]["args"]
    assert any(a.startswith("--metrics-url=") for a in args) and any(a.startswith("--rpc-url=") for a in args)


def test_service_monitor_is_optional_and_selects_the_metrics_service(helm: str) -> None:
    assert not kinds(render(helm), "ServiceMonitor")  # type: ignore[arg-type]
    docs = render(helm, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom")
    (monitor,) = kinds(docs, "ServiceMonitor")  # type: ignore[arg-type]
    (service,) = kinds(docs, "Service")  # type: ignore[arg-type]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert not kinds(
        render(helm, "metrics.enabled=false", "metrics.serviceMonitor.enabled=true"), "ServiceMonitor"
    )  # type: ignore[arg-type]
