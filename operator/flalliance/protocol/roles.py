"""Role assignment: a keyed pseudo-random permutation of the roster, drawn without replacement over an
epoch (mirror of RolePermutation.sol and FLTask's role checks).

With ``n`` participants and ``P`` proposers a round, an *epoch* is ``E = ceil(n / P)`` consecutive rounds
(rounds ``kE .. kE + E - 1``) sharing one seed, drawn at its first round. Participant ``i`` holds position
``permute(seed, i, n)``; in round ``r`` its *slot* is that position rotated by ``(r mod E) * P``: slots
below ``P`` are the round's proposers, slot 0 its pioneer. The proposer windows of an epoch tile the
positions, so every participant proposes at least once per epoch (the last window wraps when ``P`` does
not divide ``n``, so a few propose twice). Only the seed is stored on chain, so assigning roles costs O(1)
gas whatever the number of participants, and anyone can recompute every role from the seed.

Rounds are *committees*: at most ``max_proposers`` proposers (slots ``[0, P)``) and ``max_voters`` voters
(slots ``[P, P + V)``); the remaining slots hold no role that round (neither paid nor slashed). So a round's
gas, bytes moved and voter work are bounded by P and V whatever the number of participants.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

FEISTEL_ROUNDS = 4
BPS = 10_000
MAX_PROPOSERS = 256
MAX_VOTERS = 2**16 - 1  # the contract's uint16 cap: no committee limit on voters


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


def num_proposers(n: int, proposer_fraction_bps: int, max_proposers: int = MAX_PROPOSERS) -> int:
    """floor(n * fraction), at least 1, leaving at least one voter, at most ``max_proposers`` (the
    committee cap, <= 256: one verdict bit each)."""
    if n < 2:
        raise ValueError(f"a round needs at least 2 participants, got {n}")
    if not 1 <= max_proposers <= MAX_PROPOSERS:
        raise ValueError(f"max_proposers must be in [1, {MAX_PROPOSERS}], got {max_proposers}")
    p = n * proposer_fraction_bps // BPS
    p = max(p, 1)
    p = min(p, n - 1)
    return min(p, max_proposers)


def num_voters(n: int, proposers: int, max_voters: int = MAX_VOTERS) -> int:
    """Voters of a round: the participants after the proposers, at most ``max_voters``."""
    if max_voters < 1:
        raise ValueError(f"max_voters must be >= 1, got {max_voters}")
    return min(n - proposers, max_voters)


def epoch_length(n: int, proposers: int) -> int:
    """Rounds per epoch: ``ceil(n / proposers)``; every participant proposes at least once in an epoch."""
    if not 1 <= proposers < n:
        raise ValueError(f"proposers must be in [1, {n}), got {proposers}")
    return -(-n // proposers)


def epoch_start(round: int, n: int, proposers: int) -> bool:
    """Whether ``round`` opens an epoch (the contract draws a new seed only then)."""
    return round % epoch_length(n, proposers) == 0


def window_start(round: int, n: int, proposers: int) -> int:
    """First position of ``round``'s proposer window: ``(round mod E) * proposers`` (always < n)."""
    return (round % epoch_length(n, proposers)) * proposers


def slot(seed: int, index: int, n: int, proposers: int, round: int) -> int:
    """Slot of roster index ``index`` in ``round`` (``seed``: the epoch's); slots < ``proposers`` propose,
    slot 0 pioneers."""
    return (permute(seed, index, n) - window_start(round, n, proposers)) % n


def is_proposer(seed: int, index: int, n: int, proposers: int, round: int) -> bool:
    return slot(seed, index, n, proposers, round) < proposers


def is_voter(seed: int, index: int, n: int, proposers: int, voters: int, round: int) -> bool:
    """Whether ``index`` votes in ``round``: slots ``[proposers, proposers + voters)``."""
    return proposers <= slot(seed, index, n, proposers, round) < proposers + voters


def pioneer_index(seed: int, n: int, proposers: int, round: int) -> int:
    """Roster index of ``round``'s pioneer (slot 0: the first position of its proposer window)."""
    return unpermute(seed, window_start(round, n, proposers) % n, n)


def max_epoch_length(
    min_n: int, max_n: int, proposer_fraction_bps: int, max_proposers: int = MAX_PROPOSERS
) -> int:
    """The longest epoch over the roster sizes ``[min_n, max_n]``, exactly, in O(1) (FLTask._maxEpochLength).

    Within a run of sizes sharing ``k = floor(n f / 10^4)`` the epoch only grows with n; below the
    proposer cap the run ends' epochs never grow with k, and from the cap on the epoch grows with n.
    So the maximum is at ``min_n``, at ``max_n`` or at the end of the run holding ``min_n`` (k = 0 and 1
    share one run: both give one proposer). The unit tests check it against the brute-force maximum.
    """
    if not 2 <= min_n <= max_n:
        raise ValueError(f"need 2 <= min_n <= max_n, got {min_n}, {max_n}")
    k = max(1, min_n * proposer_fraction_bps // BPS)
    run_end = min(((k + 1) * BPS - 1) // proposer_fraction_bps, max_n)
    return max(
        epoch_length(x, num_proposers(x, proposer_fraction_bps, max_proposers))
        for x in (min_n, max_n, run_end)
    )
