"""Status: what one pass writes back — the FLTask's and Participants' status, Events for what changed.

Both statuses are derived (`status.task_status`, `status.participant_status`) from the chain view and
the task's events, read incrementally from the contract's creation block; a status is patched only when
it differs from what the object holds, so a quiet pass makes no write.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flalliance.api.fltask import FLTaskStatus, RoundTotals
from flalliance.api.participant import RoleRecord
from flalliance.chain.events import EventReader, first_block_at_or_after
from flalliance.chain.models import TaskConfig
from flalliance.chain.task import TaskClient
from flalliance.controller import metrics
from flalliance.controller.act import PARALLELISM
from flalliance.controller.kube import Kube
from flalliance.controller.observe import LocalParticipant
from flalliance.controller.round_summary import Event, RoundFold
from flalliance.controller.status import Problem, participant_status, task_status
from flalliance.controller.views import ChainView


@dataclass
class StatusWriter:
    kube: Kube
    namespace: str
    name: str
    accuracies: dict[int, list[float]]
    reported: set[str] = field(default_factory=set)
    _reader: EventReader | None = None
    # Events deeper than a reorg can reach are folded for good (bounded memory); the recent ones are kept
    # as read, (block, event) in chain order, so a reorg can drop them and the fold be redone.
    _settled: RoundFold = field(default_factory=RoundFold)
    _settled_to: int = -1  # the last block folded into _settled
    _recent: list[tuple[int, Event]] = field(default_factory=list)
    _totals: RoundTotals | None = None
    _counted: set[int] = field(default_factory=set)  # rounds in rounds_total (once, even after a reorg)
    _history_read: bool = False  # the first poll reads the task's past: its rounds are not counted as new
    # The round phase last seen and when this replica first saw it (None until a phase change is seen,
    # so the first, partly observed phase is never timed).
    _phase: tuple[int, str] | None = None
    _phase_since: float | None = None
    # Per Participant: the inputs of the last pass that found its status already right (write_participants)
    _settled_inputs: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def summaries(
        self, task: TaskClient, config: TaskConfig | None, previous: FLTaskStatus, *, confirmations: int = 0
    ) -> Any:
        """The round summaries: the previous ones, updated with the events ``confirmations`` deep since
        the last pass."""
        if self._reader is None:
            # Start at the contract's creation block (found from its recorded creation time), not block 0.
            created_at = (config or task.config()).created_at
            start = first_block_at_or_after(
                created_at, task.client.block_number(), task.client.block_timestamp
            )
            self._reader = EventReader(task.client, task.contract, start_block=start)
        self._reader.confirmations = confirmations
        fresh = self._reader.poll()
        reorged = self._reader.reorged_from
        if reorged is not None and reorged <= self._settled_to:  # deeper than kept: the reader rescans
            self._settled, self._settled_to, self._recent = RoundFold(), -1, []
        elif reorged is not None:  # events read from replaced blocks are void
            self._recent = [(b, e) for b, e in self._recent if b < reorged]
        for ev in fresh:
            self._recent.append((ev.block_number, Event(ev.name, ev.args)))
            if ev.name == "RoundFinalized" and ev.args["round"] not in self._counted:
                self._counted.add(ev.args["round"])
                if self._history_read:
                    outcome = (
                        "aborted" if ev.args["aborted"] else "accepted" if ev.args["accepted"] else "rejected"
                    )
                    metrics.ROUNDS.labels(self.namespace, self.name, outcome).inc()
        self._history_read = True
        horizon = self._reader.checkpoint.block - EventReader.TRACKED_BLOCKS
        deep = next((i for i, (block, _) in enumerate(self._recent) if block >= horizon), len(self._recent))
        for block, old in self._recent[:deep]:
            self._settled.apply(old)
            self._settled_to = block
        del self._recent[:deep]
        fold = self._settled.copy()
        for _, recent in self._recent:
            fold.apply(recent)
        oldest = min(fold.rounds, default=0)
        for r in [r for r in self.accuracies if r < oldest]:  # reports of rounds that left the window
            del self.accuracies[r]
        self._totals = fold.totals()
        return fold.summaries(self.accuracies, previous.rounds)

    def write_task(
        self,
        obj: dict[str, Any],
        previous: FLTaskStatus,
        generation: int,
        chain: ChainView | None,
        logic_hash: str | None,
        problems: list[Problem],
        rounds: Any = (),
        creating: bool = False,
    ) -> None:
        before = FLTaskStatus.model_validate(obj.get("status") or {}) if obj.get("status") else FLTaskStatus()
        status = task_status(
            previous,
            generation=generation,
            chain=chain,
            training_logic_hash=logic_hash,
            rounds=list(rounds),
            totals=self._totals,
            problems=problems,
            creating=creating,
            metric=_metric_name(obj),
        )
        if status.phase != before.phase:
            self.kube.event(obj, "Normal", "PhaseChanged", f"{before.phase.value} -> {status.phase.value}")
        if (status.round, status.round_phase) != (before.round, before.round_phase) and status.round_phase:
            self.kube.event(obj, "Normal", "RoundPhase", status.message or "")
        for p in problems:
            key = f"problem/{p.reason}/{p.message}"
            if key not in self.reported:
                self.reported.add(key)
                self.kube.event(obj, "Warning", p.reason, p.message)
        if chain is not None:
            metrics.ROUND.labels(self.namespace, self.name).set(chain.round)
            self._time_phase(chain)
        new = status.to_k8s()
        if new != before.to_k8s():
            self.kube.patch_status(self.namespace, "fltasks", self.name, new)

    def _time_phase(self, chain: ChainView) -> None:
        """Observe how long each round phase lasted, from this replica's first sight of it to the next."""
        seen = (chain.round, chain.phase.value)
        if seen == self._phase:
            return
        now = time.monotonic()
        if self._phase is not None and self._phase_since is not None:
            metrics.PHASE_SECONDS.labels(self._phase[1]).observe(now - self._phase_since)
        self._phase_since = now if self._phase is not None else None
        self._phase = seen

    def write_participants(self, chain: ChainView, participants: list[LocalParticipant]) -> None:
        patches: list[tuple[str, dict[str, Any]]] = []
        settled: dict[str, tuple[Any, ...]] = {}
        for p in participants:
            seat = chain.seat(p.name)
            # Everything the status below is derived from. Unchanged since a pass that found nothing to
            # write: nothing to write now either, and the derivation (a deep copy of up to 50 role records,
            # two renderings) is skipped: ~70 ms of CPU a pass at 200 participants, most of them idle.
            inputs = (
                p.obj["metadata"].get("uid"),
                p.obj["metadata"].get("resourceVersion"),
                p.generation,
                p.view,
                seat,
                chain.round,
                chain.phase,
                chain.status,
            )
            if inputs[1] and self._settled_inputs.get(p.name) == inputs:
                settled[p.name] = inputs
                continue
            roles = list(p.status.roles)
            if (
                seat is not None
                and seat.role.value != "none"
                and chain.phase.value not in ("None", "AwaitingStart")
            ):
                record = RoleRecord(
                    round=chain.round,
                    role="pioneer" if seat.pioneer else seat.role.value,
                    submitted=seat.proposed or seat.committed,
                )
                roles = [r for r in roles if r.round != chain.round] + [record]
            info = None
            if seat is not None and seat.joined:
                info = seat
            status = participant_status(
                p.status,
                generation=p.generation,
                view=p.view,
                seat=info,
                chain=chain,
                rewards=seat.rewarded if seat else 0,
                slashes=seat.slashed if seat else 0,
                claimed=max(0, seat.kept + seat.fees - seat.claimable) if seat else 0,
                withdrawn=(seat.stake if seat.withdrawn else 0) if seat else 0,
                roles=roles[-50:],
            )
            rendered = status.to_k8s()
            if rendered != p.status.to_k8s():
                patches.append((p.name, rendered))
            else:
                settled[p.name] = inputs
        # Only what needed no write is remembered: a written status comes back as a new resourceVersion,
        # which is derived once more (and then found settled); a write that failed is tried again.
        self._settled_inputs = settled
        if patches:
            with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
                list(
                    pool.map(
                        lambda item: self.kube.patch_status(self.namespace, "participants", *item), patches
                    )
                )


def _metric_name(obj: dict[str, Any]) -> str:
    """The inline training logic's metric name (what the voters report); "accuracy" when not readable."""
    inline = ((obj.get("spec") or {}).get("trainingLogic") or {}).get("inline") or {}
    metric = inline.get("metric") if isinstance(inline, dict) else None
    name = metric.get("name") if isinstance(metric, dict) else None
    return name if isinstance(name, str) else "accuracy"
