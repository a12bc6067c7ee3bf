"""kopf handlers: a daemon per FLTask runs reconcile passes; Job and Participant events wake it early.

Handlers stay a few lines each: all decisions are in `plan`, all I/O in `reconciler`/`kube`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client

from flalliance.api import GROUP, VERSION
from flalliance.controller import metrics
from flalliance.controller.kopf_session import bounded_session, connection_limit
from flalliance.controller.kube import Kube
from flalliance.controller.labels import LABEL_KIND, LABEL_TASK, MANAGED_BY
from flalliance.controller.participant_cache import ParticipantCache
from flalliance.controller.participant_finalizer import check_release
from flalliance.controller.reconciler import STOP, TaskReconciler

log = logging.getLogger(__name__)

_wakers: dict[tuple[str, str], asyncio.Event] = {}
# Jobs of each task not yet finished, as seen in Job events. A Job that succeeds while others of the task
# still run allows no decision (a phase moves on when all its submissions are in, or at its deadline, which
# the daemon's own timer covers), so the daemon waits for the rest, up to DEBOUNCE_SECONDS, and one pass
# handles the whole burst; the last one to finish, or any failure (a retry to start), wakes it at once.
# The cap bounds the cost of a Job whose end was never seen (a watch gap): one late pass, not a stall.
_unfinished: dict[tuple[str, str], set[str]] = {}
_settled: dict[tuple[str, str], asyncio.Event] = {}
DEBOUNCE_SECONDS = 5.0
_api: client.ApiClient | None = None
_test_mode = False
_watched_namespaces = 0  # 0 = cluster-wide (sizes kopf's connection pool: kopf_session.py)
# Every Participant the watch has seen: the passes read their task's from here, not from a list.
_participants = ParticipantCache()


def configure_api(api: client.ApiClient, *, test_mode: bool = False, namespaces: int = 0) -> None:
    """The client the handlers use; `test_mode` honours Participants' attack annotations (demos, e2e);
    `namespaces` is how many namespaces kopf watches (0 = cluster-wide)."""
    global _api, _test_mode, _watched_namespaces
    _api, _test_mode, _watched_namespaces = api, test_mode, namespaces


def _kube() -> Kube:
    if _api is None:  # pragma: no cover - main() configures it before kopf starts
        raise RuntimeError("Kubernetes client not configured")
    return Kube(_api, participant_cache=_participants)


def wake(namespace: str, name: str) -> None:
    """Wake a task's daemon. Call on the event loop's thread (asyncio.Event is not thread-safe)."""
    event = _wakers.get((namespace, name))
    if event is not None:
        event.set()


async def _debounce(key: tuple[str, str]) -> None:
    """After a wake: wait while the task's other Jobs are still running, at most DEBOUNCE_SECONDS."""
    if not _unfinished.get(key):
        return
    settled = _settled.setdefault(key, asyncio.Event())
    settled.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), timeout=DEBOUNCE_SECONDS)


@kopf.on.login()
async def _login(**_: Any) -> kopf.AiohttpSession:
    """kopf connects with the same credentials as the reconciler's client (kubeconfig or in-cluster),
    through a session with a bounded number of connections (kopf_session.py)."""
    if _api is None:  # pragma: no cover - main() configures it before kopf starts
        raise kopf.LoginError("Kubernetes client not configured")
    cfg = _api.configuration
    auth = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    token = auth.split(" ", 1)[1] if auth and " " in auth else auth
    info = kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        default_namespace=None,
    )
    return await bounded_session(info, connection_limit(_watched_namespaces))


@kopf.on.startup()
def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60


@kopf.daemon(GROUP, VERSION, "fltasks", cancellation_timeout=30.0)
async def fltask_daemon(name: str, namespace: str | None, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """Reconcile the FLTask until it is deleted (or the operator stops)."""
    assert namespace is not None  # FLTask is namespaced
    reconciler = TaskReconciler(_kube(), namespace, name, test_mode=_test_mode)
    waker = _wakers.setdefault((namespace, name), asyncio.Event())
    try:
        while not stopped:
            # Cleared before the pass reads anything, not after it: a Job that finishes while the pass runs
            # (its status stage overlaps the round's Jobs) must wake the next pass at once. Cleared after,
            # that wake was lost and the task waited for the poll (1 s at 10 participants: a third of
            # the rounds took ~1 s longer, bench/operator/run.py).
            waker.clear()
            delay = await asyncio.to_thread(reconciler.reconcile)
            if delay == STOP:
                return
            while not stopped:
                try:
                    await asyncio.wait_for(waker.wait(), timeout=delay)
                except TimeoutError:
                    # The timer, not an event: pass only if the chain moved (one cheap read decides).
                    if delay > 0 and not await asyncio.to_thread(reconciler.needs_pass):
                        continue
                    break
                # Woken by an event: if more Jobs of the burst are about to finish, let one pass see them.
                await _debounce((namespace, name))
                break
    finally:
        _wakers.pop((namespace, name), None)
        _unfinished.pop((namespace, name), None)
        _settled.pop((namespace, name), None)


@kopf.on.delete(GROUP, VERSION, "fltasks")
async def fltask_deleted(name: str, namespace: str | None, **_: Any) -> None:
    """Settle local stakes if the task has ended, then remove the task's Jobs."""
    assert namespace is not None
    reconciler = TaskReconciler(_kube(), namespace, name, test_mode=_test_mode)
    await asyncio.to_thread(reconciler.reconcile)
    removed = await asyncio.to_thread(reconciler.kube.delete_jobs, namespace, name)
    log.info("FLTask %s/%s deleted: %d Jobs removed", namespace, name, removed)


@kopf.on.delete(GROUP, VERSION, "participants")
async def participant_deleted(body: kopf.Body, name: str, namespace: str | None, **_: Any) -> None:
    """Hold a Participant's deletion while it has a stake in the contract (see `participant_finalizer`)."""
    assert namespace is not None
    verdict = await asyncio.to_thread(check_release, _kube(), namespace, dict(body))
    if not verdict.release:
        task = (body.get("spec") or {}).get("taskRef", {}).get("name")
        if task:
            wake(namespace, task)  # settle as soon as the chain allows
        raise kopf.TemporaryError(f"{name}: deletion waits: {verdict.message}", delay=15)
    log.info("Participant %s/%s released: %s", namespace, name, verdict.message)


@kopf.on.event(
    "batch", "v1", "jobs", labels={"app.kubernetes.io/managed-by": MANAGED_BY["app.kubernetes.io/managed-by"]}
)
async def _job_event(body: kopf.Body, type: str | None, **_: Any) -> None:
    """Wake the task when one of its Jobs finishes (creation and progress need no decision).

    Async on purpose: it runs on the event loop, where setting the daemon's asyncio.Event is safe and
    immediate (a sync handler runs in kopf's thread pool).
    """
    status = body.get("status", {})
    done = {c.get("type") for c in status.get("conditions", []) if c.get("status") == "True"}
    failed = "Failed" in done or bool(status.get("failed"))
    finished = bool(status.get("succeeded")) or bool(done & {"Complete", "Failed"})
    meta = body.get("metadata", {})
    task = meta.get("labels", {}).get(LABEL_TASK)
    if not task:
        return
    key = (meta["namespace"], task)
    running = _unfinished.setdefault(key, set())
    if type == "DELETED":
        _counted.discard(meta.get("uid", ""))
    if finished or type == "DELETED":
        running.discard(meta["name"])
    else:
        running.add(meta["name"])
    if (failed or not running) and key in _settled:
        _settled[key].set()
    if finished or failed:
        _count_job(body, failed)
        wake(*key)


_counted: set[str] = set()
_STARTED = datetime.now(UTC)


def _count_job(body: kopf.Body, failed: bool) -> None:
    """Count a finished Job once, and only if it finished while this process ran (kopf lists every Job
    again at start: counting those would count the same Jobs again in each new leader)."""
    meta, status = body.get("metadata", {}), body.get("status", {})
    uid = meta.get("uid", "")
    ended = status.get("completionTime") or next(
        (c.get("lastTransitionTime") for c in status.get("conditions", []) if c.get("type") == "Failed"), None
    )
    if uid in _counted or not ended or datetime.fromisoformat(str(ended).replace("Z", "+00:00")) < _STARTED:
        return
    _counted.add(uid)
    kind = meta.get("labels", {}).get(LABEL_KIND, "unknown")
    metrics.JOB_OUTCOMES.labels(kind, "failed" if failed else "succeeded").inc()


_generations: dict[tuple[str, str], int] = {}
_task_generations: dict[tuple[str, str], int] = {}


@kopf.on.event(GROUP, VERSION, "fltasks")
async def _fltask_event(body: kopf.Body, type: str | None, **_: Any) -> None:
    """Wake the task's daemon on a spec change or a deletion — not on the status writes it makes itself."""
    meta = body["metadata"]
    key = (meta["namespace"], meta["name"])
    generation = int(meta.get("generation", 0))
    if type == "DELETED":
        _task_generations.pop(key, None)
        return
    if _task_generations.get(key) == generation and not meta.get("deletionTimestamp"):
        return
    _task_generations[key] = generation
    wake(*key)


@kopf.index(GROUP, VERSION, "participants")
async def _participant_index(body: kopf.Body, **_: Any) -> None:
    """Keep every version of every Participant the watch delivers (`participant_cache`).

    An index, not an event handler, for kopf's guarantee: no handler and no daemon starts before every
    index has been fed the initial list, so no pass reads a half-filled cache. It indexes nothing itself
    (None); deletions arrive in `_participant_event`.
    """
    _participants.put(dict(body))


@kopf.on.event(GROUP, VERSION, "participants")
async def _participant_event(body: kopf.Body, type: str | None, **_: Any) -> None:
    """Wake the task on a new, changed or deleted Participant — not on the status writes it makes itself."""
    meta = body["metadata"]
    if type == "DELETED":
        _participants.delete(dict(body))
    key = (meta["namespace"], meta["name"])
    generation = int(meta.get("generation", 0))
    if type != "DELETED" and _generations.get(key) == generation and not meta.get("deletionTimestamp"):
        return
    _generations[key] = generation
    task = body.get("spec", {}).get("taskRef", {}).get("name")
    if task:
        wake(meta["namespace"], task)
