"""A block clock for tests on an auto-mining anvil: a block every ``period`` seconds. Only for tests.

Anvil mines a block per transaction and none otherwise, so a phase that nobody acts in (an organisation's
operator down, a participant absent) would never reach its deadline. Mining on a timer lets deadlines pass
by the wall clock, as on a real chain, while transactions still confirm at once.
"""

from __future__ import annotations

import threading

from flalliance.chain.client import ChainClient


class BlockClock:
    """Mines a block every ``period`` seconds on ``rpc_url`` while the ``with`` block runs."""

    def __init__(self, rpc_url: str, period: float = 2.0) -> None:
        self.client = ChainClient(rpc_url)
        self.period = period
        self.errors: list[str] = []  # a failed tick (e.g. a port-forward hiccup); the next one retries
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="block-clock", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.client.mine()
            except Exception as exc:  # recorded; the clock must keep ticking
                self.errors.append(repr(exc))

    def __enter__(self) -> BlockClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
