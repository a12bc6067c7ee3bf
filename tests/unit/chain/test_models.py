"""The pydantic mirrors match the contract ABI (field names and order, enum sizes), and decode tuples."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from flalliance.chain.artifacts import load_artifact
from flalliance.chain.models import (
    ParticipantInfo,
    Policy,
    Proposal,
    RoundInfo,
    Status,
    TaskConfig,
    TaskParams,
    TaskState,
    from_abi,
)

pytestmark = pytest.mark.unit


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _output_components(function: str) -> list[dict[str, Any]]:
    abi = load_artifact("FLTask").abi
    entry = next(e for e in abi if e.get("type") == "function" and e["name"] == function)
    return list(entry["outputs"][0]["components"])


@pytest.mark.parametrize(
    ("function", "model"),
    [
        ("config", TaskConfig),
        ("state", TaskState),
        ("roundInfo", RoundInfo),
        ("proposals", Proposal),
        ("participant", ParticipantInfo),
    ],
)
def test_models_mirror_the_abi_structs(function: str, model: type[Any]) -> None:
    components = _output_components(function)
    assert [_snake(c["name"]) for c in components] == list(model.model_fields)


def test_task_params_mirror_the_abi_struct() -> None:
    [params] = [c for c in _output_components("config") if c["name"] == "params"]
    assert [_snake(c["name"]) for c in params["components"]] == list(TaskParams.model_fields)


def test_status_enum_matches_the_contract_order() -> None:
    """Status is a uint8 in the ABI; its order is pinned by the Solidity enum (FLTypes.sol)."""
    source = load_artifact("FLTask").source_path
    assert source == "contracts/FLTask.sol"
    assert [s.name for s in Status] == ["NONE", "ENROLLING", "RUNNING", "COMPLETED", "EXPIRED", "CANCELLED"]


def test_from_abi_decodes_nested_tuples_and_hashes() -> None:
    params = TaskParams(min_stake=10**18)
    raw = (
        "0x" + "11" * 20,
        "0x" + "22" * 20,
        "0x" + "33" * 20,
        "0x" + "44" * 20,
        5,
        b"\x01" * 32,
        10**21,
        10**12,
        1,
        2,
        3,
        params.to_abi(),
    )
    config = from_abi(TaskConfig, raw)
    assert config.params == params
    assert config.training_logic_hash == "0x" + "01" * 32
    assert config.token == "0x" + "11" * 20  # checksummed (all digits here)
    with pytest.raises(ValueError, match="expected 12 fields"):
        from_abi(TaskConfig, raw[:-1])


def test_task_params_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="proposer_fraction_bps"):
        TaskParams(min_stake=1, proposer_fraction_bps=10_000)
    with pytest.raises(ValidationError, match="max_participants must be >= min_participants"):
        TaskParams(min_stake=1, min_participants=5, max_participants=3)
    with pytest.raises(ValidationError, match="max_lifecycle must be >="):
        TaskParams(min_stake=1, max_lifecycle=100)
    defaults = TaskParams(min_stake=10**12)
    assert defaults.slash_bps == 1_000 and defaults.proposer_fraction_bps == 3_000
    assert defaults.max_epoch_length == 6 <= defaults.total_rounds  # n = 6: one proposer, six rounds


def test_task_params_refuse_what_lets_an_attack_pay_under_per_proposal() -> None:
    """The contract's creation rule (InvalidParameter("slashBps" / "totalRounds")), checked client-side."""
    with pytest.raises(ValidationError, match="slash_bps must be > 0 under PerProposal"):
        TaskParams(min_stake=10**12, slash_bps=0)
    with pytest.raises(ValidationError, match="min_stake \\* slash_bps must be >= 10,000"):
        TaskParams(min_stake=9, slash_bps=1_000)
    with pytest.raises(ValidationError, match="total_rounds must be >= 6 under PerProposal"):
        TaskParams(min_stake=10**12, total_rounds=5)
    with pytest.raises(ValidationError, match="total_rounds must be >= 4"):
        TaskParams(
            min_stake=10**12,
            min_participants=3,
            max_participants=6,
            proposer_fraction_bps=4_000,
            total_rounds=3,
        )
    # a roster of exactly 10 at 30%: 3 proposers, epochs of 4 rounds
    assert (
        TaskParams(
            min_stake=10**12, min_participants=10, max_participants=10, total_rounds=4
        ).max_epoch_length
        == 4
    )
    # FLock's Collective rule keeps its old freedom (it has no vesting to protect)
    TaskParams(min_stake=1, slash_bps=0, total_rounds=1, policy=Policy.COLLECTIVE)
