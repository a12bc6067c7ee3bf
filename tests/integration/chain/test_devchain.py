"""The Anvil process manager: start, readiness, options, and that it is always stopped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil, anvil_binary
from flalliance.chain.errors import ChainError
from flalliance.chain.keys import dev_account

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie would still answer; anvil is reaped by Popen.wait in stop()
    return True


def test_context_manager_starts_and_always_stops() -> None:
    with pytest.raises(RuntimeError, match="boom"), Anvil() as node:
        pid = node.pid
        assert node.rpc_url.startswith("http://127.0.0.1:")
        assert ChainClient(node.rpc_url).chain_id == 31337
        raise RuntimeError("boom")
    assert not _alive(pid)
    assert not node.running
    node.stop()  # idempotent


def test_anvil_leaves_no_persisted_states_behind() -> None:
    """anvil persists historical states to ~/.foundry/anvil/tmp by default and leaves them there when it
    stops (24 GB after one long benchmark): ours go to a directory of our own, removed by stop()."""
    foundry_tmp = Path.home() / ".foundry" / "anvil" / "tmp"
    before = set(foundry_tmp.iterdir()) if foundry_tmp.exists() else set()
    with Anvil() as node:
        client = ChainClient(node.rpc_url)
        for _ in range(3):
            client.mine()
        own = Path(node.process.args[node.process.args.index("--cache-path") + 1])  # type: ignore[union-attr,index,arg-type]
        assert own.parent.name.startswith("flalliance-anvil-")
    after = set(foundry_tmp.iterdir()) if foundry_tmp.exists() else set()
    assert after - before == set()
    assert not own.parent.exists()


def test_options_chain_id_timestamp_accounts() -> None:
    with Anvil(chain_id=4242, timestamp=1_800_000_000, accounts=3) as node:
        client = ChainClient(node.rpc_url, chain_id=4242)
        assert client.block_timestamp(0) == 1_800_000_000
        assert client.w3.eth.accounts == [dev_account(i).address for i in range(3)]


def test_block_time_mines_on_a_clock_and_transactions_wait_for_it() -> None:
    with Anvil(block_time=0.5) as node:
        client = ChainClient(node.rpc_url, dev_account(0), timeout=10)
        start = client.block_number()
        address = client.deploy("Counter", 10)  # waits for the next interval block
        counter = client.contract(address, "Counter")
        client.transact(counter.functions.increment(1))
        assert client.call(counter.functions.value()) == 1
        time.sleep(1.2)
        assert client.block_number() >= start + 3


def test_state_file_persists_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "state" / "anvil.json"
    with Anvil(state_path=state) as node:
        client = ChainClient(node.rpc_url, dev_account(0))
        address = client.deploy("Counter", 10)
        client.transact(client.contract(address, "Counter").functions.increment(7))
    assert state.is_file()
    with Anvil(state_path=state) as node:
        client = ChainClient(node.rpc_url)
        assert client.call(client.contract(address, "Counter").functions.value()) == 7


def test_taken_port_is_reported(anvil: Anvil) -> None:
    with pytest.raises(ChainError, match="anvil exited with code"):
        Anvil(port=anvil.port, ready_timeout=5).start()


def test_missing_binary_names_make_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLALLIANCE_ANVIL", str(tmp_path / "no-anvil"))
    with pytest.raises(ChainError, match="make setup"):
        anvil_binary()
