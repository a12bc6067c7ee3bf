"""The store's tests use the session's MinIO (tests/integration/conftest.py) with its root account."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flalliance.testing.minio import MinioServer


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str


@pytest.fixture(scope="session")
def s3_server(minio: MinioServer) -> S3Server:
    return S3Server(minio.endpoint, minio.root.access_key, minio.root.secret_key, minio.bucket)
