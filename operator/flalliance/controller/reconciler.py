"""One FLTask's reconcile pass: observe (chain, resources, Jobs) → `plan` → act → write status.

This is the thin shell around the pure core. It owns no decision: every pass re-reads everything, asks
`plan` what to do, does it (each action idempotent), and writes the status derived from the chain. A
crash at any point is repaired by the next pass, in this process or in a standby replica.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from flalliance.api.base import fml_to_wei
from flalliance.api.fltask import FLTaskSpec, FLTaskStatus, PayoutPolicy
from flalliance.api.participant import ParticipantSpec, ParticipantStatus, RoleRecord
from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.chain.events import EventReader, first_block_at_or_after
from flalliance.chain.factory import FactoryClient
from flalliance.chain.models import Policy, TaskConfig, TaskParams
from flalliance.chain.task import TaskClient
from flalliance.controller import metrics
from flalliance.controller.actions import (
    Action,
    Claim,
    Close,
    CreateJob,
    CreateTask,
    Finalize,
    Join,
    Missed,
    Reveal,
    StartRound,
    Withdraw,
)
from flalliance.controller.chain_view import read_view
from flalliance.controller.jobs import render_job
from flalliance.controller.kube import Kube, KubeProblem
from flalliance.controller.plan import plan
from flalliance.controller.round_summary import Event, summarize
from flalliance.controller.status import Problem, participant_status, task_status
from flalliance.controller.training_logic import (
    MAX_TRAINING_LOGIC_BYTES,
    digest_inline,
    is_ours,
    render_config_map,
    replacement,
    up_to_date,
)
from flalliance.controller.views import ChainView, JobKind, JobState, JobView, ParticipantView, TaskView
from flalliance.sealed_vote import SealError
from flalliance.worker.reveal import reveal_sealed

log = logging.getLogger(__name__)

# A revert that means "someone already did it" (another replica, another organization's operator).
BENIGN_REVERTS = {
    "AlreadyJoined",
    "AlreadyRevealed",
    "WrongPhase",
    "NotReadyToStart",
    "NothingToClaim",
    "AlreadyWithdrawn",
    "NotClosable",
}
STOP = -1.0
# Concurrent API calls / transactions of one pass (Job creation, reveals, status writes).
PARALLELISM = 8
# Chain-only steps taken within one pass (e.g. reveal, finalize, start the next round, create its Jobs).
MAX_CHAIN_STEPS = 4


@dataclass
class _Participant:
    name: str
    spec: ParticipantSpec | None
    status: ParticipantStatus
    generation: int
    account: LocalAccount | None
    view: ParticipantView
    obj: dict[str, Any]


@dataclass
class TaskReconciler:
    kube: Kube
    namespace: str
    name: str
    poll_active: float = 1.0
    poll_idle: float = 5.0
    _clients: dict[tuple[str, int, str], ChainClient] = field(default_factory=dict)
    _config: TaskConfig | None = None
    _reader: EventReader | None = None
    _events: list[Event] = field(default_factory=list)
    _accuracies: dict[int, list[float]] = field(default_factory=dict)
    _revealed: set[tuple[str, int]] = field(default_factory=set)
    _reported: set[str] = field(default_factory=set)
    _failures: int = 0
    _sent: int = 0
    # Secrets and PVCs change rarely; re-reading them every pass would cost 2 requests per participant.
    cache_seconds: float = 30.0
    _cache: dict[tuple[str, ...], tuple[float, Any]] = field(default_factory=dict)
    # What the last full pass saw of the chain, for the cheap check between passes (`needs_pass`).
    _watch: tuple[TaskClient, tuple[Any, ...], int] | None = None
    _full_at: float = 0.0

    def _cached(self, key: tuple[str, ...], load: Any) -> Any:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        self._cache[key] = (now + self.cache_seconds, value)
        return value

    def _account(self, ref: Any, what: str) -> LocalAccount:
        """The account of a key Secret (cached); raises KubeProblem/ValueError like the read itself."""

        def load() -> Any:
            try:
                return Account.from_key(self.kube.read_secret_key(self.namespace, ref, what=what))
            except (KubeProblem, ValueError) as exc:
                return exc

        value = self._cached(("secret", ref.name, ref.key), load)
        if isinstance(value, Exception):
            raise value
        account: LocalAccount = value
        return account

    # ---- chain clients
    def _client(self, spec: FLTaskSpec, account: LocalAccount | None) -> ChainClient:
        who = account.address if account is not None else ""
        key = (spec.chain.rpc_url, spec.chain.chain_id, who)
        if key not in self._clients:
            self._clients[key] = ChainClient(spec.chain.rpc_url, account, chain_id=spec.chain.chain_id)
        return self._clients[key]

    # ---- one pass
    def needs_pass(self) -> bool:
        """Between passes, when no Kubernetes event woke the task: is a full pass worth its cost?

        Yes when the task's phase moved on the chain (another operator's participants submitted, the last
        local submission completed a phase), its phase deadline passed in chain time, or `poll_idle` went
        by since the last full pass. Otherwise no: a pass at 50 participants costs about a second of CPU,
        and local Jobs finishing wake the task through their own events. One JSON-RPC batch.
        """
        if self._watch is None or time.monotonic() - self._full_at >= self.poll_idle:
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
            problem = Problem("Ready", "InvalidSpec", str(exc).replace("\n", " ")[:900])
            self._write_status(obj, previous, generation, None, None, [problem])
            return 60.0
        problems: list[Problem] = []
        operator = self._operator_account(spec, problems)
        logic_hash = self._training_logic_hash(spec, obj, problems)
        participants = self._participants(spec)
        address = spec.contract_address or previous.contract_address
        client = None
        if operator is not None:
            try:
                client = self._client(spec, operator)
            except ChainError as exc:
                problems.append(Problem("ChainReachable", _chain_reason(exc), str(exc)))
        chain: ChainView | None = None
        needs_close = False
        task: TaskClient | None = None
        seats = {p.name: p.view.address for p in participants if p.view.address}
        if client is not None and address:
            task = TaskClient(client, address)
            try:
                if self._config is None:
                    self._config = task.config()
                chain, needs_close = read_view(task, self._config, seats)
            except ChainError as exc:
                problems.append(Problem("ChainReachable", _chain_reason(exc), str(exc)))
        jobs = self.kube.list_jobs(self.namespace, self.name)
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
        self._sent = 0
        unfinished = False  # the step loop ran out while transactions were still opening new steps
        # Transactions often open the next step at once (reveals -> finalize -> next round -> new Jobs):
        # re-read only the chain and plan again within this pass, up to a few steps, while nothing but
        # transactions happened (the Kubernetes observations are then still current).
        for _step in range(MAX_CHAIN_STEPS):
            if client is None or problems:
                break
            sent_before = self._sent
            actions = plan(task_view, chain, [p.view for p in participants], jobs, needs_close=needs_close)
            if not actions:
                break
            # Jobs and reveals of different participants are independent (own accounts, own nonces):
            # they run in parallel; everything else runs in plan order.
            batch: list[Action] = []
            for action in [*actions, None]:
                if isinstance(action, CreateJob | Reveal):
                    batch.append(action)
                    continue
                if batch:
                    self._act_parallel(batch, obj, spec, client, task, chain, participants, jobs, problems)
                    batch = []
                if action is None:
                    break
                if isinstance(action, CreateTask):
                    creating = True
                    if logic_hash is None:
                        continue
                    address = self._create_task(obj, spec, client, logic_hash, previous)
                    previous.contract_address = address
                    continue
                self._act(action, obj, spec, client, task, chain, participants, jobs, problems)
            only_tx = all(
                isinstance(a, Reveal | Finalize | StartRound | Join | Claim | Withdraw) for a in actions
            )
            if self._sent == sent_before or not only_tx or task is None or self._config is None or problems:
                break
            try:
                chain, needs_close = read_view(task, self._config, seats)
            except ChainError as exc:
                problems.append(Problem("ChainReachable", _chain_reason(exc), str(exc)))
                break
            unfinished = _step == MAX_CHAIN_STEPS - 1
        acted = time.monotonic()
        metrics.RECONCILE_SECONDS.labels("act").observe(acted - observed)
        summaries = previous.rounds
        if task is not None and chain is not None:
            summaries = self._summaries(task, previous)
        self._write_status(obj, previous, generation, chain, logic_hash, problems, summaries, creating)
        if chain is not None:
            self._write_participants(chain, participants)
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

    # ---- inputs
    def _operator_account(self, spec: FLTaskSpec, problems: list[Problem]) -> LocalAccount | None:
        try:
            return self._account(spec.chain.operator_key_secret, "spec.chain.operatorKeySecret")
        except KubeProblem as exc:
            problems.append(Problem("Ready", exc.reason, exc.message))
        except ValueError:
            problems.append(Problem("Ready", "InvalidKey", "spec.chain.operatorKeySecret holds no valid key"))
        return None

    def _training_logic_hash(
        self, spec: FLTaskSpec, obj: dict[str, Any], problems: list[Problem]
    ) -> str | None:
        """The training-logic hash; for inline logic, also make sure its ConfigMap is published.

        The operator never opens the artifact store (a `file://` store may be a PVC only the task's pods
        can mount): it writes the canonical JSON into `<task>-training-logic`, owned by the FLTask, and the
        workers mount it and put it into the store themselves (see `training_logic`). The ConfigMap is
        checked at most every `cache_seconds`, so a deleted or edited one is restored:

        - missing: created;
        - made by the operator for a task of this name (its labels) but with other content or another
          owner (edited by hand, or left over from a deleted FLTask of the same name that the garbage
          collector has not removed yet): replaced with the spec's content and this FLTask as owner, since
          `trainingLogic` is immutable and the spec is the truth (workers check the hash either way);
        - not made by the operator: left alone, and the task waits with the Ready condition
          `TrainingLogicConfigMapConflict` naming it, rather than overwrite someone else's data.
        """
        logic = spec.training_logic
        if logic.hash is not None:
            return logic.hash
        from flalliance.fl.spec import SpecError

        assert logic.inline is not None
        try:
            published = digest_inline(logic.inline)
        except SpecError as exc:
            problems.append(Problem("Ready", "InvalidTrainingLogic", f"spec.trainingLogic.inline: {exc}"))
            return None
        if len(published.data) > MAX_TRAINING_LOGIC_BYTES:
            problems.append(
                Problem(
                    "Ready",
                    "InvalidTrainingLogic",
                    f"spec.trainingLogic.inline: {len(published.data)} bytes as canonical JSON, more than "
                    f"the {MAX_TRAINING_LOGIC_BYTES} a worker reads",
                )
            )
            return None
        desired = render_config_map(
            task_name=self.name, namespace=self.namespace, task_uid=obj["metadata"]["uid"], logic=published
        )
        key = ("configmap", obj["metadata"]["uid"], published.digest)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return published.digest
        try:
            problem = self._publish(obj, desired, published.digest)
        except KubeProblem as exc:
            problem = Problem("Ready", exc.reason, f"spec.trainingLogic.inline: {exc.message}")
        if problem is not None:
            problems.append(problem)
            return None
        self._cache[key] = (time.monotonic() + self.cache_seconds, True)
        return published.digest

    def _publish(self, obj: dict[str, Any], desired: dict[str, Any], digest: str) -> Problem | None:
        """Make the training-logic ConfigMap match `desired` (see `_training_logic_hash`)."""
        name = desired["metadata"]["name"]
        for _attempt in range(3):  # a create or replace can race another writer: read again
            existing = self.kube.read_config_map(self.namespace, name)
            if existing is None:
                if self.kube.create_config_map(desired):
                    self.kube.event(
                        obj,
                        "Normal",
                        "TrainingLogicPublished",
                        f"training logic {digest} in ConfigMap {name}",
                    )
                    return None
                continue
            if up_to_date(existing, desired):
                return None
            if not is_ours(existing, self.name):
                return Problem(
                    "Ready",
                    "TrainingLogicConfigMapConflict",
                    f"ConfigMap {self.namespace}/{name} exists but was not made by the operator for FLTask "
                    f"{self.name}; delete or rename it so the training logic can be published there",
                )
            if self.kube.replace_config_map(replacement(existing, desired)):
                log.info("replaced stale training-logic ConfigMap %s/%s", self.namespace, name)
                return None
        return Problem(
            "Ready",
            "ConfigMapUnavailable",
            f"ConfigMap {self.namespace}/{name} kept changing while the operator wrote it; retrying",
        )

    def _participants(self, spec: FLTaskSpec) -> list[_Participant]:
        out = []
        for obj in self.kube.list_participants(self.namespace, self.name):
            name = obj["metadata"]["name"]
            generation = int(obj["metadata"].get("generation", 0))
            try:
                status = ParticipantStatus.model_validate(obj.get("status") or {})
            except ValidationError:
                status = ParticipantStatus()
            deleting = bool(obj["metadata"].get("deletionTimestamp"))
            try:
                pspec = ParticipantSpec.model_validate(obj["spec"])
            except ValidationError as exc:
                view = ParticipantView(name=name, stake=0, usable=False, problem=f"invalid spec: {exc}"[:500])
                out.append(_Participant(name, None, status, generation, None, view, obj))
                continue
            stake = fml_to_wei(pspec.stake)
            account, problem = None, None
            try:
                account = self._account(pspec.wallet_secret, "spec.walletSecret")
            except KubeProblem as exc:
                problem = exc.message
            except ValueError:
                problem = f"spec.walletSecret: Secret {pspec.wallet_secret.name} holds no valid private key"
            claim = pspec.dataset.persistent_volume_claim
            exists = (
                self._cached(("pvc", claim), lambda c=claim: self.kube.pvc_exists(self.namespace, c))
                if claim
                else True
            )
            if problem is None and not exists:
                problem = f"spec.dataset.persistentVolumeClaim: PVC {self.namespace}/{claim} not found"
            if problem is None and stake < fml_to_wei(spec.min_stake):
                problem = f"spec.stake {pspec.stake} is below the task's minimum stake {spec.min_stake}"
            view = ParticipantView(
                name=name,
                address=account.address if account else None,
                stake=stake,
                usable=problem is None,
                problem=problem,
                deleting=deleting,
            )
            out.append(_Participant(name, pspec, status, generation, account, view, obj))
        return out

    # ---- actions
    def _create_task(
        self,
        obj: dict[str, Any],
        spec: FLTaskSpec,
        client: ChainClient,
        logic_hash: str,
        previous: FLTaskStatus,
    ) -> str:
        assert spec.arena_task_id is not None and spec.chain.factory_address is not None
        factory = FactoryClient(client, spec.chain.factory_address)
        params = task_params(spec)
        started = time.monotonic()
        address = factory.create_task(spec.arena_task_id, params, bytes.fromhex(logic_hash[2:]))
        metrics.TX_SECONDS.labels("createTask").observe(time.monotonic() - started)
        # Record the address at once: the next pass must never create a second contract.
        previous.contract_address = address
        previous.training_logic_hash = logic_hash
        self.kube.patch_status(
            self.namespace,
            "fltasks",
            self.name,
            {"contractAddress": address, "trainingLogicHash": logic_hash},
        )
        self.kube.event(
            obj,
            "Normal",
            "TaskCreated",
            f"task contract {address} created from Arena task {spec.arena_task_id}",
        )
        return address

    def _act(
        self,
        action: Action,
        obj: dict[str, Any],
        spec: FLTaskSpec,
        client: ChainClient,
        task: TaskClient | None,
        chain: ChainView | None,
        participants: list[_Participant],
        jobs: list[JobView],
        problems: list[Problem],
    ) -> None:
        kind = type(action).__name__
        metrics.ACTIONS.labels(self.namespace, self.name, kind).inc()
        if task is None or chain is None:
            return
        by_name = {p.name: p for p in participants}
        try:
            if isinstance(action, CreateJob):
                self._create_job(action, obj, spec, chain, by_name[action.participant])
            elif isinstance(action, Missed):
                key = f"{action.participant}/{action.round}/{action.kind}"
                if key not in self._reported:
                    self._reported.add(key)
                    self.kube.event(
                        obj,
                        "Warning",
                        "ParticipantMissedPhase",
                        f"{action.participant} could not {action.kind} in round {action.round}: "
                        f"{action.reason}",
                    )
            elif isinstance(action, StartRound):
                self._tx("startRound", lambda: task.start_round())
                self.kube.event(obj, "Normal", "RoundStarted", f"round {action.round} started")
            elif isinstance(action, Finalize):
                self._tx("finalizeRound", lambda: task.finalize_round())
                metrics.ROUNDS.labels(self.namespace, self.name, "finalized").inc()
                self.kube.event(obj, "Normal", "RoundFinalized", f"round {action.round} finalized")
            elif isinstance(action, Close):
                self._tx("close", lambda: task.close())
                self.kube.event(
                    obj, "Normal", "TaskClosed", "task closed; unspent reward returned to its funder"
                )
            elif isinstance(action, Join | Reveal | Claim | Withdraw):
                self._participant_tx(action, obj, spec, task, by_name[action.participant], jobs)
        except ContractRevert as exc:
            if exc.name in BENIGN_REVERTS:
                log.info("%s: already done elsewhere (%s)", kind, exc)
                return
            problems.append(Problem("Progressing", exc.name, f"{kind}: {exc}"))
            self.kube.event(obj, "Warning", "TransactionReverted", f"{kind}: {exc}")
        except ChainError as exc:
            metrics.TX_FAILURES.labels(kind, type(exc).__name__).inc()
            problems.append(Problem("ChainReachable", _chain_reason(exc), f"{kind}: {exc}"))

    def _act_parallel(self, actions: list[Action], *args: Any) -> None:
        spec, participants = args[1], args[5]
        by_name = {p.name: p for p in participants}
        for action in actions:  # create the clients up front: the cache is not shared across threads
            p = by_name.get(getattr(action, "participant", ""))
            if isinstance(action, Reveal) and p is not None and p.account is not None:
                self._client(spec, p.account)
        if len(actions) == 1:
            self._act(actions[0], *args)
            return
        with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
            list(pool.map(lambda a: self._act(a, *args), actions))

    def _tx(self, method: str, send: Any) -> Any:
        started = time.monotonic()
        try:
            result = send()
            self._sent += 1
            return result
        finally:
            metrics.TX_SECONDS.labels(method).observe(time.monotonic() - started)

    def _participant_tx(
        self,
        action: Join | Reveal | Claim | Withdraw,
        obj: dict[str, Any],
        spec: FLTaskSpec,
        task: TaskClient,
        p: _Participant,
        jobs: list[JobView],
    ) -> None:
        if p.account is None:
            return
        ptask = TaskClient(self._client(spec, p.account), task.address)
        if isinstance(action, Join):
            receipt = self._tx("join", lambda: ptask.join(action.amount))
            tx = _tx_hash(receipt)
            self.kube.patch_status(self.namespace, "participants", p.name, {"stakeTransaction": tx})
            self.kube.event(
                p.obj,
                "Normal",
                "Joined",
                f"staked {p.spec.stake if p.spec else '?'} $FML in {task.address} (tx {tx})",
            )
        elif isinstance(action, Reveal):
            self._reveal(action, obj, ptask, p, jobs)
        elif isinstance(action, Claim):
            self._tx("claim", lambda: ptask.claim())
            self.kube.event(p.obj, "Normal", "Claimed", "rewards claimed")
        else:
            self._tx("withdraw", lambda: ptask.withdraw())
            self.kube.event(p.obj, "Normal", "Withdrawn", "stake withdrawn")

    def _reveal(
        self, action: Reveal, obj: dict[str, Any], ptask: TaskClient, p: _Participant, jobs: list[JobView]
    ) -> None:
        assert p.account is not None
        account = p.account
        done = [
            j
            for j in jobs
            if j.kind == JobKind.VALIDATE
            and j.round == action.round
            and j.participant == p.name
            and j.state == JobState.SUCCEEDED
            and j.result
            and j.result.get("sealed_vote")
        ]
        if not done:
            key = f"{p.name}/{action.round}/reveal"
            if key not in self._reported:
                self._reported.add(key)
                self.kube.event(
                    obj,
                    "Warning",
                    "VoteOpeningMissing",
                    f"{p.name} committed in round {action.round} but no validation result holds its vote",
                )
            return
        sealed = str(done[-1].result["sealed_vote"])  # type: ignore[index]
        try:
            result = self._tx(
                "revealVote",
                lambda: reveal_sealed(ptask, bytes(account.key), account.address, action.round, sealed),
            )
        except SealError as exc:
            self.kube.event(obj, "Warning", "VoteOpeningInvalid", f"{p.name} round {action.round}: {exc}")
            return
        if isinstance(result.get("accuracy"), float):
            self._accuracies.setdefault(action.round, []).append(result["accuracy"])

    def _create_job(
        self, action: CreateJob, obj: dict[str, Any], spec: FLTaskSpec, chain: ChainView, p: _Participant
    ) -> None:
        assert p.spec is not None
        manifest = render_job(
            task_name=self.name,
            namespace=self.namespace,
            task_uid=obj["metadata"]["uid"],
            task=spec,
            contract_address=chain.address,
            participant_name=p.name,
            participant=p.spec,
            action=action,
            now=chain.now,
        )
        if self.kube.create_job(manifest):
            log.info("created Job %s", manifest["metadata"]["name"])

    # ---- status
    def _summaries(self, task: TaskClient, previous: FLTaskStatus) -> Any:
        if self._reader is None:
            # Start at the contract's creation block (found from its recorded creation time), not block 0.
            created_at = (self._config or task.config()).created_at
            start = first_block_at_or_after(
                created_at, task.client.block_number(), task.client.block_timestamp
            )
            self._reader = EventReader(task.client, task.contract, start_block=start)
        for ev in self._reader.poll():
            self._events.append(Event(ev.name, ev.args))
        return summarize(self._events, self._accuracies, previous.rounds)

    def _write_status(
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
            if key not in self._reported:
                self._reported.add(key)
                self.kube.event(obj, "Warning", p.reason, p.message)
        if chain is not None:
            metrics.ROUND.labels(self.namespace, self.name).set(chain.round)
        new = status.to_k8s()
        if new != before.to_k8s():
            self.kube.patch_status(self.namespace, "fltasks", self.name, new)

    def _write_participants(self, chain: ChainView, participants: list[_Participant]) -> None:
        patches: list[tuple[str, dict[str, Any]]] = []
        for p in participants:
            seat = chain.seat(p.name)
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
            if status.to_k8s() != p.status.to_k8s():
                patches.append((p.name, status.to_k8s()))
        if patches:
            with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
                list(
                    pool.map(
                        lambda item: self.kube.patch_status(self.namespace, "participants", *item), patches
                    )
                )


def task_params(spec: FLTaskSpec) -> TaskParams:
    """The on-chain parameters of a task created from this spec."""
    d = spec.phase_durations
    return TaskParams(
        min_stake=fml_to_wei(spec.min_stake),
        min_participants=spec.min_participants,
        max_participants=spec.max_participants,
        total_rounds=spec.rounds,
        proposer_fraction_bps=round(spec.proposer_fraction * 10_000),
        slash_bps=round(spec.slash_percent * 100),
        policy=Policy.PER_PROPOSAL if spec.payout_policy == PayoutPolicy.PER_PROPOSAL else Policy.COLLECTIVE,
        use_arena_model=False,
        join_duration=d.join,
        max_lifecycle=spec.max_lifetime_seconds,
        pioneer_duration=d.pioneer,
        propose_duration=d.propose,
        commit_duration=d.commit,
        reveal_duration=d.reveal,
    )


def _fingerprint(chain: ChainView) -> tuple[Any, ...]:
    """The parts of the chain state whose change calls for a decision (not the submission counters)."""
    return (chain.status, chain.round, chain.phase, chain.participants, chain.phase_deadline)


def _chain_reason(exc: ChainError) -> str:
    text = str(exc).lower()
    if "chain id" in text:
        return "WrongChainId"
    if "connect" in text or "refused" in text or "timed out" in text or "timeout" in text:
        return "RpcUnreachable"
    return "ChainError"


def _tx_hash(receipt: Any) -> str:
    value = receipt["transactionHash"]
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)


def _metric_name(obj: dict[str, Any]) -> str:
    """The inline training logic's metric name (what the voters report); "accuracy" when not readable."""
    inline = ((obj.get("spec") or {}).get("trainingLogic") or {}).get("inline") or {}
    metric = inline.get("metric") if isinstance(inline, dict) else None
    name = metric.get("name") if isinstance(metric, dict) else None
    return name if isinstance(name, str) else "accuracy"
