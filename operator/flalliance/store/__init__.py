"""Content-addressed artifact store: models, specs and aggregates are stored under the sha256 of their bytes.

``open_store(url)`` gives a backend for ``file:///path`` (a local directory or a shared volume) or
``s3://bucket/prefix?endpoint=…&region=…`` (any S3-compatible server; credentials from the environment or
files only, never from the URL).
"""

from flalliance.store.base import (
    ArtifactStore,
    IntegrityError,
    ObjectNotFound,
    ObjectTooLarge,
    StoreAuthError,
    StoreError,
    StoreUnavailable,
    hash_hex,
    parse_hash,
)
from flalliance.store.retry import RetryingStore
from flalliance.store.url import open_store

__all__ = [
    "ArtifactStore",
    "IntegrityError",
    "ObjectNotFound",
    "ObjectTooLarge",
    "RetryingStore",
    "StoreAuthError",
    "StoreError",
    "StoreUnavailable",
    "hash_hex",
    "open_store",
    "parse_hash",
]
