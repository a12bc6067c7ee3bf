"""Invalid FLTask and Participant manifests, applied with kubectl, are rejected naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

TASK: dict[str, Any] = {
    "apiVersion": "flalliance.io/v1alpha1",
    "kind": "FLTask",
    "metadata": {"name": "t", "namespace": "default"},
    "spec": {
        "chain": {
            "rpcUrl": "http://chain:8545",
            "chainId": 31337,
            "factoryAddress": "0x" + "ab" * 20,
            "operatorKeySecret": {"name": "operator-key"},
        },
        "arenaTaskId": 1,
        "trainingLogic": {"hash": "0x" + "11" * 32},
        "store": {"url": "file:///artifacts"},
    },
}
PARTICIPANT: dict[str, Any] = {
    "apiVersion": "flalliance.io/v1alpha1",
    "kind": "Participant",
    "metadata": {"name": "p", "namespace": "default"},
    "spec": {
        "taskRef": {"name": "t"},
        "walletSecret": {"name": "alice-wallet"},
        "stake": "20",
        "dataset": {"persistentVolumeClaim": "alice-data"},
    },
}


def with_change(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return doc


DELETE = object()

TASK_CASES = [
    ("spec.chain.rpcUrl", "ftp://chain", "spec.chain.rpcUrl"),
    ("spec.chain.chainId", 0, "spec.chain.chainId"),
    ("spec.chain.chainId", "one", "spec.chain.chainId"),
    ("spec.chain.factoryAddress", "0x1234", "spec.chain.factoryAddress"),
    ("spec.chain.factoryAddress", DELETE, "spec.chain.factoryAddress"),
    ("spec.chain.operatorKeySecret", DELETE, "spec.chain.operatorKeySecret"),
    ("spec.chain.operatorKeySecret.name", "Bad_Name", "spec.chain.operatorKeySecret.name"),
    ("spec.contractAddress", "0x" + "12" * 20, "spec.arenaTaskId"),
    ("spec.arenaTaskId", -1, "spec.arenaTaskId"),
    ("spec.trainingLogic", DELETE, "spec.trainingLogic"),
    ("spec.trainingLogic.hash", "0xabc", "spec.trainingLogic.hash"),
    ("spec.trainingLogic.inline", {"model": {"kind": "mlp"}}, "spec.trainingLogic.hash"),
    ("spec.rounds", 0, "spec.rounds"),
    ("spec.rounds", 100_000, "spec.rounds"),
    ("spec.minParticipants", 1, "spec.minParticipants"),
    ("spec.maxParticipants", 2, "spec.minParticipants"),
    ("spec.maxParticipants", 20_000, "spec.maxParticipants"),
    ("spec.proposerFraction", 0, "spec.proposerFraction"),
    ("spec.proposerFraction", 1, "spec.proposerFraction"),
    ("spec.minStake", "-5", "spec.minStake"),
    ("spec.minStake", "10 FML", "spec.minStake"),
    ("spec.phaseDurations", {"propose": 1}, "spec.phaseDurations.propose"),
    ("spec.phaseDurations", {"join": 10_000_000}, "spec.phaseDurations.join"),
    ("spec.maxLifetimeSeconds", 5, "spec.maxLifetimeSeconds"),
    ("spec.payoutPolicy", "Everyone", "spec.payoutPolicy"),
    ("spec.slashPercent", 150, "spec.slashPercent"),
    ("spec.slashPercent", 0, "spec.slashPercent"),  # PerProposal (the default) needs slashing
    ("spec.aggregation", "fedavg", "spec.aggregation"),  # removed: read by nothing
    ("spec.store", DELETE, "spec.store"),
    ("spec.store.url", "http://bucket", "spec.store.url"),
    (
        "spec.store",
        {"url": "s3://bucket/x", "persistentVolumeClaim": "pvc"},
        "spec.store.persistentVolumeClaim",
    ),
    ("spec.worker", {"imagePullPolicy": "Sometimes"}, "spec.worker.imagePullPolicy"),
    ("spec.jobTemplate", {"backoffLimit": 50}, "spec.jobTemplate.backoffLimit"),
    (
        "spec.jobTemplate",
        {"tolerations": [{"operator": "Maybe"}]},
        "spec.jobTemplate.tolerations[0].operator",
    ),
    ("spec.jobTemplate", {"nodeSelector": {"a": 1}}, "spec.jobTemplate.nodeSelector.a"),
    ("spec.unknownField", 1, "spec.unknownField"),
]
PARTICIPANT_CASES = [
    ("spec.taskRef", DELETE, "spec.taskRef"),
    ("spec.taskRef.name", "", "spec.taskRef.name"),
    ("spec.walletSecret", DELETE, "spec.walletSecret"),
    ("spec.stake", "lots", "spec.stake"),
    ("spec.stake", DELETE, "spec.stake"),
    ("spec.dataset", {}, "spec.dataset.persistentVolumeClaim"),
    (
        "spec.dataset",
        {"persistentVolumeClaim": "a", "volume": {"emptyDir": {}}},
        "spec.dataset.persistentVolumeClaim",
    ),
    ("spec.dataset.subPath", "/abs", "spec.dataset.subPath"),
    ("spec.dataset.format", "npz", "spec.dataset.format"),  # removed: read by nothing
    ("spec.behaviour", "gaussian", "spec.behaviour"),  # attacks are test mode only, not an API field
    ("spec.dataset", {"volume": {"hostPath": {"path": "/etc"}}}, "spec.dataset.volume"),
    ("spec.dataset", {"volume": {"nfs": {"server": "x", "path": "/"}}}, "spec.dataset.volume"),
    (
        "spec.dataset",
        {"volume": {"csi": {"driver": "d"}, "hostPath": {"path": "/"}}},
        "spec.dataset.volume",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), TASK_CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in TASK_CASES]
)
def test_invalid_fltask_is_rejected_naming_the_field(kubectl: Any, path: str, value: Any, field: str) -> None:
    doc = with_change(TASK, path, value)
    out = kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(doc))
    assert out.returncode != 0, f"accepted: {doc}"
    assert field in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("path", "value", "field"), PARTICIPANT_CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in PARTICIPANT_CASES]
)
def test_invalid_participant_is_rejected_naming_the_field(
    kubectl: Any, path: str, value: Any, field: str
) -> None:
    doc = with_change(PARTICIPANT, path, value)
    out = kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(doc))
    assert out.returncode != 0, f"accepted: {doc}"
    assert field in out.stderr, out.stderr


def test_valid_manifests_are_accepted_with_defaults(kubectl: Any) -> None:
    out = kubectl("apply", "--dry-run=server", "-o", "yaml", "-f", "-", stdin=yaml.safe_dump(TASK))
    assert out.returncode == 0, out.stderr
    spec = yaml.safe_load(out.stdout)["spec"]
    assert spec["rounds"] == 10 and spec["phaseDurations"]["propose"] == 600 and spec["worker"]["image"]
    out = kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(PARTICIPANT))
    assert out.returncode == 0, out.stderr


def test_on_chain_fields_are_immutable(kubectl: Any) -> None:
    doc = copy.deepcopy(TASK)
    doc["metadata"]["name"] = "immutable"
    assert kubectl("apply", "-f", "-", stdin=yaml.safe_dump(doc)).returncode == 0
    try:
        changed = with_change(doc, "spec.arenaTaskId", 2)
        out = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(changed))
        assert out.returncode != 0 and "arenaTaskId is immutable" in out.stderr, out.stderr
        changed = with_change(doc, "spec.worker", {"image": "other:1"})
        out = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(changed))
        assert out.returncode == 0, out.stderr  # off-chain settings may change
    finally:
        kubectl("delete", "fltask", "immutable", "-n", "default", "--wait=false")
