from __future__ import annotations

import base64

import pytest

from flalliance.sealed_vote import SealError, VoteOpening, derive_salt, seal, unseal

pytestmark = pytest.mark.unit

KEY = bytes.fromhex("11" * 32)
TASK, VOTER = "0x" + "aa" * 20, "0x" + "bb" * 20


def opening(**kw: object) -> VoteOpening:
    base: dict[str, object] = {
        "task": TASK,
        "round": 3,
        "voter": VOTER,
        "aggregate_hash": "0x" + "cd" * 32,
        "score": -42,
        "verdicts": 0b1011,
        "salt": derive_salt(KEY, TASK, 3, VOTER),
        "accuracy": 0.91,
    }
    base.update(kw)
    return VoteOpening.model_validate(base)


def test_round_trip_and_ciphertext_hides_the_vote() -> None:
    vote = opening()
    sealed = seal(vote, KEY)
    assert unseal(sealed, KEY, task=TASK, round=3, voter=VOTER) == vote
    raw = base64.b64decode(sealed)
    assert b"cdcdcdcd" not in raw and b"-42" not in raw
    assert seal(vote, KEY) != sealed  # fresh nonce each time


def test_salt_is_deterministic_per_owner_task_round_and_voter() -> None:
    salt = derive_salt(KEY, TASK, 3, VOTER)
    assert salt == derive_salt(KEY, TASK.upper().replace("0X", "0x"), 3, VOTER)
    assert salt != derive_salt(KEY, TASK, 4, VOTER)
    assert salt != derive_salt(bytes(32), TASK, 3, VOTER)


@pytest.mark.parametrize(
    ("key", "round", "voter"),
    [(bytes(32), 3, VOTER), (KEY, 4, VOTER), (KEY, 3, "0x" + "cc" * 20)],
    ids=["wrong-key", "wrong-round", "wrong-voter"],
)
def test_wrong_key_or_binding_is_refused(key: bytes, round: int, voter: str) -> None:
    sealed = seal(opening(), KEY)
    with pytest.raises(SealError, match="authentication"):
        unseal(sealed, key, task=TASK, round=round, voter=voter)


def test_tampering_and_garbage_are_refused() -> None:
    raw = bytearray(base64.b64decode(seal(opening(), KEY)))
    raw[-1] ^= 1
    with pytest.raises(SealError, match="authentication"):
        unseal(base64.b64encode(bytes(raw)).decode(), KEY, task=TASK, round=3, voter=VOTER)
    with pytest.raises(SealError, match="truncated"):
        unseal(base64.b64encode(b"short").decode(), KEY, task=TASK, round=3, voter=VOTER)
    with pytest.raises(SealError, match="base64"):
        unseal("not base64!!", KEY, task=TASK, round=3, voter=VOTER)
