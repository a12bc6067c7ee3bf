"""`Participant`: one local wallet that stakes into an FLTask and trains/votes with its private data."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

from flalliance.api.base import ApiModel, FmlAmount, ObjectName, SecretKeyRef
from flalliance.api.conditions import Condition
from flalliance.api.fltask import GpuSpec, Resources, Toleration


class TaskRef(ApiModel):
    name: ObjectName = Field(description="Name of the FLTask in the same namespace")


# Volume sources a dataset may come from besides a PVC: those Pod Security's "restricted" level allows that
# can hold data. Anything else (hostPath above all: the node's files) is refused at admission and again by
# the operator, since whoever may create a Participant would otherwise choose what its pods mount.
ALLOWED_VOLUME_SOURCES = ("configMap", "csi", "ephemeral", "persistentVolumeClaim")


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
        description=(
            "Another volume source, as in a Pod's volumes[]: exactly one of "
            + ", ".join(ALLOWED_VOLUME_SOURCES)
            + " (no hostPath: nothing a namespace user writes may reach the node)"
        ),
        json_schema_extra={
            # A map (source kind -> its settings), so that CEL can check the keys; each source's own
            # fields are kept as written, as in a Pod's volumes[].
            "additionalProperties": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "maxProperties": 8,  # bounds the cost of the rule below
            "x-kubernetes-validations": [
                {
                    "rule": "size(self) == 1 && self.all(k, k in "
                    + "["
                    + ", ".join(f"'{k}'" for k in ALLOWED_VOLUME_SOURCES)
                    + "])",
                    "message": "dataset.volume must hold exactly one of "
                    + ", ".join(ALLOWED_VOLUME_SOURCES)
                    + " (hostPath and other node-level sources are not allowed)",
                }
            ],
        },
    )
    sub_path: str = Field(default="", pattern=r"^[^/].*$|^$", description="Sub-directory inside the volume")

    @field_validator("volume")
    @classmethod
    def _safe_volume(cls, volume: dict[str, Any] | None) -> dict[str, Any] | None:
        if volume is None:
            return None
        kinds = sorted(volume)
        if len(kinds) != 1 or kinds[0] not in ALLOWED_VOLUME_SOURCES:
            raise ValueError(
                f"dataset.volume holds {', '.join(kinds) or 'nothing'}; it must hold exactly one of "
                f"{', '.join(ALLOWED_VOLUME_SOURCES)} (hostPath and other node-level sources are not allowed)"
            )
        return volume


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
    roles: list[RoleRecord] = Field(
        default_factory=list, description="Its roles in the latest rounds (at most 10)"
    )
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
