"""`FLTask`: one federated-learning task, created through the factory or joined by contract address."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from flalliance.api.base import Address, ApiModel, FmlAmount, Hash32, ObjectName, Quantity, SecretKeyRef
from flalliance.api.conditions import Condition
from flalliance.protocol import roles

# Committee caps (docs/scale.md): 16 proposers keep a round's finalize, uploads and each voter's work at
# 16 models; 32 voters keep an attacker share of 30% of the stake below a committee majority in all but
# 1.4% of rounds (binomial: 16 or more of 32 drawn from 30%).
DEFAULT_MAX_PROPOSERS = 16
DEFAULT_MAX_VOTERS = 32


def _immutable(what: str) -> dict[str, Any]:
    """A CEL transition rule: the field may be set at creation and never changed (the chain holds it)."""
    return {"x-kubernetes-validations": [{"rule": "self == oldSelf", "message": f"{what} is immutable"}]}


# `default: {}` on an optional object makes the API server apply the defaults of the fields inside it.
_EMPTY_DEFAULT: dict[str, Any] = {"default": {}}


class ChainSpec(ApiModel):
    """Where the task contract lives and which key the operator signs its (permissionless) calls with."""

    rpc_url: str = Field(
        pattern=r"^(https?|wss?)://.+",
        description="JSON-RPC endpoint of the chain, e.g. http://devchain.flalliance-system:8545",
    )
    chain_id: int = Field(
        ge=1, description="Expected chain id; the operator refuses a node that reports another"
    )
    factory_address: Address | None = Field(
        default=None, description="FLTaskFactory address; required with arenaTaskId"
    )
    operator_key_secret: SecretKeyRef = Field(
        description="Secret with the hex private key the operator uses for createTask, startRound, finalize"
    )
    confirmations: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Blocks that must follow a transaction's (or an event's) block before the operator and "
        "the workers trust it: 0 on an instantly mined dev chain, 2-12 on a chain with real blocks",
    )
    receipt_timeout_seconds: int = Field(
        default=120,
        ge=5,
        le=3600,
        description="How long a transaction may take to be mined and confirmed; one still unmined after a "
        "quarter of this is replaced with fees raised by 12.5%. Set it to several block periods plus "
        "the confirmations' blocks",
    )


class TrainingLogic(ApiModel):
    """The task's training logic: an inline spec or the hash of one already in the artifact store.

    Inline: the operator hashes it (the hash is fixed on-chain at creation) and hands it to the workers in
    the ConfigMap `<task>-training-logic`; the first worker that needs it puts it into the store, so the
    operator itself never needs access to the store.
    """

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.inline) != has(self.hash)",
                    "message": "exactly one of trainingLogic.inline and trainingLogic.hash must be set",
                    "fieldPath": ".hash",
                }
            ]
        }
    }

    inline: dict[str, Any] | None = Field(
        default=None,
        description="The training-logic spec (model, optimizer, epochs, ...; docs/fl.md), handed to the "
        "workers in the ConfigMap <task>-training-logic",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    hash: Hash32 | None = Field(
        default=None, description="sha256 of a training-logic spec already in the artifact store"
    )


class PhaseDurations(ApiModel):
    """Seconds each phase may last; fixed on-chain when the task is created."""

    join: int = Field(default=600, ge=10, le=30 * 86400, description="Enrolment window")
    pioneer: int = Field(default=300, ge=10, le=86400, description="Pioneer publishes the initial model")
    propose: int = Field(default=600, ge=10, le=7 * 86400, description="Proposers train and publish")
    commit: int = Field(default=600, ge=10, le=7 * 86400, description="Voters validate and commit votes")
    reveal: int = Field(default=300, ge=10, le=7 * 86400, description="Voters reveal their votes")


class PayoutPolicy(StrEnum):
    PER_PROPOSAL = "PerProposal"
    COLLECTIVE = "Collective"


class StoreSpec(ApiModel):
    """The content-addressed artifact store the workers exchange models through."""

    url: str = Field(
        pattern=r"^(file:///.+|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?(\?.*)?)$",
        description="file:///path (a shared volume) or s3://bucket/prefix?endpoint=http://...",
    )
    credentials_secret: ObjectName | None = Field(
        default=None,
        description="Secret with accessKeyId/secretAccessKey for S3 (mounted into worker pods as files)",
    )
    persistent_volume_claim: ObjectName | None = Field(
        default=None, description="PVC mounted at the file:// path in every worker pod (single-cluster use)"
    )


class WorkerSpec(ApiModel):
    image: str = Field(default="flalliance/worker:dev", min_length=1, description="Worker image")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class Toleration(ApiModel):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class Resources(ApiModel):
    requests: dict[str, Quantity] | None = Field(default=None, description="e.g. {cpu: 500m, memory: 1Gi}")
    limits: dict[str, Quantity] | None = Field(default=None, description="e.g. {nvidia.com/gpu: 1}")


class GpuSpec(ApiModel):
    """Accelerators for a worker pod: ``count`` of the extended resource ``resource`` (the NVIDIA device
    plugin's ``nvidia.com/gpu`` by default), rendered into the container's limits. The worker trains on
    CUDA when the pod has a device (a plugin's ``device: auto``) and reports which one in its result."""

    count: int = Field(default=1, ge=1, le=16, description="Devices per worker pod")
    resource: str = Field(
        default="nvidia.com/gpu",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$",
        description="Extended resource name (e.g. nvidia.com/gpu, amd.com/gpu)",
    )


class JobTemplate(ApiModel):
    """What every worker Job of this task gets; a Participant's own resources, gpu, nodeSelector and
    tolerations override these."""

    resources: Resources | None = None
    gpu: GpuSpec | None = Field(default=None, description="Accelerators for every worker pod")
    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = None
    scratch_size: Quantity = Field(
        default="1Gi",
        description="Size limit of the pod's /tmp emptyDir (where a plugin materialises a base model)",
    )
    service_account_name: ObjectName | None = None
    backoff_limit: int = Field(default=3, ge=0, le=10, description="Retries of a failed worker pod")
    ttl_seconds_after_finished: int = Field(default=3600, ge=0, description="Finished Jobs are deleted after")


class FLTaskSpec(ApiModel):
    """Desired state of a federated-learning task."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.arenaTaskId) != has(self.contractAddress)",
                    "message": "exactly one of arenaTaskId and contractAddress must be set",
                    "fieldPath": ".arenaTaskId",
                },
                {
                    "rule": "!has(self.arenaTaskId) || has(self.chain.factoryAddress)",
                    "message": "chain.factoryAddress is required when arenaTaskId is set",
                    "fieldPath": ".chain.factoryAddress",
                },
                {
                    "rule": "self.minParticipants <= self.maxParticipants",
                    "message": "minParticipants must not exceed maxParticipants",
                    "fieldPath": ".minParticipants",
                },
                {
                    "rule": "self.payoutPolicy == 'Collective' || self.slashPercent >= 0.01",
                    "message": "slashPercent must be at least 0.01 under PerProposal (without slashing an "
                    "attack pays)",
                    "fieldPath": ".slashPercent",
                },
                {
                    "rule": "!has(self.store.persistentVolumeClaim) || self.store.url.startsWith('file:///')",
                    "message": "store.persistentVolumeClaim needs a file:/// store.url (the mount path)",
                    "fieldPath": ".store.persistentVolumeClaim",
                },
            ]
        }
    }

    chain: ChainSpec = Field(json_schema_extra=_immutable("chain"))
    arena_task_id: int | None = Field(
        default=None,
        ge=0,
        description="Create a new on-chain task derived from this finished AI Arena task",
        json_schema_extra=_immutable("arenaTaskId"),
    )
    contract_address: Address | None = Field(
        default=None,
        description="Take part in an existing task contract (created elsewhere)",
        json_schema_extra=_immutable("contractAddress"),
    )
    training_logic: TrainingLogic = Field(json_schema_extra=_immutable("trainingLogic"))
    rounds: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Number of rounds; PerProposal: at least the longest epoch, ceil(n / proposers) over "
        "minParticipants..maxParticipants (every participant proposes once per epoch; the operator names "
        "the minimum otherwise)",
    )
    min_participants: int = Field(default=3, ge=2, le=10_000)
    max_participants: int = Field(default=100, ge=2, le=10_000)
    proposer_fraction: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Share of participants drawn as proposers each round"
    )
    max_proposers: int = Field(
        default=DEFAULT_MAX_PROPOSERS,
        ge=1,
        le=roles.MAX_PROPOSERS,
        description="Committee cap: at most this many proposers a round (the round's gas, uploads and every "
        "voter's work grow with it); a cap below proposerFraction lengthens the epoch",
    )
    max_voters: int = Field(
        default=DEFAULT_MAX_VOTERS,
        ge=1,
        le=roles.MAX_VOTERS,
        description="Committee cap: at most this many voters a round; the other participants hold no role "
        "that round (neither paid nor slashed)",
    )
    min_stake: FmlAmount = Field(default="10", description="Minimum stake to join, in $FML")
    phase_durations: PhaseDurations = Field(default_factory=PhaseDurations, json_schema_extra=_EMPTY_DEFAULT)
    max_lifetime_seconds: int = Field(
        default=7 * 86400, ge=60, description="Maximum lifecycle; after it anyone can close the task"
    )
    payout_policy: PayoutPolicy = Field(
        default=PayoutPolicy.PER_PROPOSAL,
        description="PerProposal: proposers paid or slashed on their own proposal; Collective: FLock's rule",
    )
    slash_percent: float = Field(
        default=10.0, ge=0.0, le=100.0, description="Share of stake slashed; PerProposal: at least 0.01"
    )
    store: StoreSpec
    worker: WorkerSpec = Field(default_factory=WorkerSpec, json_schema_extra=_EMPTY_DEFAULT)
    job_template: JobTemplate = Field(default_factory=JobTemplate, json_schema_extra=_EMPTY_DEFAULT)

    @model_validator(mode="after")
    def _attacking_loses(self) -> FLTaskSpec:
        """The contract's PerProposal creation rule in the spec's terms (the operator reports it as
        InvalidSpec; the API server checks slashPercent by CEL). Only for tasks the operator creates."""
        if self.arena_task_id is None or self.payout_policy != PayoutPolicy.PER_PROPOSAL:
            return self
        longest = roles.max_epoch_length(
            self.min_participants,
            self.max_participants,
            round(self.proposer_fraction * 10_000),
            self.max_proposers,
        )
        if self.rounds < longest:
            raise ValueError(
                f"rounds must be >= {longest} under PerProposal: the longest epoch for "
                f"{self.min_participants}..{self.max_participants} participants at proposerFraction "
                f"{self.proposer_fraction} and maxProposers {self.max_proposers} (every participant "
                "proposes once per epoch; raise maxProposers or rounds)"
            )
        return self


class TaskPhase(StrEnum):
    PENDING = "Pending"
    CREATING = "Creating"
    ENROLLING = "Enrolling"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    EXPIRED = "Expired"


class RoundSummary(ApiModel):
    round: int = Field(ge=0)
    proposers: list[str] = Field(default_factory=list, description="Proposer addresses")
    voters: list[str] = Field(default_factory=list, description="Voter addresses")
    accepted: bool | None = Field(default=None, description="Unset until the round is finalized")
    global_model_hash: Hash32 | None = None
    aggregate_score: float | None = None
    accepted_proposals: int = 0
    rejected_proposals: int = 0
    rewards: FmlAmount = "0"
    slashes: FmlAmount = "0"
    accuracy: float | None = Field(default=None, description="Mean accuracy reported by the voters")


class RoundTotals(ApiModel):
    """Every finalized round of the task (status.rounds keeps only the latest)."""

    finalized: int = 0
    accepted: int = 0
    rejected: int = 0
    aborted: int = Field(default=0, description="Pioneering rounds whose pioneer never delivered")
    accepted_proposals: int = 0
    rejected_proposals: int = 0
    rewards: FmlAmount = Field(default="0", description="Rewards allocated by the finalized rounds, in $FML")
    slashes: FmlAmount = Field(default="0", description="Slashes settled so far, in $FML")


class FLTaskStatus(ApiModel):
    phase: TaskPhase = TaskPhase.PENDING
    contract_address: Address | None = None
    training_logic_hash: Hash32 | None = None
    participants: int = 0
    round: int | None = None
    round_phase: str | None = Field(default=None, description="Pioneering, Proposing, Committing, ...")
    phase_deadline: str | None = Field(default=None, description="RFC 3339 deadline of the current phase")
    accuracy: float | None = Field(
        default=None,
        description="Latest value of the task's metric for the global model, as the voters report it",
    )
    quality: str | None = Field(
        default=None,
        description="The same for a person: '94.1%' for an accuracy, 'cross_entropy 5.237' otherwise",
    )
    rounds: list[RoundSummary] = Field(
        default_factory=list, description="The latest rounds (at most 10); the full history is on chain"
    )
    totals: RoundTotals = Field(default_factory=RoundTotals, json_schema_extra=_EMPTY_DEFAULT)
    message: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int = 0


class FLTask(ApiModel):
    api_version: Literal["flalliance.io/v1alpha1"] = "flalliance.io/v1alpha1"
    kind: Literal["FLTask"] = "FLTask"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: FLTaskSpec
    status: FLTaskStatus = Field(default_factory=FLTaskStatus)
