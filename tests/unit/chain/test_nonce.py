from __future__ import annotations

import pytest

from flalliance.chain.nonce import NonceTracker

pytestmark = pytest.mark.unit


class FakeChain:
    """The chain's pending transaction count for one account, counting how often it is read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.count


def test_reads_the_chain_once_then_counts_locally() -> None:
    chain = FakeChain(7)
    tracker = NonceTracker(chain)
    assert tracker.known is None and chain.reads == 0  # lazy
    for expected in (7, 8, 9):
        nonce = tracker.reserve()
        assert nonce == expected
        tracker.sent(nonce)
    assert chain.reads == 1


def test_an_unsent_reservation_is_reused() -> None:
    tracker = NonceTracker(FakeChain(3))
    assert tracker.reserve() == 3
    assert tracker.reserve() == 3  # the first was never sent (e.g. rejected): no gap


def test_resync_after_another_sender_used_the_account() -> None:
    chain = FakeChain(0)
    tracker = NonceTracker(chain)
    tracker.sent(tracker.reserve())
    chain.count = 5  # someone else sent four more
    assert tracker.reserve() == 1  # stale: the node would answer "nonce too low"
    assert tracker.resync() == 5
    assert tracker.reserve() == 5


def test_sent_never_moves_the_counter_backwards() -> None:
    tracker = NonceTracker(FakeChain(10))
    tracker.sent(12)
    tracker.sent(11)  # a late confirmation of an earlier nonce
    assert tracker.reserve() == 13


def test_invalidate_rereads_after_a_chain_revert() -> None:
    chain = FakeChain(4)
    tracker = NonceTracker(chain)
    tracker.sent(tracker.reserve())
    chain.count = 2  # evm_revert took the chain back
    tracker.invalidate()
    assert tracker.known is None
    assert tracker.reserve() == 2
    assert chain.reads == 2
