"""Thin adapter over the Kubernetes API: read and write exactly what the reconciler needs, nothing else.

Every method maps API objects to the decision core's views or applies one manifest; errors come back as
`KubeProblem` with a message naming the object, so they can become conditions and Events.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from flalliance.api import GROUP, VERSION
from flalliance.api.base import SecretKeyRef
from flalliance.controller.labels import (
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_PARTICIPANT,
    LABEL_ROUND,
    LABEL_TASK,
    MANAGED_BY,
)
from flalliance.controller.metrics import API_REQUESTS
from flalliance.controller.participant_cache import ParticipantCache
from flalliance.controller.views import JobKind, JobState, JobView

log = logging.getLogger(__name__)


class KubeProblem(Exception):
    """A Kubernetes object the task needs is missing or unusable; the message names it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class RequestCounter:
    """Counts API requests, for the operator benchmark and metrics, by verb and resource: a total alone
    says that requests grow, not which ones."""

    count: int = 0

    def tick(self, verb: str, resource: str, n: int = 1) -> None:
        self.count += n
        API_REQUESTS.labels(verb, resource).inc(n)


@dataclass
class Kube:
    api: client.ApiClient
    requests: RequestCounter = field(default_factory=RequestCounter)
    # The watch's Participants (the operator's handlers set it): read instead of listed, and kept current
    # with what this client writes. None (tests, the CLI): every read is a list.
    participant_cache: ParticipantCache | None = None
    _results: dict[str, tuple[dict[str, Any] | None, int | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    # ---- custom resources
    def get_task(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.requests.tick("get", "fltasks")
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "fltasks", name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def list_participants(self, namespace: str, task: str) -> list[dict[str, Any]]:
        """The Participants of one task: selected by the API server on the CRD's selectable field, so the
        pass reads only its own task's however many tasks share the namespace. From the watch's cache
        when there is one (`participant_cache`): no request at all."""
        cache = self.participant_cache
        if cache is not None and not cache.due(namespace, task):
            return cache.list(namespace, task)
        self.requests.tick("list", "participants")
        listed: dict[str, Any] = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "participants", field_selector=f"spec.taskRef.name={task}"
        )
        items: list[dict[str, Any]] = listed["items"]
        if cache is not None:  # a deletion the watch missed is dropped here (`ParticipantCache.resync`)
            cache.resync(
                namespace, task, items, str((listed.get("metadata") or {}).get("resourceVersion", ""))
            )
            return cache.list(namespace, task)
        return items

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        self.requests.tick("patch", f"{plural}/status")
        try:
            response = self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, plural, name, {"status": status}, _preload_content=False
            )
        except ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: nothing to report on
                raise
            return
        if plural == "participants" and self.participant_cache is not None:
            # The next pass must see this write even if it starts before the watch delivers it.
            self.participant_cache.put(json.loads(response.data))
            response.release_conn()
        else:  # the answer (the whole object) is not needed: read, not decoded
            _drain(response)

    # ---- secrets and volumes
    def read_secret_key(self, namespace: str, ref: SecretKeyRef, *, what: str) -> str:
        """The decoded value of one Secret key; never logged."""
        self.requests.tick("get", "secrets")
        try:
            secret = self.core.read_namespaced_secret(ref.name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise KubeProblem(
                    "SecretNotFound", f"{what}: Secret {namespace}/{ref.name} not found"
                ) from None
            if exc.status == 403:
                raise KubeProblem(
                    "SecretForbidden", f"{what}: not allowed to read Secret {namespace}/{ref.name}"
                ) from None
            raise
        data = secret.data or {}
        if ref.key not in data:
            raise KubeProblem(
                "SecretKeyMissing", f"{what}: Secret {namespace}/{ref.name} has no key {ref.key!r}"
            )
        return base64.b64decode(data[ref.key]).decode().strip()

    def pvc_exists(self, namespace: str, name: str) -> bool:
        self.requests.tick("get", "persistentvolumeclaims")
        try:
            self.core.read_namespaced_persistent_volume_claim(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # ---- config maps (raw JSON in and out, like the Job calls)
    def create_config_map(self, manifest: dict[str, Any]) -> bool:
        """Create the ConfigMap; False when one of that name already exists."""
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        self.requests.tick("create", "configmaps")
        try:
            _drain(self.core.create_namespaced_config_map(namespace, manifest, _preload_content=False))
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise _config_map_problem(exc, "create", namespace, name) from None
        return True

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ConfigMap as JSON, or None when it does not exist."""
        self.requests.tick("get", "configmaps")
        try:
            resp = self.core.read_namespaced_config_map(name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _config_map_problem(exc, "read", namespace, name) from None
        obj: dict[str, Any] = json.loads(resp.data)
        return obj

    def replace_config_map(self, manifest: dict[str, Any]) -> bool:
        """Replace the ConfigMap (the manifest carries the resourceVersion it was read at); False when it
        changed or vanished meanwhile (the next pass reads it again)."""
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        self.requests.tick("update", "configmaps")
        try:
            _drain(self.core.replace_namespaced_config_map(name, namespace, manifest, _preload_content=False))
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise _config_map_problem(exc, "replace", namespace, name) from None
        return True

    # ---- jobs
    def list_jobs(self, namespace: str, task: str, rounds: Sequence[int] | None = None) -> list[JobView]:
        """The task's Jobs as views, only those of ``rounds`` when given. A task accumulates Jobs round
        after round: selecting the rounds the pass can act on keeps its cost flat however long the task has
        run (all of them took 2.4 s a pass after 13 rounds of 48 Jobs). Raw JSON, not client models: their
        deserialization would dominate the pass."""
        self.requests.tick("list", "jobs")
        selector = _job_selector(task, rounds)
        resp = self.batch.list_namespaced_job(namespace, label_selector=selector, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(resp.data)["items"]
        unread = [j for j in items if _finished(j) and j["metadata"]["uid"] not in self._results]
        if unread:  # one request for the pods of those rounds, instead of one per newly finished Job
            self._read_results(namespace, task, unread, rounds)
        return [self._job_view(namespace, job) for job in items]

    def _read_results(
        self, namespace: str, task: str, jobs: list[dict[str, Any]], rounds: Sequence[int] | None
    ) -> None:
        self.requests.tick("list", "pods")
        resp = self.core.list_namespaced_pod(
            namespace, label_selector=_job_selector(task, rounds), _preload_content=False
        )
        by_job: dict[str, list[dict[str, Any]]] = {}
        for pod in json.loads(resp.data)["items"]:
            job = (pod["metadata"].get("labels") or {}).get("job-name")
            if job:
                by_job.setdefault(job, []).append(pod)
        for job in jobs:
            found = _last_termination(by_job.get(job["metadata"]["name"], []))
            if found != (None, None):
                self._results[job["metadata"]["uid"]] = found

    def _job_view(self, namespace: str, job: dict[str, Any]) -> JobView:
        meta = job["metadata"]
        labels = meta.get("labels") or {}
        status = job.get("status") or {}
        state = JobState.ACTIVE
        if status.get("succeeded"):
            state = JobState.SUCCEEDED
        elif any(
            c.get("type") == "Failed" and c.get("status") == "True" for c in status.get("conditions") or []
        ):
            state = JobState.FAILED
        result: dict[str, Any] | None = None
        exit_code: int | None = None
        if state != JobState.ACTIVE:
            result, exit_code = self._job_result(namespace, meta["name"], meta["uid"])
        return JobView(
            name=meta["name"],
            kind=JobKind(labels[LABEL_KIND]),
            round=int(labels[LABEL_ROUND]),
            participant=labels[LABEL_PARTICIPANT],
            attempt=int(labels.get(LABEL_ATTEMPT, "0")),
            state=state,
            result=result,
            exit_code=exit_code,
        )

    def _job_result(self, namespace: str, name: str, uid: str) -> tuple[dict[str, Any] | None, int | None]:
        """The worker's JSON termination message and exit code, from the Job's last pod (cached)."""
        if uid in self._results:
            return self._results[uid]
        self.requests.tick("list", "pods")
        resp = self.core.list_namespaced_pod(
            namespace, label_selector=f"job-name={name}", _preload_content=False
        )
        found = _last_termination(json.loads(resp.data)["items"])
        self._results[uid] = found
        return found

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """Create the Job; False when it already exists (a previous reconcile made it). The answer is not
        decoded into client models: nothing reads it, and decoding 48 Jobs a round into V1Job objects
        held the pass's threads on the interpreter lock."""
        self.requests.tick("create", "jobs")
        try:
            _drain(
                self.batch.create_namespaced_job(
                    manifest["metadata"]["namespace"], manifest, _preload_content=False
                )
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def delete_jobs(self, namespace: str, task: str) -> int:
        self.requests.tick("list", "jobs")
        selector = f"{LABEL_TASK}={task}"
        jobs = self.batch.list_namespaced_job(namespace, label_selector=selector).items
        for job in jobs:
            self.requests.tick("delete", "jobs")
            try:
                self.batch.delete_namespaced_job(
                    job.metadata.name, namespace, propagation_policy="Background"
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
        return len(jobs)

    # ---- events
    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        """Post a core/v1 Event about `obj` (best effort: an Event is never worth failing a reconcile)."""
        meta = obj["metadata"]
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Raw JSON in and out, like the Job calls: client models cost more than the request at a round's
        # dozens of Events.
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": type,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "source": {"component": "flalliance-operator"},
            "reportingComponent": "flalliance.io/operator",
            "reportingInstance": "flalliance-operator",
        }
        self.requests.tick("create", "events")
        try:
            _drain(self.core.create_namespaced_event(meta["namespace"], body, _preload_content=False))
        except ApiException as exc:  # pragma: no cover - depends on RBAC at run time
            log.warning("could not post event %s on %s: %s", reason, meta["name"], exc.reason)


def _drain(response: Any) -> None:
    """Read an undecoded reply to its end, which hands its connection back to the pool: a reply left
    unread keeps its connection checked out, and the next calls open new ones (a TLS handshake each)."""
    response.read()
    response.release_conn()


def _finished(job: dict[str, Any]) -> bool:
    status = job.get("status") or {}
    return bool(status.get("succeeded")) or any(
        c.get("type") == "Failed" and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _last_termination(pods: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, int | None]:
    """(result, exit code) of the newest terminated container among a Job's pods."""
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated")
            if term:
                return _parse_result(term.get("message")), term.get("exitCode")
    return None, None


def _parse_result(message: str | None) -> dict[str, Any] | None:
    if not message:
        return None
    try:
        parsed = json.loads(message)
    except json.JSONDecodeError:
        return {"error": message.strip().splitlines()[-1][:500] if message.strip() else "no output"}
    return parsed if isinstance(parsed, dict) else None


def _config_map_problem(exc: ApiException, verb: str, namespace: str, name: str) -> KubeProblem:
    """A failed ConfigMap call as a condition-ready problem naming the object and the API's answer."""
    what = f"cannot {verb} ConfigMap {namespace}/{name}"
    if exc.status == 403:
        return KubeProblem("ConfigMapForbidden", f"{what}: forbidden (the operator's RBAC lacks it)")
    detail = exc.reason or ""
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        detail = json.loads(exc.body).get("message") or detail
    return KubeProblem("ConfigMapUnavailable", f"{what}: {exc.status} {detail}".strip())


def _job_selector(task: str, rounds: Sequence[int] | None) -> str:
    """The label selector of a task's Jobs (and their pods), of ``rounds`` only when given."""
    selector = (
        f"{LABEL_TASK}={task},app.kubernetes.io/managed-by={MANAGED_BY['app.kubernetes.io/managed-by']}"
    )
    if rounds is not None:
        selector += f",{LABEL_ROUND} in ({','.join(str(r) for r in sorted(set(rounds)))})"
    return selector
