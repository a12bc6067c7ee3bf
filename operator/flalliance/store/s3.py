"""S3-compatible backend (AWS S3, MinIO, SeaweedFS, …) over boto3.

Objects live at ``<prefix>/sha256/<64 hex>``. S3 writes are atomic per object, so a reader never sees a
partial artifact; ``put`` checks existence first, so repeated puts are cheap no-ops. Credentials come only
from the environment or files (boto3's chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_SHARED_CREDENTIALS_FILE``, ``FLALLIANCE_S3_CREDENTIALS_DIR`` (a mounted Secret with the files
``accessKeyId`` and ``secretAccessKey``, as the operator mounts ``spec.store.credentialsSecret`` into worker
pods), or ``FLALLIANCE_S3_ACCESS_KEY_FILE``/``FLALLIANCE_S3_SECRET_KEY_FILE``) — never from the store URL,
which appears in logs.

Failures are classified: unreachable, timed out or a server error (5xx, SlowDown) is
:class:`StoreUnavailable`, which :class:`~flalliance.store.retry.RetryingStore` retries; missing objects,
refused credentials and hash mismatches are not retried.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from flalliance.store.base import (
    CHUNK,
    ObjectNotFound,
    ObjectTooLarge,
    StoreAuthError,
    StoreError,
    StoreUnavailable,
    verified_chunks,
    verify,
)

_AUTH_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "403",
    "Forbidden",
}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_BUSY_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
}
_UNREACHABLE = (BotoConnectionError, HTTPClientError, IncompleteReadError)
# The keys of a credentials Secret (spec.store.credentialsSecret), as files in its mounted directory.
ACCESS_KEY_FILE, SECRET_KEY_FILE = "accessKeyId", "secretAccessKey"


def _credentials_from_files() -> dict[str, str]:
    key_file = os.environ.get("FLALLIANCE_S3_ACCESS_KEY_FILE")
    secret_file = os.environ.get("FLALLIANCE_S3_SECRET_KEY_FILE")
    directory = os.environ.get("FLALLIANCE_S3_CREDENTIALS_DIR")
    if directory and not key_file and not secret_file:
        key_file = str(Path(directory) / ACCESS_KEY_FILE)
        secret_file = str(Path(directory) / SECRET_KEY_FILE)
    if not key_file and not secret_file:
        return {}
    if not (key_file and secret_file):
        raise StoreAuthError(
            "set both FLALLIANCE_S3_ACCESS_KEY_FILE and FLALLIANCE_S3_SECRET_KEY_FILE, or neither"
        )
    try:
        return {
            "aws_access_key_id": Path(key_file).read_text().strip(),
            "aws_secret_access_key": Path(secret_file).read_text().strip(),
        }
    except OSError as exc:
        raise StoreAuthError(f"cannot read S3 credential file: {exc}") from None


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        path_style: bool = True,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        if client is None:
            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                s3={"addressing_style": "path" if path_style else "auto"},
                signature_version="s3v4",
            )
            session = boto3.session.Session(**_credentials_from_files())
            client = session.client(
                "s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=config
            )
        self._s3 = client

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint}" if self.endpoint else where

    def _key(self, digest: bytes) -> str:
        if len(digest) != 32:
            raise ValueError(f"an artifact hash is 32 bytes, got {len(digest)}")
        return f"{self.prefix}/sha256/{digest.hex()}" if self.prefix else f"sha256/{digest.hex()}"

    def _error(self, exc: Exception, digest: bytes | None = None) -> StoreError:
        if isinstance(exc, _UNREACHABLE):
            return StoreUnavailable(f"{self.describe()}: unreachable: {exc}")
        if isinstance(exc, NoCredentialsError):
            return StoreAuthError(
                f"{self.describe()}: no S3 credentials in the environment or credential files"
            )
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in _MISSING_CODES and digest is not None:
                return ObjectNotFound(digest, self.describe())
            if code in _AUTH_CODES or status == "403":
                return StoreAuthError(
                    f"{self.describe()}: access denied ({code or status}): check the S3 credentials"
                )
            if code in _BUSY_CODES or status.startswith("5"):
                return StoreUnavailable(f"{self.describe()}: S3 server error {code or status}")
            if code == "NoSuchBucket":
                return StoreError(f"{self.describe()}: bucket {self.bucket!r} does not exist")
            return StoreError(f"{self.describe()}: S3 error {code or status}: {err.get('Message', exc)}")
        return StoreError(f"{self.describe()}: {exc}")

    def exists(self, digest: bytes) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES or status == 404:
                return False
            raise self._error(exc) from None
        except (BotoCoreError, NoCredentialsError) as exc:
            raise self._error(exc) from None
        return True

    def put(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        if self.exists(digest):
            return digest
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from None
        return digest

    def put_stream(self, stream: BinaryIO) -> bytes:
        h = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=16 * CHUNK) as spool:
            while chunk := stream.read(CHUNK):
                h.update(chunk)
                spool.write(chunk)
            digest = h.digest()
            if self.exists(digest):
                return digest
            spool.seek(0)
            try:
                self._s3.upload_fileobj(spool, self.bucket, self._key(digest))
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc) from None
        return digest

    def _open(self, digest: bytes) -> Any:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self._key(digest))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, digest) from None

    def get(self, digest: bytes, *, max_bytes: int | None = None) -> bytes:
        response = self._open(digest)
        body = response["Body"]
        try:
            if max_bytes is not None and int(response.get("ContentLength", 0)) > max_bytes:
                raise ObjectTooLarge(digest, max_bytes)
            data: bytes = body.read() if max_bytes is None else body.read(max_bytes + 1)
            if max_bytes is not None and len(data) > max_bytes:
                raise ObjectTooLarge(digest, max_bytes)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, digest) from None
        finally:
            body.close()
        return verify(data, digest, self.describe())

    def get_stream(self, digest: bytes) -> Iterator[bytes]:
        body = self._open(digest)["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return verified_chunks(chunks(), digest, self.describe())
