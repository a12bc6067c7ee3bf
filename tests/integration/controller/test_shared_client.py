"""One chain client — one nonce tracker — per key, shared by every FLTask that signs with it.

Before, each FLTask's reconciler kept its own client per key, so two tasks on one operator key counted
nonces apart and raced for the same nonce (the node's "nonce too low" then forced a resync and a resend).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account

from flalliance.api.fltask import FLTaskSpec
from flalliance.chain.client import ChainClient
from flalliance.chain.harness import ETHER
from flalliance.controller.kube import Kube
from flalliance.controller.observe import Inputs

pytestmark = pytest.mark.integration


def _spec(chain: ChainClient) -> FLTaskSpec:
    return FLTaskSpec.model_validate(
        {
            "chain": {"rpcUrl": chain.rpc_url, "chainId": chain.chain_id, "operatorKeySecret": {"name": "k"}},
            "contractAddress": "0x" + "1" * 40,
            "trainingLogic": {"hash": "0x" + "ab" * 32},
            "store": {"url": "s3://bucket/p"},
        }
    )


def test_tasks_on_one_key_share_one_client_and_send_without_nonce_races(chain: ChainClient) -> None:
    spec = _spec(chain)
    key = Account.create()
    chain.set_balance(key.address, 10 * ETHER)
    kube = Kube.__new__(Kube)  # never called: client() only needs the spec and the account
    a, b = Inputs(kube, "team-a", "task-a"), Inputs(kube, "team-b", "task-b")
    client_a, client_b = a.client(spec, key), b.client(spec, key)
    assert client_a is client_b
    assert a.client(spec, Account.create()) is not client_a  # another key: its own client
    # Both tasks send at once through the one tracker: every transaction lands, consecutive nonces,
    # and the tracker ends exactly at the chain's count (a resync or resend would show as a gap or a retry).
    counter = chain.deploy("Counter", 1_000)
    fns = [c.contract(counter, "Counter").functions for c in (client_a, client_b)]
    with ThreadPoolExecutor(8) as pool:
        receipts = list(
            pool.map(lambda i: (client_a, client_b)[i % 2].transact(fns[i % 2].increment(1)), range(16))
        )
    assert all(r["status"] == 1 for r in receipts)
    assert chain.call(chain.contract(counter, "Counter").functions.value()) == 16
    nonces = sorted(int(chain.w3.eth.get_transaction(r["transactionHash"])["nonce"]) for r in receipts)
    assert nonces == list(range(16)) and client_a.w3.eth.get_transaction_count(key.address) == 16
