"""`flalliance chain up` as a real foreground process: prints its JSON, serves RPC, stops on signals."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flalliance.chain.client import ChainClient
from flalliance.chain.keys import dev_account

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ChainUp:
    """`python -m flalliance.cli chain up ...` in a subprocess, killed at teardown whatever happened."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flalliance.cli", "chain", "up", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def info(self, timeout: float = 20.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise AssertionError("chain up printed nothing")
        line = self.process.stdout.readline()
        assert line, f"chain up exited: {self.process.stderr.read() if self.process.stderr else ''}"
        info: dict[str, Any] = json.loads(line)
        return info

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def chain_up() -> Iterator[type[ChainUp]]:
    started: list[ChainUp] = []

    class Tracked(ChainUp):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for process in started:
        process.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_chain_up_serves_and_stops_cleanly(chain_up: type[ChainUp], signum: int) -> None:
    up = chain_up("--accounts", "3", "--chain-id", "1337")
    info = up.info()
    assert info["chain_id"] == 1337
    assert info["rpc_url"].startswith("http://127.0.0.1:")
    assert [a["address"] for a in info["accounts"]] == [dev_account(i).address for i in range(3)]
    assert info["accounts"][1]["private_key"] == "0x" + dev_account(1).key.hex().removeprefix("0x")
    client = ChainClient(info["rpc_url"], dev_account(1), chain_id=1337)
    client.deploy("Counter", 1)
    assert up.stop(signum) == 0
    assert not _alive(info["pid"])  # anvil went with it


def test_chain_up_keeps_state_in_the_state_dir(chain_up: type[ChainUp], tmp_path: Path) -> None:
    state_dir = tmp_path / "chain"
    up = chain_up("--state-dir", str(state_dir), "--block-time", "0.2")
    info = up.info()
    client = ChainClient(info["rpc_url"], dev_account(0))
    address = client.deploy("Counter", 100)
    client.transact(client.contract(address, "Counter").functions.increment(42))
    assert up.stop(signal.SIGTERM) == 0
    assert Path(info["state_file"]).is_file()
    assert (state_dir / "anvil.log").is_file()

    again = chain_up("--state-dir", str(state_dir))
    info = again.info()
    reader = ChainClient(info["rpc_url"])
    assert reader.call(reader.contract(address, "Counter").functions.value()) == 42
    assert again.stop(signal.SIGINT) == 0


def test_chain_up_reports_a_taken_port(chain_up: type[ChainUp], anvil: Any) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "flalliance.cli", "chain", "up", "--port", str(anvil.port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 1
    assert "anvil exited with code" in process.stderr
    assert process.stdout == ""


def test_chain_up_exits_when_anvil_dies(chain_up: type[ChainUp]) -> None:
    up = chain_up()
    info = up.info()
    os.kill(info["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while up.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert up.process.returncode == 1
    assert up.process.stderr is not None and "anvil exited unexpectedly" in up.process.stderr.read()
