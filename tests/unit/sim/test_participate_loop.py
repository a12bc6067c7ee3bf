"""The participant loop's decisions (flalliance.worker.participate), against a fake task: pure logic.

The real thing runs against anvil in tests/integration/sim/test_simulate.py; here each rule is pinned:
act only in one's role and phase, never twice, retry transient failures a bounded number of times, give up
on permanent ones, keep the sealed vote for the reveal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.chain.models import Phase, Role
from flalliance.worker import participate, steps
from flalliance.worker.context import PermanentError

pytestmark = pytest.mark.unit

ME = "0x00000000000000000000000000000000000000aA"


@dataclass
class FakeTask:
    roles: dict[int, Role] = field(default_factory=dict)
    pioneer: str = ME
    role_calls: int = 0

    def role_of(self, round: int, address: str) -> Role:
        self.role_calls += 1
        return self.roles.get(round, Role.VOTER)

    def pioneer_of(self, round: int) -> str:
        return self.pioneer


@dataclass
class FakeCtx:
    task: FakeTask
    address: str = ME


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    def record(name: str, result: dict[str, Any]) -> Any:
        def step(ctx: Any, round: int, *rest: Any) -> dict[str, Any]:
            seen.append((name, round))
            return {"command": name, "round": round, "status": "done", **result}

        return step

    monkeypatch.setattr(steps, "pioneer", record("pioneer", {}))
    monkeypatch.setattr(steps, "train", record("train", {}))
    monkeypatch.setattr(steps, "validate", record("validate", {"sealed_vote": "sealed!"}))
    monkeypatch.setattr(steps, "reveal", record("reveal", {}))
    return seen


def test_acts_once_per_role_and_phase(calls: list[tuple[str, int]]) -> None:
    task = FakeTask(roles={0: Role.PROPOSER, 1: Role.VOTER})
    loop = participate.ParticipantLoop(FakeCtx(task))
    for _ in range(3):  # polling the same phase again never repeats an action
        loop.step(0, Phase.PIONEERING)
        loop.step(0, Phase.PROPOSING)
        loop.step(0, Phase.COMMITTING)  # a proposer does not vote
        loop.step(0, Phase.REVEALING)  # nothing sealed: nothing to reveal
        loop.step(1, Phase.PROPOSING)  # a voter does not propose
        loop.step(1, Phase.COMMITTING)
        loop.step(1, Phase.REVEALING)
    assert calls == [("pioneer", 0), ("train", 0), ("validate", 1), ("reveal", 1)]
    assert loop.sealed == {1: "sealed!"} and task.role_calls == 2  # one role read per round


def test_not_the_pioneer_does_nothing(calls: list[tuple[str, int]]) -> None:
    loop = participate.ParticipantLoop(FakeCtx(FakeTask(pioneer="0x" + "11" * 20)))
    loop.step(0, Phase.PIONEERING)
    assert calls == [] and (0, "pioneer") in loop.done


def test_transient_failures_are_retried_then_given_up() -> None:
    loop = participate.ParticipantLoop(FakeCtx(FakeTask()))
    attempts = []

    def flaky() -> dict[str, Any]:
        attempts.append(1)
        raise ChainError("node unreachable")

    for _ in range(participate.MAX_ATTEMPTS + 3):
        if (0, "train") not in loop.done:
            loop.attempt(0, "train", flaky)
    assert len(attempts) == participate.MAX_ATTEMPTS
    assert loop.actions[-1]["status"] == "failed" and "unreachable" in loop.actions[-1]["error"]


@pytest.mark.parametrize(
    "exc",
    [PermanentError("wrong spec"), ContractRevert("WrongPhase", {"expected": 2, "actual": 3}, "0x12345678")],
)
def test_permanent_failures_and_reverts_are_given_up_at_once(exc: Exception) -> None:
    loop = participate.ParticipantLoop(FakeCtx(FakeTask()))

    def fail() -> dict[str, Any]:
        raise exc

    assert loop.attempt(3, "validate", fail) is None
    assert (3, "validate") in loop.done and loop.actions[-1]["status"] == "failed"
