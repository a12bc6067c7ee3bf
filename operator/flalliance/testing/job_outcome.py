"""Record a worker Job's outcome as the kubelet and the Job controller would (tests and benchmarks only).

Where no kubelet runs (the API-server-only harness), a test runs the worker itself and then calls these:
a Pod carrying the template's labels with the container's termination message and exit code, and the
Job's status (Complete, or Failed once its retries are used up).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client


def record_pod(
    core: client.CoreV1Api, namespace: str, job: Any, pod_name: str, code: int, message: str
) -> None:
    """A terminated Pod of `job` with the worker's exit code and termination message."""
    core.create_namespaced_pod(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "labels": {**(job.spec.template.metadata.labels or {}), "job-name": job.metadata.name},
            },
            "spec": {"restartPolicy": "Never", "containers": [{"name": "worker", "image": "worker"}]},
        },
    )
    terminated = {"exitCode": code, "message": message, "reason": "Completed" if code == 0 else "Error"}
    container = {
        "name": "worker",
        "image": "worker",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": terminated},
    }
    phase = "Succeeded" if code == 0 else "Failed"
    core.patch_namespaced_pod_status(
        pod_name, namespace, {"status": {"phase": phase, "containerStatuses": [container]}}
    )


def record_job(
    batch: client.BatchV1Api, namespace: str, job: Any, *, succeeded: bool, failed_pods: int = 0
) -> None:
    """The Job's final status: Complete, or Failed after `failed_pods` pods (BackoffLimitExceeded)."""
    now = datetime.now(UTC).isoformat()

    def cond(type: str, **extra: str) -> dict[str, str]:
        return {"type": type, "status": "True", "lastTransitionTime": now, "lastProbeTime": now, **extra}

    if succeeded:
        status: dict[str, Any] = {
            "startTime": now,
            "completionTime": now,
            "succeeded": 1,
            "conditions": [cond("SuccessCriteriaMet"), cond("Complete")],
        }
    else:
        status = {
            "startTime": now,
            "failed": failed_pods,
            "conditions": [cond("FailureTarget"), cond("Failed", reason="BackoffLimitExceeded")],
        }
    batch.patch_namespaced_job_status(job.metadata.name, namespace, {"status": status})
