"""One FLTask's reconcile pass: observe (chain, resources, Jobs) → `plan` → act → write status.

This is the thin shell around the pure core. It owns no decision: every pass re-reads everything, asks
`plan` what to do, does it (each action idempotent), and writes the status derived from the chain. A
crash at any point is repaired by the next pass, in this process or in a standby replica. The three
stages live in their own modules: `observe` (inputs), `act` (actions), `status_writer` (status).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from flalliance.api.base import field_errors
from flalliance.api.fltask import FLTaskSpec, FLTaskStatus
from flalliance.chain.errors import ChainError
from flalliance.chain.models import TaskConfig
from flalliance.chain.task import TaskClient
from flalliance.controller import metrics
from flalliance.controller.act import Actor, PassContext, task_params
from flalliance.controller.actions import (
    Action,
    Claim,
    CreateJob,
    CreateTask,
    Finalize,
    Join,
    RefundPool,
    Reveal,
    StartRound,
    Withdraw,
)
from flalliance.controller.chain_view import read_view
from flalliance.controller.kube import Kube
from flalliance.controller.observe import Inputs, chain_reason
from flalliance.controller.plan import plan
from flalliance.controller.status import Problem
from flalliance.controller.status_writer import StatusWriter
from flalliance.controller.views import ChainView, JobState, TaskView

log = logging.getLogger(__name__)

STOP = -1.0
# Reads a pass overlaps (the Participant list while the chain is read), shared by the tasks: a pass waits
# for its own read, which never waits on a pass.
_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="observe")
# Chain-only steps taken within one pass (e.g. reveal, finalize, start the next round, create its Jobs).
MAX_CHAIN_STEPS = 4


@dataclass
class TaskReconciler:
    kube: Kube
    namespace: str
    name: str
    poll_active: float = 1.0
    poll_idle: float = 5.0
    # The safety net under the cheap check: a full pass at least this often even when nothing moved.
    # Every change that needs a decision wakes the task (Job and Participant events, the chain's phase
    # or deadline in `needs_pass`); at 5 s, a task waiting out a long training phase cost ~19 API
    # requests a minute for nothing (100 tasks: 1,900 a minute).
    full_pass_every: float = 30.0
    test_mode: bool = False
    _config: TaskConfig | None = None
    _failures: int = 0
    # What the last full pass saw of the chain, for the cheap check between passes (`needs_pass`).
    _watch: tuple[TaskClient, tuple[Any, ...], int] | None = None
    _full_at: float = 0.0
    _seats: dict[str, str] = field(default_factory=dict)  # Participant name -> address, as last listed
    inputs: Inputs = field(init=False)
    actor: Actor = field(init=False)
    status: StatusWriter = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = Inputs(self.kube, self.namespace, self.name, test_mode=self.test_mode)
        self.actor = Actor(self.kube, self.namespace, self.name, self.inputs)
        self.status = StatusWriter(self.kube, self.namespace, self.name, self.actor.accuracies)

    def needs_pass(self) -> bool:
        """Between passes, when no Kubernetes event woke the task: is a full pass worth its cost?

        Yes when the task's phase moved on the chain (another operator's participants submitted, the last
        local submission completed a phase), its phase deadline passed in chain time, or `full_pass_every`
        went by since the last full pass (what no event announces: a wallet Secret created late, a pod
        stuck). Otherwise no: a pass at 50 participants costs about a second of CPU, and local Jobs
        finishing wake the task through their own events. One JSON-RPC batch.
        """
        if self._watch is None or time.monotonic() - self._full_at >= self.full_pass_every:
            return True
        task, seen, deadline = self._watch
        try:
            view, _ = read_view(task, self._config, {}) if self._config is not None else (None, False)
        except ChainError:
            return True
        return view is None or _fingerprint(view) != seen or (deadline > 0 and view.now >= deadline)

    def reconcile(self) -> float:
        """Run one pass; return seconds until the next (STOP when the FLTask is gone)."""
        obj = self.kube.get_task(self.namespace, self.name)
        if obj is None:
            return STOP
        metrics.RECONCILES.labels(self.namespace, self.name).inc()
        started = time.monotonic()
        try:
            delay = self._reconcile(obj)
            self._failures = 0
        except Exception as exc:
            self._failures += 1
            metrics.RECONCILE_ERRORS.labels(self.namespace, self.name, type(exc).__name__).inc()
            log.exception("reconcile of %s/%s failed", self.namespace, self.name)
            delay = min(60.0, 2.0**self._failures)
        log.debug("reconciled %s/%s in %.3f s", self.namespace, self.name, time.monotonic() - started)
        return delay

    def _reconcile(self, obj: dict[str, Any]) -> float:
        pass_started = time.monotonic()
        meta = obj["metadata"]
        generation = int(meta.get("generation", 0))
        deleting = bool(meta.get("deletionTimestamp"))
        try:
            previous = FLTaskStatus.model_validate(obj.get("status") or {})
        except ValidationError:
            previous = FLTaskStatus()
        try:
            spec = FLTaskSpec.model_validate(obj["spec"])
            if spec.arena_task_id is not None:
                task_params(spec)  # what createTask would send: the contract's creation rules, checked first
        except ValidationError as exc:
            problem = Problem("Ready", "InvalidSpec", field_errors(exc)[:900])
            self.status.write_task(obj, previous, generation, None, None, [problem])
            return 60.0
        problems: list[Problem] = []
        operator = self.inputs.operator_account(spec, problems)
        logic_hash = self.inputs.training_logic_hash(spec, obj, problems)
        # The Participants are listed while the chain is read, with the seats the last pass saw: the two
        # longest reads of a pass (~0.15 s and ~0.06 s at 200 participants) overlap instead of adding up,
        # and the chain is read again only when the seats changed.
        listing = _READS.submit(self.inputs.participants, spec)
        address = spec.contract_address or previous.contract_address
        client = None
        chain: ChainView | None = None
        needs_close = False
        task: TaskClient | None = None
        seen = dict(self._seats)
        try:
            if operator is not None:
                try:
                    client = self.inputs.client(spec, operator)
                except ChainError as exc:
                    problems.append(Problem("ChainReachable", chain_reason(exc), str(exc)))
            if client is not None and address:
                task = TaskClient(client, address)
                try:
                    if self._config is None:
                        self._config = task.config()
                    mismatch = logic_mismatch(self._config, logic_hash, attached=spec.contract_address)
                    if mismatch is not None:
                        problems.append(mismatch)
                    chain, needs_close = read_view(task, self._config, seen)
                except ChainError as exc:
                    problems.append(Problem("ChainReachable", chain_reason(exc), str(exc)))
        finally:
            participants = listing.result()
        seats = {p.name: p.view.address for p in participants if p.view.address}
        self._seats = seats
        if chain is not None and task is not None and self._config is not None and seats != seen:
            try:
                chain, needs_close = read_view(task, self._config, seats)
            except ChainError as exc:
                chain = None
                problems.append(Problem("ChainReachable", chain_reason(exc), str(exc)))
        # the plan acts on the current round's Jobs; the next round's may be created within this pass
        rounds = None if chain is None else (chain.round, chain.round + 1)
        jobs = self.kube.list_jobs(self.namespace, self.name, rounds)
        self.inputs.recheck_after(j.name for j in jobs if j.state == JobState.FAILED)
        observed = time.monotonic()
        metrics.RECONCILE_SECONDS.labels("observe").observe(observed - pass_started)
        task_view = TaskView(
            name=self.name,
            namespace=self.namespace,
            generation=generation,
            deleting=deleting,
            contract_address=address,
            creates_contract=spec.arena_task_id is not None,
        )
        creating = False
        self.actor.sent = 0
        unfinished = False  # the step loop ran out while transactions were still opening new steps
        # Transactions often open the next step at once (reveals -> finalize -> next round -> new Jobs):
        # re-read only the chain and plan again within this pass, up to a few steps, while nothing but
        # transactions happened (the Kubernetes observations are then still current).
        for _step in range(MAX_CHAIN_STEPS):
            if client is None or problems:
                break
            sent_before = self.actor.sent
            actions = plan(task_view, chain, [p.view for p in participants], jobs, needs_close=needs_close)
            if not actions:
                break
            # What participants do (Jobs, joins, reveals, claims, withdrawals) is independent across
            # participants (own accounts, own nonces): it runs in parallel; the task's own transactions
            # run in plan order between.
            ctx = PassContext(obj, spec, client, task, chain, participants, jobs, problems)
            batch: list[Action] = []
            for action in [*actions, None]:
                if isinstance(action, CreateJob | Reveal | Join | Claim | Withdraw):
                    batch.append(action)
                    continue
                if batch:
                    self.actor.act_parallel(batch, ctx)
                    batch = []
                if action is None:
                    break
                if isinstance(action, CreateTask):
                    creating = True
                    if logic_hash is None:
                        continue
                    address = self.actor.create_task(obj, spec, client, logic_hash, previous)
                    previous.contract_address = address
                    continue
                self.actor.act(action, ctx)
            only_tx = all(
                isinstance(a, Reveal | Finalize | StartRound | Join | Claim | Withdraw | RefundPool)
                for a in actions
            )
            moved = self.actor.sent != sent_before
            if not moved or not only_tx or task is None or self._config is None or problems:
                break
            try:
                chain, needs_close = read_view(task, self._config, seats)
            except ChainError as exc:
                problems.append(Problem("ChainReachable", chain_reason(exc), str(exc)))
                break
            unfinished = _step == MAX_CHAIN_STEPS - 1
        acted = time.monotonic()
        metrics.RECONCILE_SECONDS.labels("act").observe(acted - observed)
        summaries = previous.rounds
        if task is not None and chain is not None:
            try:
                summaries = self.status.summaries(
                    task, self._config, previous, confirmations=spec.chain.confirmations
                )
            except ChainError as exc:  # the node went away after the view was read: say so, keep the rounds
                problems.append(Problem("ChainReachable", chain_reason(exc), str(exc)))
        self.status.write_task(obj, previous, generation, chain, logic_hash, problems, summaries, creating)
        if chain is not None:
            self.status.write_participants(chain, participants)
        metrics.RECONCILE_SECONDS.labels("status").observe(time.monotonic() - acted)
        self._full_at = time.monotonic()
        self._watch = (
            None if chain is None or task is None else (task, _fingerprint(chain), chain.phase_deadline)
        )
        if chain is None:
            return self.poll_idle
        if unfinished:
            return 0.0  # the chain kept moving: continue at once
        if chain.ended and not any(s.claimable or (s.joined and not s.withdrawn) for s in chain.seats):
            return 30.0
        return self.poll_active if chain.status.value in ("Enrolling", "Running") else self.poll_idle


def logic_mismatch(config: TaskConfig, logic_hash: str | None, *, attached: str | None) -> Problem | None:
    """A task contract whose training-logic hash is not this FLTask's own copy: a condition, no join.

    An organisation attaching to another's contract (`spec.contractAddress`) states the training logic it
    agreed to; its participants would otherwise stake on, and train with, whatever logic the creator
    fixed on-chain. (For a contract this FLTask created the hashes agree by construction.)
    """
    if logic_hash is None or config.training_logic_hash.lower() == logic_hash.lower():
        return None
    where = f"the task contract {attached}" if attached else "the task contract"
    return Problem(
        "Ready",
        "TrainingLogicMismatch",
        f"spec.trainingLogic hashes to {logic_hash}, but {where} fixes {config.training_logic_hash}: "
        "this organisation's copy of the training logic is not the task's; no participant joins",
    )


def _fingerprint(chain: ChainView) -> tuple[Any, ...]:
    """The parts of the chain state whose change calls for a decision (not the submission counters)."""
    return (chain.status, chain.round, chain.phase, chain.participants, chain.phase_deadline)
