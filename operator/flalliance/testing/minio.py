"""A real S3 server for tests: MinIO pinned in hack/minio/go.mod (built once, cached outside the repository),
on 127.0.0.1 on free ports with its data in a given directory, always stopped. Only for tests.

Besides the root account it can add users with a bucket policy of their own (``add_user``), through
MinIO's admin API (the ``minio`` package's client, a test dependency), so that each organisation of a
test holds its own credentials.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from flalliance.chain.devchain import free_port

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str


def minio_binary() -> Path:
    out = subprocess.run([str(REPO / "hack/minio/build.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


class MinioServer:
    def __init__(self, data_dir: Path, *, binary: Path | None = None, bucket: str = "artifacts") -> None:
        self.binary = binary or minio_binary()
        self.data_dir = data_dir
        self.bucket = bucket
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.root = S3Credentials("flalliance-test", secrets.token_hex(16))
        self._proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "minio.log"

    def start(self) -> MinioServer:
        env = {
            **os.environ,
            "MINIO_ROOT_USER": self.root.access_key,
            "MINIO_ROOT_PASSWORD": self.root.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "HOME": str(self.data_dir),
        }
        console = free_port()
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), "server", "--quiet", "--address", f"127.0.0.1:{self.port}",
                 "--console-address", f"127.0.0.1:{console}", str(self.data_dir / "d")],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._live():
            if self._proc.poll() is not None:
                raise RuntimeError(f"minio exited with {self._proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("minio did not become live within 60 s")
            time.sleep(0.1)
        s3 = self.client()
        if self.bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=self.bucket)
        return self

    def _live(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/minio/health/live", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def client(self, credentials: S3Credentials | None = None) -> Any:
        return s3_client(self.endpoint, credentials or self.root)

    def add_user(self, name: str, policy: dict[str, Any]) -> S3Credentials:
        """A new user `name` with a fresh secret, allowed exactly what `policy` (an IAM policy) says."""
        return add_user(f"127.0.0.1:{self.port}", self.root, name, policy)

    def __enter__(self) -> MinioServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def task_objects_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Read and write the objects under ``prefix``, nothing else: no listing, no deleting (one
    organisation's share of a task's content-addressed store)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"],
            }
        ],
    }


def add_user(host_port: str, root: S3Credentials, name: str, policy: dict[str, Any]) -> S3Credentials:
    """Through MinIO's admin API at ``host_port`` (plain HTTP): a user ``name`` with a fresh secret,
    allowed exactly what ``policy`` says."""
    from minio.credentials.providers import StaticProvider
    from minio.minioadmin import MinioAdmin

    creds = S3Credentials(name, secrets.token_hex(16))
    admin = MinioAdmin(
        endpoint=host_port,
        credentials=StaticProvider(root.access_key, root.secret_key),
        secure=False,
    )
    admin.user_add(creds.access_key, creds.secret_key)
    admin.policy_add(f"{name}-policy", policy=policy)
    admin.policy_set(f"{name}-policy", user=creds.access_key)
    return creds


def s3_client(endpoint: str, credentials: S3Credentials) -> Any:
    """A boto3 S3 client of ``credentials`` on a MinIO at ``endpoint`` (http://host:port)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        region_name="us-east-1",
    )
