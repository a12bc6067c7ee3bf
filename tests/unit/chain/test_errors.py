from __future__ import annotations

import pickle
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from flalliance.chain import errors
from flalliance.chain.errors import ChainError, ContractRevert, decode_revert

pytestmark = pytest.mark.unit

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _revert_data(signature: str, types: list[str], values: list[Any]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_custom_error_from_an_artifact_decodes_with_named_arguments() -> None:
    data = _revert_data(
        "TooLarge(uint256,uint256,address)", ["uint256", "uint256", "address"], [11, 10, ALICE]
    )
    revert = decode_revert(data)
    assert revert is not None
    assert revert.name == "TooLarge"
    assert revert.args == {"value": 11, "limit": 10, "caller": ALICE}
    assert revert.selector == "0xc179ff35"
    assert revert.tx_hash is None
    assert str(revert) == f"TooLarge(value=11, limit=10, caller={ALICE})"
    assert isinstance(revert, ChainError)


def test_hex_string_input_and_inherited_openzeppelin_error() -> None:
    data = _revert_data("OwnableUnauthorizedAccount(address)", ["address"], [ALICE.lower()])
    revert = decode_revert("0x" + data.hex())
    assert revert is not None
    assert revert.name == "OwnableUnauthorizedAccount"
    assert revert.args == {"account": ALICE}  # checksummed


def test_error_string() -> None:
    revert = decode_revert(_revert_data("Error(string)", ["string"], ["not enough stake"]))
    assert revert is not None
    assert (revert.name, revert.args, revert.selector) == (
        "Error",
        {"reason": "not enough stake"},
        "0x08c379a0",
    )
    assert str(revert) == "Error(reason='not enough stake')"


def test_panic_names_the_code() -> None:
    revert = decode_revert(_revert_data("Panic(uint256)", ["uint256"], [0x11]))
    assert revert is not None
    assert (revert.name, revert.args) == ("Panic", {"code": 0x11})
    assert "arithmetic overflow or underflow" in str(revert)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        "0x",
        "0x1234",  # shorter than a selector
        "0xdeadbeef" + "00" * 32,  # selector no artifact declares
        "not hex at all",
        _revert_data("TooLarge(uint256,uint256,address)", ["uint256"], [1]),  # truncated arguments
    ],
)
def test_undecodable_data_gives_none(data: bytes | str) -> None:
    assert decode_revert(data) is None


def test_structs_and_arrays_get_readable_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    abi = {
        "type": "error",
        "name": "BadVotes",
        "inputs": [
            {
                "name": "vote",
                "type": "tuple",
                "components": [{"name": "voter", "type": "address"}, {"name": "score", "type": "int256"}],
            },
            {"name": "hashes", "type": "bytes32[]"},
            {"name": "", "type": "bool"},
        ],
    }
    selector = "0x" + function_signature_to_4byte_selector("BadVotes((address,int256),bytes32[],bool)").hex()
    monkeypatch.setattr(errors, "_selector_table", lambda: {selector: abi})
    data = bytes.fromhex(selector[2:]) + encode(
        ["(address,int256)", "bytes32[]", "bool"], [(ALICE, -5), [b"\x01" * 32], True]
    )
    revert = decode_revert(data)
    assert revert is not None
    assert revert.args == {"vote": {"voter": ALICE, "score": -5}, "hashes": [b"\x01" * 32], "arg2": True}
    assert str(revert) == f"BadVotes(vote={{voter={ALICE}, score=-5}}, hashes=[0x{'01' * 32}], arg2=True)"


def test_revert_survives_pickling_and_gets_a_tx_hash() -> None:
    revert = ContractRevert("NotProposer", {"round": 3, "account": ALICE}, "0x12345678")
    mined = revert.with_tx_hash("0xabc")
    assert mined.tx_hash == "0xabc" and mined.name == "NotProposer" and mined.args == revert.args
    copy = pickle.loads(pickle.dumps(mined))  # noqa: S301 - our own object
    assert (copy.name, copy.args, copy.selector, copy.tx_hash) == (
        "NotProposer",
        revert.args,
        "0x12345678",
        "0xabc",
    )
    assert str(copy) == f"NotProposer(round=3, account={ALICE})"
