"""Fixtures for the contract tests: a deployed system, funded participant clients, a task factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_account.signers.local import LocalAccount

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import DeployedSystem, deploy_system
from flalliance.chain.devchain import Anvil
from flalliance.chain.harness import ETHER, DevTask, derived_accounts
from flalliance.chain.models import TaskParams

STAKE = 100 * ETHER
FUNDS = 10_000 * ETHER


def fast_params(**overrides: object) -> TaskParams:
    """Short phases so tests move the clock in small steps; everything else at its default."""
    base: dict[str, object] = {
        "min_stake": 10 * ETHER,
        "min_participants": 3,
        "max_participants": 6,
        "total_rounds": 4,  # >= the longest epoch for 3..6 participants at 40% (4 rounds at n = 4)
        "proposer_fraction_bps": 4_000,
        "slash_bps": 1_000,
        "join_duration": 100,
        "pioneer_duration": 50,
        "propose_duration": 100,
        "commit_duration": 100,
        "reveal_duration": 100,
        "max_lifecycle": 5_000,
    }
    base.update(overrides)
    return TaskParams.model_validate(base)


@pytest.fixture(scope="session")
def member_accounts() -> list[LocalAccount]:
    return list(derived_accounts(12, label="contract-tests"))


@pytest.fixture
def system(chain: ChainClient) -> DeployedSystem:
    return deploy_system(chain)


@pytest.fixture
def member_clients(
    anvil: Anvil, chain: ChainClient, member_accounts: list[object]
) -> Iterator[list[ChainClient]]:
    clients = [ChainClient(anvil.rpc_url, a, chain_id=anvil.chain_id) for a in member_accounts]  # type: ignore[arg-type]
    yield clients


@pytest.fixture
def make_task(
    chain: ChainClient, system: DeployedSystem, member_clients: list[ChainClient]
) -> Callable[..., DevTask]:
    """make_task(params=None, members=6, **create_kwargs): a funded task whose first `members` are ready."""

    def make(params: TaskParams | None = None, members: int = 6, **kwargs: object) -> DevTask:
        task = DevTask.create(
            chain, system, params or fast_params(), members=member_clients[:members], **kwargs
        )  # type: ignore[arg-type]
        task.fund(FUNDS)
        return task

    return make
