"""The store protocol and its errors.

Keys are sha256 digests (32 bytes); a ``get`` always re-hashes what it read and raises
:class:`IntegrityError` on a mismatch, so a corrupted or substituted object is never returned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK = 1024 * 1024


class StoreError(Exception):
    """Any failure of the artifact store."""


class ObjectNotFound(StoreError):
    def __init__(self, digest: bytes, where: str) -> None:
        super().__init__(f"artifact {digest.hex()} not found in {where}")
        self.digest = digest


class IntegrityError(StoreError):
    def __init__(self, digest: bytes, actual: bytes, where: str) -> None:
        super().__init__(
            f"artifact {digest.hex()} in {where} hashes to {actual.hex()}: corrupted or substituted"
        )
        self.digest = digest
        self.actual = actual


class StoreAuthError(StoreError):
    """Wrong or missing credentials, or access denied."""


class StoreUnavailable(StoreError):
    """The store could not be reached, timed out or answered with a server error: retrying may help
    (unlike a missing object, a hash mismatch or refused credentials, which a retry only repeats)."""


class ObjectTooLarge(StoreError):
    def __init__(self, digest: bytes, limit: int) -> None:
        super().__init__(f"artifact {digest.hex()} exceeds the read limit of {limit} bytes")
        self.digest = digest


def hash_hex(digest: bytes) -> str:
    if len(digest) != 32:
        raise ValueError(f"an artifact hash is 32 bytes, got {len(digest)}")
    return digest.hex()


def parse_hash(text: str) -> bytes:
    """``0x``-prefixed or bare 64-hex-digit sha256 → 32 bytes."""
    raw = text[2:] if text.startswith(("0x", "0X")) else text
    if len(raw) != 64:
        raise ValueError(f"an artifact hash is 64 hex digits, got {text!r}")
    return bytes.fromhex(raw)


@runtime_checkable
class ArtifactStore(Protocol):
    """What workers and the operator need from a store. Every method is safe to call concurrently."""

    def put(self, data: bytes) -> bytes:
        """Store ``data`` (idempotent) and return its sha256."""
        ...

    def put_stream(self, stream: BinaryIO) -> bytes:
        """Store everything read from ``stream`` without holding it in memory; return its sha256."""
        ...

    def get(self, digest: bytes, *, max_bytes: int | None = None) -> bytes:
        """The verified bytes; :class:`ObjectNotFound`, :class:`IntegrityError`, :class:`ObjectTooLarge`."""
        ...

    def get_stream(self, digest: bytes) -> Iterator[bytes]:
        """Chunks of the object; the digest is checked at the end (IntegrityError before the last chunk is
        released), so a consumer must not act on the data before the iterator is exhausted."""
        ...

    def exists(self, digest: bytes) -> bool: ...

    def describe(self) -> str:
        """Where the store is, without credentials (for logs and errors)."""
        ...


def verify(data: bytes, digest: bytes, where: str) -> bytes:
    actual = hashlib.sha256(data).digest()
    if actual != digest:
        raise IntegrityError(digest, actual, where)
    return data


def verified_chunks(chunks: Iterator[bytes], digest: bytes, where: str) -> Iterator[bytes]:
    """Yield chunks, holding back the last one until the whole object has been hashed and verified."""
    h = hashlib.sha256()
    pending: bytes | None = None
    for chunk in chunks:
        if pending is not None:
            yield pending
        h.update(chunk)
        pending = chunk
    actual = h.digest()
    if actual != digest:
        raise IntegrityError(digest, actual, where)
    if pending is not None:
        yield pending
