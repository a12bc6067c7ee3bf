"""`Participant`: one local wallet that stakes into an FLTask and trains/votes with its private data."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from flalliance.api.base import ApiModel, FmlAmount, ObjectName, SecretKeyRef
from flalliance.api.conditions import Condition
from flalliance.api.fltask import GpuSpec, Resources, Toleration


class TaskRef(ApiModel):
    name: ObjectName = Field(description="Name of the FLTask in the same namespace")


class DatasetSpec(ApiModel):
    """Where the participant's private data is; mounted read-only into this participant's pods only."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.persistentVolumeClaim) != has(self.volume)",
                    "message": "exactly one of dataset.persistentVolumeClaim and dataset.volume must be set",
                    "fieldPath": ".persistentVolumeClaim",
                }
            ]
        }
    }

    persistent_volume_claim: ObjectName | None = Field(default=None, description="PVC holding the data")
    volume: dict[str, Any] | None = Field(
        default=None,
        description="Any other core/v1 volume source (hostPath, nfs, csi, ...), as in a Pod's volumes[]",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    sub_path: str = Field(default="", pattern=r"^[^/].*$|^$", description="Sub-directory inside the volume")
    format: Literal["builtin", "npz", "csv"] = Field(
        default="npz", description="builtin names a packaged dataset (digits, ...) for demos"
    )


class ParticipantSpec(ApiModel):
    """Desired state of a participant: its wallet, its stake and where its private data is."""

    task_ref: TaskRef = Field(
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "taskRef is immutable"}]
        }
    )
    wallet_secret: SecretKeyRef = Field(
        description="Secret with the participant's hex private key; the address is derived from it",
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "walletSecret is immutable"}]
        },
    )
    stake: FmlAmount = Field(description="Stake in $FML; must be at least the task's minimum")
    dataset: DatasetSpec
    resources: Resources | None = Field(default=None, description="Overrides the task's job template")
    gpu: GpuSpec | None = Field(default=None, description="Accelerators for this participant's pods")
    node_selector: dict[str, str] | None = Field(
        default=None, description="Where this participant's pods run (e.g. its GPU nodes)"
    )
    tolerations: list[Toleration] | None = Field(default=None, description="e.g. for tainted GPU nodes")
    behaviour: Literal["honest", "label_flip", "gaussian", "scaled", "free_rider", "random"] = Field(
        default="honest",
        description="Test-only: make this participant's worker attack (for demos and e2e tests)",
    )


class ParticipantPhase(StrEnum):
    PENDING = "Pending"
    JOINING = "Joining"
    JOINED = "Joined"
    WITHDRAWN = "Withdrawn"
    FAILED = "Failed"


class RoleRecord(ApiModel):
    round: int = Field(ge=0)
    role: Literal["proposer", "voter", "pioneer", "none"]
    submitted: bool = False


class ParticipantStatus(ApiModel):
    phase: ParticipantPhase = ParticipantPhase.PENDING
    address: str | None = None
    stake_transaction: str | None = None
    stake: FmlAmount | None = None
    roles: list[RoleRecord] = Field(default_factory=list)
    rewards: FmlAmount = Field(
        default="0", description="Rewards credited by settled rounds (PerProposal: they vest after the end)"
    )
    unvested: FmlAmount = Field(default="0", description="PerProposal: credited rewards not vested yet")
    vested: FmlAmount = Field(
        default="0",
        description="PerProposal, after the end: rewards x (accepted - rejected) / (accepted + rejected)",
    )
    forfeited: FmlAmount = Field(
        default="0", description="PerProposal: rewards that did not vest (to the pool)"
    )
    accepted_proposals: int = Field(default=0, ge=0, description="Settled proposals accepted by the voters")
    rejected_proposals: int = Field(
        default=0, ge=0, description="Settled proposals rejected, and proposer turns missed"
    )
    slashes: FmlAmount = "0"
    claimable: FmlAmount = "0"
    claimed: FmlAmount = "0"
    withdrawn: FmlAmount = "0"
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int = 0


class Participant(ApiModel):
    api_version: Literal["flalliance.io/v1alpha1"] = "flalliance.io/v1alpha1"
    kind: Literal["Participant"] = "Participant"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ParticipantSpec
    status: ParticipantStatus = Field(default_factory=ParticipantStatus)
