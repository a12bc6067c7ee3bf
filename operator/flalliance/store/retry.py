"""Riding out a store outage inside one worker run.

A worker that cannot reach the store for a minute should not fail its Job at once: the Job controller's
own retries start a fresh pod (and a fresh training run) after a back-off, and a proposer whose pods all
fail in the outage misses the phase and is slashed as absent. So every store call that fails with
:class:`StoreUnavailable` is retried with exponential back-off until a time budget is spent; anything
else (a missing object, refused credentials, a hash mismatch) is raised at once, since retrying only
repeats it. Once the budget is spent the last error is raised and the Job's retries take over.

Retrying is safe because the store is content-addressed: a put that reached the server before the
connection dropped is found by the next attempt's existence check, and a get re-hashes what it reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

from flalliance.store.base import ArtifactStore, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 1.0
MAX_DELAY = 15.0


class RetryingStore:
    """An :class:`ArtifactStore` that retries ``StoreUnavailable`` for up to ``budget`` seconds."""

    def __init__(
        self,
        inner: ArtifactStore,
        budget: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self._sleep = sleep
        self._clock = clock
        self.retries = 0  # over this store's life, for the worker's result

    def describe(self) -> str:
        return self.inner.describe()

    def _call(self, what: str, attempt: Callable[[], T], rewind: Callable[[], None] | None = None) -> T:
        deadline = self._clock() + self.budget
        delay = FIRST_DELAY
        while True:
            try:
                return attempt()
            except StoreUnavailable as exc:
                left = deadline - self._clock()
                if left <= 0:
                    raise
                wait = min(delay, MAX_DELAY, left)
                self.retries += 1
                log.warning(
                    "%s failed (%s); retrying in %.1f s (%.0f s of the budget left)", what, exc, wait, left
                )
                self._sleep(wait)
                delay *= 2
                if rewind is not None:
                    rewind()

    def put(self, data: bytes) -> bytes:
        return self._call("store put", lambda: self.inner.put(data))

    def put_stream(self, stream: BinaryIO) -> bytes:
        if not stream.seekable():
            return self.inner.put_stream(stream)  # cannot be replayed: one attempt
        start = stream.tell()

        def rewind() -> None:
            stream.seek(start)

        return self._call("store put", lambda: self.inner.put_stream(stream), rewind)

    def get(self, digest: bytes, *, max_bytes: int | None = None) -> bytes:
        return self._call(
            f"store get {digest.hex()[:12]}", lambda: self.inner.get(digest, max_bytes=max_bytes)
        )

    def get_stream(self, digest: bytes) -> Iterator[bytes]:
        # Opening is retried; a failure part-way through the chunks is the consumer's to handle.
        return self._call(f"store get {digest.hex()[:12]}", lambda: self.inner.get_stream(digest))

    def exists(self, digest: bytes) -> bool:
        return self._call(f"store head {digest.hex()[:12]}", lambda: self.inner.exists(digest))
