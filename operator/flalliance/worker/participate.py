"""`flalliance-worker participate`: one long-lived participant that follows a whole task from the chain.

The per-step commands (pioneer, train, validate, reveal, claim) are made for Kubernetes Jobs: one process
per step, one torch import per step. This command is the same protocol in one process: it joins (stake),
then reads the chain in a loop and performs whatever its role in the current round asks — pioneer,
propose, validate and commit, reveal — reusing exactly the step functions of :mod:`flalliance.worker.steps`
(so every action stays idempotent and is checked against the chain first), and claims its rewards and
withdraws its stake once the task has ended. It is what `flalliance simulate` runs per participant, and a
way to take part in a task without Kubernetes.

A failure in one action never ends the process: retryable errors are retried on the next poll (a bounded
number of times), permanent ones are logged and that action is given up for the round — the contract
slashes an absentee, which is the honest consequence.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.chain.models import Phase, Role, Status
from flalliance.worker.settings import add_arguments, from_args

log = logging.getLogger("flalliance.worker.participate")

MAX_ATTEMPTS = 5  # per action and round, for retryable failures


def register(sub: Any) -> None:
    p = sub.add_parser(
        "participate",
        help="join a task and play every round of it from the chain (one long-lived process), then claim",
    )
    add_arguments(p)
    p.add_argument("--stake", type=int, default=None, help="stake in wei (default: the task's minimum)")
    p.add_argument("--poll", type=float, default=0.2, help="seconds between chain reads (default 0.2)")
    p.add_argument(
        "--absent",
        action="store_true",
        help="join, then never act until the end (a liveness fault, for simulations); still claims",
    )
    p.add_argument(
        "--timeout", type=float, default=None, help="give up after this many seconds (default: never)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flalliance.worker.context import WorkerContext

    ctx = WorkerContext(from_args(args))
    loop = ParticipantLoop(ctx, stake=args.stake, poll=args.poll, absent=args.absent, timeout=args.timeout)
    return loop.run()


@dataclass
class ParticipantLoop:
    """The state machine of one participant: which actions of which round are done, and their results."""

    ctx: Any  # WorkerContext (typed loosely so this module imports without torch)
    stake: int | None = None
    poll: float = 0.2
    absent: bool = False
    timeout: float | None = None
    done: set[tuple[int, str]] = field(default_factory=set)
    attempts: dict[tuple[int, str], int] = field(default_factory=dict)
    sealed: dict[int, str] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)

    # ----------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.warm_up()
        joined = self.join()
        log.info("participating as %s (absent=%s)", self.ctx.address, self.absent)
        while True:
            state = self.ctx.task.state()
            if state.status.ended:
                break
            if self.timeout is not None and time.monotonic() - started > self.timeout:
                raise TimeoutError(f"the task did not end within {self.timeout:.0f} s")
            if not self.absent and state.status == Status.RUNNING and state.round_started:
                self.step(state.round, state.phase)
            time.sleep(self.poll)
        claim = self.claim()
        return {
            "command": "participate",
            "status": "done",
            "address": self.ctx.address,
            "joined": joined,
            "task_status": self.ctx.task.state().status.name,
            "actions": len(self.actions),
            "failed": [a for a in self.actions if a.get("status") == "failed"][:10],
            "claim": claim,
        }

    def warm_up(self) -> None:
        """Import torch and the FL engine, fetch and verify the spec, load the private split — once, before
        joining, so that no round waits on a cold start (an absentee only checks the spec)."""
        spec = self.ctx.spec
        plugin = self.ctx.plugin  # refuse before joining when the image or plugin is not the pinned one
        if self.absent:
            return
        import torch

        from flalliance.fl import training, validation  # noqa: F401 - imported for their cost, now

        torch.set_num_threads(1)
        log.info(
            "ready: %s plugin (%s), %d train / %d test samples",
            plugin.name,
            spec.model.kind if spec.model is not None else "config",
            len(self.ctx.train_split),
            len(self.ctx.test_split),
        )

    def join(self) -> dict[str, Any]:
        """Stake and join unless already joined (a restarted process resumes where it was)."""
        info = self.ctx.task.participant(self.ctx.address)
        if info.joined:
            return {"status": "skipped", "reason": "already joined", "stake": info.stake}
        amount = self.stake if self.stake is not None else self.ctx.task.config().params.min_stake
        receipt = self.ctx.task.join(amount)
        tx = receipt["transactionHash"]
        log.info("joined with stake %d", amount)
        return {"status": "done", "stake": amount, "tx": tx.hex() if isinstance(tx, bytes) else str(tx)}

    def role(self, round: int) -> Role:
        if round not in self.roles:
            self.roles[round] = self.ctx.task.role_of(round, self.ctx.address)
        return self.roles[round]

    def step(self, round: int, phase: Phase) -> None:
        """Perform what ``phase`` of ``round`` asks of this participant, if anything is still to do."""
        from flalliance.worker import steps

        if phase == Phase.PIONEERING:
            if (round, "pioneer") not in self.done:
                pioneer = self.ctx.task.pioneer_of(round).lower() == self.ctx.address.lower()
                if pioneer:
                    self.attempt(round, "pioneer", lambda: steps.pioneer(self.ctx, round))
                else:
                    self.done.add((round, "pioneer"))
        elif phase == Phase.PROPOSING:
            if (round, "train") not in self.done and self.role(round) == Role.PROPOSER:
                self.attempt(round, "train", lambda: steps.train(self.ctx, round))
        elif phase == Phase.COMMITTING:
            if (round, "validate") not in self.done and self.role(round) == Role.VOTER:
                result = self.attempt(round, "validate", lambda: steps.validate(self.ctx, round))
                if result is not None and result.get("sealed_vote"):
                    self.sealed[round] = str(result["sealed_vote"])
        elif phase == Phase.REVEALING and round in self.sealed and (round, "reveal") not in self.done:
            sealed = self.sealed[round]
            self.attempt(round, "reveal", lambda: steps.reveal(self.ctx, round, sealed))

    def attempt(self, round: int, action: str, call: Any) -> dict[str, Any] | None:
        """Run one action; mark it done on success, on a permanent failure or after too many retries."""
        from flalliance.worker.context import PermanentError

        key = (round, action)
        try:
            result: dict[str, Any] = call()
        except (PermanentError, ValueError) as exc:
            self.give_up(key, f"{type(exc).__name__}: {exc}")
            return None
        except ContractRevert as exc:
            # WrongPhase: the phase ended under us (late); any other revert will not change on retry.
            self.give_up(key, str(exc))
            return None
        except (ChainError, ConnectionError, TimeoutError, OSError) as exc:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            log.warning("%s round %d failed (attempt %d): %s", action, round, self.attempts[key], exc)
            if self.attempts[key] >= MAX_ATTEMPTS:
                self.give_up(key, f"{type(exc).__name__}: {exc}")
            return None
        self.done.add(key)
        if result.get("status") == "done":
            self.actions.append(result)
        return result

    def give_up(self, key: tuple[int, str], reason: str) -> None:
        log.error("%s round %d given up: %s", key[1], key[0], reason)
        self.done.add(key)
        self.actions.append({"command": key[1], "round": key[0], "status": "failed", "error": reason})

    def claim(self) -> dict[str, Any]:
        """Claim and withdraw at the end, retrying transient failures."""
        from flalliance.worker import steps

        for attempt in range(MAX_ATTEMPTS):
            try:
                result: dict[str, Any] = steps.claim(self.ctx)
                left = self.ctx.task.participant(self.ctx.address).claimable
                if left > 0:  # credited by the settlement inside withdraw: claim that too
                    self.ctx.task.claim()
                    result["claimed"] = int(result.get("claimed", 0)) + left
                return result
            except (ChainError, ConnectionError, TimeoutError) as exc:
                if isinstance(exc, ContractRevert) or attempt == MAX_ATTEMPTS - 1:
                    raise
                log.warning("claim failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(self.poll)
        raise AssertionError("unreachable")  # pragma: no cover
