"""`flalliance chain deploy` against anvil: the system deployed, dev accounts funded, JSON printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flalliance.chain.client import ChainClient
from flalliance.chain.keys import dev_account
from flalliance.cli import main

pytestmark = pytest.mark.integration


def test_deploy_prints_addresses_and_funds_dev_accounts(
    chain: ChainClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "deployment.json"
    argv = ["chain", "deploy", "--rpc-url", chain.rpc_url, "--fund-accounts", "3", "--fund-amount", "500"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == printed
    assert printed["deployer"] == dev_account(0).address
    assert printed["chain_id"] == chain.chain_id
    for name in ("token", "arena", "factory", "task_implementation"):
        assert chain.w3.eth.get_code(printed[name]) != b"", f"{name} has no code"

    token = chain.contract(printed["token"], "FMLToken")
    expected = 500 * 10**18
    assert [f["address"] for f in printed["funded"]] == [dev_account(i).address for i in range(3)]
    assert all(int(f["fml"]) == expected for f in printed["funded"])
    assert [chain.call(token.functions.balanceOf(dev_account(i).address)) for i in range(4)] == [
        expected
    ] * 3 + [0]
    factory = chain.contract(printed["factory"], "FLTaskFactory")
    assert chain.call(factory.functions.taskCount()) == 0


def test_deploy_with_a_key_file(
    chain: ChainClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "deployer.key"
    key.write_text("0x" + dev_account(5).key.hex().removeprefix("0x"))
    argv = ["chain", "deploy", "--rpc-url", chain.rpc_url, "--key-file", str(key), "--fund-accounts", "0"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["deployer"] == dev_account(5).address
    assert printed["funded"] == []
    token = chain.contract(printed["token"], "FMLToken")
    assert chain.call(token.functions.owner()) == dev_account(5).address


def test_deploy_errors_are_one_clear_line(chain: ChainClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", "deploy", "--rpc-url", chain.rpc_url, "--chain-id", "5"]) == 1
    assert "serves chain id 31337, but chain id 5 was expected" in capsys.readouterr().err
    assert main(["chain", "deploy", "--rpc-url", chain.rpc_url, "--reward-share-bps", "0"]) == 1
    assert "reward_share_bps" in capsys.readouterr().err


def test_deploy_registers_finished_arena_tasks(
    chain: ChainClient, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["chain", "deploy", "--rpc-url", chain.rpc_url, "--fund-accounts", "1", "--arena-tasks", "2"]
    assert main([*argv, "--arena-reward", "300", "--wait", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["arena_tasks"] == [1, 2]
    from flalliance.chain.arena import ArenaClient

    arena = ArenaClient(chain, printed["arena"])
    for arena_id in (1, 2):
        task = arena.task(arena_id)
        assert task.exists and task.finished and task.total_reward == 300 * 10**18


def test_deploy_waits_for_the_endpoint_then_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from flalliance.chain.devchain import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["chain", "deploy", "--rpc-url", url, "--wait", "1.5"]) == 1
    assert url in capsys.readouterr().err


def test_deploy_on_geth_dev_deploys_with_its_developer_key_and_gives_the_dev_accounts_ether(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The chart's dev chain may be geth --dev (real blocks): only geth's developer key holds ether there,
    so it deploys, and the dev accounts (the examples' wallets) get ether as well as FML."""
    from flalliance.chain.geth import GETH_CHAIN_ID, Geth, geth_dev_account

    with Geth(period=1, datadir=tmp_path / "geth") as geth:
        argv = ["chain", "deploy", "--rpc-url", geth.rpc_url, "--fund-accounts", "2", "--arena-tasks", "1"]
        assert main([*argv, "--chain-id", str(GETH_CHAIN_ID)]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["deployer"] == geth_dev_account().address
        assert printed["chain_id"] == GETH_CHAIN_ID and printed["arena_tasks"] == [1]
        client = ChainClient(geth.rpc_url)
        token = client.contract(printed["token"], "FMLToken")
        for i in range(2):
            assert client.w3.eth.get_balance(dev_account(i).address) == 1_000 * 10**18
            assert client.call(token.functions.balanceOf(dev_account(i).address)) == 1_000_000 * 10**18
        assert client.w3.eth.get_balance(dev_account(2).address) == 0
