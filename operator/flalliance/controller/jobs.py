"""Render worker Job manifests (pure): one Job per participant, role and round.

Each Job mounts only its own participant's wallet key and dataset, runs non-root with a read-only root
filesystem and no capabilities, is owned by the FLTask (garbage-collected with it), carries labels that
identify task/round/role/participant/attempt, and cannot outlive its on-chain phase. A task with inline
training logic also mounts that logic's ConfigMap read-only (see `training_logic`), so no worker depends on
the operator being able to reach the artifact store.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlparse

from flalliance.api.fltask import FLTaskSpec, Resources
from flalliance.api.participant import ParticipantSpec
from flalliance.controller.actions import CreateJob
from flalliance.controller.labels import (
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_PARTICIPANT,
    LABEL_ROUND,
    LABEL_TASK,
    MANAGED_BY,
    owner_reference,
)
from flalliance.controller.training_logic import job_volume

WALLET_DIR = "/var/run/flalliance/wallet"
DATA_DIR = "/data"
S3_CREDENTIALS_DIR = "/var/run/flalliance/s3"
WORKER_UID = 65532
MIN_ACTIVE_SECONDS = 30


def job_name(task: str, kind: str, round: int, participant: str, attempt: int) -> str:
    """A deterministic DNS-1123 label (<= 63 chars): the same step always gets the same name."""
    name = f"{task}-r{round}-{kind}-{participant}-{attempt}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52].rstrip('-.')}-{digest}"


def _resources(task: FLTaskSpec, participant: ParticipantSpec) -> dict[str, Any]:
    """The participant's resources (else the task's), plus its accelerators (else the task's) as limits:
    an extended resource is requested through its limit, which Kubernetes copies into requests."""
    chosen: Resources | None = participant.resources or task.job_template.resources
    out = chosen.to_k8s() if chosen else {}
    gpu = participant.gpu or task.job_template.gpu
    if gpu is not None:
        out["limits"] = {**out.get("limits", {}), gpu.resource: str(gpu.count)}
        if gpu.resource in out.get("requests", {}):
            out["requests"][gpu.resource] = str(gpu.count)
    return out


def worker_image(task: FLTaskSpec) -> str:
    """The image the task's training logic pins by digest (inline ``runtime.image``), else
    ``spec.worker.image``. Pinned, the runtime pulls exactly that digest, and the worker refuses to run
    under any other reference; a logic given only by hash is not readable here, so it uses worker.image
    (and the worker refuses if that is not the pinned one)."""
    inline = task.training_logic.inline or {}
    runtime = inline.get("runtime")
    pinned = runtime.get("image") if isinstance(runtime, dict) else None
    return pinned if isinstance(pinned, str) and pinned else task.worker.image


def _store_mount(task: FLTaskSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Volumes, mounts and env for the artifact store."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    env = [{"name": "FLALLIANCE_STORE_URL", "value": task.store.url}]
    if task.store.persistent_volume_claim:
        path = urlparse(task.store.url).path if task.store.url.startswith("file://") else "/artifacts"
        volumes.append(
            {"name": "store", "persistentVolumeClaim": {"claimName": task.store.persistent_volume_claim}}
        )
        mounts.append({"name": "store", "mountPath": path})
    if task.store.credentials_secret:
        volumes.append(
            {"name": "s3", "secret": {"secretName": task.store.credentials_secret, "defaultMode": 0o440}}
        )
        mounts.append({"name": "s3", "mountPath": S3_CREDENTIALS_DIR, "readOnly": True})
        env.append({"name": "FLALLIANCE_S3_CREDENTIALS_DIR", "value": S3_CREDENTIALS_DIR})
    return volumes, mounts, env


def _dataset_volume(participant: ParticipantSpec) -> dict[str, Any]:
    if participant.dataset.persistent_volume_claim:
        return {
            "name": "data",
            "persistentVolumeClaim": {
                "claimName": participant.dataset.persistent_volume_claim,
                "readOnly": True,
            },
        }
    return {"name": "data", **(participant.dataset.volume or {})}


def render_job(
    *,
    task_name: str,
    namespace: str,
    task_uid: str,
    task: FLTaskSpec,
    contract_address: str,
    participant_name: str,
    participant: ParticipantSpec,
    action: CreateJob,
    now: int,
    behaviour: str = "honest",
) -> dict[str, Any]:
    """The Job manifest for `action`; `now` is chain time, so the deadline matches the contract's.

    `behaviour` is an attack for the worker to run, only ever set by an operator in test mode.
    """
    name = job_name(task_name, action.kind.value, action.round, participant_name, action.attempt)
    labels = {
        **MANAGED_BY,
        LABEL_TASK: task_name,
        LABEL_ROUND: str(action.round),
        LABEL_KIND: action.kind.value,
        LABEL_PARTICIPANT: participant_name,
        LABEL_ATTEMPT: str(action.attempt),
    }
    store_volumes, store_mounts, store_env = _store_mount(task)
    wallet = participant.wallet_secret
    volumes = [
        {
            "name": "wallet",
            "secret": {
                "secretName": wallet.name,
                "items": [{"key": wallet.key, "path": "key"}],
                "defaultMode": 0o400,
            },
        },
        _dataset_volume(participant),
        {"name": "tmp", "emptyDir": {"sizeLimit": task.job_template.scratch_size}},
        *store_volumes,
    ]
    logic_mounts: list[dict[str, Any]] = []
    logic_env: list[dict[str, Any]] = []
    if task.training_logic.inline is not None:  # published by the operator in the task's ConfigMap
        logic_volume, logic_mount, logic_var = job_volume(task_name)
        volumes.append(logic_volume)
        logic_mounts.append(logic_mount)
        logic_env.append(logic_var)
    data_mount: dict[str, Any] = {"name": "data", "mountPath": DATA_DIR, "readOnly": True}
    if participant.dataset.sub_path:
        data_mount["subPath"] = participant.dataset.sub_path
    mounts = [
        {"name": "wallet", "mountPath": WALLET_DIR, "readOnly": True},
        data_mount,
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir, not a shared /tmp
        *store_mounts,
        *logic_mounts,
    ]
    image = worker_image(task)
    env = [
        {"name": "FLALLIANCE_WORKER_IMAGE", "value": image},
        {"name": "FLALLIANCE_RPC_URL", "value": task.chain.rpc_url},
        {"name": "FLALLIANCE_CHAIN_ID", "value": str(task.chain.chain_id)},
        {"name": "FLALLIANCE_CONFIRMATIONS", "value": str(task.chain.confirmations)},
        {"name": "FLALLIANCE_RECEIPT_TIMEOUT", "value": str(task.chain.receipt_timeout_seconds)},
        {"name": "FLALLIANCE_TASK", "value": contract_address},
        {"name": "FLALLIANCE_KEY_FILE", "value": f"{WALLET_DIR}/key"},
        {"name": "FLALLIANCE_DATA_DIR", "value": DATA_DIR},
        {"name": "FLALLIANCE_RESULT_FILE", "value": "/dev/termination-log"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        *store_env,
        *logic_env,
        *([{"name": "FLALLIANCE_BEHAVIOUR", "value": behaviour}] if behaviour != "honest" else []),
    ]
    container: dict[str, Any] = {
        "name": "worker",
        "image": image,
        "imagePullPolicy": task.worker.image_pull_policy,
        "args": [action.kind.value, "--round", str(action.round)],
        "env": env,
        "volumeMounts": mounts,
        "resources": _resources(task, participant),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": WORKER_UID,
            "runAsGroup": WORKER_UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    template = task.job_template
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "fsGroup": WORKER_UID},
        "containers": [container],
        "volumes": volumes,
    }
    if template.service_account_name:
        pod_spec["serviceAccountName"] = template.service_account_name
    node_selector = participant.node_selector or template.node_selector
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    tolerations = participant.tolerations or template.tolerations
    if tolerations:
        pod_spec["tolerations"] = [t.to_k8s() for t in tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(task_name, task_uid)],
        },
        "spec": {
            "backoffLimit": template.backoff_limit,
            "activeDeadlineSeconds": max(MIN_ACTIVE_SECONDS, action.deadline - now),
            "ttlSecondsAfterFinished": template.ttl_seconds_after_finished,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
