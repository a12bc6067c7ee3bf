from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from flalliance.store import (
    ArtifactStore,
    IntegrityError,
    ObjectNotFound,
    ObjectTooLarge,
    StoreError,
    open_store,
    parse_hash,
)
from flalliance.store.local import LocalStore
from flalliance.store.s3 import S3Store

pytestmark = pytest.mark.unit


def test_put_get_roundtrip_and_layout(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert isinstance(store, ArtifactStore)
    digest = store.put(b"hello")
    assert digest == hashlib.sha256(b"hello").digest()
    path = tmp_path / "sha256" / digest.hex()[:2] / digest.hex()
    assert path.read_bytes() == b"hello"
    assert store.get(digest) == b"hello"
    assert store.exists(digest)
    assert b"".join(store.get_stream(digest)) == b"hello"


def test_put_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = store.put(b"same")
    mtime = (tmp_path / "sha256" / first.hex()[:2] / first.hex()).stat().st_mtime_ns
    assert store.put(b"same") == first
    assert store.put_stream(io.BytesIO(b"same")) == first
    assert (tmp_path / "sha256" / first.hex()[:2] / first.hex()).stat().st_mtime_ns == mtime
    leftovers = [p for p in tmp_path.rglob(".tmp-*")]
    assert leftovers == []


def test_put_stream_big(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = store.put_stream(io.BytesIO(data))
    assert digest == hashlib.sha256(data).digest()
    assert store.get(digest) == data
    with pytest.raises(ObjectTooLarge):
        store.get(digest, max_bytes=1024)


def test_missing_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    missing = hashlib.sha256(b"nope").digest()
    assert not store.exists(missing)
    with pytest.raises(ObjectNotFound, match=missing.hex()):
        store.get(missing)
    with pytest.raises(ObjectNotFound):
        store.get_stream(missing)


def test_corruption_is_detected_on_every_read(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = store.put(b"genuine")
    path = tmp_path / "sha256" / digest.hex()[:2] / digest.hex()
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="corrupted or substituted"):
        store.get(digest)
    with pytest.raises(IntegrityError):
        list(store.get_stream(digest))


def test_stream_withholds_last_chunk_until_verified(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = b"a" * (2 * 1024 * 1024 + 5)
    digest = store.put(data)
    path = tmp_path / "sha256" / digest.hex()[:2] / digest.hex()
    path.chmod(0o644)
    path.write_bytes(b"b" + data[1:])
    received = []
    with pytest.raises(IntegrityError):
        for chunk in store.get_stream(digest):
            received.append(chunk)
    assert sum(len(c) for c in received) < len(data)


def test_bad_hash_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LocalStore(tmp_path).get(b"short")


def test_parse_hash() -> None:
    h = hashlib.sha256(b"x").digest()
    assert parse_hash("0x" + h.hex()) == h
    assert parse_hash(h.hex()) == h
    with pytest.raises(ValueError):
        parse_hash("0x1234")


def test_store_urls(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/artifacts")
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "artifacts"
    s3 = open_store("s3://bucket/some/prefix?endpoint=http://127.0.0.1:9&region=eu-west-1")
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix, s3.endpoint) == ("bucket", "some/prefix", "http://127.0.0.1:9")
    assert s3._key(b"\x00" * 32) == "some/prefix/sha256/" + "00" * 32


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://key:secret@bucket/p", "must not carry credentials"),
        ("file://relative/path", "file:///absolute"),
        ("file:///tmp/x?y=1", "no query"),
        ("s3:///prefix", "needs a bucket"),
        ("s3://b/p?endpont=http://x", "unknown parameters"),
        ("http://example/x", "unsupported store URL scheme"),
    ],
)
def test_bad_store_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(url)
