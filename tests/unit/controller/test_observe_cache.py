"""What a pass re-reads: a joined participant's wallet and claim stay cached until a Job fails, so a task's
requests follow its rounds' work, not their length on the clock."""

from __future__ import annotations

from typing import Any, cast

import pytest

from flalliance.api.base import SecretKeyRef
from flalliance.api.fltask import FLTaskSpec
from flalliance.controller.kube import Kube
from flalliance.controller.observe import Inputs

pytestmark = pytest.mark.unit

KEY = "0x" + "11" * 32
ADDRESS = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"  # of KEY
TASK = FLTaskSpec.model_validate(
    {
        "chain": {"rpcUrl": "http://chain:8545", "chainId": 31337, "operatorKeySecret": {"name": "op"}},
        "contractAddress": "0x" + "2" * 40,
        "trainingLogic": {"hash": "0x" + "a" * 64},
        "store": {"url": "file:///artifacts", "persistentVolumeClaim": "artifacts"},
    }
)


class CountingKube:
    """The three reads `Inputs.participants` makes, counted."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.reads: dict[str, int] = {"secret": 0, "pvc": 0}

    def list_participants(self, namespace: str, task: str) -> list[dict[str, Any]]:
        spec = {
            "taskRef": {"name": task},
            "walletSecret": {"name": "alice-wallet", "key": "pk"},
            "stake": "20",
            "dataset": {"persistentVolumeClaim": "alice-data"},
        }
        return [{"metadata": {"name": "alice", "generation": 1}, "spec": spec, "status": self.status}]

    def read_secret_key(self, namespace: str, ref: SecretKeyRef, *, what: str) -> str:
        self.reads["secret"] += 1
        return KEY

    def pvc_exists(self, namespace: str, name: str) -> bool:
        self.reads["pvc"] += 1
        return True


def passes(status: dict[str, Any], *, failed_between: bool = False) -> dict[str, int]:
    """Reads made by three passes, the cache expired by the clock before the second and third."""
    kube = CountingKube(status)
    inputs = Inputs(cast(Kube, kube), "ns", "digits", hit_seconds=0.0)
    for n in range(3):
        (p,) = inputs.participants(TASK)
        assert p.view.usable and p.view.address == ADDRESS, p.view
        if failed_between and n == 1:
            inputs.recheck_after(["digits-r1-train-alice-0"])
            inputs.recheck_after(["digits-r1-train-alice-0"])  # the same failure seen again: no new reads
    return kube.reads


def test_a_joined_participants_wallet_and_claim_are_read_once_whatever_the_clock() -> None:
    assert passes({"phase": "Joined", "address": ADDRESS}) == {"secret": 1, "pvc": 1}


def test_before_joining_they_are_read_again_once_expired() -> None:
    assert passes({}) == {"secret": 3, "pvc": 3}
    # a status naming another address (the Secret was edited since): the wallet is not bound, read again
    assert passes({"phase": "Joined", "address": "0x" + "3" * 40}) == {"secret": 3, "pvc": 1}


def test_a_failed_job_has_everything_read_again_once() -> None:
    assert passes({"phase": "Joined", "address": ADDRESS}, failed_between=True) == {"secret": 2, "pvc": 2}


class VersionedKube(CountingKube):
    """Participants as the API server lists them: each with a uid and a resourceVersion."""

    def __init__(self) -> None:
        super().__init__({"phase": "Joined", "address": ADDRESS})
        self.version = "7"
        self.present = True

    def list_participants(self, namespace: str, task: str) -> list[dict[str, Any]]:
        if not self.present:
            return []
        (obj,) = super().list_participants(namespace, task)
        obj["metadata"] |= {"uid": "u-alice", "resourceVersion": self.version}
        return [obj]


def test_a_participant_is_parsed_once_per_resource_version_and_forgotten_when_gone() -> None:
    kube = VersionedKube()
    inputs = Inputs(cast(Kube, kube), "ns", "digits")
    (first,) = inputs.participants(TASK)
    (again,) = inputs.participants(TASK)
    assert again.status is first.status and again.spec is first.spec  # the same version: not parsed again
    kube.status = {"phase": "Joined", "address": ADDRESS, "claimable": "1.5"}
    kube.version = "8"
    (changed,) = inputs.participants(TASK)
    assert changed.status is not first.status and changed.status.claimable == "1.5"
    assert list(inputs._parsed) == [("u-alice", "8")]  # the old version is not kept
    kube.present = False
    assert inputs.participants(TASK) == [] and inputs._parsed == {}
