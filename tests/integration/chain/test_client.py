"""ChainClient against a real anvil: deploy, transact, call, revert decoding at estimation and at mining."""

from __future__ import annotations

import threading
import time

import pytest
from web3.contract import Contract

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil, free_port
from flalliance.chain.errors import ChainError, ContractRevert, TransactionFailed
from flalliance.chain.keys import dev_account

pytestmark = pytest.mark.integration

LIMIT = 10


@pytest.fixture
def counter(chain: ChainClient) -> Contract:
    return chain.contract(chain.deploy("Counter", LIMIT), "Counter")


def test_deploy_transact_and_call(chain: ChainClient, counter: Contract) -> None:
    receipt = chain.transact(counter.functions.increment(3))
    assert receipt["status"] == 1
    assert 0 < receipt["gasUsed"] < 100_000
    assert chain.call(counter.functions.value()) == 3
    assert chain.call(counter.functions.limit()) == LIMIT
    assert chain.call(counter.functions.owner()) == dev_account(0).address
    events = counter.events.Incremented().process_receipt(receipt)
    assert [(e["args"]["by"], e["args"]["newValue"]) for e in events] == [(dev_account(0).address, 3)]


def test_deploy_with_receipt_reports_gas(chain: ChainClient) -> None:
    address, receipt = chain.deploy_with_receipt("Counter", 5)
    assert receipt["contractAddress"] == address
    assert receipt["gasUsed"] > 100_000


def test_custom_error_at_estimation(chain: ChainClient, counter: Contract) -> None:
    with pytest.raises(ContractRevert) as exc:
        chain.transact(counter.functions.increment(LIMIT + 1))
    assert exc.value.name == "TooLarge"
    assert exc.value.args == {"value": LIMIT + 1, "limit": LIMIT, "caller": dev_account(0).address}
    assert exc.value.tx_hash is None
    assert str(exc.value) == f"TooLarge(value=11, limit=10, caller={dev_account(0).address})"


def test_custom_error_at_mining_is_recovered_by_replay(chain: ChainClient, counter: Contract) -> None:
    """With an explicit gas limit no estimate runs: the transaction is mined with status 0."""
    block_before = chain.block_number()
    with pytest.raises(ContractRevert) as exc:
        chain.transact(counter.functions.increment(LIMIT + 1), gas=200_000)
    assert exc.value.name == "TooLarge"
    assert exc.value.args["value"] == LIMIT + 1
    assert exc.value.tx_hash is not None
    receipt = chain.w3.eth.get_transaction_receipt(exc.value.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 0 and receipt["blockNumber"] == block_before + 1
    # the nonce was consumed by the failed transaction; the next one still goes through
    chain.transact(counter.functions.increment(1))
    assert chain.call(counter.functions.value()) == 1


def test_error_string_panic_and_inherited_errors(chain: ChainClient, counter: Contract) -> None:
    with pytest.raises(ContractRevert) as reason:
        chain.transact(counter.functions.failWithReason())
    assert (reason.value.name, reason.value.args) == ("Error", {"reason": "counter: plain reason"})

    with pytest.raises(ContractRevert) as panic:
        chain.call(counter.functions.failWithPanic(0))
    assert (panic.value.name, panic.value.args) == ("Panic", {"code": 0x12})

    stranger = ChainClient(chain.rpc_url, dev_account(3))
    with pytest.raises(ContractRevert) as unauthorized:
        stranger.transact(counter.functions.reset())
    assert unauthorized.value.name == "OwnableUnauthorizedAccount"
    assert unauthorized.value.args == {"account": dev_account(3).address}


def test_undecodable_reverts(chain: ChainClient, counter: Contract) -> None:
    with pytest.raises(TransactionFailed, match="reverted without a decodable reason"):
        chain.transact(counter.functions.failBare())
    with pytest.raises(TransactionFailed, match="no revert reason is decodable") as mined:
        chain.transact(counter.functions.failBare(), gas=50_000)
    assert mined.value.tx_hash is not None
    assert not isinstance(mined.value, ContractRevert)


def test_out_of_gas_is_reported(chain: ChainClient, counter: Contract) -> None:
    with pytest.raises(TransactionFailed, match=r"ran out of gas \(used 23000 of 23000\)"):
        chain.transact(counter.functions.increment(1), gas=23_000)


def test_nonce_resyncs_after_another_sender_used_the_account(chain: ChainClient, counter: Contract) -> None:
    other = ChainClient(chain.rpc_url, dev_account(0))  # same key, separate local counter
    # relative to the account's nonce now: a test earlier in the session (the operator's, on the shared
    # anvil) may have sent from dev account 0 outside this fixture's snapshot
    before = chain.w3.eth.get_transaction_count(dev_account(0).address)
    # Each sender its own amount: with one nonce, one call and the fee market both read, two senders sign
    # the very same bytes, and the second "nonce too low" is rightly taken as its own transaction landed.
    chain.transact(counter.functions.increment(1))
    other.transact(counter.functions.increment(2))  # other's counter starts from the chain: fine
    chain.transact(counter.functions.increment(1))  # chain's counter was stale: "nonce too low" -> resync
    other.transact(counter.functions.increment(2))  # and the other way round
    assert chain.call(counter.functions.value()) == 6
    # four more: the last sender's counter is exact again
    assert chain.w3.eth.get_transaction_count(dev_account(0).address) == other._nonces.known == before + 4


def test_an_account_that_also_signs_elsewhere_reads_its_nonce_instead_of_guessing(
    chain: ChainClient, counter: Contract
) -> None:
    """A participant's wallet signs in its worker pods too: with `nonce_from_chain` each transaction goes
    out once, where a remembered nonce is refused ("nonce too low") and sent again."""
    other = ChainClient(chain.rpc_url, dev_account(0))  # the worker's process, same key
    sends: list[int] = []
    send_raw = chain._send_raw

    def counted(raw: bytes, label: str) -> None:
        sends.append(1)
        send_raw(raw, label)

    chain._send_raw = counted  # type: ignore[method-assign]
    chain.transact(counter.functions.increment(1))
    other.transact(counter.functions.increment(2))  # amounts differ: see the test above
    chain.transact(counter.functions.increment(1))
    assert len(sends) == 3  # the stale nonce: refused once, resynced, sent again
    chain.nonce_from_chain = True
    other.transact(counter.functions.increment(2))
    chain.transact(counter.functions.increment(1))
    assert len(sends) == 4  # read from the chain: sent once
    assert chain.call(counter.functions.value()) == 7


def test_concurrent_transactions_from_threads(chain: ChainClient, counter: Contract) -> None:
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                chain.transact(counter.functions.increment(1), gas=100_000)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert chain.call(counter.functions.value()) == 10


def test_value_transfer_and_read_only_client(chain: ChainClient, counter: Contract) -> None:
    reader = ChainClient(chain.rpc_url)
    assert reader.address is None
    assert reader.call(counter.functions.limit()) == LIMIT
    with pytest.raises(ChainError, match="no account"):
        reader.transact(counter.functions.increment(1))


def test_wrong_chain_id_is_refused(anvil: Anvil) -> None:
    with pytest.raises(ChainError, match=r"serves chain id 31337, but chain id 1 was expected"):
        ChainClient(anvil.rpc_url, chain_id=1)


def test_unreachable_node_fails_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ChainError, match=r"failed after 3 attempts"):
        ChainClient(url, retries=2, backoff=0.05)
    assert time.monotonic() - started < 5


def test_transient_outage_is_ridden_out_by_retries() -> None:
    """The node goes away and comes back on the same port: a read in between succeeds after retries."""
    port = free_port()
    node = Anvil(port=port).start()
    try:
        client = ChainClient(node.rpc_url, retries=8, backoff=0.1)
        node.stop()
        restart = threading.Timer(0.4, node.start)
        restart.start()
        try:
            assert client.block_number() == 0
        finally:
            restart.join()
    finally:
        node.stop()


def test_time_travel_mining_and_snapshots(chain: ChainClient, counter: Contract) -> None:
    start = chain.block_timestamp()
    chain.increase_time(3600)
    chain.mine()
    assert chain.block_timestamp() >= start + 3600
    before = chain.block_number()
    chain.mine(5)
    assert chain.block_number() == before + 5

    snapshot = chain.snapshot()
    chain.transact(counter.functions.increment(2))
    chain.revert(snapshot)
    assert chain.call(counter.functions.value()) == 0
    chain.transact(counter.functions.increment(1))  # the local nonce followed the revert
    assert chain.call(counter.functions.value()) == 1
    with pytest.raises(ChainError, match="evm_revert"):
        chain.revert(snapshot)  # consumed


def test_stuck_transaction_after_external_revert_is_diagnosed(chain: ChainClient, counter: Contract) -> None:
    """Another party reverts the chain under a client: its next nonce is ahead; it must fail, not hang."""
    client = ChainClient(chain.rpc_url, dev_account(2), timeout=1.0)
    snapshot = chain.snapshot()
    client.transact(counter.functions.increment(1))
    chain.revert(snapshot)  # client's local counter is now 1, the chain's 0
    with pytest.raises(
        TransactionFailed, match="an earlier transaction was dropped or the chain was reverted"
    ):
        client.transact(counter.functions.increment(1), gas=100_000)
    chain.w3.provider.make_request("anvil_dropAllTransactions", [])  # type: ignore[arg-type]
    client.transact(counter.functions.increment(1))  # counter re-read from the chain after the failure
    assert client.call(counter.functions.value()) == 1


def test_fee_spike_after_fees_were_cached_is_absorbed(chain: ChainClient, counter: Contract) -> None:
    chain.transact(counter.functions.increment(1))  # fees now cached at ~2 gwei
    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(100 * 10**9)])
    receipt = chain.transact(counter.functions.increment(1))  # rejected once, fees re-read, resent
    assert receipt["effectiveGasPrice"] >= 100 * 10**9
    assert chain.call(counter.functions.value()) == 2
