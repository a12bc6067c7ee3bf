"""The S3 backend against a real MinIO server (see conftest.py)."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

from flalliance.store import (
    IntegrityError,
    ObjectNotFound,
    ObjectTooLarge,
    StoreAuthError,
    StoreError,
    open_store,
)
from flalliance.store.s3 import S3Store

from .conftest import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> S3Server:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    return s3_server


def _url(server: S3Server, prefix: str = "runs/t1") -> str:
    return f"s3://{server.bucket}/{prefix}?endpoint={server.endpoint}&region=us-east-1"


def test_put_get_exists_roundtrip(creds: S3Server) -> None:
    store = open_store(_url(creds))
    data = b"model bytes" * 1000
    digest = store.put(data)
    assert digest == hashlib.sha256(data).digest()
    assert store.exists(digest)
    assert store.get(digest) == data
    assert store.put(data) == digest  # idempotent
    assert b"".join(store.get_stream(digest)) == data


def test_put_stream_large_object(creds: S3Server) -> None:
    store = open_store(_url(creds))
    data = bytes(range(256)) * (20 * 1024 * 8)  # 40 MiB: multipart upload path
    digest = store.put_stream(io.BytesIO(data))
    assert digest == hashlib.sha256(data).digest()
    assert store.get(digest) == data
    with pytest.raises(ObjectTooLarge):
        store.get(digest, max_bytes=1024)


def test_missing_object_is_a_clear_error(creds: S3Server) -> None:
    store = open_store(_url(creds))
    missing = hashlib.sha256(b"never stored").digest()
    assert not store.exists(missing)
    with pytest.raises(ObjectNotFound, match=missing.hex()):
        store.get(missing)
    with pytest.raises(ObjectNotFound):
        list(store.get_stream(missing))


def test_wrong_credentials_are_a_clear_error(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = open_store(_url(s3_server))
    with pytest.raises(StoreAuthError, match="access denied"):
        store.put(b"x")
    with pytest.raises(StoreAuthError):
        store.get(hashlib.sha256(b"x").digest())


def test_credentials_from_files(tmp_path, monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "key").write_text(s3_server.access_key + "\n")
    (tmp_path / "secret").write_text(s3_server.secret_key + "\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("FLALLIANCE_S3_ACCESS_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("FLALLIANCE_S3_SECRET_KEY_FILE", str(tmp_path / "secret"))
    store = open_store(_url(s3_server, "from-files"))
    digest = store.put(b"via files")
    assert store.get(digest) == b"via files"


def test_missing_bucket(creds: S3Server) -> None:
    store = open_store(f"s3://no-such-bucket/x?endpoint={creds.endpoint}")
    with pytest.raises(StoreError, match="does not exist"):
        store.put(b"x")


def test_corrupted_object_is_refused(creds: S3Server) -> None:
    store = open_store(_url(creds, "tamper"))
    assert isinstance(store, S3Store)
    digest = store.put(b"original")
    # Overwrite the object behind the store's back, as a hostile or broken server could.
    store._s3.put_object(Bucket=creds.bucket, Key=store._key(digest), Body=b"substituted")
    with pytest.raises(IntegrityError):
        store.get(digest)
    with pytest.raises(IntegrityError):
        list(store.get_stream(digest))


def test_concurrent_readers_and_writers(creds: S3Server) -> None:
    store = open_store(_url(creds, "concurrent"))
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    errors: list[BaseException] = []

    def work(data: bytes) -> None:
        try:
            for _ in range(3):
                digest = store.put(data)
                assert store.get(digest) == data
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in payloads + payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
