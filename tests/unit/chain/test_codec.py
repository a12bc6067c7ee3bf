"""The codec's pure parts: selectors and types from the packaged ABI, results normalised as web3 does."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from flalliance.chain.codec import _checksummed, _tuple_members, functions_of

pytestmark = pytest.mark.unit

LOWER = "0x" + "ab" * 20
CHECKSUMMED = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"  # EIP-55 of LOWER


def test_every_task_function_has_its_solidity_selector() -> None:
    fns = functions_of("FLTask")
    assert {"state", "participant", "roleOf", "revealVote", "proposals"} <= set(fns)
    reveal = fns["revealVote"]
    assert reveal.selector == function_signature_to_4byte_selector(f"revealVote({','.join(reveal.inputs)})")
    assert reveal.inputs == ("bytes32", "int256", "uint256", "bytes32")


def test_nested_addresses_come_back_checksummed_and_the_rest_untouched() -> None:
    assert _tuple_members("(address,(uint8,address)[],bytes32)") == [
        "address",
        "(uint8,address)[]",
        "bytes32",
    ]
    value = (LOWER, [(1, LOWER), (2, LOWER)], b"\x01" * 32)
    assert _checksummed("(address,(uint8,address)[],bytes32)", value) == (
        CHECKSUMMED,
        [(1, CHECKSUMMED), (2, CHECKSUMMED)],
        b"\x01" * 32,
    )
    assert _checksummed("uint256[]", (1, 2)) == [1, 2]


def test_one_output_is_the_value_and_a_struct_is_a_tuple() -> None:
    role = functions_of("FLTask")["roleOf"]
    assert role.decode(encode(list(role.outputs), [2])) == 2
    with pytest.raises(TypeError, match="roleOf takes 2 arguments"):
        role.encode((1,))
    participants = functions_of("FLTask")["participants"]
    assert participants.decode(encode(["address[]"], [[LOWER]])) == [CHECKSUMMED]
