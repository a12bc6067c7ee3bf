"""The store retry: transient failures are retried with back-off within a budget, others raised at once,
and S3 failures are classified so that only the transient ones are retried."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from flalliance.store import ObjectNotFound, RetryingStore, StoreAuthError, StoreUnavailable
from flalliance.store.local import LocalStore
from flalliance.store.s3 import S3Store

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A local store whose first `failures` calls raise StoreUnavailable."""

    def __init__(self, root: Path, failures: int) -> None:
        self.inner = LocalStore(root)
        self.failures = failures
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreUnavailable("s3://b at http://127.0.0.1:1: unreachable")

    def describe(self) -> str:
        return self.inner.describe()

    def put(self, data: bytes) -> bytes:
        self._maybe_fail()
        return self.inner.put(data)

    def put_stream(self, stream: BinaryIO) -> bytes:
        if self.calls < self.failures:
            stream.read(3)  # consume part of it before failing, as an upload cut mid-way does
        self._maybe_fail()
        return self.inner.put_stream(stream)

    def get(self, digest: bytes, *, max_bytes: int | None = None) -> bytes:
        self._maybe_fail()
        return self.inner.get(digest, max_bytes=max_bytes)

    def get_stream(self, digest: bytes) -> Iterator[bytes]:
        self._maybe_fail()
        return self.inner.get_stream(digest)

    def exists(self, digest: bytes) -> bool:
        self._maybe_fail()
        return self.inner.exists(digest)


def test_an_outage_shorter_than_the_budget_is_ridden_out_with_growing_delays(tmp_path: Path) -> None:
    clock = Clock()
    flaky = Flaky(tmp_path, failures=5)
    store = RetryingStore(flaky, budget=60, sleep=clock.sleep, clock=clock)
    digest = store.put(b"weights")
    assert digest == hashlib.sha256(b"weights").digest()
    assert clock.sleeps == [1, 2, 4, 8, 15]
    assert store.retries == 5
    assert store.get(digest) == b"weights"


def test_the_last_error_is_raised_once_the_budget_is_spent(tmp_path: Path) -> None:
    clock = Clock()
    store = RetryingStore(Flaky(tmp_path, failures=100), budget=20, sleep=clock.sleep, clock=clock)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.put(b"x")
    assert sum(clock.sleeps) == pytest.approx(20)  # the last wait is cut to what the budget has left
    assert clock.sleeps[-1] == pytest.approx(5)


def test_a_missing_object_is_not_retried(tmp_path: Path) -> None:
    clock = Clock()
    store = RetryingStore(LocalStore(tmp_path), budget=60, sleep=clock.sleep, clock=clock)
    with pytest.raises(ObjectNotFound):
        store.get(b"\x01" * 32)
    assert clock.sleeps == []


def test_a_seekable_stream_is_rewound_before_each_attempt(tmp_path: Path) -> None:
    clock = Clock()
    store = RetryingStore(Flaky(tmp_path, failures=2), budget=60, sleep=clock.sleep, clock=clock)
    data = b"abcdefgh" * 1000
    stream = io.BytesIO(b"head" + data)
    stream.seek(4)
    assert store.put_stream(stream) == hashlib.sha256(data).digest()
    assert store.get(hashlib.sha256(data).digest()) == data


class RaisingClient:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise self.exc

        return call


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), StoreUnavailable),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), StoreUnavailable),
        (_client_error("SlowDown", 503), StoreUnavailable),
        (_client_error("InternalError", 500), StoreUnavailable),
        (_client_error("AccessDenied", 403), StoreAuthError),
    ],
)
def test_s3_failures_are_classified(exc: Exception, kind: type[Exception]) -> None:
    store = S3Store("bucket", "p", endpoint="http://127.0.0.1:1", client=RaisingClient(exc))
    with pytest.raises(kind) as raised:
        store.put(b"x")
    assert isinstance(raised.value, StoreUnavailable) == (kind is StoreUnavailable)


def test_s3_credentials_come_from_the_mounted_secret_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flalliance.store.s3 import _credentials_from_files

    (tmp_path / "accessKeyId").write_text("org-a\n")
    (tmp_path / "secretAccessKey").write_text("s3cr3t\n")
    monkeypatch.delenv("FLALLIANCE_S3_ACCESS_KEY_FILE", raising=False)
    monkeypatch.delenv("FLALLIANCE_S3_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("FLALLIANCE_S3_CREDENTIALS_DIR", str(tmp_path))
    assert _credentials_from_files() == {"aws_access_key_id": "org-a", "aws_secret_access_key": "s3cr3t"}
    (tmp_path / "secretAccessKey").unlink()
    with pytest.raises(StoreAuthError, match="secretAccessKey"):
        _credentials_from_files()
