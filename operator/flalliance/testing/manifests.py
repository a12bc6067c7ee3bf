"""Participant manifests as a user writes them, for the tests and benchmarks that create many."""

from __future__ import annotations

from typing import Any

from flalliance.api import GROUP, VERSION


def participant_manifest(name: str, task: str, wallet: str, claim: str, **spec: Any) -> dict[str, Any]:
    """A Participant of `task` staking 20 $FML from Secret `wallet` with its data on PVC `claim`; `spec`
    adds or replaces fields."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Participant",
        "metadata": {"name": name},
        "spec": {
            "taskRef": {"name": task},
            "walletSecret": {"name": wallet},
            "stake": "20",
            "dataset": {"persistentVolumeClaim": claim},
            **spec,
        },
    }
