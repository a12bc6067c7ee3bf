"""The vote commitment, computed exactly as ``FLTask.revealVote`` recomputes it.

commitment = keccak256(abi.encode(address task, uint256 round, address voter, bytes32 aggregateHash,
int256 score, uint256 verdicts, bytes32 salt)). Binding the task, round and voter into the hash means a
commitment cannot be replayed in another task or round, nor copied by another voter. Pure: no chain access.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from flalliance.chain.models import hash_bytes

INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1
MAX_SCORE = 2**31 - 1  # the contract accepts |score| <= int32 max (ScoreOutOfRange otherwise)
MAX_PROPOSALS = 256


def vote_commitment(
    task: str,
    round: int,
    voter: str,
    aggregate_hash: str | bytes,
    score: int,
    verdicts: int,
    salt: str | bytes,
) -> bytes:
    """The 32-byte commitment a voter sends with ``commitVote``."""
    if round < 0 or round >= 2**256:
        raise ValueError(f"round must be a uint256, got {round}")
    if not INT256_MIN <= score <= INT256_MAX:
        raise ValueError(f"score must fit int256, got {score}")
    if verdicts < 0 or verdicts >= 2**256:
        raise ValueError(f"verdicts must be a uint256 bitmap, got {verdicts}")
    payload = encode(
        ["address", "uint256", "address", "bytes32", "int256", "uint256", "bytes32"],
        [
            _address("task", task),
            round,
            _address("voter", voter),
            hash_bytes(aggregate_hash),
            score,
            verdicts,
            hash_bytes(salt),
        ],
    )
    return bytes(keccak(payload))


def _address(field: str, value: str) -> str:
    try:
        return str(to_checksum_address(value))
    except (ValueError, TypeError):
        raise ValueError(f"{field}: invalid address {value!r}") from None


def verdict_bitmap(accepts: Iterable[bool]) -> int:
    """Bit k set when proposal k (in the contract's proposal order) is accepted."""
    bitmap = 0
    for k, accepted in enumerate(accepts):
        if k >= MAX_PROPOSALS:
            raise ValueError(f"at most {MAX_PROPOSALS} proposals fit a verdict bitmap")
        if accepted:
            bitmap |= 1 << k
    return bitmap


def verdict_list(bitmap: int, count: int) -> list[bool]:
    """The first ``count`` verdicts of ``bitmap``."""
    if not 0 <= count <= MAX_PROPOSALS:
        raise ValueError(f"count must be in [0, {MAX_PROPOSALS}], got {count}")
    return [bool((bitmap >> k) & 1) for k in range(count)]
