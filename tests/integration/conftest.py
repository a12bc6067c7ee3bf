"""Fixtures shared by the integration tests. Each section belongs to one layer; add new ones below."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil
from flalliance.chain.keys import dev_account
from flalliance.controller.observe import forget_shared_clients
from flalliance.testing.minio import MinioServer

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------------------
# Chain: one anvil for the whole session; each test runs between evm_snapshot and evm_revert, so tests
# see a clean chain and never depend on each other's transactions.

# Fixed genesis time: reproducible block timestamps and prevrandao across runs.
ANVIL_GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """A real anvil on 127.0.0.1 (automine), started once per session and always stopped."""
    with Anvil(timestamp=ANVIL_GENESIS_TIMESTAMP) as node:
        yield node


@pytest.fixture
def chain(anvil: Anvil) -> Iterator[ChainClient]:
    """A client signing as dev account 0; the chain is reverted to its pre-test state afterwards.

    Clients a test makes for other accounts must not outlive the test (their local nonces would be
    ahead of the reverted chain); session-scoped clients must call ``resync_nonce()`` per test.
    """
    client = ChainClient(anvil.rpc_url, dev_account(0), chain_id=anvil.chain_id)
    snapshot = client.snapshot()
    try:
        yield client
    finally:
        client.revert(snapshot)
        forget_shared_clients()  # the operator's clients counted nonces on the chain just reverted


# ---------------------------------------------------------------------------------------------------------
# Helm: the pinned build (hack/build-tools.sh, cached outside the repository), for the chart's tests and
# for rendering an organisation's release in the operator's.
@pytest.fixture(scope="session")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(REPO / "hack" / "build-tools.sh"), "--path", "helm"],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(Path(out.stdout.strip().splitlines()[-1]) / "helm")


# ---------------------------------------------------------------------------------------------------------
# S3: one real MinIO for the session (flalliance.testing.minio), bucket "artifacts"; tests keep apart by
# prefix, and objects are content-addressed, so a test never sees another's as wrong.
@pytest.fixture(scope="session")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    with MinioServer(tmp_path_factory.mktemp("minio")) as server:
        yield server
