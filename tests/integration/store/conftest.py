"""A real S3 server for the store's tests: MinIO pinned in hack/minio/go.mod, built once (cached outside the
repository), started on 127.0.0.1 on a free port with its data in a temporary directory, always stopped."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def minio_binary() -> Path:
    out = subprocess.run([str(REPO / "hack/minio/build.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def s3_server(minio_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    data_dir = tmp_path_factory.mktemp("minio-data")
    port, console = _free_port(), _free_port()
    access, secret = "flalliance-test", secrets.token_hex(16)
    env = {
        **os.environ,
        "MINIO_ROOT_USER": access,
        "MINIO_ROOT_PASSWORD": secret,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
        "HOME": str(data_dir),
    }
    log = (data_dir.parent / "minio.log").open("wb")
    proc = subprocess.Popen(
        [str(minio_binary), "server", "--quiet", "--address", f"127.0.0.1:{port}",
         "--console-address", f"127.0.0.1:{console}", str(data_dir / "d")],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"minio exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("minio did not become live within 60 s")
            time.sleep(0.1)
        bucket = "artifacts"
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
            region_name="us-east-1",
        ).create_bucket(Bucket=bucket)  # fmt: skip
        yield S3Server(endpoint, access, secret, bucket)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
