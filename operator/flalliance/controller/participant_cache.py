"""The Participants the operator's watch has seen, grouped by task: what a pass reads instead of a list.

Why: every pass of a task started by listing its Participants from the API server. At 200 local
participants that is ~570 KB serialised by the API server, sent and parsed, ~0.15 s at the start of each
of the two passes on a round's critical path, on two cores the API server shares with everything else
(bench/operator/run.py). kopf already watches every Participant (to wake the tasks); this keeps what the
watch delivers, as controller-runtime's informer cache does, and a pass reads it in microseconds.

What such a cache must get right:
- *Read before the first list is in.* The store is fed from a kopf index handler; kopf starts no handler
  and no daemon before every index has seen the initial list (its index readiness gate), so no pass runs on
  a half-filled cache.
- *Reading one's own write late.* A status the operator writes (a stake transaction's hash, a role record)
  must be seen by the next pass, which may start before the watch delivers it: `Kube.patch_status` puts
  the object the API server answered with.
- *An old version overwriting a newer one* (that answer and the watch race): a version is kept only if its
  resourceVersion is not older than the one held; a deleted object's uid is never put back.
- *Memory.* Each Participant is held as one compact JSON string without `metadata.managedFields` (which
  nothing here reads and which is half of a Participant), and a pass gets fresh dicts from it (~15 us
  each). Held as parsed dicts, 1,000 Participants are ~14 MiB of small long-lived objects; one operator
  with 100 tasks x 10 peaked at 519 MiB resident that way, 506 MiB this way (bench/operator/many.py).
- *A deletion the watch never delivered* (kopf lists again after a watch gap, and an object gone in the
  gap gets no DELETED event): each task's Participants are also listed every `RESYNC_SECONDS` (and at its
  first read), and what that list does not hold, and is not newer than it, is dropped.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

RESYNC_SECONDS = 300.0
"""How often a task's Participants are listed from the API server all the same (see above)."""


def _rv(obj: dict[str, Any]) -> int | None:
    """The resourceVersion as a number when it is one (etcd's revisions are): opaque strings compare as
    unknown, and the newer arrival wins."""
    value = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(value) if value.isdigit() else None


def _task(obj: dict[str, Any]) -> str:
    return str(((obj.get("spec") or {}).get("taskRef") or {}).get("name") or "")


@dataclass(frozen=True)
class _Held:
    uid: str
    version: int | None
    text: str  # the object as compact JSON, without metadata.managedFields

    @classmethod
    def of(cls, obj: dict[str, Any]) -> _Held:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        text = json.dumps({**obj, "metadata": meta}, separators=(",", ":"))
        return cls(str(meta.get("uid") or ""), _rv(obj), text)

    def older_than(self, other: _Held) -> bool:
        return self.version is not None and other.version is not None and self.version < other.version


class ParticipantCache:
    """Participants by (namespace, task), newest version of each; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_task: dict[tuple[str, str], dict[str, _Held]] = {}
        self._where: dict[tuple[str, str], str] = {}  # (namespace, name) -> task it is filed under
        self._deleted: set[str] = set()  # uids
        self._synced: dict[tuple[str, str], float] = {}  # (namespace, task) -> monotonic time of its list

    def put(self, obj: dict[str, Any]) -> bool:
        """Keep this version of a Participant unless a newer one is held; True when it was kept."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if not namespace or not name:
            return False
        task = _task(obj)
        entry = _Held.of(obj)  # outside the lock: the only costly step
        with self._lock:
            if entry.uid in self._deleted:
                return False
            filed = self._where.get((namespace, name))
            if filed is not None:
                held = self._by_task.get((namespace, filed), {}).get(name)
                if held is not None and held.uid == entry.uid and entry.older_than(held):
                    return False
                if filed != task:
                    self._drop(namespace, name, filed)
            self._by_task.setdefault((namespace, task), {})[name] = entry
            self._where[(namespace, name)] = task
            return True

    def delete(self, obj: dict[str, Any]) -> None:
        """Forget a deleted Participant, for good: a late answer to a write made before it went is ignored."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        with self._lock:
            if meta.get("uid"):
                self._deleted.add(str(meta["uid"]))
            filed = self._where.get((namespace, name))
            if filed is not None:
                held = self._by_task.get((namespace, filed), {}).get(name)
                if held is None or held.uid == str(meta.get("uid") or ""):
                    self._drop(namespace, name, filed)

    def _drop(self, namespace: str, name: str, task: str) -> None:
        bucket = self._by_task.get((namespace, task))
        if bucket is not None:
            bucket.pop(name, None)
            if not bucket:
                del self._by_task[(namespace, task)]
        self._where.pop((namespace, name), None)

    def due(self, namespace: str, task: str) -> bool:
        """Whether the task's Participants should be listed from the API server (`resync`) now."""
        with self._lock:
            last = self._synced.get((namespace, task))
        return last is None or time.monotonic() - last >= RESYNC_SECONDS

    def resync(self, namespace: str, task: str, items: list[dict[str, Any]], list_version: str) -> None:
        """Fold in a list of the task's Participants made at `list_version`: each item as a `put`, and a
        Participant held but missing from the list dropped unless it is newer than the list."""
        for obj in items:
            self.put(obj)
        listed = {str(o.get("metadata", {}).get("name")) for o in items}
        at = int(list_version) if list_version.isdigit() else None
        with self._lock:
            self._synced[(namespace, task)] = time.monotonic()
            for name, held in list(self._by_task.get((namespace, task), {}).items()):
                version = held.version
                if name not in listed and (at is None or version is None or version <= at):
                    self._drop(namespace, name, task)

    def list(self, namespace: str, task: str) -> list[dict[str, Any]]:
        """The task's Participants, in name order (as the API server lists them); the caller's own copies."""
        with self._lock:
            bucket = self._by_task.get((namespace, task), {})
            texts = [bucket[name].text for name in sorted(bucket)]
        out: list[dict[str, Any]] = [json.loads(text) for text in texts]
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._where)
