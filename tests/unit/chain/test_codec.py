"""The codec's pure parts: selectors and types from the packaged ABI, results normalised as web3 does."""

from __future__ import annotations

import random
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector

from flalliance.chain.codec import (
    FunctionCodec,
    _checksummed,
    _decode_static,
    _static_words,
    _tuple_members,
    functions_of,
)

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


STATIC = ("(bool,uint256,address,(uint8,int64,bytes4),int256)", "bytes32", "uint64")


def _random_static(rng: random.Random) -> list[Any]:
    inner = (rng.randrange(256), rng.randrange(-(2**63), 2**63), rng.randbytes(4))
    head = (
        rng.random() < 0.5,
        rng.randrange(2**256),
        "0x" + rng.randbytes(20).hex(),
        inner,
        -rng.randrange(2**255),
    )
    return [head, rng.randbytes(32), rng.randrange(2**64)]


def test_static_results_decode_as_eth_abi_decodes_them() -> None:
    """The direct word reader is a shortcut, never a second meaning: same values, every contract view."""
    rng = random.Random(7)
    for _ in range(200):
        data = encode(list(STATIC), _random_static(rng))
        assert _decode_static(STATIC, data) == decode(list(STATIC), data)
    assert _static_words(STATIC) == 9
    assert _static_words(("uint256[]",)) is None and _static_words(("(uint8,string)",)) is None
    for fn in functions_of("FLTask").values():  # every view the operator reads, from its own ABI
        if _static_words(fn.outputs) is not None:
            data = bytes(32 * (_static_words(fn.outputs) or 0))
            assert _decode_static(fn.outputs, data) == decode(list(fn.outputs), data), fn.name


@pytest.mark.parametrize(
    ("abi_type", "word"),
    [
        ("bool", (2).to_bytes(32, "big")),
        ("uint8", (256).to_bytes(32, "big")),
        ("address", b"\x01" + bytes(31)),
        ("bytes4", b"\x01" * 5 + bytes(27)),
        ("int8", (200).to_bytes(32, "big")),
    ],
)
def test_a_word_eth_abi_refuses_is_left_to_eth_abi(abi_type: str, word: bytes) -> None:
    fn = FunctionCodec("f", b"\x00" * 4, (), (abi_type,))
    assert _decode_static((abi_type,), word) is None
    with pytest.raises(DecodingError):
        fn.decode(word)
