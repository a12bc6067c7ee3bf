from __future__ import annotations

import pytest

from flalliance.chain.artifacts import ArtifactNotFoundError, all_error_abis, artifact_names, load_artifact

pytestmark = pytest.mark.unit


def test_load_packaged_artifact() -> None:
    counter = load_artifact("Counter")
    assert counter.contract_name == "Counter"
    assert counter.deployable and counter.bytecode.startswith("0x")
    assert counter.deployed_bytecode.startswith("0x") and len(counter.deployed_bytecode) > 2
    assert len(counter.source_sha256) == 64
    assert counter.source_path == "contracts/test/Counter.sol"
    assert {e["name"] for e in counter.abi if e["type"] == "event"} >= {"Incremented"}
    assert "Counter" in artifact_names()


def test_unknown_artifact_lists_the_packaged_ones() -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"no artifact for contract 'Nope' \(packaged: .*Counter"):
        load_artifact("Nope")


@pytest.mark.parametrize("name", ["../pyproject", "Counter.json", "", "a/b"])
def test_names_that_are_not_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ArtifactNotFoundError, match="invalid contract name"):
        load_artifact(name)


def test_all_error_abis_spans_artifacts_without_duplicates() -> None:
    abis = all_error_abis()
    names = [entry["name"] for entry in abis]
    assert {"TooLarge", "OwnableUnauthorizedAccount", "OwnableInvalidOwner"} <= set(names)
    signatures = [(e["name"], tuple(i["type"] for i in e["inputs"])) for e in abis]
    assert len(signatures) == len(set(signatures))
    abis[0]["name"] = "mutated"  # callers get copies
    assert all_error_abis()[0]["name"] != "mutated"
