"""Local-directory backend (also for a shared volume mounted in several pods).

Layout: ``<root>/sha256/<first 2 hex>/<64 hex>``. Writes go to a temporary file in the same directory,
are fsynced and renamed into place: a reader sees either no object or the whole object, never a partial
one, and concurrent identical puts are harmless (same bytes, atomic rename). A put of an object that
already exists is a no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flalliance.store.base import CHUNK, ObjectNotFound, ObjectTooLarge, verified_chunks, verify


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "sha256").mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"file://{self.root}"

    def _path(self, digest: bytes) -> Path:
        h = digest.hex()
        if len(digest) != 32:
            raise ValueError(f"an artifact hash is 32 bytes, got {len(digest)}")
        return self.root / "sha256" / h[:2] / h

    def _commit(self, tmp: Path, digest: bytes) -> None:
        final = self._path(digest)
        if final.exists():
            tmp.unlink()
            return
        os.replace(tmp, final)
        with contextlib.suppress(OSError):  # make the rename durable where the filesystem allows it
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _tempfile(self, digest_prefix: str) -> tuple[int, Path]:
        directory = self.root / "sha256" / digest_prefix
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        return fd, Path(name)

    def put(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        if self._path(digest).exists():
            return digest
        fd, tmp = self._tempfile(digest.hex()[:2])
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            self._commit(tmp, digest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def put_stream(self, stream: BinaryIO) -> bytes:
        incoming = self.root / ".incoming"
        incoming.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=incoming)
        tmp = Path(name)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := stream.read(CHUNK):
                    h.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            digest = h.digest()
            final = self._path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            if final.exists():
                tmp.unlink()
            else:
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: bytes, *, max_bytes: int | None = None) -> bytes:
        path = self._path(digest)
        try:
            with path.open("rb") as fh:
                if max_bytes is not None and os.fstat(fh.fileno()).st_size > max_bytes:
                    raise ObjectTooLarge(digest, max_bytes)
                data = fh.read()
        except FileNotFoundError:
            raise ObjectNotFound(digest, self.describe()) from None
        return verify(data, digest, self.describe())

    def get_stream(self, digest: bytes) -> Iterator[bytes]:
        path = self._path(digest)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(digest, self.describe()) from None

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        return verified_chunks(chunks(), digest, self.describe())

    def exists(self, digest: bytes) -> bool:
        return self._path(digest).is_file()
