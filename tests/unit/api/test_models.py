from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flalliance.api.base import field_errors, fml_to_wei, wei_to_fml
from flalliance.api.conditions import set_condition
from flalliance.api.fltask import FLTaskSpec
from flalliance.api.participant import ParticipantSpec

pytestmark = pytest.mark.unit


def task_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "chain": {
            "rpcUrl": "http://127.0.0.1:8545",
            "chainId": 31337,
            "factoryAddress": "0x" + "ab" * 20,
            "operatorKeySecret": {"name": "operator-key"},
        },
        "arenaTaskId": 1,
        "trainingLogic": {"inline": {"model": {"kind": "mlp"}}},
        "store": {"url": "file:///artifacts"},
    }
    spec.update(overrides)
    return spec


def test_minimal_spec_gets_defaults() -> None:
    spec = FLTaskSpec.model_validate(task_spec())
    assert spec.rounds == 10
    assert spec.phase_durations.propose == 600
    assert spec.to_k8s()["chain"]["operatorKeySecret"] == {"name": "operator-key", "key": "privateKey"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"proposerFraction": 1.0}, "proposerFraction"),
        ({"proposerFraction": 0}, "proposerFraction"),
        ({"rounds": 0}, "rounds"),
        ({"minStake": "-1"}, "minStake"),
        ({"minStake": "1e18"}, "minStake"),
        ({"contractAddress": "0x1234"}, "contractAddress"),
        ({"store": {"url": "http://example"}}, "store.url"),
        ({"unknownField": 1}, "unknownField"),
        ({"payoutPolicy": "Everyone"}, "payoutPolicy"),
        ({"aggregation": "mean"}, "aggregation"),
    ],
)
def test_bad_fields_are_named_in_the_error(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        FLTaskSpec.model_validate(task_spec(**overrides))
    locations = [".".join(str(p) for p in err["loc"]) for err in exc.value.errors()]
    assert any(loc.startswith(field) for loc in locations), locations


def test_per_proposal_tasks_the_operator_creates_must_last_an_epoch() -> None:
    """The contract's creation rule in the spec's terms. The default rounds pass the default roster (3..100
    at 50% with at most 16 proposers: the longest epoch is ceil(100 / 16) = 7 rounds); the committee cap
    lengthens the epoch, and the error says which fields to raise."""
    assert FLTaskSpec.model_validate(task_spec()).rounds == 10
    assert FLTaskSpec.model_validate(task_spec(rounds=7)).rounds == 7
    with pytest.raises(ValidationError, match=r"rounds must be >= 7 under PerProposal.*maxProposers 16"):
        FLTaskSpec.model_validate(task_spec(rounds=6))
    assert FLTaskSpec.model_validate(task_spec(rounds=3, maxProposers=50)).rounds == 3  # no cap: 3 rounds
    with pytest.raises(ValidationError, match="rounds must be >= 6 under PerProposal"):
        FLTaskSpec.model_validate(
            task_spec(rounds=5, minParticipants=2, proposerFraction=0.3, maxProposers=50)
        )
    # Collective tasks, and tasks joined by address (their parameters are the chain's), are not checked
    FLTaskSpec.model_validate(task_spec(rounds=1, payoutPolicy="Collective", slashPercent=0))
    joined = task_spec(rounds=1)
    del joined["arenaTaskId"]
    FLTaskSpec.model_validate(dict(joined, contractAddress="0x" + "12" * 20))


def test_fml_amounts_round_trip_exactly() -> None:
    assert fml_to_wei("10") == 10 * 10**18
    assert fml_to_wei("0.000000000000000001") == 1
    assert wei_to_fml(fml_to_wei("12.5")) == "12.5"
    assert wei_to_fml(-(10**18)) == "-1"
    with pytest.raises(ValueError, match="not an \\$FML amount"):
        fml_to_wei("1,5")


def test_participant_requires_exactly_one_dataset_source_in_cel_only() -> None:
    # Both-or-neither is a CEL rule (API server); pydantic accepts the shape itself.
    spec = ParticipantSpec.model_validate(
        {
            "taskRef": {"name": "digits"},
            "walletSecret": {"name": "alice-key"},
            "stake": "20",
            "dataset": {"persistentVolumeClaim": "alice-data", "subPath": "alice"},
        }
    )
    assert spec.dataset.persistent_volume_claim == "alice-data" and spec.dataset.volume is None


PARTICIPANT = {"taskRef": {"name": "t"}, "walletSecret": {"name": "k"}, "stake": "20"}


@pytest.mark.parametrize(
    "volume",
    [{"hostPath": {"path": "/etc"}}, {"nfs": {"server": "n", "path": "/"}}, {}, {"csi": {}, "hostPath": {}}],
)
def test_a_dataset_volume_that_could_reach_the_node_is_refused_naming_the_field(volume: dict) -> None:
    with pytest.raises(ValidationError) as info:
        ParticipantSpec.model_validate({**PARTICIPANT, "dataset": {"volume": volume}})
    assert "spec.dataset.volume" in field_errors(info.value)
    assert "hostPath and other node-level sources are not allowed" in str(info.value)


@pytest.mark.parametrize("kind", ["csi", "ephemeral", "configMap", "persistentVolumeClaim"])
def test_dataset_volumes_of_the_allow_list_are_accepted(kind: str) -> None:
    spec = ParticipantSpec.model_validate({**PARTICIPANT, "dataset": {"volume": {kind: {}}}})
    assert spec.dataset.volume == {kind: {}}


def test_removed_fields_are_refused_as_unknown() -> None:
    dataset = {"persistentVolumeClaim": "d"}
    for extra in ({"behaviour": "gaussian"}, {"dataset": {**dataset, "format": "npz"}}):
        with pytest.raises(ValidationError):
            ParticipantSpec.model_validate({**PARTICIPANT, "dataset": dataset, **extra})


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused_naming_the_field() -> None:
    good = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # EIP-55
    chain = {"rpcUrl": "http://127.0.0.1:8545", "chainId": 31337, "operatorKeySecret": {"name": "op"}}
    base = {"chain": chain, "trainingLogic": {"hash": "0x" + "ab" * 32}, "store": {"url": "s3://bucket/p"}}
    assert FLTaskSpec.model_validate({**base, "contractAddress": good}).contract_address == good
    for plain in (good.lower(), "0x" + good[2:].upper()):  # no checksum to check
        assert FLTaskSpec.model_validate({**base, "contractAddress": plain}).contract_address == plain
    wrong = "0x5f" + good[4:]  # one letter's case flipped: the same address, mistyped
    with pytest.raises(ValidationError) as info:
        FLTaskSpec.model_validate({**base, "contractAddress": wrong})
    text = field_errors(info.value)
    assert text.startswith("spec.contractAddress: ") and "EIP-55" in text and f"must match {good}" in text


def test_condition_transition_time_moves_only_on_status_change() -> None:
    conds = set_condition(
        [], type="Ready", status="False", reason="Waiting", message="", observed_generation=1, now="t1"
    )
    conds = set_condition(
        conds, type="Ready", status="False", reason="Still", message="x", observed_generation=2, now="t2"
    )
    assert conds[0].last_transition_time == "t1" and conds[0].reason == "Still"
    conds = set_condition(
        conds, type="Ready", status="True", reason="Done", message="", observed_generation=2, now="t3"
    )
    assert conds[0].last_transition_time == "t3" and len(conds) == 1
