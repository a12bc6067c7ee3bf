"""Real blocks on anvil: reorganisations (anvil_reorg), confirmation depth, stuck transactions replaced.

Each test runs its own anvil: a reorg rewrites blocks under the session chain's snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from web3.contract import Contract

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil
from flalliance.chain.events import DecodedEvent, EventReader
from flalliance.chain.keys import dev_account

pytestmark = pytest.mark.integration


@pytest.fixture
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def owner(node: Anvil) -> ChainClient:
    return ChainClient(node.rpc_url, dev_account(0), chain_id=node.chain_id)


@pytest.fixture
def counter(owner: ChainClient) -> Contract:
    return owner.contract(owner.deploy("Counter", 1_000), "Counter")


def _values(events: list[DecodedEvent]) -> list[int]:
    return [int(e.args["newValue"]) for e in events if e.name == "Incremented"]


def _rpc(client: ChainClient, method: str, params: list[Any]) -> Any:
    return client._rpc(method, params)


def test_a_reorg_voids_the_events_read_from_replaced_blocks(owner: ChainClient, counter: Contract) -> None:
    reader = EventReader(owner, counter)
    for _ in range(4):
        owner.transact(counter.functions.increment(1))
    assert _values(reader.poll()) == [1, 2, 3, 4]
    head = owner.block_number()
    _rpc(owner, "anvil_reorg", [2, []])  # the last two blocks replaced by empty ones
    assert owner.block_number() == head
    again = reader.poll()
    assert reader.reorged_from == head - 1  # the first replaced block
    assert again == []  # the replaced blocks hold no events now
    owner.resync_nonce()
    owner.transact(counter.functions.increment(1))
    assert _values(reader.poll()) == [3] and reader.reorged_from is None


def test_events_re_included_by_a_reorg_are_delivered_again_at_their_new_place(
    owner: ChainClient, counter: Contract
) -> None:
    """A reorg that moves a transaction to another block: the caller drops its void copy (reorged_from)
    and the reader delivers the event once more from the canonical block."""
    reader = EventReader(owner, counter)
    nonce = owner.w3.eth.get_transaction_count(owner.address)  # type: ignore[arg-type]
    owner.transact(counter.functions.increment(5))
    owner.mine()
    first = reader.poll()
    held = list(first)
    signed = owner.account.sign_transaction(  # type: ignore[union-attr]
        counter.functions.increment(7).build_transaction(
            {
                "from": owner.address,
                "nonce": nonce,  # the increment(5)'s: the reorg drops that one
                "gas": 100_000,
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 10**9,
                "chainId": owner.chain_id,
            }
        )
    )
    # replace the last two blocks (increment(5), then an empty one) by an empty one and one holding a new
    # increment(7)
    _rpc(owner, "anvil_reorg", [2, [["0x" + bytes(signed.raw_transaction).hex(), 1]]])
    fresh = reader.poll()
    assert reader.reorged_from is not None
    held = [e for e in held if e.block_number < reader.reorged_from] + fresh
    assert _values(held) == [7]  # the increment(5) is gone with its block; nothing twice
    assert int(owner.call(counter.functions.value())) == 7


def test_confirmations_hold_a_receipt_until_blocks_follow_it(node: Anvil) -> None:
    with Anvil(block_time=1) as mining:
        client = ChainClient(mining.rpc_url, dev_account(0), chain_id=mining.chain_id, confirmations=2)
        target = client.contract(client.deploy("Counter", 1_000), "Counter")
        started = time.monotonic()
        receipt = client.transact(target.functions.increment(1))
        waited = time.monotonic() - started
        assert client.block_number() - int(receipt["blockNumber"]) >= 2
        assert waited >= 1.5  # two 1 s blocks on top (and up to one to be included)


def test_a_stuck_transaction_is_replaced_with_raised_fees_and_lands_once(
    owner: ChainClient, counter: Contract
) -> None:
    """Mining paused, the transaction waits in the pool; after replace_after the client re-sends the same
    nonce with fees raised 12.5%; once mining resumes one version is mined, the other never is."""
    client = ChainClient(
        owner.rpc_url, dev_account(1), chain_id=owner.chain_id, timeout=30, replace_after=0.5
    )
    _rpc(owner, "evm_setAutomine", [False])
    import threading

    resumed = threading.Timer(2.0, lambda: _rpc(owner, "evm_setAutomine", [True]) or owner.mine())
    resumed.start()
    try:
        receipt = client.transact(counter.functions.increment(3))
    finally:
        resumed.cancel()
        _rpc(owner, "evm_setAutomine", [True])
    assert client.replacements >= 1
    assert int(owner.call(counter.functions.value())) == 3  # the call landed exactly once
    mined = owner.w3.eth.get_transaction(receipt["transactionHash"])
    assert int(mined["nonce"]) == 0 and int(mined["maxPriorityFeePerGas"]) > 0
    assert owner.w3.eth.get_transaction_count(dev_account(1).address) == 1
