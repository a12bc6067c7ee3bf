"""The chain client and event reader on geth --dev: a real Ethereum client sealing a block every 2 s.

What anvil cannot show: receipts that arrive only with the next block, confirmation depth measured in
real blocks, a transaction pool that refuses a replacement without a fee bump and keeps an underpriced
transaction pending forever, and a node restarted under a running client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from web3.contract import Contract

from flalliance.chain.client import ChainClient
from flalliance.chain.events import EventReader
from flalliance.chain.geth import Geth
from flalliance.chain.harness import ETHER, derived_accounts

pytestmark = pytest.mark.integration

PERIOD = 2


@pytest.fixture(scope="module")
def geth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Geth]:
    node = Geth(period=PERIOD, datadir=tmp_path_factory.mktemp("geth") / "data")
    with node:
        yield node


@pytest.fixture
def client(geth: Geth, request: pytest.FixtureRequest) -> ChainClient:
    """A funded account of its own per test (own nonces), 2 confirmations."""
    account = derived_accounts(1, label=f"geth/{request.node.name}")[0]
    geth.fund([account.address], 10 * ETHER)
    return ChainClient(geth.rpc_url, account, chain_id=geth.chain_id, confirmations=2, timeout=60)


@pytest.fixture
def counter(client: ChainClient) -> Contract:
    return client.contract(client.deploy("Counter", 1_000), "Counter")


def test_geth_seals_blocks_on_its_own_period(geth: Geth, client: ChainClient) -> None:
    first = client.block_number()
    time.sleep(3 * PERIOD + 0.5)
    assert client.block_number() - first >= 2  # empty blocks too: deadlines pass by the wall clock


def test_a_receipt_is_returned_once_it_is_two_blocks_deep(client: ChainClient, counter: Contract) -> None:
    started = time.monotonic()
    receipt = client.transact(counter.functions.increment(1))
    waited = time.monotonic() - started
    assert client.block_number() - int(receipt["blockNumber"]) >= 2
    assert client.block_hash(int(receipt["blockNumber"])) == "0x" + bytes(receipt["blockHash"]).hex()
    assert waited >= 2 * PERIOD - 0.5  # at least two more blocks were sealed after the receipt's


def test_events_are_delivered_only_when_confirmed(client: ChainClient, counter: Contract) -> None:
    start = client.block_number()
    shallow = ChainClient(client.rpc_url, client.account, chain_id=client.chain_id, timeout=60)
    receipt = shallow.transact(counter.functions.increment(7))  # returns at 0 confirmations
    reader = EventReader(client, counter, start_block=start, confirmations=2)
    block = int(receipt["blockNumber"])
    if client.block_number() - block < 2:
        assert [e for e in reader.poll() if e.name == "Incremented"] == []
    deadline = time.monotonic() + 10 * PERIOD
    events = []
    while not events and time.monotonic() < deadline:
        events = [e for e in reader.poll() if e.name == "Incremented"]
        time.sleep(0.5)
    assert [e.args["newValue"] for e in events] == [7]
    assert events[0].block_number == block


def test_an_underpriced_transaction_is_replaced_and_its_call_lands_once(
    geth: Geth, client: ChainClient, counter: Contract
) -> None:
    """A fee cap below the base fee never mines on geth; the client re-sends the same nonce, fees bumped."""
    client.replace_after = 3.0
    nonce_before = client.w3.eth.get_transaction_count(client.address or "")
    # The next transaction is priced at 1 wei: below any base fee, so geth keeps it pending forever.
    client.set_fees({"maxFeePerGas": 1, "maxPriorityFeePerGas": 1}, hold_seconds=3600)
    receipt = client.transact(counter.functions.increment(5))
    assert receipt["status"] == 1
    assert client.replacements >= 1
    assert client.call(counter.functions.value()) == 5  # once, not once per version sent
    assert client.w3.eth.get_transaction_count(client.address or "") == nonce_before + 1
    assert int(receipt["effectiveGasPrice"]) > 1


def test_the_client_carries_on_across_a_node_restart(
    geth: Geth, client: ChainClient, counter: Contract
) -> None:
    """geth stopped and started on the same data and port: the client's next transactions go through."""
    client.transact(counter.functions.increment(1))
    geth.stop()
    geth.start()
    client.transact(counter.functions.increment(2))
    assert client.call(counter.functions.value()) == 3


def test_a_restart_keeps_the_chain(geth: Geth, client: ChainClient) -> None:
    head = client.block_number()
    known = client.block_hash(head)
    geth.stop()
    geth.start()
    assert client.block_number() >= head
    assert client.block_hash(head) == known
