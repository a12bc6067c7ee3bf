"""One progress line from the custom resources and Jobs of a running task (pure: no I/O).

`make demo` prints it whenever it changes, so a user sees the round, the phase, the Jobs and the accuracy
move without running kubectl themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TERMINAL_PHASES = frozenset({"Completed", "Failed", "Expired"})


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def job_counts(jobs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Jobs by state: running (a pod active), done, failed (gave up), waiting (no pod yet)."""
    counts = {"running": 0, "done": 0, "failed": 0, "waiting": 0}
    for job in jobs:
        st = _status(job)
        conds = {c.get("type") for c in st.get("conditions") or [] if c.get("status") == "True"}
        if "Complete" in conds:
            counts["done"] += 1
        elif "Failed" in conds:
            counts["failed"] += 1
        elif st.get("active"):
            counts["running"] += 1
        else:
            counts["waiting"] += 1
    return counts


def progress_line(
    task: Mapping[str, Any], participants: Sequence[Mapping[str, Any]], jobs: Sequence[Mapping[str, Any]]
) -> str:
    st, spec = _status(task), task.get("spec") or {}
    name = (task.get("metadata") or {}).get("name", "?")
    parts = [f"{name}: {st.get('phase', 'Pending')}"]
    if st.get("round") is not None:
        rnd = f"round {int(st['round']) + 1}/{spec.get('rounds', '?')}"
        parts.append(f"{rnd} {st['roundPhase']}" if st.get("roundPhase") else rnd)
    joined = sum(1 for p in participants if _status(p).get("phase") == "Joined")
    parts.append(f"participants {joined}/{len(participants)} joined")
    c = job_counts(jobs)
    parts.append(
        f"jobs {c['running']} running, {c['waiting']} waiting, {c['done']} done, {c['failed']} failed"
    )
    rounds = st.get("rounds") or []
    finalized = [r for r in rounds if r.get("accepted") is not None]
    if finalized:
        parts.append(f"accepted {sum(1 for r in finalized if r['accepted'])}/{len(finalized)} rounds")
    if st.get("accuracy") is not None:
        parts.append(f"accuracy {float(st['accuracy']):.1%}")
    return " | ".join(parts)


def problems(task: Mapping[str, Any]) -> list[str]:
    """The task's conditions that are False (not ready, chain unreachable ...), as printable lines."""
    return [
        f"{c.get('type')}={c.get('status')} {c.get('reason')}: {c.get('message')}"
        for c in _status(task).get("conditions") or []
        if c.get("status") == "False"
    ]
