"""Helpers for the e2e tests: run Jobs in a real cluster, wait with bounds, explain failures.

Imported by tests/e2e/conftest.py (fixtures) and the tests (types, wait_until).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


@dataclass
class ClusterFacts:
    """What tests may need to know about the cluster beyond the API."""

    local: bool  # the local cluster of hack/cluster-up.sh
    host_ip: str | None  # address on the host that pods reach (a dev chain binds here); None if unknown
    image_pull_policy: str
    extra: dict[str, str] = field(default_factory=dict)


def exists(read: Callable[[], Any]) -> bool:
    try:
        read()
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def wait_until(
    cond: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.5,
    explain: Callable[[], str] | None = None,
) -> Any:
    """Poll cond() until truthy; fail the test naming `what` (and what `explain` says) after `timeout`
    seconds (never hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def smoke_image() -> str:
    return os.environ.get("FLALLIANCE_SMOKE_IMAGE", "flalliance/smoke:dev")


def restricted_security_context() -> client.V1SecurityContext:
    """The project's pod standard: non-root, read-only root filesystem, no capabilities."""
    return client.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=65532,
        run_as_group=65532,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        capabilities=client.V1Capabilities(drop=["ALL"]),
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
    )


class Kube:
    """Thin helpers over the client for e2e tests: run Jobs, wait, read logs, explain failures."""

    def __init__(self, api: client.ApiClient, ns: str, facts: ClusterFacts) -> None:
        self.api, self.ns, self.facts = api, ns, facts
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)

    def container(self, args: list[str], **kw: Any) -> client.V1Container:
        return client.V1Container(
            name="main",
            image=smoke_image(),
            image_pull_policy=self.facts.image_pull_policy,
            args=args,
            security_context=restricted_security_context(),
            **kw,
        )

    def create_job(self, name: str, pod_spec: client.V1PodSpec) -> client.V1Job:
        pod_spec.restart_policy = pod_spec.restart_policy or "Never"
        job = client.V1Job(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1JobSpec(
                backoff_limit=0,
                active_deadline_seconds=300,
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"job-name": name}), spec=pod_spec
                ),
            ),
        )
        return self.batch.create_namespaced_job(self.ns, job)

    def run_job(self, name: str, pod_spec: client.V1PodSpec, timeout: float = 180) -> str:
        """Create a Job, wait for it to succeed, return its pod's logs (read through the API)."""
        self.create_job(name, pod_spec)
        status = self.wait_job(name, timeout)
        logs = self.job_logs(name)
        assert status == "Complete", f"job {name} {status}; logs:\n{logs}\n{self.explain(name)}"
        return logs

    def wait_job(self, name: str, timeout: float) -> str:
        def done() -> str | None:
            job = self.batch.read_namespaced_job_status(name, self.ns)
            for cond in job.status.conditions or []:
                if cond.status == "True" and cond.type in ("Complete", "Failed"):
                    return str(cond.type)
            return None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = done()
            if result:
                return result
            time.sleep(0.5)
        pytest.fail(f"job {name} not finished after {timeout:.0f}s\n{self.explain(name)}")

    def job_pods(self, name: str) -> list[client.V1Pod]:
        return list(self.core.list_namespaced_pod(self.ns, label_selector=f"job-name={name}").items)

    def job_logs(self, name: str) -> str:
        pods = self.job_pods(name)
        if not pods:
            return "<no pod>"
        return str(self.core.read_namespaced_pod_log(pods[0].metadata.name, self.ns, container="main"))

    def explain(self, name: str) -> str:
        """Pod phases, container states and namespace events: what a failing test prints."""
        lines = []
        for pod in self.job_pods(name) + [
            p for p in self.core.list_namespaced_pod(self.ns).items if not p.metadata.name.startswith(name)
        ]:
            lines.append(f"pod {pod.metadata.name}: {pod.status.phase}")
            for cs in pod.status.container_statuses or []:
                lines.append(f"  container {cs.name}: {cs.state}")
        for ev in self.core.list_namespaced_event(self.ns).items:
            lines.append(
                f"event {ev.involved_object.kind}/{ev.involved_object.name}: {ev.reason} {ev.message}"
            )
        for node in self.core.list_node().items:
            # A taint or a pressure condition explains Pending pods better than any pod event.
            for taint in node.spec.taints or []:
                lines.append(f"node {node.metadata.name} taint {taint.key}={taint.value}:{taint.effect}")
            for cond in node.status.conditions or []:
                if (cond.type == "Ready") != (cond.status == "True"):
                    lines.append(f"node {node.metadata.name} {cond.type}={cond.status}: {cond.message}")
        return "\n".join(lines)
