"""The local-directory backend shared by several processes (as pods share a volume): concurrent identical
puts and readers never see a partial or corrupted object."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from pathlib import Path

import pytest

from flalliance.store.local import LocalStore

pytestmark = pytest.mark.integration

PAYLOADS = [bytes([i]) * (1024 * 1024 + i) for i in range(4)]


def _writer_reader(root: str, rounds: int) -> list[str]:
    store = LocalStore(Path(root))
    problems = []
    for _ in range(rounds):
        for data in PAYLOADS:
            digest = store.put(data)
            for other in PAYLOADS:
                d = hashlib.sha256(other).digest()
                if store.exists(d) and store.get(d) != other:
                    problems.append(d.hex())
            if store.get(digest) != data:
                problems.append(digest.hex())
    return problems


def test_concurrent_processes_share_a_directory(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_writer_reader, [(str(tmp_path), 5)] * 4)
    assert results == [[], [], [], []]
    files = sorted(p.name for p in (tmp_path / "sha256").rglob("*") if p.is_file())
    assert files == sorted(hashlib.sha256(p).hexdigest() for p in PAYLOADS)
