"""Act: carry out the actions `plan` returned — transactions, Jobs and the Events that report them.

Every action is idempotent (see `actions`): a revert meaning "someone already did it" (another replica,
another organisation's operator) is treated as done, other reverts and chain failures become problems for
the status. Jobs and reveals of different participants run in parallel (own accounts, own nonces).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_utils.crypto import keccak

from flalliance.api.base import fml_to_wei, wei_to_fml
from flalliance.api.fltask import FLTaskSpec, FLTaskStatus, PayoutPolicy
from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.chain.factory import FactoryClient
from flalliance.chain.models import Policy, TaskParams
from flalliance.chain.task import TaskClient
from flalliance.controller import metrics
from flalliance.controller.actions import (
    Action,
    Claim,
    Close,
    CreateJob,
    Finalize,
    Join,
    Missed,
    RefundPool,
    Reveal,
    StartRound,
    Withdraw,
)
from flalliance.controller.jobs import render_job
from flalliance.controller.kube import Kube
from flalliance.controller.observe import Inputs, LocalParticipant, chain_reason
from flalliance.controller.status import Problem
from flalliance.controller.views import ChainView, JobKind, JobState, JobView
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
    "NothingToRefund",
}
# Concurrent API calls / transactions of one pass (Job creation, reveals, status writes). Each of them waits
# on the API server or the node, not on this process: at 200 participants a round creates 48 Jobs and sends
# 32 reveals, which 8 at a time made four waves of round trips (bench/operator: median overhead 2.62 s at 8,
# 2.50 s at 16, 2.23 s at 32, the same hour).
PARALLELISM = 32


@dataclass
class PassContext:
    """What one step of a pass acts on: the FLTask and its spec, the chain as last read, the local side."""

    obj: dict[str, Any]
    spec: FLTaskSpec
    client: ChainClient
    task: TaskClient | None
    chain: ChainView | None
    participants: list[LocalParticipant]
    jobs: list[JobView]
    problems: list[Problem]


@dataclass
class Actor:
    """Carries out one task's actions; counts what it sent so the pass knows whether the chain moved."""

    kube: Kube
    namespace: str
    name: str
    inputs: Inputs
    sent: int = 0
    reported: set[str] = field(default_factory=set)
    # Each voter's revealed metric per round, for the round summaries (the chain holds only the verdicts).
    accuracies: dict[int, list[float]] = field(default_factory=dict)

    def create_task(
        self,
        obj: dict[str, Any],
        spec: FLTaskSpec,
        client: ChainClient,
        logic_hash: str,
        previous: FLTaskStatus,
    ) -> str:
        """Create the task's contract, or find the one an earlier pass created but could not record.

        The contract's address is fixed by the operator's account and a salt of the FLTask's identity
        (namespace, name, uid): if the transaction was mined and the status write then failed (or the
        operator died in between), the next pass finds the contract there and adopts it instead of
        escrowing a second reward. A second createTask with the salt would revert (TaskExists) anyway.
        """
        assert spec.arena_task_id is not None and spec.chain.factory_address is not None
        assert client.address is not None
        factory = FactoryClient(client, spec.chain.factory_address)
        salt = task_salt(self.namespace, self.name, obj["metadata"]["uid"])
        predicted = factory.predict_task(client.address, salt)
        if client.has_code(predicted):
            address = predicted
            reason, message = "TaskAdopted", f"task contract {address} (created by an earlier pass) recorded"
        else:
            params = task_params(spec)
            started = time.monotonic()
            try:
                address = factory.create_task(
                    spec.arena_task_id, params, bytes.fromhex(logic_hash[2:]), salt=salt
                )
            except ContractRevert as exc:
                if exc.name != "TaskExists":
                    raise
                address = predicted  # another replica's transaction won the race
            metrics.TX_SECONDS.labels("createTask").observe(time.monotonic() - started)
            reason = "TaskCreated"
            message = f"task contract {address} created from Arena task {spec.arena_task_id}"
        # Record the address at once: the next pass must never create a second contract.
        previous.contract_address = address
        previous.training_logic_hash = logic_hash
        self.kube.patch_status(
            self.namespace,
            "fltasks",
            self.name,
            {"contractAddress": address, "trainingLogicHash": logic_hash},
        )
        self.kube.event(obj, "Normal", reason, message)
        return address

    def act(self, action: Action, ctx: PassContext) -> None:
        """Carry out one action; failures become problems of `ctx`, never exceptions."""
        obj, spec, task, chain, jobs, problems = (
            ctx.obj,
            ctx.spec,
            ctx.task,
            ctx.chain,
            ctx.jobs,
            ctx.problems,
        )
        kind = type(action).__name__
        metrics.ACTIONS.labels(self.namespace, self.name, kind).inc()
        if task is None or chain is None:
            return
        by_name = {p.name: p for p in ctx.participants}
        try:
            if isinstance(action, CreateJob):
                self._create_job(action, obj, spec, chain, by_name[action.participant])
            elif isinstance(action, Missed):
                self._warn_once(
                    f"{action.participant}/{action.round}/{action.kind}",
                    obj,
                    "ParticipantMissedPhase",
                    f"{action.participant} could not {action.kind} in round {action.round}: {action.reason}",
                )
            elif isinstance(action, StartRound):
                self._tx("startRound", lambda: task.start_round())
                self.kube.event(obj, "Normal", "RoundStarted", f"round {action.round} started")
            elif isinstance(action, Finalize):
                self._tx("finalizeRound", lambda: task.finalize_round())
                self.kube.event(obj, "Normal", "RoundFinalized", f"round {action.round} finalized")
            elif isinstance(action, Close):
                self._tx("close", lambda: task.close())
                self.kube.event(
                    obj, "Normal", "TaskClosed", "task closed; stakes can be withdrawn, the pool refunded"
                )
            elif isinstance(action, RefundPool):
                self._tx("refundPool", lambda: task.refund_pool())
                self.kube.event(
                    obj,
                    "Normal",
                    "PoolRefunded",
                    f"{wei_to_fml(action.amount)} $FML of unearned reward returned to the task's funder",
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
            problems.append(Problem("ChainReachable", chain_reason(exc), f"{kind}: {exc}"))

    def act_parallel(self, actions: list[Action], ctx: PassContext) -> None:
        """Actions of different participants at once (own accounts, own nonces), each participant's own
        in plan order (a withdrawal before the claim of what it vested)."""
        by_name = {p.name: p for p in ctx.participants}
        lanes: dict[str, list[Action]] = {}
        for action in actions:  # create the clients up front: the cache is not shared across threads
            who = str(getattr(action, "participant", ""))
            lanes.setdefault(who, []).append(action)
            p = by_name.get(who)
            if not isinstance(action, CreateJob) and p is not None and p.account is not None:
                self.inputs.client(ctx.spec, p.account, participant=True)
        if len(lanes) == 1:
            for action in actions:
                self.act(action, ctx)
            return

        def run(lane: list[Action]) -> None:
            for action in lane:
                self.act(action, ctx)

        with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
            list(pool.map(run, lanes.values()))

    def _warn_once(self, key: str, obj: dict[str, Any], reason: str, message: str) -> None:
        """A Warning Event the first time `key` comes up (every pass sees the same condition again)."""
        if key not in self.reported:
            self.reported.add(key)
            self.kube.event(obj, "Warning", reason, message)

    def _tx(self, method: str, send: Any) -> Any:
        started = time.monotonic()
        try:
            result = send()
            self.sent += 1
            return result
        finally:
            metrics.TX_SECONDS.labels(method).observe(time.monotonic() - started)

    def _participant_tx(
        self,
        action: Join | Reveal | Claim | Withdraw,
        obj: dict[str, Any],
        spec: FLTaskSpec,
        task: TaskClient,
        p: LocalParticipant,
        jobs: list[JobView],
    ) -> None:
        if p.account is None:
            return
        ptask = TaskClient(self.inputs.client(spec, p.account, participant=True), task.address)
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
        self, action: Reveal, obj: dict[str, Any], ptask: TaskClient, p: LocalParticipant, jobs: list[JobView]
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
            self._warn_once(
                f"{p.name}/{action.round}/reveal",
                obj,
                "VoteOpeningMissing",
                f"{p.name} committed in round {action.round} but no validation result holds its vote",
            )
            return
        sealed = str(done[-1].result["sealed_vote"])  # type: ignore[index]
        try:
            result = self._tx(
                "revealVote",
                lambda: reveal_sealed(
                    ptask, bytes(account.key), account.address, action.round, sealed, check_revealed=False
                ),
            )
        except SealError as exc:
            self.kube.event(obj, "Warning", "VoteOpeningInvalid", f"{p.name} round {action.round}: {exc}")
            return
        if isinstance(result.get("accuracy"), float):
            self.accuracies.setdefault(action.round, []).append(result["accuracy"])

    def _create_job(
        self, action: CreateJob, obj: dict[str, Any], spec: FLTaskSpec, chain: ChainView, p: LocalParticipant
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
            behaviour=p.behaviour,
        )
        if self.kube.create_job(manifest):
            log.info("created Job %s", manifest["metadata"]["name"])


def task_params(spec: FLTaskSpec) -> TaskParams:
    """The on-chain parameters of a task created from this spec."""
    d = spec.phase_durations
    return TaskParams(
        min_stake=fml_to_wei(spec.min_stake),
        min_participants=spec.min_participants,
        max_participants=spec.max_participants,
        total_rounds=spec.rounds,
        proposer_fraction_bps=round(spec.proposer_fraction * 10_000),
        max_proposers=spec.max_proposers,
        max_voters=spec.max_voters,
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


def task_salt(namespace: str, name: str, uid: str) -> bytes:
    """The createTask salt of one FLTask: a recreated FLTask (new uid) makes a new task, a retry does not."""
    return keccak(b"flalliance.io/FLTask\x00" + "\x00".join((namespace, name, uid)).encode())


def _tx_hash(receipt: Any) -> str:
    value = receipt["transactionHash"]
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)
