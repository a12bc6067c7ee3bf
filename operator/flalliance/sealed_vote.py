"""A voter's vote, sealed between its commit and its reveal.

The validation Job commits a vote on-chain and must hand the opening (aggregate hash, score, verdicts, salt)
to whoever reveals it later — the operator, or a later `flalliance-worker reveal`. Published in the clear
(a termination message, a shared store) it would let others copy or herd votes before the reveal phase,
which is exactly what commit/reveal prevents. So it is sealed with a key only the participant's wallet key
derives: encrypt-then-MAC with HMAC-SHA256 as the PRF (CTR keystream) and as the tag, bound to the task,
round and voter. Standard library only; the salt itself is derived from the same key, so a vote can always
be re-derived by its owner and never by anyone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from pydantic import BaseModel, ConfigDict, Field

_VERSION = b"flalliance-sealed-vote-v1"


class VoteOpening(BaseModel):
    """What a reveal needs, plus the voter's own measurements for status reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    round: int = Field(ge=0)
    voter: str
    aggregate_hash: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    score: int
    verdicts: int = Field(ge=0, description="Bit k set = proposal k accepted")
    salt: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    accuracy: float | None = Field(default=None, description="Aggregate's metric on the voter's test split")
    baseline: float | None = Field(default=None, description="Current global model's metric, same split")


class SealError(ValueError):
    """The sealed vote is corrupt, forged, or for another task/round/voter."""


def _context(task: str, round: int, voter: str) -> bytes:
    return b"|".join([_VERSION, task.lower().encode(), str(round).encode(), voter.lower().encode()])


def _subkey(private_key: bytes, label: bytes, context: bytes) -> bytes:
    return hmac.new(private_key, label + b"|" + context, hashlib.sha256).digest()


def derive_salt(private_key: bytes, task: str, round: int, voter: str) -> str:
    """The commit salt: secret, and reproducible by the key's owner after a crash."""
    return "0x" + _subkey(private_key, b"salt", _context(task, round, voter)).hex()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    stream = b"".join(
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks)
    )
    return stream[:length]


def seal(opening: VoteOpening, private_key: bytes) -> str:
    """Seal `opening` for its owner; the result is printable (base64) and safe to publish."""
    context = _context(opening.task, opening.round, opening.voter)
    enc, mac = _subkey(private_key, b"enc", context), _subkey(private_key, b"mac", context)
    nonce = secrets.token_bytes(16)
    plain = opening.model_dump_json().encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(enc, nonce, len(plain)), strict=True))
    tag = hmac.new(mac, context + nonce + cipher, hashlib.sha256).digest()
    return base64.b64encode(nonce + tag + cipher).decode()


def unseal(sealed: str, private_key: bytes, *, task: str, round: int, voter: str) -> VoteOpening:
    """Open a sealed vote; refuses anything forged, corrupted or bound to another task/round/voter."""
    try:
        raw = base64.b64decode(sealed, validate=True)
    except ValueError as exc:
        raise SealError("sealed vote is not base64") from exc
    if len(raw) < 48:
        raise SealError("sealed vote is truncated")
    nonce, tag, cipher = raw[:16], raw[16:48], raw[48:]
    context = _context(task, round, voter)
    enc, mac = _subkey(private_key, b"enc", context), _subkey(private_key, b"mac", context)
    expected = hmac.new(mac, context + nonce + cipher, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise SealError("sealed vote failed authentication (wrong key, task, round or voter, or tampered)")
    plain = bytes(a ^ b for a, b in zip(cipher, _keystream(enc, nonce, len(cipher)), strict=True))
    opening = VoteOpening.model_validate(json.loads(plain))
    if (opening.task.lower(), opening.round, opening.voter.lower()) != (task.lower(), round, voter.lower()):
        raise SealError("sealed vote is bound to another task, round or voter")
    return opening
