"""The local nonce counter behind :class:`~flalliance.chain.client.ChainClient` (pure; no RPC of its own).

Reading the nonce from the node before every transaction costs a round trip and races with our own
pending transactions; counting locally is exact as long as this process is the account's only sender.
When it is not (another replica, a manual transaction), the node answers "nonce too low" and the counter
is resynced from the chain.
"""

from __future__ import annotations

from collections.abc import Callable


class NonceTracker:
    """Next nonce to use for one account. ``fetch`` returns the chain's pending transaction count."""

    def __init__(self, fetch: Callable[[], int]) -> None:
        self._fetch = fetch
        self._next: int | None = None

    @property
    def known(self) -> int | None:
        """The locally known next nonce, or None until the first reservation (or after invalidate)."""
        return self._next

    def reserve(self) -> int:
        """The nonce for the next transaction; read from the chain only when not known."""
        if self._next is None:
            self._next = self._fetch()
        return self._next

    def sent(self, nonce: int) -> None:
        """A transaction with ``nonce`` was accepted by the node: the next one uses ``nonce + 1``."""
        if self._next is None or nonce + 1 > self._next:
            self._next = nonce + 1

    def resync(self) -> int:
        """Re-read the nonce from the chain (after "nonce too low"); the new next nonce."""
        self._next = self._fetch()
        return self._next

    def invalidate(self) -> None:
        """Forget the counter (the chain was reverted, or a transaction may have been dropped)."""
        self._next = None
