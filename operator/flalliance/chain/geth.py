"""A local geth dev chain as a managed child process: a real Ethereum client with a real block period.

Anvil mines a block per transaction and moves its clock on request; geth in ``--dev`` mode seals a block
every ``period`` seconds on its own, keeps a real transaction pool (replacement rules, fee market) and
answers only the standard JSON-RPC API. Running the chain client, the workers and the operator on it is
how the project checks that nothing depends on instant mining: confirmations, receipt timeouts, phase
deadlines that pass by the wall clock.

The binary is built pinned from the Go module proxy (``hack/build-tools.sh geth``, cached outside the
repository). geth's developer account (its well-known dev key, funded in the dev genesis) funds the
accounts a test or simulation asks for with ordinary signed transfers. Bound to 127.0.0.1 on free ports,
no peers, no discovery; stopped on ``__exit__``, at interpreter exit, and by the kernel if this process
dies (PR_SET_PDEATHSIG). With ``datadir`` given the chain survives a stop, so a test can restart the node.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from eth_account import Account

from flalliance.chain.devchain import _die_with_parent, _repo_root, _tail, free_port, terminate
from flalliance.chain.errors import ChainError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from flalliance.chain.client import ChainClient

log = logging.getLogger(__name__)

GETH_CHAIN_ID = 1337  # geth's --dev network id and chain id
# geth's built-in developer key (cmd/utils: DeveloperKey), the account its dev genesis funds. Public.
GETH_DEV_KEY = "0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"
GWEI = 10**9


def geth_dev_account() -> LocalAccount:
    """geth --dev's developer account (its public well-known key): only ever funded on a dev chain."""
    account: LocalAccount = Account.from_key(GETH_DEV_KEY)
    return account


def fund_from_dev_key(
    client: ChainClient, addresses: Iterable[str], wei: int, *, timeout: float = 120.0
) -> None:
    """Send ``wei`` to each address from geth's developer account, one batch of signed transfers, and wait
    until every transfer is mined. For a client that does not itself sign with that key (its nonces
    would be counted twice)."""
    targets = list(addresses)
    if not targets:
        return
    dev = geth_dev_account()
    w3 = client.w3
    nonce = w3.eth.get_transaction_count(dev.address, "pending")
    hashes = []
    for i, address in enumerate(targets):
        tx: dict[str, Any] = {
            "to": address,
            "value": wei,
            "gas": 21_000,
            "nonce": nonce + i,
            "chainId": client.chain_id,
            "maxFeePerGas": 100 * GWEI,
            "maxPriorityFeePerGas": GWEI,
        }
        hashes.append(w3.eth.send_raw_transaction(dev.sign_transaction(tx).raw_transaction))
    deadline = time.monotonic() + timeout
    for tx_hash in hashes:
        while (receipt := _receipt_or_none(client, tx_hash)) is None:
            if time.monotonic() > deadline:
                raise ChainError(f"funding transfer 0x{bytes(tx_hash).hex()} not mined within {timeout:g} s")
            time.sleep(0.2)
        if receipt["status"] != 1:
            raise ChainError(f"funding transfer 0x{bytes(tx_hash).hex()} failed")


def _receipt_or_none(client: ChainClient, tx_hash: Any) -> Any:
    """The receipt, or None while the transaction is unmined or geth, just started, is still indexing."""
    from web3.exceptions import TransactionNotFound, Web3RPCError

    try:
        return client.w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None
    except Web3RPCError as exc:
        if "indexing is in progress" in str(exc):
            return None
        raise


def geth_binary() -> Path:
    """$FLALLIANCE_GETH, else the pinned build in the machine cache (built through hack/build-tools.sh)."""
    override = os.environ.get("FLALLIANCE_GETH")
    if override:
        path = Path(override)
    else:
        script = _repo_root() / "hack" / "build-tools.sh"
        if not script.is_file():
            raise ChainError("geth not found: set FLALLIANCE_GETH to a geth binary")
        out = subprocess.run(
            ["bash", str(script), "--path", "geth"], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise ChainError(f"hack/build-tools.sh could not provide geth:\n{out.stderr[-2000:]}")
        path = Path(out.stdout.strip().splitlines()[-1]) / "geth"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ChainError(f"geth not found at {path}: run `make geth` or set FLALLIANCE_GETH")
    return path


MIN_FREE_DISK_MB = 64
"""geth shuts down below this much free space in its data directory (MB)."""


class Geth:
    """A geth ``--dev`` process sealing a block every ``period`` seconds. A context manager.

    ``port`` None picks a free port at the first start and keeps it for restarts (clients keep their
    URL). ``datadir`` None uses a temporary directory removed at :meth:`stop`.
    """

    def __init__(
        self,
        *,
        period: int = 2,
        host: str = "127.0.0.1",
        port: int | None = None,
        datadir: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        gas_limit: int = 30_000_000,
        ready_timeout: float = 30.0,
        kill_with_parent: bool = True,
    ) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1 s (a real block period), got {period}")
        self.period = period
        self.host = host
        self.port = port or 0
        self.gas_limit = gas_limit
        self.ready_timeout = ready_timeout
        self.kill_with_parent = kill_with_parent
        self.chain_id = GETH_CHAIN_ID
        self.dev_account = geth_dev_account()
        self._datadir = Path(datadir) if datadir is not None else None
        self._log_path = Path(log_path) if log_path is not None else None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # ----------------------------------------------------------------------------------------------------
    @property
    def rpc_url(self) -> str:
        if not self.port:
            raise ChainError("geth has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def datadir(self) -> Path:
        if self._datadir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="flalliance-geth-")
            self._datadir = Path(self._tempdir.name) / "data"
        return self._datadir

    @property
    def log_path(self) -> Path:
        if self._log_path is None:
            self._log_path = self.datadir.parent / "geth.log"
        return self._log_path

    def command(self) -> list[str]:
        return [
            str(geth_binary()),
            "--dev",
            "--dev.period",
            str(self.period),
            "--dev.gaslimit",
            str(self.gas_limit),
            "--datadir",
            str(self.datadir),
            # A dev chain holds a few MiB; geth's default floor (the GC cache, ~2 GiB) shut every
            # node down at start on a CI machine with 1.5 GiB free.
            "--datadir.minfreedisk",
            str(MIN_FREE_DISK_MB),
            "--http",
            "--http.addr",
            self.host,
            "--http.port",
            str(self.port),
            "--http.api",
            "eth,net,web3,txpool",
            "--authrpc.addr",
            "127.0.0.1",
            "--authrpc.port",
            str(free_port()),
            "--port",
            "0",
            "--nodiscover",
            "--maxpeers",
            "0",
            "--ipcdisable",
            "--verbosity",
            "3",
        ]

    def start(self) -> Geth:
        """Start geth (or restart it on the same port and data) and wait until it answers RPC."""
        if self.running:
            return self
        if not self.port:
            self.port = free_port(self.host)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        tie = self.kill_with_parent and threading.current_thread() is threading.main_thread()
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if tie else None,
            start_new_session=True,
        )
        atexit.register(self.stop)
        log.debug("geth pid %d starting on %s", self._process.pid, self.rpc_url)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                self._close_log()
                raise ChainError(f"geth exited with code {code}: {_tail(self.log_path)}")
            try:
                if int(self.rpc("eth_chainId", []), 16) == self.chain_id:
                    return
            except (ChainError, urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ChainError(f"geth did not answer on {self.rpc_url} within {self.ready_timeout:g} s")
            time.sleep(0.1)

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; the result, or ChainError naming the node's error."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1:<port> built here
            self.rpc_url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310
            answer = json.loads(response.read())
        if "error" in answer:
            raise ChainError(f"geth {method}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    def fund(self, addresses: Iterable[str], wei: int, *, timeout: float = 60.0) -> None:
        """Send ``wei`` to each address from geth's developer account (one batch of signed transfers)."""
        from flalliance.chain.client import ChainClient

        fund_from_dev_key(ChainClient(self.rpc_url, chain_id=self.chain_id), addresses, wei, timeout=timeout)

    def wait_for_timestamp(self, timestamp: int, *, timeout: float | None = None) -> None:
        """Block until the chain's head is later than ``timestamp`` (deadlines pass by the wall clock)."""
        limit = timeout if timeout is not None else max(30.0, timestamp - time.time() + 4 * self.period)
        deadline = time.monotonic() + limit
        while int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) <= timestamp:
            if time.monotonic() > deadline:
                raise ChainError(f"geth's head did not pass timestamp {timestamp} within {limit:.0f} s")
            time.sleep(min(0.5, self.period / 4))

    def stop(self, timeout: float = 20.0) -> None:
        """Stop geth: SIGTERM (it flushes its database), SIGKILL after ``timeout``. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            terminate(process, timeout)
            log.debug("geth pid %d stopped (exit code %s)", process.pid, process.returncode)
        self._close_log()

    def close(self) -> None:
        """Stop and remove the temporary data directory (if this object made it)."""
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Geth:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self._process.pid} at {self.rpc_url}" if self._process is not None else "stopped"
        return f"Geth(period={self.period}s, {state})"
