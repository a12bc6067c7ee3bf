"""Store URLs: ``file:///abs/path`` and ``s3://bucket/prefix?endpoint=http://host:port&region=r&path_style=1``.

Credentials are refused in the URL (it ends up in logs, Job specs and events); see s3.py for where they
come from.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flalliance.store.base import ArtifactStore, StoreError
from flalliance.store.local import LocalStore
from flalliance.store.s3 import S3Store

_S3_PARAMS = {"endpoint", "region", "path_style"}


def open_store(url: str) -> ArtifactStore:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise StoreError("store URL must not carry credentials; use the environment or credential files")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StoreError(f"file store URL must be file:///absolute/path, got {url!r}")
        if parts.query:
            raise StoreError(f"file store URL takes no query parameters, got {parts.query!r}")
        return LocalStore(Path(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StoreError(f"s3 store URL needs a bucket: s3://bucket/prefix, got {url!r}")
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
        unknown = sorted(set(query) - _S3_PARAMS)
        if unknown:
            raise StoreError(f"s3 store URL: unknown parameters {unknown} (known: {sorted(_S3_PARAMS)})")
        single = {k: v[-1] for k, v in query.items()}
        path_style = single.get("path_style", "1").lower() not in ("0", "false", "no")
        return S3Store(
            parts.netloc,
            parts.path.strip("/"),
            endpoint=single.get("endpoint") or None,
            region=single.get("region") or None,
            path_style=path_style,
        )
    raise StoreError(f"unsupported store URL scheme {parts.scheme!r}: use file:///path or s3://bucket/prefix")
