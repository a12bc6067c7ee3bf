"""The vote commitment: the contract's abi.encode layout (checked here against a hand-made encoding; the
contract tests check it against FLTask.revealVote itself), and the verdict bitmap helpers."""

from __future__ import annotations

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak

from flalliance.chain.commitment import verdict_bitmap, verdict_list, vote_commitment

pytestmark = pytest.mark.unit

TASK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
VOTER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
AGG = "0x" + "ab" * 32
SALT = bytes(range(32))


def _by_hand(task: str, round: int, voter: str, agg: bytes, score: int, verdicts: int, salt: bytes) -> bytes:
    words = [
        bytes.fromhex(task[2:]).rjust(32, b"\0"),
        round.to_bytes(32, "big"),
        bytes.fromhex(voter[2:]).rjust(32, b"\0"),
        agg,
        (score % 2**256).to_bytes(32, "big"),  # int256 two's complement
        verdicts.to_bytes(32, "big"),
        salt,
    ]
    h = pycryptodome_keccak.new(digest_bits=256)
    h.update(b"".join(words))
    return h.digest()


@pytest.mark.parametrize("score", [0, 7, -1, -(2**31) + 1, 2**31 - 1])
def test_matches_the_abi_encode_layout(score: int) -> None:
    got = vote_commitment(TASK, 3, VOTER, AGG, score, 0b1011, SALT)
    assert got == _by_hand(TASK, 3, VOTER, bytes.fromhex("ab" * 32), score, 0b1011, SALT)
    assert len(got) == 32


def test_every_field_is_bound() -> None:
    base = vote_commitment(TASK, 3, VOTER, AGG, 5, 3, SALT)
    variants = [
        vote_commitment(VOTER, 3, VOTER, AGG, 5, 3, SALT),
        vote_commitment(TASK, 4, VOTER, AGG, 5, 3, SALT),
        vote_commitment(TASK, 3, TASK, AGG, 5, 3, SALT),
        vote_commitment(TASK, 3, VOTER, "0x" + "ac" * 32, 5, 3, SALT),
        vote_commitment(TASK, 3, VOTER, AGG, 6, 3, SALT),
        vote_commitment(TASK, 3, VOTER, AGG, 5, 2, SALT),
        vote_commitment(TASK, 3, VOTER, AGG, 5, 3, bytes(32)),
    ]
    assert len({base, *variants}) == 8


def test_addresses_are_case_insensitive_hashes_accept_hex_or_bytes() -> None:
    a = vote_commitment(TASK.lower(), 1, VOTER.lower(), AGG, 1, 1, SALT)
    b = vote_commitment(TASK, 1, VOTER, bytes.fromhex("ab" * 32), 1, 1, "0x" + SALT.hex())
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"round": -1}, "round"),
        ({"score": 2**255}, "score"),
        ({"verdicts": -1}, "verdicts"),
        ({"aggregate_hash": "0x1234"}, "64 hex"),
        ({"voter": "0xnothex"}, "voter: invalid address"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = dict(
        task=TASK, round=1, voter=VOTER, aggregate_hash=AGG, score=1, verdicts=1, salt=SALT
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        vote_commitment(**args)  # type: ignore[arg-type]


def test_verdict_bitmap_round_trip() -> None:
    accepts = [True, False, True, True, False]
    bitmap = verdict_bitmap(accepts)
    assert bitmap == 0b01101
    assert verdict_list(bitmap, 5) == accepts
    with pytest.raises(ValueError, match="at most 256"):
        verdict_bitmap([True] * 257)
