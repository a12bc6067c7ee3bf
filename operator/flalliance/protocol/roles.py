"""Role assignment: a keyed pseudo-random permutation of the roster (mirror of RolePermutation.sol).

Participant ``i`` holds position ``permute(seed, i, n)``; positions below the number of proposers are
proposers, position 0 is the pioneer. Only the seed is stored on chain, so assigning roles costs O(1) gas
whatever the number of participants, and anyone can recompute every role from the seed.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

FEISTEL_ROUNDS = 4
BPS = 10_000
MAX_PROPOSERS = 256


def _half_bits(n: int) -> int:
    h = 1
    while (1 << (2 * h)) < n:
        h += 1
    return h


def _f(seed: int, k: int, x: int, mask: int) -> int:
    data = seed.to_bytes(32, "big") + ((k << 128) | x).to_bytes(32, "big")
    return int.from_bytes(keccak(data), "big") & mask


def _encrypt(seed: int, x: int, h: int, mask: int) -> int:
    left, right = x >> h, x & mask
    for k in range(FEISTEL_ROUNDS):
        left, right = right, left ^ _f(seed, k, right, mask)
    return (left << h) | right


def _decrypt(seed: int, x: int, h: int, mask: int) -> int:
    left, right = x >> h, x & mask
    for k in reversed(range(FEISTEL_ROUNDS)):
        left, right = right ^ _f(seed, k, left, mask), left
    return (left << h) | right


def _check(i: int, n: int) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= i < n:
        raise ValueError(f"index must be in [0, {n}), got {i}")


def permute(seed: int, i: int, n: int) -> int:
    """Position of roster index ``i`` among ``n`` under ``seed`` (cycle-walking Feistel)."""
    _check(i, n)
    h = _half_bits(n)
    mask = (1 << h) - 1
    x = _encrypt(seed, i, h, mask)
    while x >= n:
        x = _encrypt(seed, x, h, mask)
    return x


def unpermute(seed: int, position: int, n: int) -> int:
    """The roster index holding ``position``: the inverse of :func:`permute`."""
    _check(position, n)
    h = _half_bits(n)
    mask = (1 << h) - 1
    x = _decrypt(seed, position, h, mask)
    while x >= n:
        x = _decrypt(seed, x, h, mask)
    return x


def num_proposers(n: int, proposer_fraction_bps: int) -> int:
    """floor(n * fraction), at least 1, leaving at least one voter, at most 256 (one verdict bit each)."""
    if n < 2:
        raise ValueError(f"a round needs at least 2 participants, got {n}")
    p = n * proposer_fraction_bps // BPS
    p = max(p, 1)
    p = min(p, n - 1)
    return min(p, MAX_PROPOSERS)


def is_proposer(seed: int, index: int, n: int, proposers: int) -> bool:
    return permute(seed, index, n) < proposers


def pioneer_index(seed: int, n: int) -> int:
    """Roster index of the pioneer (position 0)."""
    return unpermute(seed, 0, n)
