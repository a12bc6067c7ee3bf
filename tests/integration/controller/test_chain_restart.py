"""A fault under a running task on a real Ethereum client: the chain node restarted mid-round.

The task runs on geth --dev sealing a block every second (operator and workers trust receipts and events one
block deep). While round 0's training Jobs are pending, geth is stopped (SIGTERM: it flushes its
database), left down for 30 s, and started again on the same data directory and port. Expected: the
FLTask says the chain is unreachable while the node is down and reachable again after; the task completes
with every round accepted; nothing was sent twice (one proposal per proposer and round, one commit and one
reveal per voter and round) and no transaction of the task's accounts failed; the chain kept every block
from before the restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.geth import Geth
from flalliance.chain.harness import ETHER, derived_accounts
from flalliance.controller.observe import forget_shared_clients

from .conftest import build_world
from .test_faults import (
    assert_completed_once,
    assert_reachable_again,
    run_with_fault_in_training,
    unreachable_while,
)
from .test_operator import fltask

pytestmark = pytest.mark.integration

DOWN_SECONDS = 30


@pytest.fixture
def geth(tmp_path: Path) -> Iterator[Geth]:
    with Geth(period=1, datadir=tmp_path / "geth" / "data") as node:
        yield node


@pytest.fixture
def geth_world(geth: Geth, kube_api: client.ApiClient, ns: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    operator = derived_accounts(1, label=f"geth-operator-{ns}")[0]
    geth.fund([operator.address], 1_000 * ETHER)
    # The set-up's own transactions need no confirmations (each would cost another block).
    chain = ChainClient(geth.rpc_url, operator, chain_id=geth.chain_id, confirmations=0, timeout=60)
    try:
        yield build_world(chain, lambda addresses: geth.fund(addresses, 100 * ETHER), kube_api, ns, tmp_path)
    finally:
        forget_shared_clients()  # the operator's clients for this node


def test_a_chain_node_restart_mid_round_loses_nothing_and_sends_nothing_twice(
    kube_api: client.ApiClient, ns: str, geth: Geth, geth_world: dict[str, Any], make_kubelet: Any
) -> None:
    world = geth_world
    chain: ChainClient = world["chain"]
    start_block = chain.block_number()
    body = fltask(world)
    body["spec"]["chain"]["confirmations"] = 1
    unreachable: list[bool] = []

    def restart(_: list[str]) -> None:
        head = chain.block_number()
        known = chain.block_hash(head)
        geth.stop()
        unreachable.append(unreachable_while(kube_api, ns, DOWN_SECONDS))
        geth.start()
        assert chain.block_hash(head) == known, "the restarted node lost blocks"

    run = run_with_fault_in_training(kube_api, ns, make_kubelet(ns, world["data_dirs"]), body, restart)
    assert unreachable == [True], "the FLTask never reported the chain unreachable while the node was down"
    assert_reachable_again(kube_api, ns)
    assert_completed_once(world, run.address, start_block, run.done)
