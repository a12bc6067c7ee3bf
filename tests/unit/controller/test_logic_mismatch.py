"""An attaching organisation's training-logic check: its own copy's hash against the contract's."""

from __future__ import annotations

import pytest

from flalliance.chain.models import TaskConfig, TaskParams
from flalliance.controller.reconciler import logic_mismatch

pytestmark = pytest.mark.unit

ON_CHAIN = "0x" + "ab" * 32


def _config() -> TaskConfig:
    zero = "0x" + "11" * 20
    return TaskConfig(
        token=zero,
        factory=zero,
        funder=zero,
        randomness=zero,
        arena_task_id=1,
        training_logic_hash=ON_CHAIN,
        total_reward=1,
        weight_unit=1,
        created_at=0,
        join_deadline=1,
        expires_at=2,
        params=TaskParams(min_stake=10**18),
    )


def test_the_same_logic_is_no_problem_whatever_the_case_of_its_hex() -> None:
    assert logic_mismatch(_config(), ON_CHAIN.upper().replace("0X", "0x"), attached="0xT") is None


def test_unknown_local_logic_is_left_to_the_training_logic_condition() -> None:
    assert logic_mismatch(_config(), None, attached="0xT") is None


def test_other_logic_names_both_hashes_and_the_contract() -> None:
    ours = "0x" + "cd" * 32
    problem = logic_mismatch(_config(), ours, attached="0xTask")
    assert problem is not None
    assert (problem.condition, problem.reason) == ("Ready", "TrainingLogicMismatch")
    assert ours in problem.message and ON_CHAIN in problem.message and "0xTask" in problem.message
    assert "spec.trainingLogic" in problem.message
